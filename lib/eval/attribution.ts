/**
 * Risk attribution of a portfolio path: what each instrument contributed to the return
 * and to the volatility, what it traded and what its trading cost.
 *
 * - Return: instrument i contributes `Σ_t w[t][i] · r[t][i]` (weight held over bar t times
 *   the instrument's return over that bar); the contributions add up to the sum of the
 *   portfolio's per-bar returns on the invested part.
 * - Volatility (Euler decomposition): with the mean held weights `w̄` and the sample
 *   covariance `Σ` of the instruments' per-bar returns, portfolio volatility is
 *   `σ = √(w̄ᵀ Σ w̄)`, instrument i's marginal contribution is `(Σ w̄)_i / σ` and its
 *   contribution `w̄_i · (Σ w̄)_i / σ`; the contributions sum to `σ` exactly.
 * - Turnover: `Σ_t |w[t][i] − w[t−1][i]|` (the first row counts from cash).
 * - Costs: each bar's cost split over instruments in proportion to their weight change in
 *   that bar (the store keeps costs per bar, not per instrument).
 *
 * @module
 */

/** Input of {@linkcode riskAttribution}. */
export interface AttributionInput {
  /** Instruments in column order. */
  instruments: readonly string[];
  /** `weights[t][i]`: weight of instrument i held over bar t. */
  weights: readonly ArrayLike<number>[];
  /** `returns[t][i]`: simple return of instrument i over bar t (same shape as `weights`). */
  returns: readonly ArrayLike<number>[];
  /** Cost paid at each row (currency or fraction of net worth), optional. */
  costs?: ArrayLike<number>;
  /** Periods per year, to annualise volatility. Default 252. */
  periodsPerYear?: number;
}

/** One instrument's line of {@linkcode riskAttribution}. */
export interface InstrumentAttribution {
  instrument: string;
  /** Mean weight held. */
  meanWeight: number;
  /** Sum over bars of weight × return. */
  returnContribution: number;
  /** Share of the summed contributions (NaN when they sum to 0). */
  returnShare: number;
  /** `(Σ w̄)_i / σ`, annualised. */
  marginalVolatility: number;
  /** `w̄_i · (Σ w̄)_i / σ`, annualised; sums to the portfolio volatility. */
  volatilityContribution: number;
  /** Share of portfolio volatility (may be negative for a hedge). */
  volatilityShare: number;
  /** Sum of absolute weight changes. */
  turnover: number;
  /** Costs allotted to it (NaN without costs). */
  costs: number;
}

/** What {@linkcode riskAttribution} returns. */
export interface Attribution {
  instruments: InstrumentAttribution[];
  /** Annualised volatility of the mean-weight portfolio, `√(w̄ᵀ Σ w̄ · periodsPerYear)`. */
  portfolioVolatility: number;
  /** Sum of the return contributions. */
  totalReturnContribution: number;
  /** Bars used. */
  periods: number;
}

/**
 * Attributes return, volatility, turnover and costs to instruments.
 * @param input Weights and returns per bar (T × n), optional per-bar costs, periods per year.
 * @returns One line per instrument plus the portfolio totals.
 * @throws {RangeError} When shapes differ or there are fewer than 2 bars.
 * @example
 * ```ts
 * const a = riskAttribution({
 *   instruments: ["A", "B"],
 *   weights: [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]],
 *   returns: [[0.01, 0.0], [-0.01, 0.02], [0.02, -0.01]],
 * });
 * a.instruments[0].returnContribution; // 0.5·(0.01 − 0.01 + 0.02) = 0.01
 * ```
 */
export function riskAttribution(input: AttributionInput): Attribution {
  const { instruments, weights, returns } = input;
  const n = instruments.length;
  const T = weights.length;
  if (returns.length !== T) {
    throw new RangeError(`riskAttribution: ${T} weight rows but ${returns.length} return rows`);
  }
  if (T < 2) throw new RangeError(`riskAttribution needs at least 2 bars, got ${T}`);
  for (let t = 0; t < T; t++) {
    if (weights[t].length !== n || returns[t].length !== n) {
      throw new RangeError(
        `riskAttribution: row ${t} has ${weights[t].length} weights and ${
          returns[t].length
        } returns for ${n} instruments`,
      );
    }
  }
  if (input.costs && input.costs.length !== T) {
    throw new RangeError(`riskAttribution: ${input.costs.length} costs for ${T} rows`);
  }
  const ppy = input.periodsPerYear ?? 252;
  const val = (x: number) => (Number.isFinite(x) ? x : 0);
  const meanW = new Float64Array(n);
  const meanR = new Float64Array(n);
  const contrib = new Float64Array(n);
  const turnover = new Float64Array(n);
  const costs = new Float64Array(n);
  for (let t = 0; t < T; t++) {
    let moved = 0;
    const delta = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const w = val(weights[t][i]);
      const r = val(returns[t][i]);
      meanW[i] += w / T;
      meanR[i] += r / T;
      contrib[i] += w * r;
      delta[i] = Math.abs(w - (t === 0 ? 0 : val(weights[t - 1][i])));
      turnover[i] += delta[i];
      moved += delta[i];
    }
    const c = input.costs ? val(input.costs[t]) : 0;
    if (moved > 0) { for (let i = 0; i < n; i++) costs[i] += (c * delta[i]) / moved; }
  }
  // Sample covariance of the instruments' returns.
  const cov = Array.from({ length: n }, () => new Float64Array(n));
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < n; i++) {
      const di = val(returns[t][i]) - meanR[i];
      for (let j = i; j < n; j++) cov[i][j] += (di * (val(returns[t][j]) - meanR[j])) / (T - 1);
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) cov[i][j] = cov[j][i];
  const sigmaW = new Float64Array(n);
  let variance = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) sigmaW[i] += cov[i][j] * meanW[j];
    variance += meanW[i] * sigmaW[i];
  }
  const sigma = Math.sqrt(Math.max(0, variance));
  const annual = Math.sqrt(ppy);
  const total = contrib.reduce((a, b) => a + b, 0);
  return {
    instruments: instruments.map((instrument, i) => {
      const marginal = sigma > 0 ? sigmaW[i] / sigma : 0;
      const vc = meanW[i] * marginal;
      return {
        instrument,
        meanWeight: meanW[i],
        returnContribution: contrib[i],
        returnShare: total !== 0 ? contrib[i] / total : NaN,
        marginalVolatility: marginal * annual,
        volatilityContribution: vc * annual,
        volatilityShare: sigma > 0 ? vc / sigma : NaN,
        turnover: turnover[i],
        costs: input.costs ? costs[i] : NaN,
      };
    }),
    portfolioVolatility: sigma * annual,
    totalReturnContribution: total,
    periods: T,
  };
}
