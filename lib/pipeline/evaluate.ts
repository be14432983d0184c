/**
 * Out-of-sample evaluation of a saved model: one deterministic pass (mean or arg-max
 * actions, frozen observation normaliser) over a date range it was not trained on,
 * logged as an `eval` episode, next to an equal-weight buy & hold benchmark of the
 * same universe run through the same market simulator with the env's own cost
 * settings (`PortfolioEnv.costs`: same commission, slippage and impact; logged as a
 * `benchmark` episode), compared with PSR and a block-bootstrap interval of the Sharpe difference.
 *
 * Which universes a model can be evaluated on: the portfolio env's observation is
 * `N·window·F + N` values (every instrument's features, then the N weights) and the
 * action has one entry per instrument, so the network's input and output sizes depend
 * on N and on the order of the instruments. Every current configuration (both action
 * schemes, every reward, any feature set) is therefore tied to its training universe:
 * evaluation accepts the same instruments (in any order; they are put back in the
 * trained order) and refuses any other set with a {@linkcode UniverseMismatchError}.
 * A different universe needs a per-asset policy whose observation size does not depend
 * on N, which this project does not have yet.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import { logEpisode } from "../db/episodes_repo.ts";
import { codeVersion, type SavedModel } from "../agents/model_io.ts";
import { describeCosts, type FeeModel } from "../env/costs.ts";
import { makePortfolioEnv } from "../env/portfolio_env.ts";
import { type BenchmarkCurve, equalWeightBuyAndHold } from "../eval/benchmarks.ts";
import { type BenchmarkComparison, compareWithBenchmark } from "../eval/comparison.ts";
import type { PerformanceMetrics } from "../eval/metrics.ts";
import type { FeatureSetName } from "../features/definitions.ts";
import { BACKEND_NAMES, type BackendName, createPolicyBackend } from "./backends.ts";
import { historyBarsFor, isoDate, loadMarket, storedRanges } from "./market.ts";
import { resolveModel } from "./models.ts";
import type { EpisodeTrace } from "../env/episode.ts";
import { benchmarkTrace, runDeterministicEpisode, traceToEpisodeLog } from "./rollout.ts";
import { envOptionsFor } from "../env/settings.ts";
import { deriveSeed } from "../util/rng.ts";

/** Thrown when asked to evaluate a model on instruments it was not trained on. */
export class UniverseMismatchError extends Error {
  override name = "UniverseMismatchError";
}

/** Thrown when the evaluation range overlaps the model's training range. */
export class InSampleError extends Error {
  override name = "InSampleError";
}

/** What {@linkcode evaluateModel} evaluates. */
export interface EvaluateOptions {
  /** A `tt_models.id` or a model directory. */
  model: string;
  /** First date (ISO). Default: the day after the model's training range. */
  start?: string;
  /** Last date (ISO). Default: the last date every one of the model's instruments has bars. */
  end?: string;
  /** Instruments (must be the model's; see the module documentation). Default: the model's. */
  symbols?: string[];
  /** Backend to run the network on. Default: the one it was trained on. */
  backend?: BackendName;
  /** Annual risk-free rate for Sharpe, Sortino, PSR. Default 0. */
  riskFreeRate?: number;
  /** Seed of the bootstrap. Default: the model's seed's `bootstrap` stream (`deriveSeed`). */
  bootstrapSeed?: number;
  /** Allow a range overlapping training (an in-sample check, clearly labelled). Default false. */
  allowInSample?: boolean;
  /** Also log the benchmark as a `benchmark` episode. Default true. */
  logBenchmark?: boolean;
  /** Commission schedule for the policy and its benchmark. Default: `"bps"`. */
  feeModel?: FeeModel;
}

/** What {@linkcode evaluateModel} returns. */
export interface EvaluateResult {
  model: SavedModel;
  /** The `eval` episode. */
  episodeId: number;
  /** The `benchmark` episode (null when not logged). */
  benchmarkEpisodeId: number | null;
  instruments: string[];
  /** Dates actually evaluated (first decision bar to last marked bar). */
  range: { start: string; end: string };
  inSample: boolean;
  trace: EpisodeTrace;
  benchmark: BenchmarkCurve;
  comparison: BenchmarkComparison;
}

function backendOf(saved: SavedModel): BackendName {
  const trained = saved.manifest.config.backend.replace(/^tfjs-/, "");
  return (BACKEND_NAMES as readonly string[]).includes(trained) ? trained as BackendName : "auto";
}

/**
 * Checks that `symbols` is the model's universe and returns it in the trained order.
 * @param modelInstruments The instruments the model was trained on, in order.
 * @param symbols Requested instruments (undefined: the model's).
 * @returns The instruments to evaluate, in the model's order.
 * @throws {UniverseMismatchError} For any other set, explaining why.
 * @example
 * ```ts
 * evaluationUniverse(["AAPL", "SPX"], ["SPX", "AAPL"]); // ["AAPL", "SPX"]
 * ```
 */
export function evaluationUniverse(
  modelInstruments: readonly string[],
  symbols?: readonly string[],
): string[] {
  if (!symbols) return [...modelInstruments];
  const want = [...new Set(symbols)].sort();
  const have = [...modelInstruments].sort();
  if (want.join(",") !== have.join(",")) {
    throw new UniverseMismatchError(
      `This model was trained on ${modelInstruments.length} instruments (${
        modelInstruments.join(", ")
      }); ` +
        `its observation holds every instrument's features and weights and its action one entry per instrument, ` +
        `so it can only be evaluated on that same universe, not on ${symbols.join(", ")}. ` +
        `Train a model on the universe you want to evaluate (deno task train --symbols ${
          symbols.join(",")
        }).`,
    );
  }
  return [...modelInstruments];
}

/**
 * Evaluates a saved model out of sample and logs the episode and its benchmark.
 *
 * @param store The store (bars are read; episodes are written).
 * @param options See {@linkcode EvaluateOptions}.
 * @returns The trace, benchmark, comparison and logged episode ids.
 * @throws {UniverseMismatchError} For other instruments than the model's.
 * @throws {InSampleError} When the range overlaps training and `allowInSample` is not set.
 * @example
 * ```ts
 * const r = await evaluateModel(store, { model: "1", start: "2017-03-01" });
 * console.log(r.comparison.strategy.sharpe, r.comparison.benchmark.sharpe, r.comparison.verdict);
 * ```
 */
export async function evaluateModel(
  store: Store,
  options: EvaluateOptions,
): Promise<EvaluateResult> {
  const saved = await resolveModel(store, options.model);
  const cfg = saved.manifest.config;
  const env = cfg.env; // parsed and validated by loadModel
  const instruments = evaluationUniverse(cfg.instruments, options.symbols);
  const trainedEnd = cfg.dataRange.end;
  const trainedStart = cfg.dataRange.start;
  const start = options.start ?? isoDate(Date.parse(`${trainedEnd}T00:00:00Z`) + 86_400_000);
  let end = options.end;
  if (end === undefined) {
    const ranges = (await storedRanges(store, cfg.barSize)).filter((r) =>
      instruments.includes(r.instrument)
    );
    // The earliest last bar: past it an instrument has no prices and could not be traded.
    end = ranges.map((r) => r.last).sort()[0];
  }
  const inSample = start <= trainedEnd && (end === undefined || end >= trainedStart);
  if (inSample && !options.allowInSample) {
    throw new InSampleError(
      `The range ${start}..${
        end ?? "end"
      } overlaps the model's training range ${trainedStart}..${trainedEnd}: ` +
        `evaluate on later dates (e.g. --start ${
          isoDate(Date.parse(`${trainedEnd}T00:00:00Z`) + 86_400_000)
        }), ` +
        `or pass --allow-in-sample for a labelled in-sample check`,
    );
  }
  const market = await loadMarket(store, {
    symbols: instruments,
    start,
    end,
    barSize: cfg.barSize,
    featureSet: cfg.features.set as FeatureSetName,
    window: env.window,
    historyBars: historyBarsFor(cfg.features.names, env.window),
  });
  if (market.features.names.join(",") !== cfg.features.names.join(",")) {
    throw new TypeError(
      `The model observes features ${
        cfg.features.names.join(",")
      } but set "${cfg.features.set}" now gives ` +
        `${market.features.names.join(",")}: the feature definitions changed since training`,
    );
  }
  const portfolioEnv = makePortfolioEnv(market.prices, market.features, {
    ...envOptionsFor(env, false),
    ...(options.feeModel === undefined ? {} : { feeModel: options.feeModel }),
    range: { start: market.startIndex, end: market.endIndex },
  });
  const backend = await createPolicyBackend(options.backend ?? backendOf(saved), cfg.policy);
  let trace: EpisodeTrace;
  try {
    backend.importWeights(saved.weights);
    trace = runDeterministicEpisode(portfolioEnv, backend, {
      start: portfolioEnv.startRange.earliest,
      obsNorm: saved.obsNorm,
    });
  } finally {
    backend.dispose();
  }
  if (trace.rewards.length < 3) {
    throw new RangeError(
      `${start}..${
        end ?? "end"
      } gives ${trace.rewards.length} step(s) after warm-up; an evaluation needs at least 3 ` +
        "(statistics need returns): choose a longer range",
    );
  }
  const from = trace.equityTimestamps[0];
  const to = trace.equityTimestamps[trace.equityTimestamps.length - 1];
  const benchmark = equalWeightBuyAndHold(market.prices, {
    initialCash: env.initialCash,
    costs: portfolioEnv.costs,
    executeAt: env.executeAt,
    from,
    to,
    name: `Equal-weight buy & hold (${instruments.join(", ")})`,
  });
  const label = `PPO ${saved.manifest.name}${
    saved.manifest.version ? ` v${saved.manifest.version}` : ""
  }`;
  const comparison = compareWithBenchmark(
    {
      name: label,
      timestamps: trace.equityTimestamps,
      equity: trace.netWorth,
      weights: trace.heldWeights,
      costs: trace.costs,
      slippage: trace.slippage,
      traded: trace.stepTurnover,
    },
    benchmark,
    {
      riskFreeRate: options.riskFreeRate ?? 0,
      seed: options.bootstrapSeed ?? deriveSeed(cfg.seed, "bootstrap"),
    },
  );
  const range = { start: isoDate(from), end: isoDate(to) };
  const config = {
    seed: cfg.seed,
    model: {
      id: saved.manifest.modelId,
      name: saved.manifest.name,
      version: saved.manifest.version,
      dir: saved.dir,
      trainedRange: cfg.dataRange,
    },
    data: {
      instruments,
      barSize: cfg.barSize,
      start: range.start,
      end: range.end,
      requested: { start, end },
    },
    inSample,
    env,
    costs: portfolioEnv.costs,
    features: cfg.features,
    deterministic: true,
    codeVersion: cfg.codeVersion,
    evaluationCodeVersion: await codeVersion(),
    comparison: {
      benchmark: benchmark.name,
      psrVsZero: comparison.psrVsZero,
      psrVsBenchmark: comparison.psrVsBenchmark,
      sharpeDifference: comparison.sharpeDifference,
      verdict: comparison.verdict,
    },
  };
  const episodeId = await logEpisode(
    store,
    traceToEpisodeLog(trace, {
      kind: "eval",
      modelId: saved.manifest.modelId,
      strategy: "ppo",
      rationale:
        `PPO deterministic action (${
          cfg.policy.action.kind === "gaussian" ? "mean" : "arg-max"
        }) → ` +
        `${env.action} target weights, decided at the close, filled at the next bar's ${env.executeAt}` +
        (inSample ? " (IN-SAMPLE check)" : " (out of sample)"),
      config,
    }),
  );
  let benchmarkEpisodeId: number | null = null;
  if (options.logBenchmark ?? true) {
    benchmarkEpisodeId = await logEpisode(
      store,
      traceToEpisodeLog(benchmarkTrace(benchmark), {
        kind: "benchmark",
        modelId: saved.manifest.modelId,
        strategy: "equal_weight_buy_and_hold",
        rationale:
          `Equal weights decided at the close of ${range.start}, filled at the next bar's ${env.executeAt} ` +
          `by the policy's simulator (${
            describeCosts(portfolioEnv.costs)
          }), then held; weights drift with prices`,
        config: { ...config, evalEpisodeId: episodeId },
      }),
    );
  }
  return {
    model: saved,
    episodeId,
    benchmarkEpisodeId,
    instruments,
    range,
    inSample,
    trace,
    benchmark,
    comparison,
  };
}

/**
 * The metrics worth printing on one line, rounded to 6 decimals (non-finite → null).
 * @param m Metrics of an equity curve.
 * @returns A plain object.
 * @example
 * ```ts
 * headlineMetrics(result.comparison.strategy).sharpe;
 * ```
 */
export function headlineMetrics(m: PerformanceMetrics): Record<string, number | null> {
  const r = (
    x: number | null,
  ) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 1e6) / 1e6);
  return {
    totalReturn: r(m.totalReturn),
    annualizedReturn: r(m.annualizedReturn),
    annualizedVolatility: r(m.annualizedVolatility),
    sharpe: r(m.sharpe),
    sortino: r(m.sortino),
    maxDrawdown: r(m.maxDrawdown),
    calmar: r(m.calmar),
    hitRate: r(m.hitRate),
    turnover: r(m.turnover),
    exposure: r(m.exposure),
    costsPaidFraction: r(m.costsPaidFraction),
  };
}

/**
 * The one-line JSON summary `deno task evaluate --json` prints.
 * @param r An evaluation result.
 * @returns A plain object.
 * @example
 * ```ts
 * console.log(JSON.stringify(evaluationSummary(await evaluateModel(store, { model: "1" }))));
 * ```
 */
export function evaluationSummary(r: EvaluateResult): Record<string, unknown> {
  const c = r.comparison;
  const d = c.sharpeDifference;
  return {
    modelId: r.model.manifest.modelId,
    modelDir: r.model.dir,
    episodeId: r.episodeId,
    benchmarkEpisodeId: r.benchmarkEpisodeId,
    instruments: r.instruments,
    start: r.range.start,
    end: r.range.end,
    inSample: r.inSample,
    steps: r.trace.rewards.length,
    stopReason: r.trace.stopReason,
    strategy: headlineMetrics(c.strategy),
    benchmark: { name: c.benchmarkName, ...headlineMetrics(c.benchmark) },
    psr: c.psrVsZero,
    psrVsBenchmark: c.psrVsBenchmark,
    sharpeDifference: {
      estimate: d.estimate,
      lower: d.lower,
      upper: d.upper,
      confidence: d.confidence,
      pValue: d.pValue,
      significant: d.significant,
    },
    verdict: c.verdict,
  };
}
