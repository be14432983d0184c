/**
 * Selection bias of a search: the deflated Sharpe ratio of Bailey & López de Prado
 * (2014), "The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest
 * Overfitting and Non-Normality", Journal of Portfolio Management 40 (5).
 *
 * The best of N tried configurations has a high Sharpe ratio by luck alone. The DSR is
 * the probabilistic Sharpe ratio ({@linkcode psrFromMoments}) of the winner against the
 * Sharpe ratio the best of N trials is expected to reach when every true Sharpe is 0:
 *
 * `SR₀ = √V · ((1 − γ) · Φ⁻¹(1 − 1/N) + γ · Φ⁻¹(1 − 1/(N·e)))`, `γ` the Euler–Mascheroni
 * constant and `V` the variance of the trials' Sharpe ratios, all per period.
 *
 * @module
 */
import { normalCdf, psrFromMoments } from "./statistics.ts";

/** The Euler–Mascheroni constant γ. */
export const EULER_GAMMA = 0.5772156649015329;

/**
 * Inverse of the standard normal CDF (Acklam's rational approximation, refined by one
 * Halley step on {@linkcode normalCdf}; absolute error below 1e-12 in (1e-300, 1 − 1e-16)).
 * @param p A probability in (0, 1).
 * @returns `x` with `Φ(x) = p` (−∞ at 0, +∞ at 1, NaN outside [0, 1]).
 * @example
 * ```ts
 * normalQuantile(0.975); // 1.959963984540054
 * ```
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const a = [
    -3.969683028665376e1,
    2.209460984245205e2,
    -2.759285104469687e2,
    1.38357751867269e2,
    -3.066479806614716e1,
    2.506628277459239,
  ];
  const b = [
    -5.447609879822406e1,
    1.615858368580409e2,
    -1.556989798598866e2,
    6.680131188771972e1,
    -1.328068155288572e1,
  ];
  const c = [
    -7.784894002430293e-3,
    -3.223964580411365e-1,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
  ];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // One Halley step: e = Φ(x) − p, u = e·√(2π)·exp(x²/2).
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/**
 * The Sharpe ratio the best of `trials` independent trials is expected to reach when
 * every true Sharpe ratio is 0 (the false strategy theorem), in the units of `variance`.
 * @param trials Number of configurations tried, N ≥ 1 (1: no selection, 0).
 * @param variance Variance of the trials' Sharpe ratios, V ≥ 0 (per period for a per-period SR₀).
 * @returns `SR₀ = √V·((1−γ)·Φ⁻¹(1−1/N) + γ·Φ⁻¹(1−1/(N·e)))`.
 * @throws {RangeError} For N < 1, a non-integer N or a negative variance.
 * @example
 * ```ts
 * expectedMaxSharpe(100, 0.5 / 250); // 0.11323 (per day: the paper's 100 trials of annual variance 1/2)
 * ```
 */
export function expectedMaxSharpe(trials: number, variance: number): number {
  if (!(Number.isInteger(trials) && trials >= 1)) {
    throw new RangeError(`expectedMaxSharpe(): trials = ${trials} must be a whole number ≥ 1`);
  }
  if (!(variance >= 0)) {
    throw new RangeError(`expectedMaxSharpe(): variance = ${variance} must be ≥ 0`);
  }
  if (trials === 1) return 0;
  return Math.sqrt(variance) *
    ((1 - EULER_GAMMA) * normalQuantile(1 - 1 / trials) +
      EULER_GAMMA * normalQuantile(1 - 1 / (trials * Math.E)));
}

/** Inputs of {@linkcode deflatedSharpeRatio}; Sharpe ratios and their variance are per period. */
export interface DeflatedSharpeInputs {
  /** The selected trial's observed per-period Sharpe ratio. */
  sharpe: number;
  /** Its number of return observations T. */
  n: number;
  /** Skewness of its returns (γ3). */
  skewness: number;
  /** Kurtosis of its returns, not excess (γ4; 3 for a normal). */
  kurtosis: number;
  /** Number of configurations tried, N. */
  trials: number;
  /** Variance of the per-period Sharpe ratios across the trials. */
  trialsVariance: number;
}

/** What {@linkcode deflatedSharpeRatio} returns. */
export interface DeflatedSharpe {
  /** The probability that the selected trial's true Sharpe ratio exceeds SR₀. */
  dsr: number;
  /** SR₀: the best-of-N Sharpe ratio expected by luck (per period). */
  expectedMaxSharpe: number;
  /** N. */
  trials: number;
}

/**
 * The deflated Sharpe ratio: the PSR of the selected trial with the threshold SR₀
 * of {@linkcode expectedMaxSharpe}. With one trial it is the PSR against 0.
 * @param m The winner's per-period Sharpe, sample length, skewness and kurtosis, and
 *   the number and variance of the trials.
 * @returns The DSR, SR₀ and N.
 * @throws {RangeError} From {@linkcode expectedMaxSharpe}.
 * @example
 * ```ts
 * // Bailey & López de Prado (2014), section 5: SR 2.5 a year over 1250 days, γ3 −3, γ4 10,
 * // 100 trials whose Sharpe ratios vary by 1/2 a year: DSR ≈ 0.90.
 * deflatedSharpeRatio({
 *   sharpe: 2.5 / Math.sqrt(250), n: 1250, skewness: -3, kurtosis: 10,
 *   trials: 100, trialsVariance: 0.5 / 250,
 * }).dsr;
 * ```
 */
export function deflatedSharpeRatio(m: DeflatedSharpeInputs): DeflatedSharpe {
  const sr0 = expectedMaxSharpe(m.trials, m.trialsVariance);
  return {
    dsr: psrFromMoments({
      sharpe: m.sharpe,
      benchmarkSharpe: sr0,
      n: m.n,
      skewness: m.skewness,
      kurtosis: m.kurtosis,
    }),
    expectedMaxSharpe: sr0,
    trials: m.trials,
  };
}
