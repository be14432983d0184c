/**
 * The market simulator: the one place where orders are executed, costs and slippage
 * are charged and net worth is computed. It owns the portfolio (cash and units per
 * instrument) and changes it only through {@linkcode MarketSimulator.step}.
 *
 * Timing (no look-ahead): the portfolio is observed at the close of bar `t`; the
 * target weights decided there are executed at bar `t+1` — at its open
 * (`executeAt: "open"`, the default) or its close (`"close"`) — and the portfolio is
 * then marked at the close of `t+1`.
 *
 * Rules, in full:
 * - Units bought/sold: `target_i · W / p_i` where `W` is net worth marked at the
 *   execution prices `p` and `target_i` the target weight. Costs and slippage are
 *   then taken from cash, so after a trade to weights summing to 1 cash is slightly
 *   negative (the costs): weights are targets before costs.
 * - Commission, slippage and impact come from the one cost model, `stepCosts` in
 *   `costs.ts` (commission by its fee model: bps of traded notional, or IBKR fixed
 *   per-share pricing with one order per instrument traded in the step; slippage =
 *   `slippageBps` of notional plus the square-root impact term), charged as cash,
 *   which is the same as filling at a worse price. Impact inputs `σ`, `ADV` are
 *   taken at the decision bar `t`.
 * - `step(null)` places no order: units are kept (weights drift with prices) and
 *   nothing is charged; that is how a buy & hold holds.
 * - An instrument without a valid (finite, positive) execution price at `t+1` cannot
 *   trade: its units are kept and the other instruments trade to their targets.
 * - Marking uses the last known close (carried forward over missing bars); an
 *   instrument that has not traded yet has no price and must hold 0 units.
 * - Shorts are units below 0 (cash rises when shorting); no borrow fees or margin.
 *
 * @module
 */
import type { PricePanel } from "../data/panel.ts";
import { type ResolvedCostOptions, stepCosts, trailingImpactInputs } from "./costs.ts";

/** When the order decided at bar t is filled. */
export const EXECUTION_TIMES = ["open", "close"] as const;
/** `"open"`: at the open of bar t+1; `"close"`: at its close. */
export type ExecuteAt = typeof EXECUTION_TIMES[number];

/** The portfolio as seen at the close of bar `t`, plus what the step into it cost. */
export interface PortfolioState {
  /** Bar index of the close it is marked at. */
  t: number;
  /** Steps taken since reset. */
  steps: number;
  /** Cash plus units marked at the close of `t`. */
  netWorth: number;
  /** Highest net worth of the episode so far (including this one). */
  peakNetWorth: number;
  /** Net worth at reset. */
  initialNetWorth: number;
  cash: number;
  /** Position value / net worth per instrument (cash is `1 - sum`). */
  weights: Float64Array;
  /** Commission paid in the step that led here (0 after reset). */
  cost: number;
  /** Slippage (fixed + impact) paid in the step that led here. */
  slippage: number;
  /** The impact part of `slippage`. */
  impact: number;
  /** Traded notional / net worth at execution prices, in the step that led here. */
  turnover: number;
}

/** What happened at the execution bar. */
export interface ExecutionReport {
  /** Bar index of the fill (`t + 1`). */
  bar: number;
  /** Fill price per instrument (NaN where it could not trade). */
  prices: Float64Array;
  /** Signed traded notional per instrument (0 where it could not trade). */
  traded: Float64Array;
  /** Signed traded units (shares) per instrument (0 where it did not trade). */
  units: Float64Array;
  /** 1 where the instrument could trade. */
  tradable: Uint8Array;
  /** Net worth marked at the execution prices, before the trade. */
  netWorthAtExecution: number;
  cost: number;
  slippage: number;
  impact: number;
  turnover: number;
}

/** Per-bar arrays derived once from a price panel (all `T × N`, time-major). */
export interface MarketData {
  n: number;
  length: number;
  timestamps: number[];
  /** Last known close at or before t (NaN before the instrument's first bar). */
  mark: Float64Array;
  /** Open at t where valid, else NaN. */
  open: Float64Array;
  /** Close at t where valid, else NaN. */
  close: Float64Array;
  /** `close_t / close_{t-1} - 1` where both exist, else NaN. */
  returns: Float64Array;
  /** Trailing return volatility for the impact model (see `costs.ts`). */
  sigma: Float64Array;
  /** Trailing average dollar volume for the impact model. */
  adv: Float64Array;
}

/**
 * Derives the simulator's arrays from a price panel.
 * @param prices The panel.
 * @param impactLookback Window of the impact model's `σ` and `ADV`.
 * @returns The derived arrays.
 * @throws {TypeError} When the panel's arrays do not match its instruments × calendar.
 * @example
 * ```ts
 * const market = prepareMarket(panel, 20);
 * ```
 */
export function prepareMarket(prices: PricePanel, impactLookback = 20): MarketData {
  const n = prices.instruments.length;
  const T = prices.timestamps.length;
  for (const k of ["open", "high", "low", "close", "volume"] as const) {
    if (prices[k].length !== n * T) {
      throw new TypeError(`Price panel ${k} has ${prices[k].length} entries, expected ${T}×${n}`);
    }
  }
  const valid = (x: number) => Number.isFinite(x) && x > 0 ? x : NaN;
  const mark = new Float64Array(n * T).fill(NaN);
  const open = new Float64Array(n * T);
  const close = new Float64Array(n * T);
  const returns = new Float64Array(n * T).fill(NaN);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < n; i++) {
      const k = t * n + i;
      open[k] = valid(prices.open[k]);
      close[k] = valid(prices.close[k]);
      mark[k] = Number.isNaN(close[k]) ? (t > 0 ? mark[k - n] : NaN) : close[k];
      if (t > 0 && !Number.isNaN(close[k]) && !Number.isNaN(close[k - n])) {
        returns[k] = close[k] / close[k - n] - 1;
      }
    }
  }
  const { sigma, adv } = trailingImpactInputs(returns, close, prices.volume, n, impactLookback);
  return { n, length: T, timestamps: prices.timestamps, mark, open, close, returns, sigma, adv };
}

/** Settings of a {@linkcode MarketSimulator}. */
export interface SimulatorOptions {
  executeAt: ExecuteAt;
  costs: Readonly<ResolvedCostOptions>;
  /** Cash at reset. */
  initialCash: number;
}

/** Executes target weights bar by bar; see the module documentation for the rules. */
export class MarketSimulator {
  readonly #m: MarketData;
  readonly #o: SimulatorOptions;
  #t = -1;
  #steps = 0;
  #cash = 0;
  #units: Float64Array;
  #peak = 0;
  #last: PortfolioState | null = null;

  /**
   * @param market Arrays from {@linkcode prepareMarket}.
   * @param options Execution time, costs and initial cash.
   * @example
   * ```ts
   * const sim = new MarketSimulator(prepareMarket(panel), { executeAt: "open", costs: resolveCostOptions(), initialCash: 1e6 });
   * ```
   */
  constructor(market: MarketData, options: SimulatorOptions) {
    if (!(options.initialCash > 0)) {
      throw new RangeError(`initialCash = ${options.initialCash} must be > 0`);
    }
    this.#m = market;
    this.#o = options;
    this.#units = new Float64Array(market.n);
  }

  /** The arrays it simulates on. */
  get market(): MarketData {
    return this.#m;
  }

  /**
   * Starts with all cash at the close of bar `t`.
   * @param t Bar index; must leave at least one bar to execute at.
   * @returns The initial state.
   * @throws {RangeError} When `t` is not in `[0, T-2]`.
   * @example
   * ```ts
   * const s0 = sim.reset(20); // all cash at the close of bar 20
   * ```
   */
  reset(t: number): PortfolioState {
    if (!Number.isInteger(t) || t < 0 || t > this.#m.length - 2) {
      throw new RangeError(
        `Simulator reset at bar ${t}: must be an integer in [0, ${this.#m.length - 2}]`,
      );
    }
    this.#t = t;
    this.#steps = 0;
    this.#cash = this.#o.initialCash;
    this.#units.fill(0);
    this.#peak = this.#o.initialCash;
    this.#last = this.#snapshot(0, 0, 0, 0);
    return this.#last;
  }

  /** The current state (a copy). @throws {Error} Before the first reset. */
  get state(): PortfolioState {
    if (this.#last === null) throw new Error("MarketSimulator.state read before reset()");
    return { ...this.#last, weights: this.#last.weights.slice() };
  }

  /** Whether another step is possible (a bar after the current one exists). */
  get canStep(): boolean {
    return this.#t >= 0 && this.#t < this.#m.length - 1;
  }

  /**
   * Executes target weights at bar `t+1`, charges costs and slippage, marks at the
   * close of `t+1` and advances to it.
   * @param targetWeights One target weight per instrument (cash is the rest), or
   *   `null` to place no order (hold every unit; nothing is charged).
   * @param hold Optional, 1 where an instrument must not trade (it keeps its units), e.g.
   *   inside a rebalance band (`friction.ts`). Default: none held.
   * @returns The new state and what the execution did.
   * @throws {RangeError} At the last bar, or before reset.
   * @throws {TypeError} When `targetWeights` has the wrong length or a non-finite entry.
   * @example
   * ```ts
   * const { state, execution } = sim.step(new Float64Array([0.5, -0.5]));
   * state.netWorth; execution.cost; execution.slippage;
   * sim.step(null); // hold
   * ```
   */
  step(
    targetWeights: ArrayLike<number> | null,
    hold?: ArrayLike<number>,
  ): { state: PortfolioState; execution: ExecutionReport } {
    const m = this.#m, n = m.n;
    if (!this.canStep) {
      throw new RangeError(
        `MarketSimulator.step() at bar ${this.#t}: no next bar to execute at (reset first)`,
      );
    }
    if (targetWeights !== null && targetWeights.length !== n) {
      throw new TypeError(
        `MarketSimulator.step(): ${targetWeights.length} target weights for ${n} instruments`,
      );
    }
    if (hold !== undefined && hold.length !== n) {
      throw new TypeError(`MarketSimulator.step(): hold has ${hold.length} entries for ${n}`);
    }
    for (let i = 0; targetWeights !== null && i < n; i++) {
      if (!Number.isFinite(targetWeights[i])) {
        throw new TypeError(`MarketSimulator.step(): target weight ${i} is ${targetWeights[i]}`);
      }
    }
    const d = this.#t; // decision bar
    const b = d + 1; // execution bar
    const px = this.#o.executeAt === "open" ? m.open : m.close;
    const prices = new Float64Array(n);
    const tradable = new Uint8Array(n);
    // Net worth at execution: fill price where there is one, else the last mark.
    let wealth = this.#cash;
    for (let i = 0; i < n; i++) {
      const p = px[b * n + i];
      prices[i] = p;
      // A fill also needs a mark at b's close, or the position could not be valued.
      tradable[i] = Number.isNaN(p) || Number.isNaN(m.mark[b * n + i]) ? 0 : 1;
      if (this.#units[i] !== 0) {
        const ref = tradable[i]
          ? p
          : (this.#o.executeAt === "open" ? m.mark[d * n + i] : m.mark[b * n + i]);
        wealth += this.#units[i] * ref;
      }
    }
    const traded = new Float64Array(n);
    const units = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (!tradable[i]) {
        prices[i] = NaN;
        continue;
      }
      if (targetWeights === null || hold?.[i]) continue; // no order: units kept, nothing traded or charged
      const target = targetWeights[i] * wealth / prices[i];
      const dq = target - this.#units[i];
      if (dq === 0) continue;
      const q = dq * prices[i];
      traded[i] = q;
      units[i] = dq;
      this.#units[i] = target;
      this.#cash -= q;
    }
    const charged = stepCosts({
      notional: traded,
      units,
      sigma: m.sigma.subarray(d * n, d * n + n),
      adv: m.adv.subarray(d * n, d * n + n),
    }, this.#o.costs);
    const cost = charged.commission, slip = charged.slippage, impact = charged.impact;
    this.#cash -= cost + slip;
    const turnover = wealth !== 0 ? charged.notional / Math.abs(wealth) : 0;
    this.#t = b;
    this.#steps++;
    const state = this.#snapshot(cost, slip, impact, turnover);
    this.#last = state;
    return {
      state: { ...state, weights: state.weights.slice() },
      execution: {
        bar: b,
        prices,
        traded,
        units,
        tradable,
        netWorthAtExecution: wealth,
        cost,
        slippage: slip,
        impact,
        turnover,
      },
    };
  }

  #snapshot(cost: number, slippage: number, impact: number, turnover: number): PortfolioState {
    const m = this.#m, n = m.n, t = this.#t;
    let nw = this.#cash;
    for (let i = 0; i < n; i++) if (this.#units[i] !== 0) nw += this.#units[i] * m.mark[t * n + i];
    if (nw > this.#peak) this.#peak = nw;
    const weights = new Float64Array(n);
    if (nw !== 0) {
      for (let i = 0; i < n; i++) {
        if (this.#units[i] !== 0) weights[i] = this.#units[i] * m.mark[t * n + i] / nw;
      }
    }
    return {
      t,
      steps: this.#steps,
      netWorth: nw,
      peakNetWorth: this.#peak,
      initialNetWorth: this.#o.initialCash,
      cash: this.#cash,
      weights,
      cost,
      slippage,
      impact,
      turnover,
    };
  }
}
