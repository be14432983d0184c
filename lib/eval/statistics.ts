/**
 * Honest statistics for a backtest: is the Sharpe ratio distinguishable from a
 * benchmark's, or from luck?
 *
 * - {@linkcode probabilisticSharpeRatio}: Bailey & López de Prado (2012), "The Sharpe
 *   Ratio Efficient Frontier": the probability that the true Sharpe ratio exceeds a
 *   threshold, given the sample length, skewness and kurtosis of the returns.
 * - {@linkcode sharpeDifferenceCI}: a paired block bootstrap (stationary, Politis &
 *   Romano 1994, or circular) confidence interval for Sharpe(strategy) − Sharpe(benchmark);
 *   the same resampled bars are used for both series so their correlation is kept,
 *   and blocks keep short-range autocorrelation.
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import { moments, periodRate, sharpeRatio } from "./metrics.ts";

/**
 * Standard normal cumulative distribution function (Hart's double-precision
 * algorithm as given by West 2005; absolute error below 1e-14).
 * @param x Any number.
 * @returns P(Z ≤ x).
 * @example
 * ```ts
 * normalCdf(1.959963984540054); // 0.975
 * ```
 */
export function normalCdf(x: number): number {
  const z = Math.abs(x);
  let c = 0;
  if (z <= 37) {
    const e = Math.exp((-z * z) / 2);
    if (z < 7.07106781186547) {
      let n = 3.52624965998911e-2 * z + 0.700383064443688;
      n = n * z + 6.37396220353165;
      n = n * z + 33.912866078383;
      n = n * z + 112.079291497871;
      n = n * z + 221.213596169931;
      n = n * z + 220.206867912376;
      let d = 8.83883476483184e-2 * z + 1.75566716318264;
      d = d * z + 16.064177579207;
      d = d * z + 86.7807322029461;
      d = d * z + 296.564248779674;
      d = d * z + 637.333633378831;
      d = d * z + 793.826512519948;
      d = d * z + 440.413735824752;
      c = (e * n) / d;
    } else {
      let b = z + 0.65;
      b = z + 4 / b;
      b = z + 3 / b;
      b = z + 2 / b;
      b = z + 1 / b;
      c = e / b / 2.506628274631;
    }
  }
  return x > 0 ? 1 - c : c;
}

/** Inputs of {@linkcode psrFromMoments}; Sharpe ratios are per period (not annualised). */
export interface PsrMoments {
  /** Observed per-period Sharpe ratio. */
  sharpe: number;
  /** Threshold per-period Sharpe ratio SR*. */
  benchmarkSharpe: number;
  /** Number of return observations. */
  n: number;
  /** Skewness of returns (γ3). */
  skewness: number;
  /** Kurtosis of returns, not excess (γ4; 3 for a normal). */
  kurtosis: number;
}

/**
 * PSR from summary numbers:
 * `Φ( (SR − SR*) · √(n − 1) / √(1 − γ3·SR + (γ4 − 1)/4 · SR²) )`.
 * @param m Per-period Sharpe, threshold, sample size, skewness, kurtosis.
 * @returns The probability that the true Sharpe exceeds SR* (NaN for n < 2).
 * @example
 * ```ts
 * psrFromMoments({ sharpe: 0.1, benchmarkSharpe: 0, n: 101, skewness: 0, kurtosis: 3 });
 * // Φ(0.1·10 / √1.005) = Φ(0.99751) ≈ 0.84074
 * ```
 */
export function psrFromMoments(m: PsrMoments): number {
  if (!(m.n >= 2)) return NaN;
  const variance = 1 - m.skewness * m.sharpe + ((m.kurtosis - 1) / 4) * m.sharpe * m.sharpe;
  const diff = m.sharpe - m.benchmarkSharpe;
  if (!(variance > 0)) return diff > 0 ? 1 : diff < 0 ? 0 : 0.5;
  return normalCdf((diff * Math.sqrt(m.n - 1)) / Math.sqrt(variance));
}

/** Options of {@linkcode probabilisticSharpeRatio}. */
export interface PsrOptions {
  /** Periods per year, to convert an annualised threshold to per period. */
  periodsPerYear: number;
  /** Threshold Sharpe ratio SR*, annualised (e.g. the benchmark's). Default 0. */
  benchmarkSharpe?: number;
  /** Annual risk-free rate subtracted from returns. Default 0. */
  riskFreeRate?: number;
}

/**
 * Probabilistic Sharpe ratio of a return series: the probability that its true
 * Sharpe ratio exceeds `benchmarkSharpe`, accounting for sample length, skewness
 * and fat tails (moments as in {@linkcode moments}: sample std, population skew/kurtosis).
 * @param returns Period returns.
 * @param options Periods per year, annualised threshold (default 0), risk-free rate.
 * @returns A probability in [0, 1]; exactly 0.5 when the observed Sharpe equals the threshold.
 * @example
 * ```ts
 * const psr = probabilisticSharpeRatio(returns, { periodsPerYear: 252, benchmarkSharpe: benchMetrics.sharpe });
 * ```
 */
export function probabilisticSharpeRatio(returns: ArrayLike<number>, options: PsrOptions): number {
  const ppy = options.periodsPerYear;
  const sr = sharpeRatio(returns, {
    periodsPerYear: 1,
    riskFreeRate: perPeriodRiskFree(options, ppy),
  });
  const m = moments(returns);
  return psrFromMoments({
    sharpe: sr,
    benchmarkSharpe: (options.benchmarkSharpe ?? 0) / Math.sqrt(ppy),
    n: returns.length,
    skewness: m.skewness,
    kurtosis: m.kurtosis,
  });
}

/** Options of {@linkcode sharpeDifferenceCI}. */
export interface BootstrapOptions {
  /** Periods per year, to annualise the Sharpe ratios. */
  periodsPerYear: number;
  /** Annual risk-free rate. Default 0. */
  riskFreeRate?: number;
  /** Confidence level. Default 0.95. */
  confidence?: number;
  /** Number of bootstrap resamples. Default 2000. */
  resamples?: number;
  /** Mean block length in bars. Default `max(1, round(n^(1/3)))`. */
  blockLength?: number;
  /** `"stationary"` (geometric block lengths, default) or `"circular"` (fixed length). */
  method?: "stationary" | "circular";
  /** Seed of the resampling; the same seed gives the same interval. Default 0. */
  seed?: number;
}

/** Result of {@linkcode sharpeDifferenceCI}. Sharpe ratios are annualised. */
export interface SharpeDifferenceCI {
  /** Observed Sharpe(strategy) − Sharpe(benchmark). */
  estimate: number;
  /** Lower percentile bound. */
  lower: number;
  /** Upper percentile bound. */
  upper: number;
  /** Confidence level of [lower, upper]. */
  confidence: number;
  /** Approximate two-sided p-value for "no difference": 2 · min(P*(d ≤ 0), P*(d ≥ 0)), capped at 1. */
  pValue: number;
  /** True when the interval excludes 0. */
  significant: boolean;
  /** Resamples drawn. */
  resamples: number;
  /** Mean block length used. */
  blockLength: number;
  /** Bootstrap scheme. */
  method: "stationary" | "circular";
  /** Seed used. */
  seed: number;
}

/**
 * Paired block-bootstrap confidence interval for the difference of annualised
 * Sharpe ratios, strategy − benchmark, on the same bars.
 * @param strategy Strategy period returns.
 * @param benchmark Benchmark period returns, same length and bars.
 * @param options Annualisation, confidence, resamples, block length and scheme, seed.
 * @returns The estimate, percentile interval, approximate p-value and settings.
 * @throws {RangeError} When lengths differ, fewer than 3 returns, or options are out of range.
 * @example
 * ```ts
 * const ci = sharpeDifferenceCI(stratReturns, benchReturns, { periodsPerYear: 252, seed: 7 });
 * if (!ci.significant) console.log("not distinguishable from luck");
 * ```
 */
export function sharpeDifferenceCI(
  strategy: ArrayLike<number>,
  benchmark: ArrayLike<number>,
  options: BootstrapOptions,
): SharpeDifferenceCI {
  const n = strategy.length;
  if (benchmark.length !== n) {
    throw new RangeError(
      `sharpeDifferenceCI: strategy has ${n} returns, benchmark ${benchmark.length}; align them first`,
    );
  }
  if (n < 3) throw new RangeError(`sharpeDifferenceCI needs at least 3 returns, got ${n}`);
  const confidence = options.confidence ?? 0.95;
  const resamples = options.resamples ?? 2000;
  const method = options.method ?? "stationary";
  const seed = options.seed ?? 0;
  const block = options.blockLength ?? Math.max(1, Math.round(Math.cbrt(n)));
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  }
  if (!(resamples >= 10)) throw new RangeError(`resamples must be at least 10, got ${resamples}`);
  if (!(block >= 1 && block <= n)) {
    throw new RangeError(`blockLength must be in [1, ${n}], got ${block}`);
  }
  const ratio = { periodsPerYear: options.periodsPerYear, riskFreeRate: options.riskFreeRate };
  const estimate = sharpeRatio(strategy, ratio) - sharpeRatio(benchmark, ratio);
  const rng = new Rng(seed);
  const idx = new Int32Array(n);
  const s = new Float64Array(n);
  const b = new Float64Array(n);
  const diffs = new Float64Array(resamples);
  const p = 1 / block;
  for (let k = 0; k < resamples; k++) {
    let i = 0;
    while (i < n) {
      let start = Math.floor(rng.uniform() * n);
      if (method === "circular") {
        for (let j = 0; j < block && i < n; j++) idx[i++] = (start + j) % n;
      } else {
        idx[i++] = start;
        // Each next bar continues the block with probability 1 − 1/block.
        while (i < n && rng.uniform() >= p) {
          start = (start + 1) % n;
          idx[i++] = start;
        }
      }
    }
    for (let j = 0; j < n; j++) {
      s[j] = strategy[idx[j]];
      b[j] = benchmark[idx[j]];
    }
    diffs[k] = sharpeRatio(s, ratio) - sharpeRatio(b, ratio);
  }
  diffs.sort();
  const alpha = 1 - confidence;
  let below = 0, above = 0;
  for (const d of diffs) {
    if (d <= 0) below++;
    if (d >= 0) above++;
  }
  const lower = quantileSorted(diffs, alpha / 2);
  const upper = quantileSorted(diffs, 1 - alpha / 2);
  return {
    estimate,
    lower,
    upper,
    confidence,
    pValue: Math.min(1, (2 * Math.min(below, above)) / resamples),
    significant: lower > 0 || upper < 0,
    resamples,
    blockLength: block,
    method,
    seed,
  };
}

/**
 * A plain-language verdict on a strategy vs benchmark comparison.
 * @param ci The Sharpe-difference interval.
 * @param psr Optional probabilistic Sharpe ratio against the benchmark's Sharpe.
 * @param names Display names (default "The strategy" / "the benchmark").
 * @returns One or two sentences, e.g. "…: not distinguishable from luck at 95 %."
 * @example
 * ```ts
 * describeComparison(ci, psr); // "The strategy's Sharpe ratio is 0.31 above the benchmark's …"
 * ```
 */
export function describeComparison(
  ci: SharpeDifferenceCI,
  psr?: number,
  names: { strategy?: string; benchmark?: string } = {},
): string {
  const who = names.strategy ?? "The strategy";
  const vs = names.benchmark ?? "the benchmark";
  const level = `${formatPercent(ci.confidence)} %`;
  const range = `${level} CI [${signed(ci.lower)}, ${signed(ci.upper)}]`;
  const dir = ci.estimate >= 0 ? "above" : "below";
  const head = `${who}'s Sharpe ratio is ${
    Math.abs(ci.estimate).toFixed(2)
  } ${dir} ${vs}'s (${range}`;
  let text: string;
  if (ci.lower > 0) {
    text = `${head}): a win distinguishable from luck at ${level}.`;
  } else if (ci.upper < 0) {
    text = `${head}): ${vs} is better, and not by luck at ${level}.`;
  } else {
    text = `${head}, which includes 0): not distinguishable from luck at ${level}.`;
  }
  if (psr !== undefined && Number.isFinite(psr)) {
    text += ` Probabilistic Sharpe ratio: ${
      formatPercent(psr)
    } % chance that the true Sharpe ratio exceeds ${vs}'s.`;
  }
  return text;
}

/**
 * Linear-interpolation quantile of an ascending array.
 * @param sorted Ascending values.
 * @param q Quantile in [0, 1].
 * @returns The interpolated quantile (NaN when empty).
 * @example
 * ```ts
 * quantileSorted(Float64Array.of(1, 2, 3, 4), 0.5); // 2.5
 * ```
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = Math.min(Math.max(q, 0), 1) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function perPeriodRiskFree(options: PsrOptions, ppy: number): number {
  // sharpeRatio with periodsPerYear 1 takes an annual rate; pass the per-period rate as that.
  return periodRate(options.riskFreeRate ?? 0, ppy);
}

function signed(x: number): string {
  return (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(2);
}

function formatPercent(p: number): string {
  const v = p * 100;
  return Number.isInteger(Math.round(v * 10) / 10) ? Math.round(v).toString() : v.toFixed(1);
}
