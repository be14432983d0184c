/**
 * Walk-forward: rolling (or anchored) training windows over the instruments' common
 * calendar, each followed by a test window the model never saw. Every fold trains a
 * fresh, registered model and evaluates it out of sample like `evaluateModel`; the
 * per-fold metrics are aggregated and the test curves stitched into one
 * out-of-sample curve (strategy and benchmark).
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import { readBarCalendar } from "../db/prices_repo.ts";
import type { PerformanceMetrics } from "../eval/metrics.ts";
import type { SharpeDifferenceCI } from "../eval/statistics.ts";
import {
  aggregateFoldMetrics,
  type FoldAggregate,
  stitchEquityCurves,
  walkForwardFolds,
} from "../eval/folds.ts";
import { evaluateModel } from "./evaluate.ts";
import { isoDate, NoDataError } from "./market.ts";
import {
  DEFAULT_TRAIN_OPTIONS,
  defaultTrainRange,
  type TrainHooks,
  trainModel,
  type TrainOptions,
} from "./train.ts";

/** Registry name of the fold models when `train.name` is not given. */
export const DEFAULT_WALKFORWARD_NAME = "ppo-portfolio-wf";

/** What {@linkcode walkForward} runs. */
export interface WalkForwardRunOptions {
  /** Training settings for every fold (`start`, `end`, `resume` and `out` are ignored). */
  train: TrainOptions;
  /** Training window, years. */
  trainYears: number;
  /** Test window, years. */
  testYears: number;
  /** Step between folds, years. Default `testYears`. */
  stepYears?: number;
  /** Grow the training window from the first bar instead of rolling it. Default false. */
  anchored?: boolean;
  /** Calendar start (ISO). Default: the instruments' common start. */
  start?: string;
  /** Calendar end (ISO). Default: the instruments' common end. */
  end?: string;
}

/** One fold's outcome. */
export interface FoldResult {
  index: number;
  train: { start: string; end: string };
  test: { start: string; end: string };
  modelId: number;
  evalEpisodeId: number;
  benchmarkEpisodeId: number | null;
  strategy: PerformanceMetrics;
  benchmark: PerformanceMetrics;
  sharpeDifference: SharpeDifferenceCI;
  psr: number;
}

/** What {@linkcode walkForward} returns. */
export interface WalkForwardResult {
  folds: FoldResult[];
  aggregate: { strategy: FoldAggregate; benchmark: FoldAggregate };
  /** Out-of-sample test curves chained fold after fold (null when test windows overlap, `stepYears < testYears`). */
  stitched: null | {
    strategy: { timestamps: number[]; equity: number[] };
    benchmark: { timestamps: number[]; equity: number[] };
  };
}

/** Callbacks of {@linkcode walkForward}. */
export interface WalkForwardHooks {
  /** Before a fold trains. */
  onFold?(
    index: number,
    total: number,
    train: { start: string; end: string },
    test: { start: string; end: string },
  ): void;
  /** Training progress hooks, created per fold. */
  trainHooks?(index: number): TrainHooks;
  /** After a fold is evaluated. */
  onFoldDone?(result: FoldResult): void;
}

/**
 * Runs walk-forward training and out-of-sample evaluation.
 *
 * @param store The store.
 * @param options See {@linkcode WalkForwardRunOptions}.
 * @param hooks Progress callbacks.
 * @returns Each fold, the aggregate and the stitched curves.
 * @throws {NoDataError} When the calendar is too short for one fold.
 * @example
 * ```ts
 * const wf = await walkForward(store, { train: { steps: 4096 }, trainYears: 2, testYears: 1 });
 * wf.aggregate.strategy.metrics.sharpe?.mean;
 * ```
 */
export async function walkForward(
  store: Store,
  options: WalkForwardRunOptions,
  hooks: WalkForwardHooks = {},
): Promise<WalkForwardResult> {
  const barSize = options.train.barSize ?? DEFAULT_TRAIN_OPTIONS.barSize;
  const common = await defaultTrainRange(store, options.train.symbols, barSize);
  const start = options.start ?? common.start;
  const end = options.end ?? common.commonEnd;
  const calendar = await readBarCalendar(store, {
    barSize,
    start,
    end,
    instruments: options.train.symbols,
  });
  const folds = walkForwardFolds(calendar, {
    trainYears: options.trainYears,
    testYears: options.testYears,
    stepYears: options.stepYears,
    anchored: options.anchored,
  });
  if (folds.length === 0) {
    throw new NoDataError(
      `${start}..${end} is too short for one fold of ${options.trainYears} training + ${options.testYears} test years`,
    );
  }
  const results: FoldResult[] = [];
  const sCurves: { timestamps: number[]; equity: number[] }[] = [];
  const bCurves: { timestamps: number[]; equity: number[] }[] = [];
  for (const fold of folds) {
    const train = { start: isoDate(fold.train.startTime), end: isoDate(fold.train.endTime) };
    const test = { start: isoDate(fold.test.startTime), end: isoDate(fold.test.endTime) };
    hooks.onFold?.(fold.index, folds.length, train, test);
    const trained = await trainModel(
      store,
      {
        ...options.train,
        start: train.start,
        end: train.end,
        resume: undefined,
        out: undefined,
        name: options.train.name ?? DEFAULT_WALKFORWARD_NAME,
      },
      hooks.trainHooks?.(fold.index) ?? {},
    );
    const ev = await evaluateModel(store, {
      model: String(trained.modelId),
      start: test.start,
      end: test.end,
    });
    const c = ev.comparison;
    const result: FoldResult = {
      index: fold.index,
      train: trained.range,
      test: ev.range,
      modelId: trained.modelId,
      evalEpisodeId: ev.episodeId,
      benchmarkEpisodeId: ev.benchmarkEpisodeId,
      strategy: c.strategy,
      benchmark: c.benchmark,
      sharpeDifference: c.sharpeDifference,
      psr: c.psrVsZero,
    };
    results.push(result);
    sCurves.push({ timestamps: ev.trace.equityTimestamps, equity: ev.trace.netWorth });
    bCurves.push({ timestamps: ev.benchmark.timestamps, equity: Array.from(ev.benchmark.equity) });
    hooks.onFoldDone?.(result);
  }
  return {
    folds: results,
    aggregate: {
      strategy: aggregateFoldMetrics(results.map((r) => r.strategy)),
      benchmark: aggregateFoldMetrics(results.map((r) => r.benchmark)),
    },
    stitched: overlapping(sCurves)
      ? null
      : { strategy: stitchEquityCurves(sCurves), benchmark: stitchEquityCurves(bCurves) },
  };
}

function overlapping(curves: readonly { timestamps: number[] }[]): boolean {
  for (let i = 1; i < curves.length; i++) {
    if (curves[i].timestamps[0] < curves[i - 1].timestamps[curves[i - 1].timestamps.length - 1]) {
      return true;
    }
  }
  return false;
}
