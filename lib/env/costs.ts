/**
 * Trading costs: a commission (`costPerTurnBps`, in basis points of traded notional,
 * the seed's `apply_transaction_costs`) and slippage (a fixed number of basis points
 * plus a volume-participation square-root market-impact term). Costs and slippage
 * are computed separately so that they can be reported separately.
 *
 * Square-root impact (Almgren et al. 2005; Kissell & Glantz): trading notional `Q` in
 * an instrument with daily return volatility `σ` and average dollar volume `ADV`
 * moves its price, in fractional terms, by
 *
 *     impact = impactK · σ · sqrt(Q / ADV)
 *
 * and that fraction is paid on the traded notional, so the impact cost is
 * `Q · impact`. `σ` and `ADV` are trailing estimates known when the order was
 * decided (see {@linkcode trailingImpactInputs}). With no volume data (`ADV` not
 * positive) the impact term is 0 — reported, not guessed.
 *
 * @module
 */

/** Cost and slippage settings. */
export interface CostOptions {
  /** Commission in basis points of traded notional. Default 10. */
  costPerTurnBps?: number;
  /** Fixed slippage in basis points of traded notional. Default 5. */
  slippageBps?: number;
  /** Square-root impact coefficient `k`; 0 turns impact off. Default 0. */
  impactK?: number;
  /** Bars of history for the impact model's `σ` and `ADV`. Default 20. */
  impactLookback?: number;
}

/** {@linkcode CostOptions} with every default filled in. */
export type ResolvedCostOptions = Required<CostOptions>;

/** The defaults of {@linkcode CostOptions}. */
export const DEFAULT_COSTS: ResolvedCostOptions = {
  costPerTurnBps: 10,
  slippageBps: 5,
  impactK: 0,
  impactLookback: 20,
};

/**
 * Fills in defaults and validates.
 * @param options Partial settings.
 * @returns Complete settings.
 * @throws {RangeError} On a negative or non-finite value.
 * @example
 * ```ts
 * resolveCostOptions({ costPerTurnBps: 2 }).slippageBps; // 5
 * ```
 */
export function resolveCostOptions(options: CostOptions = {}): ResolvedCostOptions {
  const r = { ...DEFAULT_COSTS, ...stripUndefined(options) };
  for (const [k, v] of Object.entries(r)) {
    if (!Number.isFinite(v) || v < 0) {
      throw new RangeError(`Cost option ${k} = ${v} must be finite and ≥ 0`);
    }
  }
  if (!Number.isInteger(r.impactLookback) || r.impactLookback < 2) {
    throw new RangeError(`Cost option impactLookback = ${r.impactLookback} must be an integer ≥ 2`);
  }
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Commission on a trade (the seed's `apply_transaction_costs`).
 * @param tradedNotional Absolute traded notional, summed over instruments.
 * @param costPerTurnBps Basis points charged per unit of notional.
 * @returns The commission, in currency.
 * @example
 * ```ts
 * applyTransactionCosts(10_000, 10); // 10
 * ```
 */
export function applyTransactionCosts(tradedNotional: number, costPerTurnBps: number): number {
  return Math.abs(tradedNotional) * costPerTurnBps / 1e4;
}

/** Slippage of one instrument's trade, split into its fixed and impact parts. */
export interface SlippageCost {
  /** `Q · slippageBps / 1e4`. */
  fixed: number;
  /** `Q · impactK · σ · sqrt(Q / ADV)`; 0 when `ADV` or `σ` is unknown. */
  impact: number;
}

/**
 * Slippage of trading `tradedNotional` in one instrument.
 * @param tradedNotional Absolute traded notional in this instrument.
 * @param sigma Trailing per-bar return volatility (NaN when unknown).
 * @param adv Trailing average traded notional per bar, `close · volume` (NaN when unknown).
 * @param options `slippageBps` and `impactK`.
 * @returns Fixed and impact slippage, in currency.
 * @example
 * ```ts
 * // 1% of ADV, σ = 2%, k = 1: impact = 0.02 · 0.1 = 20 bps on 10,000
 * slippageCost(10_000, 0.02, 1_000_000, { slippageBps: 5, impactK: 1 }); // { fixed: 5, impact: 20 }
 * ```
 */
export function slippageCost(
  tradedNotional: number,
  sigma: number,
  adv: number,
  options: { slippageBps: number; impactK: number },
): SlippageCost {
  const q = Math.abs(tradedNotional);
  const fixed = q * options.slippageBps / 1e4;
  let impact = 0;
  if (options.impactK > 0 && q > 0 && adv > 0 && Number.isFinite(adv) && Number.isFinite(sigma)) {
    impact = q * options.impactK * sigma * Math.sqrt(q / adv);
  }
  return { fixed, impact };
}

/**
 * Trailing inputs of the impact model for every bar and instrument, from data at or
 * before that bar only: `sigma[t*N+i]` is the sample standard deviation (ddof 1) of
 * the last `lookback` close-to-close returns ending at `t`; `adv[t*N+i]` the mean of
 * `close · volume` over the last `lookback` bars ending at `t`. Bars without data are
 * skipped; `sigma` is NaN with fewer than 2 returns, `adv` with no volume at all.
 * @param returns `T × N` close-to-close returns, NaN where unknown.
 * @param close `T × N` closes, NaN where missing.
 * @param volume `T × N` volumes, NaN where missing.
 * @param n Number of instruments.
 * @param lookback Window length in bars.
 * @returns `sigma` and `adv`, each `T × N`.
 * @example
 * ```ts
 * const { sigma, adv } = trailingImpactInputs(ret, panel.close, panel.volume, n, 20);
 * ```
 */
export function trailingImpactInputs(
  returns: Float64Array,
  close: Float64Array,
  volume: Float64Array,
  n: number,
  lookback: number,
): { sigma: Float64Array; adv: Float64Array } {
  const total = returns.length;
  const T = total / n;
  const sigma = new Float64Array(total).fill(NaN);
  const adv = new Float64Array(total).fill(NaN);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < T; t++) {
      // Plain windows (no running sums) so that rounding never depends on distant bars.
      let cnt = 0, s = 0, s2 = 0, vc = 0, vs = 0;
      for (let u = Math.max(0, t - lookback + 1); u <= t; u++) {
        const r = returns[u * n + i];
        if (Number.isFinite(r)) {
          cnt++;
          s += r;
          s2 += r * r;
        }
        const dv = close[u * n + i] * volume[u * n + i];
        if (Number.isFinite(dv)) {
          vc++;
          vs += dv;
        }
      }
      if (cnt >= 2) sigma[t * n + i] = Math.sqrt(Math.max(0, (s2 - s * s / cnt) / (cnt - 1)));
      if (vc >= 1) adv[t * n + i] = vs / vc;
    }
  }
  return { sigma, adv };
}
