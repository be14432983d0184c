/**
 * Performance drift: does a trading run (paper, IB or a replay) earn what the model's
 * backtest says it should over the same period?
 *
 * - **Same bars**: where the backtest (an evaluation episode) covers the run's bars, the
 *   tracking error (annualised standard deviation of live − backtest returns) and the
 *   cumulative difference. The simulator and the paper broker follow each other within
 *   0.2 % (tests/trade_replay_test.ts), so a few percent of tracking error is a real gap
 *   (fills, costs, a feature pipeline that changed, a broken feed).
 * - **Distribution**: the backtest's returns resampled with the stationary block bootstrap
 *   (mean block `n^(1/3)`, the scheme of `sharpeDifferenceCI`) into paths as long as the
 *   run; the share of paths with a drawdown at least as deep as the run's (`pDrawdown`)
 *   and with a cumulative return at most the run's (`pReturn`). Small means: the backtest
 *   rarely does this badly.
 *
 * Drifted when `pDrawdown` or `pReturn` is below `alpha` (default 0.01), or the same-bar
 * tracking error exceeds `maxTrackingError` (default 0.05 a year).
 *
 * @module
 */
import type { Queryable } from "../db/store.ts";
import type { ModelRecord } from "../db/models_repo.ts";
import { recordDriftRun } from "../db/drift_repo.ts";
import { listTradingRuns, readAccountCurve, readTradingRun } from "../db/execution_repo.ts";
import { listEpisodes, readEpisode } from "../db/episodes_repo.ts";
import { inferPeriodsPerYear, maxDrawdown, simpleReturns } from "../eval/metrics.ts";
import { Rng } from "../util/rng.ts";
import { alignCurves, type Curve } from "./compare.ts";

/** Thresholds of {@linkcode performanceDrift}. */
export interface PerformanceDriftThresholds {
  /** Tail probability below which the run is drifted. Default 0.01. */
  alpha: number;
  /** Annualised same-bar tracking error above which the run is drifted. Default 0.05. */
  maxTrackingError: number;
}

/** The defaults of {@linkcode PerformanceDriftThresholds}. */
export const DEFAULT_PERFORMANCE_THRESHOLDS: Readonly<PerformanceDriftThresholds> = Object
  .freeze({ alpha: 0.01, maxTrackingError: 0.05 });

/** What {@linkcode performanceDrift} finds. */
export interface PerformanceDriftReport {
  drifted: boolean;
  /** Why it is drifted (empty when not). */
  reasons: string[];
  /** Returns of the run. */
  bars: number;
  live: { totalReturn: number; maxDrawdown: number };
  /** Backtest returns resampled (all of the backtest). */
  backtestBars: number;
  /** Same-bar comparison; null when the backtest does not cover the run's bars. */
  sameBars: { bars: number; trackingError: number; cumulativeDifference: number } | null;
  /** Share of bootstrap paths with a drawdown ≥ the run's. */
  pDrawdown: number;
  /** Share of bootstrap paths with a cumulative return ≤ the run's. */
  pReturn: number;
  /** Median and 5 % quantile of the paths' cumulative return (what the backtest predicts). */
  expected: { medianReturn: number; p05Return: number; medianDrawdown: number };
  resamples: number;
  blockLength: number;
  thresholds: PerformanceDriftThresholds;
}

/**
 * Performance drift of a live curve against a backtest curve (see the module notes).
 * @param live The run's equity at its bar closes.
 * @param backtest The backtest's equity (an evaluation episode), ideally covering the run's bars.
 * @param options Thresholds, resamples (default 2000), seed (default 0).
 * @returns The figures and the verdict.
 * @throws {RangeError} With fewer than 3 live returns or 10 backtest returns.
 * @example
 * ```ts
 * const d = performanceDrift(liveCurve, evalCurve, { seed: 1 });
 * d.drifted; // true when the run's drawdown is one the backtest almost never shows
 * ```
 */
export function performanceDrift(
  live: Curve,
  backtest: Curve,
  options: { thresholds?: Partial<PerformanceDriftThresholds>; resamples?: number; seed?: number } =
    {},
): PerformanceDriftReport {
  const thresholds = { ...DEFAULT_PERFORMANCE_THRESHOLDS, ...options.thresholds };
  const rl = simpleReturns(live.equity);
  const rbAll = simpleReturns(backtest.equity);
  const n = rl.length, N = rbAll.length;
  if (n < 3) throw new RangeError(`performanceDrift needs at least 3 live returns, got ${n}`);
  if (N < 10) throw new RangeError(`performanceDrift needs at least 10 backtest returns, got ${N}`);
  const ppy = inferPeriodsPerYear(backtest.timestamps);
  const liveTotal = live.equity[n] / live.equity[0] - 1;
  const liveDd = maxDrawdown(live.equity);
  // Same bars.
  let sameBars: PerformanceDriftReport["sameBars"] = null;
  const al = alignCurves(live, backtest);
  if (al.timestamps.length >= 4) {
    const a = simpleReturns(al.a), b = simpleReturns(al.b);
    let mean = 0;
    for (let i = 0; i < a.length; i++) mean += (a[i] - b[i]) / a.length;
    let sq = 0;
    for (let i = 0; i < a.length; i++) sq += (a[i] - b[i] - mean) ** 2;
    sameBars = {
      bars: al.timestamps.length,
      trackingError: Math.sqrt(sq / (a.length - 1)) * Math.sqrt(ppy),
      cumulativeDifference: (al.a.at(-1)! / al.a[0]) - (al.b.at(-1)! / al.b[0]),
    };
  }
  // Stationary block bootstrap of the backtest into paths of n returns.
  const resamples = options.resamples ?? 2000;
  const block = Math.max(1, Math.round(Math.cbrt(N)));
  const rng = new Rng(options.seed ?? 0);
  const p = 1 / block;
  let deeper = 0, lower = 0;
  const totals = new Float64Array(resamples), dds = new Float64Array(resamples);
  for (let k = 0; k < resamples; k++) {
    let w = 1, peak = 1, dd = 0, i = 0;
    let at = Math.floor(rng.uniform() * N);
    while (i < n) {
      w *= 1 + rbAll[at];
      if (w > peak) peak = w;
      dd = Math.max(dd, 1 - w / peak);
      i++;
      at = rng.uniform() < p ? Math.floor(rng.uniform() * N) : (at + 1) % N;
    }
    totals[k] = w - 1;
    dds[k] = dd;
    if (dd >= liveDd - 1e-12) deeper++;
    if (w - 1 <= liveTotal + 1e-12) lower++;
  }
  totals.sort();
  dds.sort();
  const q = (s: Float64Array, f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  const pDrawdown = deeper / resamples, pReturn = lower / resamples;
  const reasons: string[] = [];
  if (pDrawdown < thresholds.alpha) {
    reasons.push(
      `drawdown ${(liveDd * 100).toFixed(1)} % is deeper than ${
        ((1 - pDrawdown) * 100).toFixed(1)
      } % of backtest paths of ${n} bars`,
    );
  }
  if (pReturn < thresholds.alpha) {
    reasons.push(
      `return ${(liveTotal * 100).toFixed(1)} % is below ${
        ((1 - pReturn) * 100).toFixed(1)
      } % of backtest paths`,
    );
  }
  if (sameBars && sameBars.trackingError > thresholds.maxTrackingError) {
    reasons.push(
      `tracking error ${(sameBars.trackingError * 100).toFixed(1)} %/yr against the backtest ` +
        `on the same ${sameBars.bars} bars (limit ${
          (thresholds.maxTrackingError * 100).toFixed(1)
        } %)`,
    );
  }
  return {
    drifted: reasons.length > 0,
    reasons,
    bars: n,
    live: { totalReturn: liveTotal, maxDrawdown: liveDd },
    backtestBars: N,
    sameBars,
    pDrawdown,
    pReturn,
    expected: {
      medianReturn: q(totals, 0.5),
      p05Return: q(totals, 0.05),
      medianDrawdown: q(dds, 0.5),
    },
    resamples,
    blockLength: block,
    thresholds,
  };
}

/** What {@linkcode computePerformanceDrift} returns. */
export interface ModelPerformanceDrift extends PerformanceDriftReport {
  modelId: number;
  runId: number;
  episodeId: number;
  window: { start: number; end: number };
  /** `tt_drift_runs.id`, or null with `record: false`. */
  driftRunId: number | null;
  warnings: string[];
}

/**
 * Performance drift of a model's trading run against its backtest, stored in
 * `tt_drift_runs` (kind `performance`). The run: `runId`, else the model's newest
 * non-dry-run paper or IB run, else its newest replay. The backtest: `episodeId`, else
 * the newest evaluation episode that covers the run's bars, else the newest one (the
 * same-bar figures are then missing; `evaluateModel` over the run's range gives one).
 * @param q The store.
 * @param model The registry row.
 * @param options Run, episode, thresholds, resamples, seed, whether to store.
 * @returns The figures, the verdict and what was compared.
 * @throws {RangeError} When the model has no trading run or no evaluation episode.
 * @example
 * ```ts
 * const d = await computePerformanceDrift(store, await lookupModelRef(store, "ppo@champion"));
 * ```
 */
export async function computePerformanceDrift(
  q: Queryable,
  model: ModelRecord,
  options: {
    runId?: number;
    episodeId?: number;
    thresholds?: Partial<PerformanceDriftThresholds>;
    resamples?: number;
    seed?: number;
    record?: boolean;
  } = {},
): Promise<ModelPerformanceDrift> {
  const runId = options.runId ?? await performanceRunOf(q, model.id);
  const run = await readTradingRun(q, runId);
  if (!run) throw new RangeError(`No trading run ${runId}`);
  if (run.modelId !== model.id) {
    throw new RangeError(`Trading run ${runId} traded model ${run.modelId}, not model ${model.id}`);
  }
  const rows = await readAccountCurve(q, runId);
  if (rows.length < 4) {
    throw new RangeError(
      `Trading run ${runId} has ${rows.length} recorded bars; performance drift needs at least 4`,
    );
  }
  const live: Curve = {
    timestamps: rows.map((r) => r.bar),
    equity: rows.map((r) => r.netLiquidation),
  };
  const start = live.timestamps[0], end = live.timestamps.at(-1)!;
  let episodeId = options.episodeId;
  const warnings: string[] = [];
  if (episodeId === undefined) {
    const eps = await listEpisodes(q, { kind: "eval", modelId: model.id, limit: 200 });
    if (eps.length === 0) {
      throw new RangeError(
        `Model ${model.id} has no evaluation episode to be its backtest: run deno task evaluate --model ${model.id}`,
      );
    }
    const covering = eps.find((e) =>
      e.startTime !== null && e.endTime !== null && e.startTime.getTime() <= start &&
      e.endTime.getTime() >= end
    );
    episodeId = (covering ?? eps[0]).id;
    if (!covering) {
      warnings.push(
        `no evaluation episode covers the run's bars: same-bar tracking error is measured only ` +
          `where episode ${episodeId} overlaps (evaluate the model over the run's range)`,
      );
    }
  }
  const ep = await readEpisode(q, episodeId);
  if (!ep) throw new RangeError(`No episode ${episodeId}`);
  const backtest = { timestamps: ep.equity.timestamp, equity: ep.equity.netWorth };
  const report = performanceDrift(live, backtest, options);
  if (report.sameBars === null && !warnings.length) {
    warnings.push(`episode ${episodeId} shares no bars with run ${runId}`);
  }
  let driftRunId: number | null = null;
  if (options.record !== false) {
    driftRunId = await recordDriftRun(q, {
      modelId: model.id,
      kind: "performance",
      windowStart: start,
      windowEnd: end,
      drifted: report.drifted,
      summary: { runId, episodeId, ...report, warnings },
    });
  }
  return {
    ...report,
    modelId: model.id,
    runId,
    episodeId,
    window: { start, end },
    driftRunId,
    warnings,
  };
}

/**
 * The trading run whose performance drift is measured by default: the model's newest
 * non-dry-run paper or IB run, else its newest replay.
 * @param q The store.
 * @param modelId `tt_models.id`.
 * @returns The run id.
 * @throws {RangeError} When the model has no trading run.
 * @example
 * ```ts
 * const runId = await performanceRunOf(store, 3);
 * ```
 */
export async function performanceRunOf(q: Queryable, modelId: number): Promise<number> {
  const runs = (await listTradingRuns(q, { modelId })).filter((r) => !r.dryRun);
  const live = runs.find((r) => r.mode !== "replay") ?? runs[0];
  if (!live) {
    throw new RangeError(
      `Model ${modelId} has no trading run: deno task trade --model ${modelId} (paper) first`,
    );
  }
  return live.id;
}
