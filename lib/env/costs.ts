/**
 * The one cost model: every commission, fixed slippage and square-root impact
 * charged anywhere in the project (the simulator, hence the policy's env and every
 * benchmark, which runs through the same simulator) is computed here, by
 * {@linkcode stepCosts}. Costs and slippage are computed separately so that they
 * can be reported separately.
 *
 * Commission, by {@linkcode FeeModel}:
 * - `"bps"` (default): `costPerTurnBps` basis points of traded notional (the seed's
 *   `apply_transaction_costs`), summed over the step's orders.
 * - `"ibkr-fixed"`: Interactive Brokers' *Fixed* pricing for US stocks, per order
 *   (one order per instrument traded in a step): USD 0.005 a share, at least USD 1.00,
 *   at most 1 % of the trade value (see {@linkcode ibkrFixedCommission}).
 *   `costPerTurnBps` is not used.
 *
 * Slippage is `slippageBps` of traded notional plus square-root impact
 * (Almgren et al. 2005; Kissell & Glantz): trading notional `Q` in an instrument
 * with daily return volatility `σ` and average dollar volume `ADV` moves its price,
 * in fractional terms, by
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

/** The commission schedules {@linkcode stepCosts} knows. */
export const FEE_MODELS = ["bps", "ibkr-fixed"] as const;
/** `"bps"`: basis points of notional; `"ibkr-fixed"`: IBKR Fixed per-share pricing (US stocks). */
export type FeeModel = typeof FEE_MODELS[number];

/** Cost and slippage settings. */
export interface CostOptions {
  /** How commission is charged. Default `"bps"`. */
  feeModel?: FeeModel;
  /** Commission in basis points of traded notional (fee model `"bps"` only). Default 10. */
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
export const DEFAULT_COSTS: Readonly<ResolvedCostOptions> = Object.freeze({
  feeModel: "bps",
  costPerTurnBps: 10,
  slippageBps: 5,
  impactK: 0,
  impactLookback: 20,
});

const NUMERIC_COST_KEYS = ["costPerTurnBps", "slippageBps", "impactK", "impactLookback"] as const;

/**
 * Fills in defaults and validates.
 * @param options Partial settings.
 * @returns Complete settings (a new object).
 * @throws {RangeError} On a negative or non-finite value or an unknown fee model.
 * @example
 * ```ts
 * resolveCostOptions({ costPerTurnBps: 2 }).slippageBps; // 5
 * resolveCostOptions({ feeModel: "ibkr-fixed" }).feeModel; // "ibkr-fixed"
 * ```
 */
export function resolveCostOptions(options: CostOptions = {}): ResolvedCostOptions {
  const r: ResolvedCostOptions = { ...DEFAULT_COSTS, ...stripUndefined(options) };
  if (!(FEE_MODELS as readonly string[]).includes(r.feeModel)) {
    throw new RangeError(
      `Cost option feeModel = ${JSON.stringify(r.feeModel)}: use one of ${FEE_MODELS.join(", ")}`,
    );
  }
  for (const k of NUMERIC_COST_KEYS) {
    const v = r[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
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
 * The cost settings found in a JSON record (e.g. a saved episode's `config.env`),
 * checked field by field: only the {@linkcode CostOptions} keys are read, absent
 * ones stay absent (so {@linkcode resolveCostOptions} gives their defaults).
 * @param json A parsed JSON object, or undefined/null (no settings).
 * @param where Where the record came from, for error messages.
 * @returns The cost options it holds.
 * @throws {TypeError} When `json` is not an object or a field has the wrong type, naming it.
 * @example
 * ```ts
 * costOptionsFrom({ costPerTurnBps: 10, slippageBps: 5, window: 1 }, "episode 3 config.env");
 * // { costPerTurnBps: 10, slippageBps: 5 }
 * ```
 */
export function costOptionsFrom(json: unknown, where: string): CostOptions {
  if (json === undefined || json === null) return {};
  if (typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError(`${where}: cost settings must be an object, got ${JSON.stringify(json)}`);
  }
  const rec = json as Record<string, unknown>;
  const out: CostOptions = {};
  for (const k of NUMERIC_COST_KEYS) {
    const v = rec[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number") {
      throw new TypeError(`${where}: ${k} must be a number, got ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  const fm = rec.feeModel;
  if (fm !== undefined && fm !== null) {
    if (typeof fm !== "string" || !(FEE_MODELS as readonly string[]).includes(fm)) {
      throw new TypeError(
        `${where}: feeModel must be one of ${FEE_MODELS.join(", ")}, got ${JSON.stringify(fm)}`,
      );
    }
    out.feeModel = fm as FeeModel;
  }
  return out;
}

/**
 * One line describing cost settings, for rationales and reports.
 * @param costs Resolved settings.
 * @returns E.g. `"commission 10 bps, slippage 5 bps"`.
 * @example
 * ```ts
 * describeCosts(resolveCostOptions({ feeModel: "ibkr-fixed", impactK: 0.5 }));
 * // "IBKR fixed commission (USD 0.005/share, min USD 1, max 1 % of trade value), slippage 5 bps, impact k 0.5"
 * ```
 */
export function describeCosts(costs: ResolvedCostOptions): string {
  const f = IBKR_FIXED;
  const commission = costs.feeModel === "ibkr-fixed"
    ? `IBKR fixed commission (USD ${f.perShare}/share, min USD ${f.minPerOrder}, max ${
      f.maxFractionOfValue * 100
    } % of trade value)`
    : `commission ${costs.costPerTurnBps} bps`;
  return `${commission}, slippage ${costs.slippageBps} bps` +
    (costs.impactK > 0 ? `, impact k ${costs.impactK}` : "");
}

/**
 * Interactive Brokers' *IBKR Pro Fixed* schedule for US stocks and ETFs
 * (https://www.interactivebrokers.com/en/pricing/commissions-stocks.php, "Fixed"
 * column for the United States; its examples: 100 shares at USD 25 → USD 1.00,
 * 1,000 at USD 25 → USD 5.00, 1,000 at USD 0.25 → USD 2.50): USD 0.005 per share, minimum USD 1.00 per order, maximum 1 % of the trade
 * value. It includes exchange and most regulatory fees; the pass-through transaction
 * fees on sales, the lower minimum for fractional-share orders (USD 0.01) and volume
 * tiers are not modelled. Amounts are in the account currency, assumed USD.
 */
export const IBKR_FIXED = Object.freeze({
  /** USD per share. */
  perShare: 0.005,
  /** USD per order, at least. */
  minPerOrder: 1,
  /** Fraction of the trade value, at most. */
  maxFractionOfValue: 0.01,
});

/**
 * IBKR Fixed commission of one order (see {@linkcode IBKR_FIXED}):
 * `min(max(0.005 · shares, 1.00), 0.01 · shares · price)`; 0 for no shares.
 * @param shares Shares in the order (sign ignored; fractional allowed).
 * @param price Fill price per share, USD.
 * @returns The commission, USD.
 * @example
 * ```ts
 * ibkrFixedCommission(100, 50); // 1 (the minimum)
 * ibkrFixedCommission(10_000, 20); // 50
 * ibkrFixedCommission(1_000, 0.3); // 3 (capped at 1 % of USD 300)
 * ```
 */
export function ibkrFixedCommission(shares: number, price: number): number {
  return ibkrFee(shares, shares * price);
}

function ibkrFee(shares: number, tradeValue: number): number {
  const q = Math.abs(shares);
  if (q === 0) return 0;
  const f = IBKR_FIXED;
  return Math.min(
    Math.max(q * f.perShare, f.minPerOrder),
    Math.abs(tradeValue) * f.maxFractionOfValue,
  );
}

/** One step's orders, one entry per instrument (0 where it did not trade). */
export interface StepOrders {
  /** Signed traded notional per instrument (units × fill price), in currency. */
  notional: ArrayLike<number>;
  /** Signed traded units (shares) per instrument. */
  units: ArrayLike<number>;
  /** Trailing return volatility per instrument at the decision bar (NaN when unknown). */
  sigma: ArrayLike<number>;
  /** Trailing average dollar volume per instrument at the decision bar (NaN when unknown). */
  adv: ArrayLike<number>;
}

/** What one step's orders cost, in currency. */
export interface StepCosts {
  /** Commission, by the fee model. */
  commission: number;
  /** Fixed slippage plus impact. */
  slippage: number;
  /** The impact part of `slippage`. */
  impact: number;
  /** Absolute traded notional, summed over instruments. */
  notional: number;
  /** Orders placed: instruments with a non-zero trade. */
  orders: number;
}

/**
 * The costs of one step's orders: commission by the fee model (one order per
 * instrument traded), fixed slippage and square-root impact per instrument. This is
 * the only place costs are computed; the simulator calls it for every step.
 * @param orders Traded notional, units and impact inputs per instrument.
 * @param costs Resolved cost settings.
 * @returns Commission, slippage (with its impact part), notional and order count.
 * @throws {TypeError} When the arrays' lengths differ.
 * @example
 * ```ts
 * const c = stepCosts(
 *   { notional: [5_000, -2_000], units: [100, -40], sigma: [NaN, NaN], adv: [NaN, NaN] },
 *   resolveCostOptions({ costPerTurnBps: 10, slippageBps: 5 }),
 * );
 * c.commission; // 7  (10 bps of 7,000)
 * c.slippage; // 3.5
 * ```
 */
export function stepCosts(orders: StepOrders, costs: ResolvedCostOptions): StepCosts {
  const n = orders.notional.length;
  if (orders.units.length !== n || orders.sigma.length !== n || orders.adv.length !== n) {
    throw new TypeError(
      `stepCosts(): notional, units, sigma, adv have ${n}, ${orders.units.length}, ` +
        `${orders.sigma.length}, ${orders.adv.length} entries; expected one per instrument`,
    );
  }
  const ibkr = costs.feeModel === "ibkr-fixed";
  let notional = 0, slippage = 0, impact = 0, fees = 0, count = 0;
  for (let i = 0; i < n; i++) {
    const q = orders.notional[i];
    if (q === 0) continue;
    count++;
    notional += Math.abs(q);
    if (ibkr) fees += ibkrFee(orders.units[i], q);
    const s = slippageCost(q, orders.sigma[i], orders.adv[i], costs);
    slippage += s.fixed + s.impact;
    impact += s.impact;
  }
  // bps: on the summed notional, as the seed's apply_transaction_costs.
  const commission = ibkr ? fees : applyTransactionCosts(notional, costs.costPerTurnBps);
  return { commission, slippage, impact, notional, orders: count };
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
