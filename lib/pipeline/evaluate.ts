/**
 * Out-of-sample evaluation of a saved model: one deterministic pass (mean or arg-max
 * actions, frozen observation normaliser) over a date range it was not trained on,
 * logged as an `eval` episode, next to every baseline of `lib/eval/baselines.ts`
 * (equal-weight buy & hold, equal weight rebalanced with the model's friction,
 * inverse volatility, the `combined` signal as a long-only tilt, cash), all run
 * through the same market simulator with the same costs. Equal-weight buy & hold is
 * logged as the `benchmark` episode; every baseline is compared with PSR and the
 * block-bootstrap interval of the Sharpe difference, and the verdict names the best
 * baseline by Sharpe and says whether the agent beats it.
 *
 * **Costs are the evaluator's choice**: {@linkcode EvaluateOptions}`.costs`
 * (commission bps, slippage bps, fee model, impact k); the default is the cost
 * model's realistic defaults (`DEFAULT_COSTS`: 10 bps + 5 bps), not the costs the
 * model was trained with. The result says both, and warns when they differ.
 *
 * **Out of sample**: the range must not overlap any of the model's trained ranges
 * (`config.trainedRanges` when recorded, e.g. over a `--resume` lineage, else
 * `config.dataRange`), unless `allowInSample` labels it an in-sample check.
 *
 * **Which universes a model can be evaluated on**:
 * - a **per-asset** model (`policy.topology.kind === "per-asset"`, the EIIE topology)
 *   scores every asset with one shared network from that asset's own feature window and
 *   weight, so it accepts **any universe given at evaluation time** (train on one set of
 *   names, evaluate on another, of any size); only the observed feature names and the
 *   window must be the model's;
 * - a portfolio-level **mlp** model observes `N·window·F + N` values in a fixed order
 *   and acts with one entry per instrument, so it is tied to its training universe:
 *   the same instruments are accepted (in any order; they are put back in the trained
 *   order) and any other set is refused with a {@linkcode UniverseMismatchError}.
 *
 * **Survivorship** is stated (`lib/eval/survivorship.ts`): whether the universe looks
 * chosen as of the data's end (survivors), with the reason the baseline comparison on
 * the same universe is the fair one.
 *
 * **Several seeds**: {@linkcode evaluateModels} evaluates several models (e.g. one per
 * training seed) on the same range and costs and reports the distribution (median,
 * inter-quartile range, each seed), with the verdict on the median seed.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import { logEpisode } from "../db/episodes_repo.ts";
import { codeVersion, type ModelConfig, type SavedModel } from "../agents/model_io.ts";
import type { ObsNormStats } from "../agents/ppo.ts";
import { perAssetTopology } from "../agents/per_asset.ts";
import type { PolicyBackend } from "../agents/policy.ts";
import {
  costOptionsFrom,
  describeCosts,
  type FeeModel,
  resolveCostOptions,
  type ResolvedCostOptions,
} from "../env/costs.ts";
import type { FrictionOptions } from "../env/friction.ts";
import { makePortfolioEnv, type PortfolioEnv } from "../env/portfolio_env.ts";
import { type BaselineCurve, runBaselines, SIGNAL_WARMUP } from "../eval/baselines.ts";
import type { BenchmarkCurve } from "../eval/benchmarks.ts";
import {
  type BaselinesComparison,
  type BenchmarkComparison,
  compareWithBaselines,
  type EquityCurve,
} from "../eval/comparison.ts";
import type { PerformanceMetrics } from "../eval/metrics.ts";
import { medianIndex, type SeedDistribution, seedDistribution } from "../eval/seeds.ts";
import { type SurvivorshipStatement, survivorshipStatement } from "../eval/survivorship.ts";
import type { FeatureSetName } from "../features/definitions.ts";
import { BACKEND_NAMES, type BackendName, createPolicyBackend } from "./backends.ts";
import { historyBarsFor, isoDate, loadMarket, storedRanges } from "./market.ts";
import { resolveModel } from "./models.ts";
import { type DateRange, trainedRangesOf } from "../models/lineage.ts";
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

/** Cost settings an evaluation charges; each absent field takes `DEFAULT_COSTS`' value. */
export interface EvaluationCosts {
  /** Commission schedule. Default `"bps"`. */
  feeModel?: FeeModel;
  /** Commission, bps of traded notional (fee model `"bps"`). Default 10. */
  costPerTurnBps?: number;
  /** Fixed slippage, bps of traded notional. Default 5. */
  slippageBps?: number;
  /** Square-root impact coefficient. Default 0. */
  impactK?: number;
}

/** What {@linkcode evaluateModel} evaluates. */
export interface EvaluateOptions {
  /** A `tt_models.id`, `NAME@vN` or a model directory. */
  model: string;
  /** First date (ISO). Default: the day after the model's last trained range. */
  start?: string;
  /** Last date (ISO). Default: the last date every one of the evaluated instruments has bars. */
  end?: string;
  /**
   * Instruments. Per-asset model: any universe. mlp model: the model's (see the module
   * documentation). Default: the model's.
   */
  symbols?: string[];
  /** Backend to run the network on. Default: the one it was trained on. */
  backend?: BackendName;
  /** Annual risk-free rate for Sharpe, Sortino, PSR. Default 0. */
  riskFreeRate?: number;
  /** Seed of the bootstrap. Default: the model's seed's `bootstrap` stream (`deriveSeed`). */
  bootstrapSeed?: number;
  /** Allow a range overlapping training (an in-sample check, clearly labelled). Default false. */
  allowInSample?: boolean;
  /** Also log equal-weight buy & hold as a `benchmark` episode. Default true. */
  logBenchmark?: boolean;
  /**
   * Costs charged to the policy and every baseline. Default: `DEFAULT_COSTS` (10 bps
   * commission + 5 bps slippage), whatever the model was trained with.
   */
  costs?: EvaluationCosts;
  /** Commission schedule; same as `costs.feeModel` (which wins when both are given). */
  feeModel?: FeeModel;
}

/** The costs a model was trained with and the ones it is evaluated with. */
export interface CostsUsed {
  /** From the model's env settings (defaults for what they do not record). */
  training: ResolvedCostOptions;
  /** What the evaluation charged. */
  evaluation: ResolvedCostOptions;
  /** True when they differ in fee model, commission, slippage or impact. */
  differ: boolean;
  /** E.g. `"trained at 0+0 bps, evaluated at 10+5 bps (commission + slippage)"`; null when equal. */
  warning: string | null;
}

/** What {@linkcode evaluateModel} returns. */
export interface EvaluateResult {
  model: SavedModel;
  /** The `eval` episode. */
  episodeId: number;
  /** The `benchmark` episode (equal-weight buy & hold; null when not logged). */
  benchmarkEpisodeId: number | null;
  instruments: string[];
  /** Whether the evaluated universe is the model's (per-asset models may differ). */
  universe: { trained: string[]; sameAsTrained: boolean; perAsset: boolean };
  /** Dates actually evaluated (first decision bar to last marked bar). */
  range: DateRange;
  /** Every range the model was trained on (checked for overlap). */
  trainedRanges: DateRange[];
  inSample: boolean;
  trace: EpisodeTrace;
  /** Equal-weight buy & hold (also `baselineCurves[0].curve`). */
  benchmark: BenchmarkCurve;
  /** The policy against equal-weight buy & hold (also `baselines.baselines[0].comparison`). */
  comparison: BenchmarkComparison;
  /** Every baseline's curve, in `BASELINE_KEYS` order. */
  baselineCurves: BaselineCurve[];
  /** The policy against every baseline, the best one by Sharpe, and the verdict. */
  baselines: BaselinesComparison;
  costs: CostsUsed;
  survivorship: SurvivorshipStatement;
}

function backendOf(saved: SavedModel): BackendName {
  const trained = saved.manifest.config.backend.replace(/^tfjs-/, "");
  return (BACKEND_NAMES as readonly string[]).includes(trained) ? trained as BackendName : "auto";
}

/**
 * The instruments to evaluate: for a per-asset model any universe (as given,
 * duplicates dropped); for an mlp model only its own, returned in the trained order.
 * @param modelInstruments The instruments the model was trained on, in order.
 * @param symbols Requested instruments (undefined: the model's).
 * @param options `perAsset`: the model has the per-asset topology. Default false.
 * @returns The instruments to evaluate, in observation order.
 * @throws {UniverseMismatchError} For another set and an mlp model, explaining why.
 * @example
 * ```ts
 * evaluationUniverse(["AAPL", "SPX"], ["SPX", "AAPL"]); // ["AAPL", "SPX"]
 * evaluationUniverse(["AAPL", "SPX"], ["MSFT", "JPM", "XOM"], { perAsset: true }); // ["MSFT", "JPM", "XOM"]
 * ```
 */
export function evaluationUniverse(
  modelInstruments: readonly string[],
  symbols?: readonly string[],
  options: { perAsset?: boolean } = {},
): string[] {
  if (!symbols) return [...modelInstruments];
  const want = [...new Set(symbols)];
  const have = [...modelInstruments].sort();
  if (want.length > 0 && [...want].sort().join(",") === have.join(",")) {
    return [...modelInstruments];
  }
  if (options.perAsset && want.length > 0) return want;
  throw new UniverseMismatchError(
    `This model was trained on ${modelInstruments.length} instruments (${
      modelInstruments.join(", ")
    }); ` +
      `its observation holds every instrument's features and weights and its action one entry per instrument, ` +
      `so it can only be evaluated on that same universe, not on ${symbols.join(", ")}. ` +
      `Train a per-asset model (its shared network applies to any universe) or a model on the universe you want ` +
      `to evaluate (deno task train --symbols ${symbols.join(",")}).`,
  );
}

/**
 * The costs a model was trained with (its env settings; absent fields at their defaults).
 * @param config A saved model's config.
 * @returns Resolved cost settings.
 * @example
 * ```ts
 * trainingCosts(saved.manifest.config).costPerTurnBps;
 * ```
 */
export function trainingCosts(config: ModelConfig): ResolvedCostOptions {
  return resolveCostOptions(costOptionsFrom({ ...config.env }, "model config.env"));
}

/**
 * Short form of cost settings: `"10+5 bps"` (commission + slippage), `"IBKR fixed+5 bps"`,
 * with `", impact k 0.5"` when impact is on.
 * @param c Resolved settings.
 * @returns The text.
 * @example
 * ```ts
 * shortCosts(resolveCostOptions({ costPerTurnBps: 0, slippageBps: 0 })); // "0+0 bps"
 * ```
 */
export function shortCosts(c: ResolvedCostOptions): string {
  const commission = c.feeModel === "ibkr-fixed" ? "IBKR fixed" : `${c.costPerTurnBps}`;
  return `${commission}+${c.slippageBps} bps` + (c.impactK > 0 ? `, impact k ${c.impactK}` : "");
}

/**
 * Compares training and evaluation costs.
 * @param training The model's.
 * @param evaluation The evaluation's.
 * @returns Both, whether they differ, and the warning to print when they do.
 * @example
 * ```ts
 * costsUsed(resolveCostOptions({ costPerTurnBps: 0, slippageBps: 0 }), resolveCostOptions()).warning;
 * // "trained at 0+0 bps, evaluated at 10+5 bps (commission + slippage)"
 * ```
 */
export function costsUsed(
  training: ResolvedCostOptions,
  evaluation: ResolvedCostOptions,
): CostsUsed {
  const keys = ["feeModel", "costPerTurnBps", "slippageBps", "impactK"] as const;
  const differ = keys.some((k) => training[k] !== evaluation[k]);
  return {
    training,
    evaluation,
    differ,
    warning: differ
      ? `trained at ${shortCosts(training)}, evaluated at ${
        shortCosts(evaluation)
      } (commission + slippage)`
      : null,
  };
}

/** Runs the policy deterministically over the whole evaluation range (any universe for a per-asset model). */
function runPolicy(
  env: PortfolioEnv,
  backend: PolicyBackend,
  obsNorm: ObsNormStats | null,
): EpisodeTrace {
  return runDeterministicEpisode(env, backend, { start: env.startRange.earliest, obsNorm });
}

/**
 * The trained ranges an evaluation range overlaps; throws unless in-sample is allowed.
 * @param trainedRanges Every range the model was trained on.
 * @param start First evaluated date (ISO).
 * @param end Last evaluated date (ISO; undefined: open-ended).
 * @param allowInSample Return the overlaps instead of throwing.
 * @returns The overlapping ranges (empty: out of sample).
 * @throws {InSampleError} On an overlap with any trained range when `allowInSample` is false.
 * @example
 * ```ts
 * checkOutOfSample([{ start: "2010-01-01", end: "2012-12-31" }], "2013-01-02", "2014-12-31", false); // []
 * ```
 */
export function checkOutOfSample(
  trainedRanges: readonly DateRange[],
  start: string,
  end: string | undefined,
  allowInSample: boolean,
): DateRange[] {
  const overlaps = trainedRanges.filter((r) =>
    start <= r.end && (end === undefined || end >= r.start)
  );
  if (overlaps.length > 0 && !allowInSample) {
    const lastTrained = trainedRanges.map((r) => r.end).sort().at(-1)!;
    throw new InSampleError(
      `The range ${start}..${end ?? "end"} overlaps the model's training range${
        overlaps.length > 1 ? "s" : ""
      } ${overlaps.map((r) => `${r.start}..${r.end}`).join(", ")}` +
        (trainedRanges.length > 1 ? ` (of ${trainedRanges.length} trained ranges)` : "") +
        `: evaluate on later dates (e.g. --start ${nextDay(lastTrained)}), ` +
        `or pass --allow-in-sample for a labelled in-sample check`,
    );
  }
  return overlaps;
}

const DAY_MS = 86_400_000;
const nextDay = (iso: string) => isoDate(Date.parse(`${iso}T00:00:00Z`) + DAY_MS);

function baselineName(instruments: readonly string[]): string {
  return instruments.length <= 8
    ? `Equal-weight buy & hold (${instruments.join(", ")})`
    : `Equal-weight buy & hold (${instruments.length})`;
}

/**
 * Evaluates a saved model out of sample against every baseline and logs the episode
 * and its equal-weight buy & hold benchmark.
 *
 * @param store The store (bars are read; episodes are written).
 * @param options See {@linkcode EvaluateOptions}.
 * @returns The trace, baselines, comparisons, costs, survivorship and logged episode ids.
 * @throws {UniverseMismatchError} For other instruments than an mlp model's.
 * @throws {InSampleError} When the range overlaps a trained range and `allowInSample` is not set.
 * @example
 * ```ts
 * const r = await evaluateModel(store, { model: "1", start: "2017-03-01", costs: { costPerTurnBps: 2 } });
 * console.log(r.baselines.best.name, r.baselines.verdict, r.costs.warning);
 * ```
 */
export async function evaluateModel(
  store: Store,
  options: EvaluateOptions,
): Promise<EvaluateResult> {
  const saved = await resolveModel(store, options.model);
  const cfg = saved.manifest.config;
  const env = cfg.env; // parsed and validated by loadModel
  const perAsset = perAssetTopology(cfg.policy) !== null;
  const instruments = evaluationUniverse(cfg.instruments, options.symbols, { perAsset });
  const trainedRanges = trainedRangesOf(cfg);
  const lastTrained = trainedRanges.map((r) => r.end).sort().at(-1)!;
  const start = options.start ?? nextDay(lastTrained);
  const spans = (await storedRanges(store, cfg.barSize)).filter((r) =>
    instruments.includes(r.instrument)
  );
  // The earliest last bar: past it an instrument has no prices and could not be traded.
  const end = options.end ?? spans.map((r) => r.last).sort()[0];
  const inSample = checkOutOfSample(trainedRanges, start, end, options.allowInSample ?? false)
    .length > 0;
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
  const overrides = { ...options.costs };
  if (overrides.feeModel === undefined && options.feeModel !== undefined) {
    overrides.feeModel = options.feeModel;
  }
  const evaluationCosts = resolveCostOptions(overrides);
  const costs = costsUsed(trainingCosts(cfg), evaluationCosts);
  const envOptions = envOptionsFor(env, false);
  const portfolioEnv = makePortfolioEnv(market.prices, market.features, {
    ...envOptions,
    feeModel: evaluationCosts.feeModel,
    costPerTurnBps: evaluationCosts.costPerTurnBps,
    slippageBps: evaluationCosts.slippageBps,
    impactK: evaluationCosts.impactK,
    impactLookback: evaluationCosts.impactLookback,
    range: { start: market.startIndex, end: market.endIndex },
  });
  const backend = await createPolicyBackend(options.backend ?? backendOf(saved), cfg.policy);
  let trace: EpisodeTrace;
  try {
    backend.importWeights(saved.weights);
    trace = runPolicy(portfolioEnv, backend, saved.obsNorm);
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
  // The baselines read trailing history (inverse volatility's window, the signal's
  // warm-up) before the range: a price panel of their own with enough of it.
  const rebalancing: FrictionOptions = {
    band: envOptions.band,
    rebalanceEvery: envOptions.rebalanceEvery,
    partialAdjustment: envOptions.partialAdjustment,
  };
  const baselineMarket = await loadMarket(store, {
    symbols: instruments,
    start: isoDate(from),
    end: isoDate(to),
    barSize: cfg.barSize,
    featureSet: "basic",
    historyBars: Math.max(SIGNAL_WARMUP + 2, 64, evaluationCosts.impactLookback + 1),
  });
  const baselineCurves = runBaselines(baselineMarket.prices, {
    from,
    to,
    costs: portfolioEnv.costs,
    executeAt: env.executeAt,
    initialCash: env.initialCash,
    rebalancing,
  });
  baselineCurves[0].curve.name = baselineName(instruments);
  const benchmark = baselineCurves[0].curve;
  const label = `PPO ${saved.manifest.name}${
    saved.manifest.version ? ` v${saved.manifest.version}` : ""
  }`;
  const policyCurve: EquityCurve = {
    name: label,
    timestamps: trace.equityTimestamps,
    equity: trace.netWorth,
    weights: trace.heldWeights,
    costs: trace.costs,
    slippage: trace.slippage,
    traded: trace.stepTurnover,
  };
  const baselines = compareWithBaselines(
    policyCurve,
    baselineCurves.map((b) => ({ key: b.key, curve: b.curve })),
    {
      riskFreeRate: options.riskFreeRate ?? 0,
      seed: options.bootstrapSeed ?? deriveSeed(cfg.seed, "bootstrap"),
    },
  );
  const comparison = baselines.baselines[0].comparison;
  const range = { start: isoDate(from), end: isoDate(to) };
  const survivorship = survivorshipStatement(
    spans.map((s) => ({ instrument: s.instrument, first: s.first, last: s.last })),
    range,
  );
  const universe = {
    trained: [...cfg.instruments],
    sameAsTrained: [...instruments].sort().join(",") === [...cfg.instruments].sort().join(","),
    perAsset,
  };
  const config = {
    seed: cfg.seed,
    model: {
      id: saved.manifest.modelId,
      name: saved.manifest.name,
      version: saved.manifest.version,
      dir: saved.dir,
      trainedRange: cfg.dataRange,
      trainedRanges,
    },
    data: {
      instruments,
      barSize: cfg.barSize,
      start: range.start,
      end: range.end,
      requested: { start, end },
    },
    universe,
    inSample,
    env,
    // The resolved costs charged here (the report recomputes benchmarks with them).
    costs: portfolioEnv.costs,
    trainingCosts: costs.training,
    costWarning: costs.warning,
    features: cfg.features,
    deterministic: true,
    codeVersion: cfg.codeVersion,
    evaluationCodeVersion: await codeVersion(),
    survivorship: { fixedAt: survivorship.fixedAt, statement: survivorship.statement },
    comparison: {
      benchmark: benchmark.name,
      psrVsZero: comparison.psrVsZero,
      psrVsBenchmark: comparison.psrVsBenchmark,
      sharpeDifference: comparison.sharpeDifference,
      verdict: comparison.verdict,
    },
    baselines: baselineSummaries(baselines, baselineCurves),
    bestBaseline: baselines.best.key,
    baselineVerdict: baselines.verdict,
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
    universe,
    range,
    trainedRanges,
    inSample,
    trace,
    benchmark,
    comparison,
    baselineCurves,
    baselines,
    costs,
    survivorship,
  };
}

/** One baseline's line in a logged config or a JSON summary. */
export interface BaselineSummary {
  key: string;
  name: string;
  description: string;
  metrics: Record<string, number | null>;
  /** Sharpe(policy) − Sharpe(baseline), with its bootstrap interval. */
  sharpeDifference: { estimate: number; lower: number; upper: number; confidence: number };
  outcome: "win" | "loss" | "undecided";
  best: boolean;
}

/**
 * Every baseline's line (name, how it trades, headline metrics, Sharpe difference with
 * its interval, outcome, whether it is the best), as logged in an eval episode's config.
 * @param b The policy against every baseline.
 * @param curves The baselines' curves (for their descriptions).
 * @returns One summary per baseline.
 * @example
 * ```ts
 * baselineSummaries(result.baselines, result.baselineCurves).find((s) => s.best)?.name;
 * ```
 */
export function baselineSummaries(
  b: BaselinesComparison,
  curves: readonly BaselineCurve[],
): BaselineSummary[] {
  return b.baselines.map((row) => {
    const d = row.comparison.sharpeDifference;
    return {
      key: row.key,
      name: row.name,
      description: curves.find((c) => c.key === row.key)?.description ?? "",
      metrics: headlineMetrics(row.comparison.benchmark),
      sharpeDifference: {
        estimate: d.estimate,
        lower: d.lower,
        upper: d.upper,
        confidence: d.confidence,
      },
      outcome: row.outcome,
      best: row.key === b.best.key,
    };
  });
}

/** What {@linkcode evaluateModels} evaluates: {@linkcode EvaluateOptions} for several models. */
export interface EvaluateModelsOptions extends Omit<EvaluateOptions, "model"> {
  /** Model references (ids, `NAME@vN` or directories), e.g. one per training seed. */
  models: string[];
}

/** The metrics whose distribution over seeds {@linkcode evaluateModels} reports. */
export const SEED_METRICS = [
  "sharpe",
  "totalReturn",
  "maxDrawdown",
  "annualizedTurnover",
  "costsPaidFraction",
] as const;
/** One of {@linkcode SEED_METRICS}. */
export type SeedMetric = typeof SEED_METRICS[number];

/** What {@linkcode evaluateModels} returns. */
export interface EvaluateModelsResult {
  /** One evaluation per model, in the order given. */
  results: EvaluateResult[];
  /** The range evaluated (the same for every model). */
  range: DateRange;
  instruments: string[];
  /** Each metric's distribution over the models. */
  distribution: Record<SeedMetric, SeedDistribution>;
  /** Index (into `results`) of the median model by Sharpe (the lower middle for an even count). */
  medianIndex: number;
  /** The median model against every baseline: its verdict is the verdict. */
  median: BaselinesComparison;
  /** Models distinguishably worse than equal-weight buy & hold (interval below 0). */
  worseThanBuyAndHold: { model: string; upper: number }[];
  /** One paragraph: the median against the best baseline, and the seeds worse than buy & hold. */
  verdict: string;
}

/**
 * Evaluates several models (e.g. one per training seed) on the same range, universe
 * and costs, and reports the distribution: each model's Sharpe, return, max drawdown,
 * annualised turnover and costs paid, their median and inter-quartile range, the
 * verdict on the median model against every baseline, and whether any model is
 * distinguishably worse than equal-weight buy & hold at the bootstrap's level (95 %).
 *
 * The start defaults to the day after the latest trained range of any of them, the
 * universe to the first model's instruments.
 * @param store The store.
 * @param options The models and the shared evaluation options.
 * @returns Every evaluation and the distribution.
 * @throws {RangeError} When no model is given.
 * @example
 * ```ts
 * const r = await evaluateModels(store, { models: ["3", "4", "5", "6", "7"], start: "2015-01-02" });
 * console.log(r.distribution.sharpe.median, r.verdict);
 * ```
 */
export async function evaluateModels(
  store: Store,
  options: EvaluateModelsOptions,
): Promise<EvaluateModelsResult> {
  const { models, ...shared } = options;
  if (models.length === 0) throw new RangeError("evaluateModels(): no model given");
  let start = shared.start;
  let symbols = shared.symbols;
  if (start === undefined || symbols === undefined) {
    const ends: string[] = [];
    for (const ref of models) {
      const cfg = (await resolveModel(store, ref)).manifest.config;
      ends.push(...trainedRangesOf(cfg).map((r) => r.end));
      symbols ??= [...cfg.instruments];
    }
    start ??= nextDay(ends.sort().at(-1)!);
  }
  const results: EvaluateResult[] = [];
  for (const model of models) {
    results.push(await evaluateModel(store, { ...shared, model, start, symbols }));
  }
  const r0 = results[0];
  for (const r of results) {
    if (r.range.start !== r0.range.start || r.range.end !== r0.range.end) {
      throw new RangeError(
        `evaluateModels(): model ${r.model.dir} was evaluated on ${r.range.start}..${r.range.end} but ` +
          `${r0.model.dir} on ${r0.range.start}..${r0.range.end} (different warm-ups?): a seed ` +
          "distribution needs the same range",
      );
    }
  }
  const distribution = Object.fromEntries(
    SEED_METRICS.map((
      k,
    ) => [k, seedDistribution(results.map((r) => r.comparison.strategy[k] ?? NaN))]),
  ) as Record<SeedMetric, SeedDistribution>;
  const mi = medianIndex(results.map((r) => r.comparison.strategy.sharpe));
  const median = results[mi].baselines;
  const worse = results.flatMap((r, i) =>
    r.comparison.sharpeDifference.upper < 0
      ? [{ model: models[i], upper: r.comparison.sharpeDifference.upper }]
      : []
  );
  const d = distribution.sharpe;
  const level = `${Math.round(r0.comparison.sharpeDifference.confidence * 100)} %`;
  const verdict = `Median Sharpe over ${results.length} models ${d.median.toFixed(2)} ` +
    `(IQR ${d.q1.toFixed(2)}..${d.q3.toFixed(2)}); on the median model (${
      models[mi]
    }): ${median.verdict} ` +
    (worse.length === 0
      ? `No model is distinguishably worse than equal-weight buy & hold at ${level}.`
      : `${worse.length} of ${results.length} models (${
        worse.map((w) => w.model).join(", ")
      }) are distinguishably worse than equal-weight buy & hold at ${level}.`);
  return {
    results,
    range: r0.range,
    instruments: r0.instruments,
    distribution,
    medianIndex: mi,
    median,
    worseThanBuyAndHold: worse,
    verdict,
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
    annualizedTurnover: r(m.annualizedTurnover),
    exposure: r(m.exposure),
    costsPaid: r(m.costsPaid),
    slippagePaid: r(m.slippagePaid),
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
    baselines: baselineSummaries(r.baselines, r.baselineCurves),
    bestBaseline: r.baselines.best.key,
    baselineVerdict: r.baselines.verdict,
    universe: r.universe,
    trainedRanges: r.trainedRanges,
    costs: {
      training: r.costs.training,
      evaluation: r.costs.evaluation,
      differ: r.costs.differ,
      warning: r.costs.warning,
    },
    survivorship: { fixedAt: r.survivorship.fixedAt, statement: r.survivorship.statement },
  };
}

/**
 * The one-line JSON summary `deno task evaluate --model A,B,… --json` prints: every
 * model's metrics, the median and quartiles of each, every baseline's metrics (they
 * are the same for every model: same range, universe and costs), and the verdict.
 * @param m A multi-model evaluation.
 * @returns A plain object.
 * @example
 * ```ts
 * console.log(JSON.stringify(evaluationsSummary(await evaluateModels(store, { models: ["3", "4", "5"] }))));
 * ```
 */
export function evaluationsSummary(m: EvaluateModelsResult): Record<string, unknown> {
  const r0 = m.results[0];
  const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : null);
  return {
    models: m.results.map((r, i) => ({
      model: r.model.manifest.modelId ?? r.model.dir,
      seed: r.model.manifest.config.seed,
      episodeId: r.episodeId,
      median: i === m.medianIndex,
      metrics: headlineMetrics(r.comparison.strategy),
      sharpeDifferenceVsBuyAndHold: {
        estimate: r.comparison.sharpeDifference.estimate,
        lower: r.comparison.sharpeDifference.lower,
        upper: r.comparison.sharpeDifference.upper,
      },
    })),
    start: m.range.start,
    end: m.range.end,
    instruments: m.instruments,
    median: Object.fromEntries(
      SEED_METRICS.map((k) => {
        const d = m.distribution[k];
        return [k, {
          median: round(d.median),
          q1: round(d.q1),
          q3: round(d.q3),
          iqr: round(d.iqr),
        }];
      }),
    ),
    medianModel: m.results[m.medianIndex].model.manifest.modelId ??
      m.results[m.medianIndex].model.dir,
    baselines: baselineSummaries(m.median, m.results[m.medianIndex].baselineCurves),
    bestBaseline: m.median.best.key,
    worseThanBuyAndHold: m.worseThanBuyAndHold,
    costs: {
      training: m.results.map((r) => r.costs.training),
      evaluation: r0.costs.evaluation,
      warnings: [...new Set(m.results.map((r) => r.costs.warning).filter((w) => w !== null))],
    },
    survivorship: { fixedAt: r0.survivorship.fixedAt, statement: r0.survivorship.statement },
    verdict: m.verdict,
  };
}
