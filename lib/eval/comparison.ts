/**
 * Strategy vs benchmark in one call: both metric records, alpha/beta, information
 * ratio, probabilistic Sharpe ratios and the bootstrap interval of the Sharpe
 * difference, with a plain-language verdict. This is what `deno task evaluate`
 * prints and what the HTML report shows.
 *
 * @module
 */
import {
  type ActiveRisk,
  alignToTimestamps,
  type AlphaBeta,
  alphaBeta,
  informationRatio,
} from "./benchmarks.ts";
import {
  computeMetrics,
  inferPeriodsPerYear,
  type PerformanceMetrics,
  simpleReturns,
  type WeightRows,
} from "./metrics.ts";
import {
  type BootstrapOptions,
  describeComparison,
  probabilisticSharpeRatio,
  type SharpeDifferenceCI,
  sharpeDifferenceCI,
} from "./statistics.ts";

/** An equity curve with its bar times and, optionally, what was held and paid. */
export interface EquityCurve {
  /** Display name. */
  name?: string;
  /** Bar times, epoch ms, one per equity point. */
  timestamps: ArrayLike<number>;
  /** Portfolio value at each bar, first entry the starting capital. */
  equity: ArrayLike<number>;
  /** Weights held at each step (cash excluded), for turnover and exposure. */
  weights?: WeightRows;
  /** Commissions/fees per step, in currency. */
  costs?: ArrayLike<number>;
  /** Slippage per step, in currency. */
  slippage?: ArrayLike<number>;
  /** Fraction of net worth traded per step, for exact turnover (see `MetricsOptions.traded`). */
  traded?: ArrayLike<number>;
}

/** Result of {@linkcode compareWithBenchmark}. */
export interface BenchmarkComparison {
  /** Strategy display name. */
  strategyName: string;
  /** Benchmark display name. */
  benchmarkName: string;
  /** Strategy metrics. */
  strategy: PerformanceMetrics;
  /** Benchmark metrics on the strategy's bars. */
  benchmark: PerformanceMetrics;
  /** OLS of strategy on benchmark excess returns. */
  alphaBeta: AlphaBeta;
  /** Information ratio, tracking error, active return. */
  activeRisk: ActiveRisk;
  /** PSR against a Sharpe ratio of 0. */
  psrVsZero: number;
  /** PSR against the benchmark's observed Sharpe ratio. */
  psrVsBenchmark: number;
  /** Bootstrap interval of Sharpe(strategy) − Sharpe(benchmark). */
  sharpeDifference: SharpeDifferenceCI;
  /** Plain-language verdict, see {@linkcode describeComparison}. */
  verdict: string;
}

/** Options of {@linkcode compareWithBenchmark}. */
export interface ComparisonOptions extends Partial<Omit<BootstrapOptions, "periodsPerYear">> {
  /** Periods per year; default inferred from the strategy's timestamps. */
  periodsPerYear?: number;
}

/**
 * Compares a strategy with a benchmark on the strategy's bars (the benchmark is
 * read at each strategy bar time, last value at or before it).
 * @param strategy The strategy's curve (with weights and costs when known).
 * @param benchmark The benchmark's curve; must start at or before the strategy.
 * @param options Periods per year, risk-free rate, bootstrap settings (seed default 0).
 * @returns The {@linkcode BenchmarkComparison}.
 * @throws {RangeError} With fewer than 4 equity points or a benchmark starting after the strategy.
 * @example
 * ```ts
 * const bh = equalWeightBuyAndHold(panel, { costs: env.costs, from: ts[0], to: ts.at(-1) });
 * const cmp = compareWithBenchmark({ timestamps: ts, equity: netWorth }, bh, { seed: 1 });
 * console.log(cmp.verdict);
 * ```
 */
export function compareWithBenchmark(
  strategy: EquityCurve,
  benchmark: EquityCurve,
  options: ComparisonOptions = {},
): BenchmarkComparison {
  if (strategy.equity.length < 4) {
    throw new RangeError(
      `compareWithBenchmark needs at least 4 equity points, got ${strategy.equity.length}`,
    );
  }
  const ppy = options.periodsPerYear ?? inferPeriodsPerYear(strategy.timestamps);
  const rf = options.riskFreeRate ?? 0;
  const bench = sameBars(strategy.timestamps, benchmark)
    ? benchmark.equity
    : alignToTimestamps(benchmark, strategy.timestamps);
  const sMetrics = computeMetrics(strategy.equity, {
    timestamps: strategy.timestamps,
    periodsPerYear: ppy,
    riskFreeRate: rf,
    weights: strategy.weights,
    costs: strategy.costs,
    slippage: strategy.slippage,
    traded: strategy.traded,
  });
  const aligned = bench === benchmark.equity;
  const bMetrics = computeMetrics(bench, {
    timestamps: strategy.timestamps,
    periodsPerYear: ppy,
    riskFreeRate: rf,
    weights: aligned ? benchmark.weights : undefined,
    costs: aligned ? benchmark.costs : undefined,
    slippage: aligned ? benchmark.slippage : undefined,
    traded: aligned ? benchmark.traded : undefined,
  });
  const rs = simpleReturns(strategy.equity);
  const rb = simpleReturns(bench);
  const ci = sharpeDifferenceCI(rs, rb, { ...options, periodsPerYear: ppy, riskFreeRate: rf });
  const psrVsBenchmark = probabilisticSharpeRatio(rs, {
    periodsPerYear: ppy,
    riskFreeRate: rf,
    benchmarkSharpe: bMetrics.sharpe,
  });
  const strategyName = strategy.name ?? "Strategy";
  const benchmarkName = benchmark.name ?? "Benchmark";
  return {
    strategyName,
    benchmarkName,
    strategy: sMetrics,
    benchmark: bMetrics,
    alphaBeta: alphaBeta(rs, rb, { periodsPerYear: ppy, riskFreeRate: rf }),
    activeRisk: informationRatio(rs, rb, ppy),
    psrVsZero: probabilisticSharpeRatio(rs, { periodsPerYear: ppy, riskFreeRate: rf }),
    psrVsBenchmark,
    sharpeDifference: ci,
    verdict: describeComparison(ci, psrVsBenchmark, {
      strategy: strategyName,
      benchmark: benchmarkName,
    }),
  };
}

function sameBars(ts: ArrayLike<number>, curve: EquityCurve): boolean {
  if (curve.timestamps.length !== ts.length || curve.equity.length !== ts.length) return false;
  for (let i = 0; i < ts.length; i++) if (curve.timestamps[i] !== ts[i]) return false;
  return true;
}

/** A named benchmark curve among several (see {@linkcode compareWithBaselines}). */
export interface NamedBaseline {
  /** Stable key, e.g. `"equal-weight-rebalanced"`. */
  key: string;
  /** The curve (its `name` is the display name). */
  curve: EquityCurve;
}

/** The strategy against one baseline. */
export interface BaselineComparison {
  key: string;
  name: string;
  comparison: BenchmarkComparison;
  /** `"win"`: the interval is above 0; `"loss"`: below 0; `"undecided"`: it contains 0. */
  outcome: "win" | "loss" | "undecided";
}

/** Result of {@linkcode compareWithBaselines}. */
export interface BaselinesComparison {
  /** One per baseline, in the order given. */
  baselines: BaselineComparison[];
  /** The baseline with the highest Sharpe ratio on the strategy's bars (ties: the first). */
  best: BaselineComparison;
  /** The strategy against the best baseline, then how many it beats or loses to distinguishably. */
  verdict: string;
}

/**
 * Compares a strategy with every baseline (same bars, same bootstrap settings) and
 * names the best one by Sharpe ratio: the verdict says whether the strategy beats
 * the best baseline, not only one of them.
 * @param strategy The strategy's curve.
 * @param baselines The baselines (at least one).
 * @param options As {@linkcode compareWithBenchmark} (one seed for every bootstrap).
 * @returns Per-baseline comparisons, the best baseline and the verdict.
 * @throws {RangeError} When no baseline is given (and as {@linkcode compareWithBenchmark}).
 * @example
 * ```ts
 * const all = compareWithBaselines(policyCurve, runBaselines(panel, { from, to, costs }), { seed: 1 });
 * console.log(all.best.name, all.verdict);
 * ```
 */
export function compareWithBaselines(
  strategy: EquityCurve,
  baselines: readonly NamedBaseline[],
  options: ComparisonOptions = {},
): BaselinesComparison {
  if (baselines.length === 0) throw new RangeError("compareWithBaselines(): no baseline given");
  const rows: BaselineComparison[] = baselines.map((b) => {
    const comparison = compareWithBenchmark(strategy, b.curve, options);
    const d = comparison.sharpeDifference;
    return {
      key: b.key,
      name: comparison.benchmarkName,
      comparison,
      outcome: d.lower > 0 ? "win" : d.upper < 0 ? "loss" : "undecided",
    };
  });
  const sharpeOf = (r: BaselineComparison) => {
    const s = r.comparison.benchmark.sharpe;
    return Number.isFinite(s) ? s : -Infinity;
  };
  let best = rows[0];
  for (const r of rows) if (sharpeOf(r) > sharpeOf(best)) best = r;
  const wins = rows.filter((r) => r.outcome === "win").map((r) => r.name);
  const losses = rows.filter((r) => r.outcome === "loss").map((r) => r.name);
  const who = best.comparison.strategyName;
  const head = best.outcome === "win"
    ? `${who} beats the best baseline, ${best.name}`
    : best.outcome === "loss"
    ? `${who} loses to the best baseline, ${best.name}`
    : `${who} is not distinguishable from the best baseline, ${best.name}`;
  const tally = `Distinguishably better than ${wins.length} of ${rows.length} baselines${
    wins.length ? ` (${wins.join(", ")})` : ""
  }, worse than ${losses.length}${losses.length ? ` (${losses.join(", ")})` : ""}.`;
  return {
    baselines: rows,
    best,
    verdict: `${head} (Sharpe ${
      fmt(best.comparison.benchmark.sharpe)
    }, the highest of ${rows.length}): ${best.comparison.verdict} ${tally}`,
  };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : String(x);
}
