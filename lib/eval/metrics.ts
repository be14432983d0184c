/**
 * Performance metrics of one equity curve: returns, risk, risk-adjusted ratios,
 * drawdowns, trading activity and costs. Every function is pure and works on plain
 * arrays, so a notebook, a task and a test all compute the same numbers.
 *
 * Conventions used throughout:
 * - An equity curve is the portfolio value at each bar, the first entry being the
 *   starting capital; period returns are `equity[t] / equity[t-1] - 1`.
 * - Annualisation uses `periodsPerYear` (252 for daily stock bars, see
 *   {@linkcode inferPeriodsPerYear}); rates such as the risk-free rate are annual and
 *   converted to a per-period rate by compounding: `(1 + rf) ** (1 / periodsPerYear) - 1`.
 * - Standard deviations are sample (n − 1) standard deviations.
 *
 * @module
 */

const DAY_MS = 86_400_000;

/** Weights per step: `rows[t][i]` is the weight of instrument i held over step t (cash excluded). */
export type WeightRows = readonly ArrayLike<number>[];

/** Options shared by the risk-adjusted ratios. */
export interface RatioOptions {
  /** Periods per year used to annualise, e.g. 252 for daily bars. */
  periodsPerYear: number;
  /** Annual risk-free rate as a fraction (0.02 = 2 %). Default 0. */
  riskFreeRate?: number;
}

/** The metrics {@linkcode computeMetrics} returns. Ratios are annualised; fractions are not percentages. */
export interface PerformanceMetrics {
  /** Number of return periods (equity points − 1). */
  periods: number;
  /** Periods per year used to annualise. */
  periodsPerYear: number;
  /** Annual risk-free rate used by Sharpe and Sortino. */
  riskFreeRate: number;
  /** First equity value (starting capital). */
  startValue: number;
  /** Last equity value. */
  endValue: number;
  /** `endValue / startValue - 1`. */
  totalReturn: number;
  /** Compound annual growth rate. */
  annualizedReturn: number;
  /** Sample standard deviation of period returns × √periodsPerYear. */
  annualizedVolatility: number;
  /** Annualised Sharpe ratio of excess returns. */
  sharpe: number;
  /** Annualised Sortino ratio (downside deviation of excess returns below 0). */
  sortino: number;
  /** Largest peak-to-trough loss as a positive fraction (0.25 = −25 %). */
  maxDrawdown: number;
  /** Longest time under water, in periods, from a peak to its recovery (or the end). */
  maxDrawdownDurationPeriods: number;
  /** The same duration in calendar days, when timestamps were given; else null. */
  maxDrawdownDurationDays: number | null;
  /** Annualised return / max drawdown (Infinity when there was no drawdown and a gain). */
  calmar: number;
  /** Fraction of non-flat periods with a positive return (NaN when every period is flat). */
  hitRate: number;
  /** Skewness of period returns (population moment). */
  skewness: number;
  /**
   * Excess kurtosis of period returns: population moment `m4 / m2² − 3`, so 0 for a normal
   * (the convention of pandas, empyrical and quantstats; scipy's default estimator).
   */
  excessKurtosis: number;
  /**
   * Mean fraction of net worth traded per step (two-way: buys + sells): the mean of
   * `traded` when given, else of Σ|Δw| between weight rows; null without either.
   */
  turnover: number | null;
  /** `turnover × periodsPerYear`, null without weights or traded. */
  annualizedTurnover: number | null;
  /** Mean gross exposure `Σ|w|` per step, null without weights. */
  exposure: number | null;
  /** Fraction of steps with any position, null without weights. */
  timeInMarket: number | null;
  /** Total commissions/fees paid in currency, null without per-step costs. */
  costsPaid: number | null;
  /** Total slippage paid in currency, null without per-step slippage. */
  slippagePaid: number | null;
  /** (costs + slippage) / startValue, null when neither was given. */
  costsPaidFraction: number | null;
}

/**
 * Period returns of an equity curve.
 * @param equity Portfolio values, first entry the starting capital.
 * @returns `equity.length - 1` simple returns.
 * @throws {RangeError} When a value is not a finite positive number (a wiped-out
 *   curve has no defined return after zero).
 * @example
 * ```ts
 * simpleReturns([100, 110, 99]); // Float64Array [0.1, -0.1]
 * ```
 */
export function simpleReturns(equity: ArrayLike<number>): Float64Array {
  const n = Math.max(0, equity.length - 1);
  const out = new Float64Array(n);
  for (let t = 0; t <= n; t++) {
    const v = equity[t];
    if (!Number.isFinite(v) || (v <= 0 && t < n)) {
      throw new RangeError(
        `Equity value at index ${t} is ${v}; returns need finite positive values`,
      );
    }
    if (t > 0) out[t - 1] = v / equity[t - 1] - 1;
  }
  return out;
}

/**
 * Infers how many bars make a year from their timestamps. Daily-or-longer bars are
 * classified by median spacing (≤ 4 days: daily, ≤ 10: weekly = 52, ≤ 45: monthly = 12,
 * ≤ 120: quarterly = 4, else yearly = 1); daily bars count 252 trading days a year
 * unless some bar falls on a weekend (crypto-style calendars), then 365. Intraday bars
 * count the median number of bars per UTC day times 252 (or 365 with weekend bars).
 * @param timestamps Bar times, epoch ms, ascending, at least 2.
 * @returns Periods per year.
 * @throws {RangeError} With fewer than 2 timestamps or a non-increasing sequence.
 * @example
 * ```ts
 * inferPeriodsPerYear(dailyWeekdayTimestamps); // 252
 * ```
 */
export function inferPeriodsPerYear(timestamps: ArrayLike<number>): number {
  if (timestamps.length < 2) {
    throw new RangeError(
      `Cannot infer periods per year from ${timestamps.length} timestamp(s); need 2`,
    );
  }
  const gaps: number[] = [];
  let weekend = false;
  for (let i = 0; i < timestamps.length; i++) {
    const day = new Date(timestamps[i]).getUTCDay();
    if (day === 0 || day === 6) weekend = true;
    if (i > 0) {
      const g = timestamps[i] - timestamps[i - 1];
      if (!(g > 0)) {
        throw new RangeError(
          `Timestamps must increase: index ${i} (${timestamps[i]}) after ${timestamps[i - 1]}`,
        );
      }
      gaps.push(g);
    }
  }
  const daysPerYear = weekend ? 365 : 252;
  const gapDays = median(gaps) / DAY_MS;
  if (gapDays >= 20 / 24) {
    if (gapDays <= 4) return daysPerYear;
    if (gapDays <= 10) return 52;
    if (gapDays <= 45) return 12;
    if (gapDays <= 120) return 4;
    return 1;
  }
  const perDay = new Map<number, number>();
  for (let i = 0; i < timestamps.length; i++) {
    const d = Math.floor(timestamps[i] / DAY_MS);
    perDay.set(d, (perDay.get(d) ?? 0) + 1);
  }
  const barsPerDay = Math.round(median([...perDay.values()]));
  return barsPerDay * daysPerYear;
}

/**
 * Compound annual growth rate: `(end / start) ** (periodsPerYear / periods) - 1`.
 * @param equity Portfolio values, first entry the starting capital.
 * @param periodsPerYear Periods per year.
 * @returns The annualised return (0 for fewer than 2 points).
 * @example
 * ```ts
 * annualizedReturn([100, 121], 0.5); // 1 period = 2 years → 0.1
 * ```
 */
export function annualizedReturn(equity: ArrayLike<number>, periodsPerYear: number): number {
  const n = equity.length - 1;
  if (n < 1) return 0;
  return (equity[n] / equity[0]) ** (periodsPerYear / n) - 1;
}

/**
 * Annualised volatility: sample standard deviation of period returns × √periodsPerYear.
 * @param returns Period returns.
 * @param periodsPerYear Periods per year.
 * @returns The annualised volatility (0 for fewer than 2 returns).
 * @example
 * ```ts
 * annualizedVolatility([0.01, -0.01], 252); // 0.01414… × √252 ≈ 0.2245
 * ```
 */
export function annualizedVolatility(returns: ArrayLike<number>, periodsPerYear: number): number {
  return sampleStd(returns) * Math.sqrt(periodsPerYear);
}

/**
 * The per-period rate equivalent to an annual rate under compounding.
 * @param annualRate Annual rate as a fraction.
 * @param periodsPerYear Periods per year.
 * @returns `(1 + annualRate) ** (1 / periodsPerYear) - 1`.
 * @example
 * ```ts
 * periodRate(0.21, 2); // 0.1
 * ```
 */
export function periodRate(annualRate: number, periodsPerYear: number): number {
  return annualRate === 0 ? 0 : (1 + annualRate) ** (1 / periodsPerYear) - 1;
}

/**
 * Annualised Sharpe ratio: mean excess return / sample std of excess returns × √periodsPerYear.
 * @param returns Period returns.
 * @param options Periods per year and the annual risk-free rate (default 0).
 * @returns The ratio; 0 when excess returns are all 0, ±Infinity when they are a nonzero constant.
 * @example
 * ```ts
 * sharpeRatio([0.02, 0, 0.01], { periodsPerYear: 4 }); // 0.01 / 0.01 × 2 = 2
 * ```
 */
export function sharpeRatio(returns: ArrayLike<number>, options: RatioOptions): number {
  const excess = excessReturns(returns, options);
  if (excess.length === 0) return 0;
  return safeRatio(mean(excess), sampleStd(excess)) * Math.sqrt(options.periodsPerYear);
}

/**
 * Annualised Sortino ratio: mean excess return / downside deviation × √periodsPerYear,
 * the downside deviation being `sqrt(Σ min(0, excess)² / n)` over all n periods.
 * @param returns Period returns.
 * @param options Periods per year and the annual risk-free rate (default 0).
 * @returns The ratio; +Infinity for a gain with no losing period, 0 for no excess at all.
 * @example
 * ```ts
 * sortinoRatio([0.02, -0.02, 0.03, 0.01], { periodsPerYear: 1 }); // 0.01 / 0.01 = 1
 * ```
 */
export function sortinoRatio(returns: ArrayLike<number>, options: RatioOptions): number {
  const excess = excessReturns(returns, options);
  if (excess.length === 0) return 0;
  let down = 0;
  for (const x of excess) if (x < 0) down += x * x;
  return safeRatio(mean(excess), Math.sqrt(down / excess.length)) *
    Math.sqrt(options.periodsPerYear);
}

/**
 * The underwater curve: `equity[t] / max(equity[0..t]) - 1` (0 at a new high, negative below).
 * @param equity Portfolio values.
 * @returns One drawdown per equity point.
 * @example
 * ```ts
 * drawdownSeries([100, 120, 90, 130]); // [0, 0, -0.25, 0]
 * ```
 */
export function drawdownSeries(equity: ArrayLike<number>): Float64Array {
  const out = new Float64Array(equity.length);
  let peak = -Infinity;
  for (let t = 0; t < equity.length; t++) {
    if (equity[t] > peak) peak = equity[t];
    out[t] = equity[t] / peak - 1;
  }
  return out;
}

/**
 * Largest peak-to-trough loss.
 * @param equity Portfolio values.
 * @returns A positive fraction: 0.25 for a fall from 120 to 90; 0 for a curve that never falls.
 * @example
 * ```ts
 * maxDrawdown([100, 120, 90, 130]); // 0.25
 * ```
 */
export function maxDrawdown(equity: ArrayLike<number>): number {
  let worst = 0;
  for (const d of drawdownSeries(equity)) if (d < worst) worst = d;
  return worst === 0 ? 0 : -worst;
}

/** Where the longest drawdown lies, see {@linkcode maxDrawdownDuration}. */
export interface DrawdownDuration {
  /** Periods from the peak to the recovery (or to the last point if not recovered). */
  periods: number;
  /** Index of the peak that started it (−1 when there was no drawdown). */
  peakIndex: number;
  /** Index of the first point back at or above the peak, null when not recovered. */
  recoveryIndex: number | null;
}

/**
 * The longest time spent below a previous high.
 * @param equity Portfolio values.
 * @returns Its length in periods, its peak and its recovery index.
 * @example
 * ```ts
 * maxDrawdownDuration([100, 120, 90, 130]); // { periods: 2, peakIndex: 1, recoveryIndex: 3 }
 * maxDrawdownDuration([100, 90, 95]);       // { periods: 2, peakIndex: 0, recoveryIndex: null }
 * ```
 */
export function maxDrawdownDuration(equity: ArrayLike<number>): DrawdownDuration {
  let best: DrawdownDuration = { periods: 0, peakIndex: -1, recoveryIndex: null };
  let peak = -Infinity;
  let peakIndex = -1;
  for (let t = 0; t < equity.length; t++) {
    if (equity[t] >= peak) {
      if (peakIndex >= 0 && t - peakIndex > 1 && t - peakIndex > best.periods) {
        best = { periods: t - peakIndex, peakIndex, recoveryIndex: t };
      }
      peak = equity[t];
      peakIndex = t;
    }
  }
  const last = equity.length - 1;
  if (peakIndex >= 0 && peakIndex < last && last - peakIndex > best.periods) {
    best = { periods: last - peakIndex, peakIndex, recoveryIndex: null };
  }
  return best;
}

/**
 * Calmar ratio: annualised return divided by max drawdown.
 * @param equity Portfolio values.
 * @param periodsPerYear Periods per year.
 * @returns The ratio; ±Infinity (or 0 for a flat curve) when there was no drawdown.
 * @example
 * ```ts
 * calmarRatio([100, 120, 90, 121], 1.5); // CAGR 0.1 / MDD 0.25 = 0.4
 * ```
 */
export function calmarRatio(equity: ArrayLike<number>, periodsPerYear: number): number {
  return safeRatio(annualizedReturn(equity, periodsPerYear), maxDrawdown(equity));
}

/**
 * Fraction of winning periods among periods that moved (flat periods, e.g. in cash, are left out).
 * @param returns Period returns.
 * @returns Winners / (winners + losers), NaN when no period moved.
 * @example
 * ```ts
 * hitRate([0.01, -0.02, 0, 0.03]); // 2 / 3
 * ```
 */
export function hitRate(returns: ArrayLike<number>): number {
  let win = 0, moved = 0;
  for (let t = 0; t < returns.length; t++) {
    if (returns[t] !== 0) moved++;
    if (returns[t] > 0) win++;
  }
  return moved === 0 ? NaN : win / moved;
}

/**
 * Per-step turnover: `Σ_i |w[t][i] - w[t-1][i]|`, the fraction of net worth traded
 * (buys plus sells, so cash → fully invested is 1 and a full switch A → B is 2).
 * With held weights this also counts price drift between steps; when the simulator
 * reports what it traded, pass that as `traded` to {@linkcode computeMetrics} instead.
 * @param weights One row of weights per step.
 * @param initial Weights before the first step; default all cash (zeros).
 * @returns One turnover per step.
 * @throws {TypeError} When rows differ in length.
 * @example
 * ```ts
 * turnoverSeries([[0.5, 0.5], [1, 0], [1, 0]]); // [1, 1, 0]
 * ```
 */
export function turnoverSeries(weights: WeightRows, initial?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(weights.length);
  let prev: ArrayLike<number> | undefined = initial;
  for (let t = 0; t < weights.length; t++) {
    const row = weights[t];
    if (prev && prev.length !== row.length) {
      throw new TypeError(
        `Weight row ${t} has ${row.length} entries, the previous row ${prev.length}`,
      );
    }
    let s = 0;
    for (let i = 0; i < row.length; i++) s += Math.abs(row[i] - (prev ? prev[i] : 0));
    out[t] = s;
    prev = row;
  }
  return out;
}

/**
 * Mean per-step turnover, see {@linkcode turnoverSeries}.
 * @param weights One row of weights per step.
 * @param initial Weights before the first step; default all cash.
 * @returns The mean (0 without rows).
 * @example
 * ```ts
 * turnover([[0.5, 0.5], [1, 0], [1, 0]]); // (1 + 1 + 0) / 3
 * ```
 */
export function turnover(weights: WeightRows, initial?: ArrayLike<number>): number {
  return weights.length === 0 ? 0 : mean(turnoverSeries(weights, initial));
}

/** Exposure figures, see {@linkcode exposure}. */
export interface Exposure {
  /** Mean gross exposure `Σ|w|` per step (1 = fully invested, long only). */
  gross: number;
  /** Mean net exposure `Σw` per step. */
  net: number;
  /** Fraction of steps with any position (gross > 1e-9). */
  timeInMarket: number;
}

/**
 * How much of the portfolio was at risk, on average.
 * @param weights One row of weights per step.
 * @returns Mean gross and net exposure and the fraction of time in the market (zeros without rows).
 * @example
 * ```ts
 * exposure([[0.5, 0.5], [0, 0], [0.25, -0.25]]); // { gross: 0.5, net: 1/3, timeInMarket: 2/3 }
 * ```
 */
export function exposure(weights: WeightRows): Exposure {
  if (weights.length === 0) return { gross: 0, net: 0, timeInMarket: 0 };
  let gross = 0, net = 0, inMarket = 0;
  for (const row of weights) {
    let g = 0, n = 0;
    for (let i = 0; i < row.length; i++) {
      g += Math.abs(row[i]);
      n += row[i];
    }
    gross += g;
    net += n;
    if (g > 1e-9) inMarket++;
  }
  const k = weights.length;
  return { gross: gross / k, net: net / k, timeInMarket: inMarket / k };
}

/**
 * Total of per-step costs (commissions, fees or slippage, in currency).
 * @param costs Cost paid at each step (NaN entries count as 0).
 * @returns The sum.
 * @example
 * ```ts
 * costsPaid([1.5, 0, 2]); // 3.5
 * ```
 */
export function costsPaid(costs: ArrayLike<number>): number {
  let s = 0;
  for (let t = 0; t < costs.length; t++) if (Number.isFinite(costs[t])) s += costs[t];
  return s;
}

/**
 * Rolling annualised Sharpe ratio over a trailing window of returns.
 * @param returns Period returns.
 * @param window Window length in periods (≥ 2).
 * @param options Periods per year and risk-free rate.
 * @returns One value per return; NaN until the window is full.
 * @throws {RangeError} When window < 2.
 * @example
 * ```ts
 * rollingSharpe([0.02, 0, 0.01, 0.01], 3, { periodsPerYear: 4 }); // [NaN, NaN, 2, 2.309…]
 * ```
 */
export function rollingSharpe(
  returns: ArrayLike<number>,
  window: number,
  options: RatioOptions,
): Float64Array {
  if (!(window >= 2)) {
    throw new RangeError(`Rolling Sharpe window must be at least 2, got ${window}`);
  }
  const excess = excessReturns(returns, options);
  const out = new Float64Array(excess.length).fill(NaN);
  const scale = Math.sqrt(options.periodsPerYear);
  for (let t = window - 1; t < excess.length; t++) {
    const w = excess.subarray(t - window + 1, t + 1);
    out[t] = safeRatio(mean(w), sampleStd(w)) * scale;
  }
  return out;
}

/** Inputs of {@linkcode computeMetrics} besides the equity curve. All optional. */
export interface MetricsOptions {
  /** Bar times (epoch ms), one per equity point; used to infer periodsPerYear and day durations. */
  timestamps?: ArrayLike<number>;
  /** Periods per year; default inferred from timestamps, else 252. */
  periodsPerYear?: number;
  /** Annual risk-free rate as a fraction; default 0. */
  riskFreeRate?: number;
  /** Weights held at each step, for turnover and exposure. */
  weights?: WeightRows;
  /** Weights before the first step (default all cash), for the first step's turnover. */
  initialWeights?: ArrayLike<number>;
  /**
   * Fraction of net worth traded at each step (Σ|trade notional| / net worth), as the
   * simulator knows it. Preferred over `weights` for turnover: differences of held
   * weights also count price drift, which is not trading.
   */
  traded?: ArrayLike<number>;
  /** Commissions/fees paid at each step, in currency. */
  costs?: ArrayLike<number>;
  /** Slippage paid at each step, in currency. */
  slippage?: ArrayLike<number>;
}

/**
 * Every metric of an equity curve in one typed record.
 * @param equity Portfolio values, first entry the starting capital (at least 2 points).
 * @param options Timestamps or periods per year, risk-free rate, weights and costs.
 * @returns The {@linkcode PerformanceMetrics}.
 * @throws {RangeError} With fewer than 2 points, non-positive values, or timestamps of the wrong length.
 * @example
 * ```ts
 * const m = computeMetrics(netWorth, { timestamps, weights, costs });
 * console.log(m.sharpe, m.maxDrawdown);
 * ```
 */
export function computeMetrics(
  equity: ArrayLike<number>,
  options: MetricsOptions = {},
): PerformanceMetrics {
  if (equity.length < 2) {
    throw new RangeError(`computeMetrics needs at least 2 equity points, got ${equity.length}`);
  }
  const ts = options.timestamps;
  if (ts && ts.length !== equity.length) {
    throw new RangeError(`Got ${ts.length} timestamps for ${equity.length} equity points`);
  }
  const ppy = options.periodsPerYear ?? (ts ? inferPeriodsPerYear(ts) : 252);
  const rf = options.riskFreeRate ?? 0;
  const ratio = { periodsPerYear: ppy, riskFreeRate: rf };
  const r = simpleReturns(equity);
  const dd = maxDrawdownDuration(equity);
  const end = dd.recoveryIndex ?? equity.length - 1;
  const w = options.weights;
  const exp = w ? exposure(w) : null;
  const to = options.traded
    ? (options.traded.length === 0 ? 0 : mean(options.traded))
    : w
    ? turnover(w, options.initialWeights)
    : null;
  const costs = options.costs ? costsPaid(options.costs) : null;
  const slip = options.slippage ? costsPaid(options.slippage) : null;
  const m = moments(r);
  return {
    periods: r.length,
    periodsPerYear: ppy,
    riskFreeRate: rf,
    startValue: equity[0],
    endValue: equity[equity.length - 1],
    totalReturn: equity[equity.length - 1] / equity[0] - 1,
    annualizedReturn: annualizedReturn(equity, ppy),
    annualizedVolatility: annualizedVolatility(r, ppy),
    sharpe: sharpeRatio(r, ratio),
    sortino: sortinoRatio(r, ratio),
    maxDrawdown: maxDrawdown(equity),
    maxDrawdownDurationPeriods: dd.periods,
    maxDrawdownDurationDays: ts
      ? (dd.peakIndex < 0 ? 0 : (ts[end] - ts[dd.peakIndex]) / DAY_MS)
      : null,
    calmar: calmarRatio(equity, ppy),
    hitRate: hitRate(r),
    skewness: m.skewness,
    excessKurtosis: m.kurtosis - 3,
    turnover: to,
    annualizedTurnover: to === null ? null : to * ppy,
    exposure: exp ? exp.gross : null,
    timeInMarket: exp ? exp.timeInMarket : null,
    costsPaid: costs,
    slippagePaid: slip,
    costsPaidFraction: costs === null && slip === null
      ? null
      : ((costs ?? 0) + (slip ?? 0)) / equity[0],
  };
}

/** Sample moments of a series, see {@linkcode moments}. */
export interface Moments {
  /** Arithmetic mean. */
  mean: number;
  /** Sample (n − 1) standard deviation. */
  std: number;
  /** Population skewness `m3 / m2^1.5` (0 for a constant series). */
  skewness: number;
  /**
   * Raw population kurtosis `m4 / m2²`, NOT excess (3 for a normal; 3 for a constant series),
   * as the probabilistic Sharpe ratio's formula takes it. {@linkcode PerformanceMetrics}
   * reports `excessKurtosis` (this − 3).
   */
  kurtosis: number;
}

/**
 * Mean, sample standard deviation, skewness and kurtosis, as the probabilistic
 * Sharpe ratio uses them.
 * @param x The series.
 * @returns Its {@linkcode Moments}.
 * @example
 * ```ts
 * moments([1, -1, 1, -1]); // { mean: 0, std: 1.1547, skewness: 0, kurtosis: 1 }
 * ```
 */
export function moments(x: ArrayLike<number>): Moments {
  const n = x.length;
  const mu = mean(x);
  let m2 = 0, m3 = 0, m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - mu;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  if (n === 0) return { mean: NaN, std: NaN, skewness: NaN, kurtosis: NaN };
  const std = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
  m2 /= n;
  m3 /= n;
  m4 /= n;
  if (m2 <= 1e-300) return { mean: mu, std, skewness: 0, kurtosis: 3 };
  return { mean: mu, std, skewness: m3 / m2 ** 1.5, kurtosis: m4 / (m2 * m2) };
}

/**
 * Arithmetic mean.
 * @param x Values.
 * @returns Their mean (NaN when empty).
 * @example
 * ```ts
 * mean([1, 2, 6]); // 3
 * ```
 */
export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return x.length === 0 ? NaN : s / x.length;
}

/**
 * Sample (n − 1) standard deviation.
 * @param x Values.
 * @returns Their standard deviation (0 for fewer than 2 values).
 * @example
 * ```ts
 * sampleStd([0.02, 0, 0.01]); // 0.01
 * ```
 */
export function sampleStd(x: ArrayLike<number>): number {
  const n = x.length;
  if (n < 2) return 0;
  const mu = mean(x);
  let s = 0;
  for (let i = 0; i < n; i++) s += (x[i] - mu) ** 2;
  return Math.sqrt(s / (n - 1));
}

function excessReturns(returns: ArrayLike<number>, options: RatioOptions): Float64Array {
  const rf = periodRate(options.riskFreeRate ?? 0, options.periodsPerYear);
  const out = new Float64Array(returns.length);
  for (let t = 0; t < returns.length; t++) out[t] = returns[t] - rf;
  return out;
}

/**
 * a / b where b ≈ 0 gives 0 for a ≈ 0 and ±Infinity otherwise (a constant series has no risk).
 * A NaN input gives NaN: an undefined return has no confident ratio.
 */
function safeRatio(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  if (Math.abs(b) > 1e-15) return a / b;
  if (Math.abs(a) <= 1e-15) return 0;
  return a > 0 ? Infinity : -Infinity;
}

function median(x: number[]): number {
  const s = [...x].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
