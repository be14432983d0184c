/**
 * Benchmarks a strategy is compared with (equal-weight buy & hold of its universe,
 * one instrument, cash) and the regression statistics of a strategy against one
 * (alpha, beta, tracking error, information ratio).
 *
 * Buy & hold policy: at the first bar of the range, the starting cash buys equal
 * money amounts of every instrument that has a close at that bar (instruments not
 * yet listed are left out), at that close moved against the buyer by `slippage`,
 * paying `commission` on the traded notional. The position is then held without
 * rebalancing, so weights drift with prices; a missing later close carries the last
 * known close. Costs are charged once, on the initial buy: the first equity point is
 * the starting cash (before trading), so the first period's return includes them,
 * exactly as a strategy that starts in cash pays its first trade.
 *
 * @module
 */
import type { PricePanel } from "../data/panel.ts";
import { mean, periodRate, sampleStd } from "./metrics.ts";

/** An equity curve with its bar times, weights held and costs paid. */
export interface BenchmarkCurve {
  /** Display name, e.g. `"Equal-weight buy & hold (41)"`. */
  name: string;
  /** Bar times, epoch ms. */
  timestamps: number[];
  /** Portfolio value at each bar; `equity[0]` is the starting cash. */
  equity: Float64Array;
  /** Instruments held, in weight-column order. */
  instruments: string[];
  /** Weights held over each bar (after trading at that bar), one row per bar. */
  weights: Float64Array[];
  /** Commission paid at each bar, in currency. */
  costs: Float64Array;
  /** Slippage paid at each bar, in currency. */
  slippage: Float64Array;
  /** Fraction of net worth traded at each bar (the initial buy, then 0). */
  traded: Float64Array;
}

/** Options of the buy & hold benchmarks. */
export interface BuyAndHoldOptions {
  /** Starting cash. Default 1. */
  initialCash?: number;
  /** Commission as a fraction of traded notional (0.001 = 10 bp). Default 0. */
  commission?: number;
  /** Slippage as a fraction of price, paid against the trader. Default 0. */
  slippage?: number;
  /** First bar time to include (epoch ms, inclusive). Default: the panel's first bar. */
  from?: number;
  /** Last bar time to include (epoch ms, inclusive). Default: the panel's last bar. */
  to?: number;
  /** Restrict the universe to these instruments (must be in the panel). Default: all. */
  instruments?: readonly string[];
  /** Display name. */
  name?: string;
}

/**
 * Equal-weight buy & hold of a universe with the same costs as the strategy
 * (policy in the module docs).
 * @param panel Prices on a shared calendar.
 * @param options Cash, costs, date range, universe.
 * @returns The benchmark's {@linkcode BenchmarkCurve}.
 * @throws {RangeError} When the range is empty, an instrument is unknown, or no instrument has a close at the first bar.
 * @example
 * ```ts
 * const bh = equalWeightBuyAndHold(panel, { commission: 0.001, from: testStart });
 * computeMetrics(bh.equity, { timestamps: bh.timestamps });
 * ```
 */
export function equalWeightBuyAndHold(
  panel: PricePanel,
  options: BuyAndHoldOptions = {},
): BenchmarkCurve {
  const cash0 = options.initialCash ?? 1;
  const commission = options.commission ?? 0;
  const slip = options.slippage ?? 0;
  if (!(cash0 > 0)) throw new RangeError(`initialCash must be positive, got ${cash0}`);
  if (!(commission >= 0) || !(slip >= 0)) {
    throw new RangeError(`commission and slippage must be ≥ 0, got ${commission} and ${slip}`);
  }
  const n = panel.instruments.length;
  const wanted = options.instruments ?? panel.instruments;
  const cols = wanted.map((s) => {
    const i = panel.instruments.indexOf(s);
    if (i < 0) {
      throw new RangeError(
        `Instrument ${s} is not in the price panel (${panel.instruments.join(", ")})`,
      );
    }
    return i;
  });
  const from = options.from ?? -Infinity;
  const to = options.to ?? Infinity;
  const rows: number[] = [];
  panel.timestamps.forEach((t, k) => {
    if (t >= from && t <= to) rows.push(k);
  });
  if (rows.length === 0) {
    throw new RangeError(
      `No bars between ${isoOrOpen(from)} and ${isoOrOpen(to)} in the price panel`,
    );
  }
  const first = rows[0];
  const held = cols.filter((c) =>
    Number.isFinite(panel.close[first * n + c]) && panel.close[first * n + c] > 0
  );
  if (held.length === 0) {
    throw new RangeError(
      `No instrument has a close at the first bar ${
        new Date(panel.timestamps[first]).toISOString()
      }`,
    );
  }
  const instruments = held.map((c) => panel.instruments[c]);
  // Spend S with S·(1 + commission) = cash: equal notional S/k per instrument at the slipped price.
  const notional = cash0 / (1 + commission);
  const per = notional / held.length;
  const shares = held.map((c) => per / (panel.close[first * n + c] * (1 + slip)));
  const last = held.map((c) => panel.close[first * n + c]);
  const T = rows.length;
  const equity = new Float64Array(T);
  const costs = new Float64Array(T);
  const slippage = new Float64Array(T);
  const weights: Float64Array[] = [];
  costs[0] = notional * commission;
  slippage[0] = shares.reduce((s, q, j) => s + q * last[j] * slip, 0);
  for (let k = 0; k < T; k++) {
    const r = rows[k];
    let value = 0;
    const w = new Float64Array(held.length);
    for (let j = 0; j < held.length; j++) {
      const px = panel.close[r * n + held[j]];
      if (Number.isFinite(px) && px > 0) last[j] = px;
      w[j] = shares[j] * last[j];
      value += w[j];
    }
    for (let j = 0; j < held.length; j++) w[j] /= value;
    equity[k] = k === 0 ? cash0 : value;
    weights.push(w);
  }
  const traded = new Float64Array(T);
  traded[0] = notional / cash0;
  return {
    name: options.name ??
      (held.length === 1
        ? `Buy & hold ${instruments[0]}`
        : `Equal-weight buy & hold (${held.length})`),
    timestamps: rows.map((r) => panel.timestamps[r]),
    equity,
    instruments,
    weights,
    costs,
    slippage,
    traded,
  };
}

/**
 * Buy & hold of one instrument (e.g. SPY when present), same policy and costs as
 * {@linkcode equalWeightBuyAndHold}.
 * @param panel Prices on a shared calendar.
 * @param symbol The instrument.
 * @param options Cash, costs, date range.
 * @returns The benchmark's curve.
 * @throws {RangeError} When the symbol is not in the panel or has no close at the first bar.
 * @example
 * ```ts
 * const spy = singleInstrumentBenchmark(panel, "SPY", { commission: 0.001 });
 * ```
 */
export function singleInstrumentBenchmark(
  panel: PricePanel,
  symbol: string,
  options: Omit<BuyAndHoldOptions, "instruments"> = {},
): BenchmarkCurve {
  return equalWeightBuyAndHold(panel, { ...options, instruments: [symbol] });
}

/**
 * Cash: a curve that earns the risk-free rate, compounded per period (flat at 0 %).
 * @param timestamps Bar times, epoch ms.
 * @param options Starting cash (default 1), annual rate (default 0) and periods per year (default 252).
 * @returns The cash curve (no weights held, no costs).
 * @example
 * ```ts
 * cashBenchmark([t0, t1, t2], { riskFreeRate: 0.21, periodsPerYear: 2 }).equity; // [1, 1.1, 1.21]
 * ```
 */
export function cashBenchmark(
  timestamps: readonly number[],
  options: { initialCash?: number; riskFreeRate?: number; periodsPerYear?: number } = {},
): BenchmarkCurve {
  const rate = periodRate(options.riskFreeRate ?? 0, options.periodsPerYear ?? 252);
  const equity = new Float64Array(timestamps.length);
  let v = options.initialCash ?? 1;
  for (let k = 0; k < equity.length; k++) {
    equity[k] = v;
    v *= 1 + rate;
  }
  return {
    name: "Cash",
    timestamps: [...timestamps],
    equity,
    instruments: [],
    weights: timestamps.map(() => new Float64Array(0)),
    costs: new Float64Array(timestamps.length),
    slippage: new Float64Array(timestamps.length),
    traded: new Float64Array(timestamps.length),
  };
}

/** Result of {@linkcode alphaBeta}. */
export interface AlphaBeta {
  /** Intercept per period. */
  alphaPerPeriod: number;
  /** Intercept × periodsPerYear (arithmetic annualisation). */
  alpha: number;
  /** `(1 + intercept) ** periodsPerYear − 1` (compounded annualisation, as empyrical's `alpha`). */
  alphaCompounded: number;
  /** Slope: sensitivity of the strategy to the benchmark. */
  beta: number;
  /** Share of strategy variance explained by the benchmark. */
  rSquared: number;
}

/**
 * OLS of strategy excess returns on benchmark excess returns:
 * `r_s − rf = alpha + beta · (r_b − rf) + ε`.
 * @param strategy Strategy period returns.
 * @param benchmark Benchmark period returns on the same bars.
 * @param options Periods per year and annual risk-free rate (default 0).
 * @returns Alpha (per period, annualised arithmetically and compounded), beta, R².
 * @throws {RangeError} When lengths differ or fewer than 2 returns.
 * @example
 * ```ts
 * alphaBeta([0.021, -0.019, 0.011], [0.01, -0.01, 0.005], { periodsPerYear: 252 });
 * // beta 2, alphaPerPeriod 0.001
 * ```
 */
export function alphaBeta(
  strategy: ArrayLike<number>,
  benchmark: ArrayLike<number>,
  options: { periodsPerYear: number; riskFreeRate?: number },
): AlphaBeta {
  checkPaired(strategy, benchmark, "alphaBeta");
  const rf = periodRate(options.riskFreeRate ?? 0, options.periodsPerYear);
  const n = strategy.length;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += benchmark[i] - rf;
    my += strategy[i] - rf;
  }
  mx /= n;
  my /= n;
  let sxx = 0, sxy = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = benchmark[i] - rf - mx;
    const dy = strategy[i] - rf - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  const beta = sxx > 0 ? sxy / sxx : 0;
  const a = my - beta * mx;
  const rSquared = sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
  return {
    alphaPerPeriod: a,
    alpha: a * options.periodsPerYear,
    alphaCompounded: (1 + a) ** options.periodsPerYear - 1,
    beta,
    rSquared,
  };
}

/** Result of {@linkcode informationRatio}. */
export interface ActiveRisk {
  /** Annualised mean active return / tracking error. */
  informationRatio: number;
  /** Sample std of active returns × √periodsPerYear. */
  trackingError: number;
  /** Mean active return × periodsPerYear. */
  activeReturn: number;
}

/**
 * Information ratio of a strategy against a benchmark, from active returns `r_s − r_b`.
 * @param strategy Strategy period returns.
 * @param benchmark Benchmark period returns on the same bars.
 * @param periodsPerYear Periods per year.
 * @returns Information ratio, tracking error and active return, all annualised
 *   (IR is 0 when the strategy equals the benchmark).
 * @throws {RangeError} When lengths differ or fewer than 2 returns.
 * @example
 * ```ts
 * informationRatio([0.03, 0.01, 0.02], [0.01, 0.01, 0.01], 4).informationRatio; // 0.01 / 0.01 × 2 = 2
 * ```
 */
export function informationRatio(
  strategy: ArrayLike<number>,
  benchmark: ArrayLike<number>,
  periodsPerYear: number,
): ActiveRisk {
  checkPaired(strategy, benchmark, "informationRatio");
  const active = new Float64Array(strategy.length);
  for (let i = 0; i < active.length; i++) active[i] = strategy[i] - benchmark[i];
  const mu = mean(active);
  const sd = sampleStd(active);
  return {
    informationRatio: sd > 1e-15 ? (mu / sd) * Math.sqrt(periodsPerYear) : 0,
    trackingError: sd * Math.sqrt(periodsPerYear),
    activeReturn: mu * periodsPerYear,
  };
}

/**
 * Values of a curve at given times: the last value at or before each time (so a
 * benchmark on a finer or different calendar lines up with the strategy's bars).
 * @param curve Bar times and values, ascending.
 * @param timestamps The times wanted.
 * @returns One value per wanted time.
 * @throws {RangeError} When a wanted time is before the curve's first bar.
 * @example
 * ```ts
 * alignToTimestamps({ timestamps: [0, 10, 20], equity: [1, 2, 3] }, [10, 15, 25]); // [2, 2, 3]
 * ```
 */
export function alignToTimestamps(
  curve: { timestamps: ArrayLike<number>; equity: ArrayLike<number> },
  timestamps: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(timestamps.length);
  let j = 0;
  for (let k = 0; k < timestamps.length; k++) {
    const t = timestamps[k];
    if (t < curve.timestamps[0]) {
      throw new RangeError(
        `Time ${new Date(t).toISOString()} is before the curve starts (${
          new Date(curve.timestamps[0]).toISOString()
        })`,
      );
    }
    while (j + 1 < curve.timestamps.length && curve.timestamps[j + 1] <= t) j++;
    out[k] = curve.equity[j];
  }
  return out;
}

function checkPaired(a: ArrayLike<number>, b: ArrayLike<number>, where: string): void {
  if (a.length !== b.length) {
    throw new RangeError(
      `${where}: strategy has ${a.length} returns, benchmark ${b.length}; align them first`,
    );
  }
  if (a.length < 2) throw new RangeError(`${where}: need at least 2 returns, got ${a.length}`);
}

function isoOrOpen(t: number): string {
  return Number.isFinite(t) ? new Date(t).toISOString() : "(open)";
}
