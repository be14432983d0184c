/**
 * Walk-forward evaluation: rolling (or anchored) train windows, each followed by a
 * test window the model never saw, plus aggregation of the per-fold metrics and
 * stitching of the out-of-sample test curves into one.
 *
 * Window lengths are in years and converted to whole calendar months (0.5 → 6),
 * measured on the UTC calendar from the first bar. Index ranges are half-open
 * `[start, end)` into the timestamps array.
 *
 * @module
 */
import type { PerformanceMetrics } from "./metrics.ts";

/** A half-open index range `[start, end)` with the times of its first and last bar. */
export interface IndexRange {
  /** First index (inclusive). */
  start: number;
  /** End index (exclusive). */
  end: number;
  /** Time of the first bar, epoch ms. */
  startTime: number;
  /** Time of the last bar (index end − 1), epoch ms. */
  endTime: number;
}

/** One walk-forward fold. `test.start >= train.end`: the test window follows training, no overlap. */
export interface Fold {
  /** 0-based fold number. */
  index: number;
  /** Training bars. */
  train: IndexRange;
  /** Test bars. */
  test: IndexRange;
}

/** Options of {@linkcode walkForwardFolds}. */
export interface WalkForwardOptions {
  /** Length of each training window, in years. */
  trainYears: number;
  /** Length of each test window, in years. */
  testYears: number;
  /** How far each fold moves forward, in years. Default testYears (test windows tile). */
  stepYears?: number;
  /** Anchored: every training window starts at the first bar and grows. Default false (rolling). */
  anchored?: boolean;
  /** Bars skipped between train and test (an embargo against label overlap). Default 0. */
  gapBars?: number;
  /**
   * Keep a last, shorter test window when it spans at least this fraction of
   * testYears (measured first to last bar). Default 0.5; 1 keeps only full windows.
   */
  minTestFraction?: number;
}

/**
 * Generates walk-forward folds over a calendar.
 * @param timestamps Bar times, epoch ms, ascending.
 * @param options Window lengths in years, step, anchoring, embargo.
 * @returns The folds in time order (empty when the data is too short for one).
 * @throws {RangeError} When a length is not positive or rounds to 0 months, or timestamps are not ascending.
 * @example
 * ```ts
 * for (const f of walkForwardFolds(panel.timestamps, { trainYears: 3, testYears: 1 })) {
 *   train(f.train.start, f.train.end);
 *   evaluate(f.test.start, f.test.end);
 * }
 * ```
 */
export function walkForwardFolds(
  timestamps: ArrayLike<number>,
  options: WalkForwardOptions,
): Fold[] {
  const trainM = months(options.trainYears, "trainYears");
  const testM = months(options.testYears, "testYears");
  const stepM = months(options.stepYears ?? options.testYears, "stepYears");
  const gap = options.gapBars ?? 0;
  const minFrac = options.minTestFraction ?? 0.5;
  if (!(gap >= 0) || !Number.isInteger(gap)) {
    throw new RangeError(`gapBars must be a whole number ≥ 0, got ${gap}`);
  }
  const n = timestamps.length;
  for (let i = 1; i < n; i++) {
    if (!(timestamps[i] > timestamps[i - 1])) {
      throw new RangeError(
        `Timestamps must increase: index ${i} (${timestamps[i]}) after ${timestamps[i - 1]}`,
      );
    }
  }
  if (n === 0) return [];
  const t0 = timestamps[0];
  const last = timestamps[n - 1];
  const folds: Fold[] = [];
  for (let k = 0;; k++) {
    const trainStartT = options.anchored ? t0 : addMonths(t0, k * stepM);
    const trainEndT = addMonths(t0, trainM + k * stepM);
    const testEndT = addMonths(trainEndT, testM);
    const trainStart = lowerBound(timestamps, trainStartT);
    const trainEnd = lowerBound(timestamps, trainEndT);
    const testStart = Math.min(trainEnd + gap, n);
    const testEnd = lowerBound(timestamps, testEndT);
    if (testStart >= testEnd || trainStart >= trainEnd) break;
    const covered = testEndT <= last
      ? 1
      : (timestamps[testEnd - 1] - trainEndT) / (testEndT - trainEndT);
    if (covered < minFrac) break;
    folds.push({
      index: k,
      train: range(timestamps, trainStart, trainEnd),
      test: range(timestamps, testStart, testEnd),
    });
    if (testEndT > last) break;
  }
  return folds;
}

/** Summary of one metric over folds. */
export interface MetricSummary {
  /** Mean over folds with a finite value. */
  mean: number;
  /** Median over folds with a finite value. */
  median: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** Sample standard deviation (0 for one fold). */
  std: number;
  /** Folds with a finite value. */
  count: number;
}

/** Result of {@linkcode aggregateFoldMetrics}. */
export interface FoldAggregate {
  /** Number of folds. */
  folds: number;
  /** Fraction of folds with a positive total return. */
  positiveFolds: number;
  /** Summary per numeric metric (null-valued metrics are skipped). */
  metrics: Partial<Record<keyof PerformanceMetrics, MetricSummary>>;
}

/**
 * Aggregates per-fold metrics: mean, median, min, max and std of each numeric metric.
 * @param folds One {@linkcode PerformanceMetrics} per test fold.
 * @returns The {@linkcode FoldAggregate}.
 * @example
 * ```ts
 * const agg = aggregateFoldMetrics(foldMetrics);
 * agg.metrics.sharpe?.mean;
 * ```
 */
export function aggregateFoldMetrics(folds: readonly PerformanceMetrics[]): FoldAggregate {
  const metrics: Partial<Record<keyof PerformanceMetrics, MetricSummary>> = {};
  if (folds.length === 0) return { folds: 0, positiveFolds: NaN, metrics };
  for (const key of Object.keys(folds[0]) as (keyof PerformanceMetrics)[]) {
    const values = folds.map((f) => f[key]).filter((v): v is number =>
      typeof v === "number" && Number.isFinite(v)
    );
    if (values.length === 0) continue;
    const sorted = [...values].sort((a, b) => a - b);
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const mid = sorted.length >> 1;
    const std = values.length > 1
      ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1))
      : 0;
    metrics[key] = {
      mean,
      median: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
      min: sorted[0],
      max: sorted[sorted.length - 1],
      std,
      count: values.length,
    };
  }
  return {
    folds: folds.length,
    positiveFolds: folds.filter((f) => f.totalReturn > 0).length / folds.length,
    metrics,
  };
}

/**
 * Chains test-window equity curves into one out-of-sample curve: each segment is
 * rescaled to start where the previous one ended, so the result compounds the
 * segments' returns (a bar shared by consecutive segments is kept once).
 * @param segments Curves in time order.
 * @returns The stitched timestamps and equity, starting at the first segment's start value.
 * @throws {RangeError} When segments overlap in time or a segment is empty.
 * @example
 * ```ts
 * stitchEquityCurves([{ timestamps: [1, 2], equity: [100, 110] }, { timestamps: [3, 4], equity: [50, 55] }]);
 * // { timestamps: [1, 2, 3, 4], equity: [100, 110, 110, 121] }
 * ```
 */
export function stitchEquityCurves(
  segments: readonly { timestamps: ArrayLike<number>; equity: ArrayLike<number> }[],
): { timestamps: number[]; equity: number[] } {
  const timestamps: number[] = [];
  const equity: number[] = [];
  segments.forEach((seg, s) => {
    if (seg.equity.length === 0 || seg.equity.length !== seg.timestamps.length) {
      throw new RangeError(
        `Segment ${s} has ${seg.equity.length} values for ${seg.timestamps.length} timestamps`,
      );
    }
    let from = 0;
    const prevT = timestamps.at(-1);
    if (prevT !== undefined) {
      if (seg.timestamps[0] < prevT) {
        throw new RangeError(
          `Segment ${s} starts at ${
            seg.timestamps[0]
          }, before the previous segment ends (${prevT})`,
        );
      }
      if (seg.timestamps[0] === prevT) from = 1;
    }
    const scale = equity.length === 0 ? 1 : equity[equity.length - 1] / seg.equity[0];
    for (let i = from; i < seg.equity.length; i++) {
      timestamps.push(seg.timestamps[i]);
      equity.push(seg.equity[i] * scale);
    }
  });
  return { timestamps, equity };
}

function months(years: number, name: string): number {
  const m = Math.round(years * 12);
  if (!(years > 0) || m < 1) {
    throw new RangeError(`${name} must be at least 1/12 year, got ${years}`);
  }
  return m;
}

function addMonths(t: number, m: number): number {
  const d = new Date(t);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + m);
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, lastDay));
  return d.getTime();
}

function lowerBound(ts: ArrayLike<number>, t: number): number {
  let lo = 0, hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function range(ts: ArrayLike<number>, start: number, end: number): IndexRange {
  return { start, end, startTime: ts[start], endTime: ts[end - 1] };
}
