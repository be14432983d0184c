/**
 * Reward schemes: each maps the portfolio state before a step and after it to a
 * number, and reports its terms separately. Costs and slippage are already in the
 * net worth (the simulator charged them), so every "return" here is net of costs.
 * A scheme may keep running statistics of the episode's own returns (the
 * differential Sharpe ratio's moving moments); `reset` clears them.
 *
 * @module
 */
import type { PortfolioState } from "./simulator.ts";

/** A reward and its named terms. */
export interface RewardResult {
  reward: number;
  /** Terms by name; see each scheme for how they combine. */
  terms: Record<string, number>;
}

/** Maps `(prev, next)` portfolio states to a reward. */
export interface RewardScheme {
  /** Registry name, e.g. `"dsr"`. */
  readonly name: string;
  /** Forgets the previous episode. @param initial The state at reset. */
  reset(initial: PortfolioState): void;
  /**
   * @param prev State at the decision bar's close.
   * @param next State one bar later, after execution and costs.
   * @returns The reward and its terms.
   */
  reward(prev: PortfolioState, next: PortfolioState): RewardResult;
}

/**
 * Net simple return of a step: `next.netWorth / prev.netWorth - 1`.
 * @param prev Before.
 * @param next After.
 * @returns The return (costs included).
 * @example
 * ```ts
 * netReturn(prev, next);
 * ```
 */
export function netReturn(prev: PortfolioState, next: PortfolioState): number {
  return next.netWorth / prev.netWorth - 1;
}

/** Settings of {@linkcode RiskAwareReward}. */
export interface RiskAwareOptions {
  /** Weight of the volatility penalty. Default 0.1. */
  volPenalty?: number;
  /** Weight of the drawdown penalty. Default 0.1. */
  drawdownPenalty?: number;
  /** Net returns in the trailing volatility (including this step's). Default 20. */
  window?: number;
}

/**
 * Return net of costs minus penalties on volatility and drawdown (Sharpe-like):
 *
 *     reward = grossReturn + costs - volPenalty - drawdownPenalty
 *
 * with terms `grossReturn` = return before this step's costs and slippage,
 * `costs` = `-(cost + slippage) / prev.netWorth` (so `grossReturn + costs` is the net
 * return exactly), `volPenalty` = `volPenalty · std(last window net returns)` (ddof 1;
 * 0 with fewer than 2), `drawdownPenalty` = `drawdownPenalty · (1 - netWorth / peak)`.
 */
export class RiskAwareReward implements RewardScheme {
  readonly name = "risk-aware";
  readonly #lv: number;
  readonly #ld: number;
  readonly #window: number;
  #returns: number[] = [];

  /**
   * @param options Penalty weights and window.
   * @example
   * ```ts
   * const reward = new RiskAwareReward({ volPenalty: 0.2 });
   * ```
   */
  constructor(options: RiskAwareOptions = {}) {
    this.#lv = options.volPenalty ?? 0.1;
    this.#ld = options.drawdownPenalty ?? 0.1;
    this.#window = options.window ?? 20;
    if (!(this.#lv >= 0) || !(this.#ld >= 0)) {
      throw new RangeError("RiskAwareReward: penalties must be ≥ 0");
    }
    if (!Number.isInteger(this.#window) || this.#window < 2) {
      throw new RangeError(`RiskAwareReward: window = ${this.#window} must be an integer ≥ 2`);
    }
  }

  /** Clears the return history. */
  reset(_initial?: PortfolioState): void {
    this.#returns = [];
  }

  /**
   * @param prev Before.
   * @param next After.
   * @returns Reward with terms `grossReturn`, `costs`, `volPenalty`, `drawdownPenalty`.
   * @example
   * ```ts
   * const { reward, terms } = scheme.reward(prev, next);
   * ```
   */
  reward(prev: PortfolioState, next: PortfolioState): RewardResult {
    const r = netReturn(prev, next);
    const costs = -(next.cost + next.slippage) / prev.netWorth;
    const grossReturn = r - costs;
    this.#returns.push(r);
    if (this.#returns.length > this.#window) this.#returns.shift();
    const vol = sampleStd(this.#returns);
    const volPenalty = this.#lv * vol;
    const drawdownPenalty = this.#ld * (1 - next.netWorth / next.peakNetWorth);
    const reward = grossReturn + costs - volPenalty - drawdownPenalty;
    return { reward, terms: { grossReturn, costs, volPenalty, drawdownPenalty } };
  }
}

function sampleStd(xs: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  let m = 0;
  for (const x of xs) m += x;
  m /= n;
  let v = 0;
  for (const x of xs) v += (x - m) * (x - m);
  return Math.sqrt(v / (n - 1));
}

/** Smallest wealth ratio in the log: keeps the reward finite when net worth hits 0. */
export const LOG_RETURN_FLOOR = 1e-12;

/**
 * Log return of net worth: `log(next.netWorth / prev.netWorth)`, the ratio floored at
 * {@linkcode LOG_RETURN_FLOOR} so the reward stays finite on bankruptcy. Term:
 * `logReturn`.
 */
export class LogReturnReward implements RewardScheme {
  readonly name = "log-return";

  /** Nothing to clear. */
  reset(_initial?: PortfolioState): void {}

  /**
   * @param prev Before.
   * @param next After.
   * @returns The log return.
   * @example
   * ```ts
   * new LogReturnReward().reward(prev, next).reward;
   * ```
   */
  reward(prev: PortfolioState, next: PortfolioState): RewardResult {
    const logReturn = Math.log(Math.max(LOG_RETURN_FLOOR, next.netWorth / prev.netWorth));
    return { reward: logReturn, terms: { logReturn } };
  }
}

/** Settings of {@linkcode DifferentialSharpeReward}. */
export interface DsrOptions {
  /** Adaptation rate η of the moving moments. Default 0.01. */
  eta?: number;
}

/**
 * The differential Sharpe ratio (Moody & Saffell 1998/2001). With `R_t` the net
 * return and the moving moments `A_t = A_{t-1} + η(R_t - A_{t-1})`,
 * `B_t = B_{t-1} + η(R_t² - B_{t-1})` (both 0 at reset),
 *
 *     D_t = (B_{t-1}·ΔA_t - ½·A_{t-1}·ΔB_t) / (B_{t-1} - A_{t-1}²)^{3/2}
 *
 * where `ΔA_t = R_t - A_{t-1}`, `ΔB_t = R_t² - B_{t-1}`. When the variance estimate
 * `B_{t-1} - A_{t-1}²` is not positive (the first step) `D_t = 0`. Terms: `dsr`,
 * `return` (R_t), `meanA`, `secondMomentB` (after the update).
 */
export class DifferentialSharpeReward implements RewardScheme {
  readonly name = "dsr";
  readonly eta: number;
  #a = 0;
  #b = 0;

  /**
   * @param options η.
   * @example
   * ```ts
   * const reward = new DifferentialSharpeReward({ eta: 0.01 });
   * ```
   */
  constructor(options: DsrOptions = {}) {
    this.eta = options.eta ?? 0.01;
    if (!(this.eta > 0 && this.eta <= 1)) {
      throw new RangeError(`DSR eta = ${this.eta} must be in (0, 1]`);
    }
  }

  /** Sets both moving moments to 0. */
  reset(_initial?: PortfolioState): void {
    this.#a = 0;
    this.#b = 0;
  }

  /**
   * @param prev Before.
   * @param next After.
   * @returns `D_t` and its terms.
   * @example
   * ```ts
   * scheme.reward(prev, next).terms.dsr;
   * ```
   */
  reward(prev: PortfolioState, next: PortfolioState): RewardResult {
    const r = netReturn(prev, next);
    const d = differentialSharpe(this.#a, this.#b, r);
    this.#a += this.eta * (r - this.#a);
    this.#b += this.eta * (r * r - this.#b);
    return { reward: d, terms: { dsr: d, return: r, meanA: this.#a, secondMomentB: this.#b } };
  }
}

/**
 * One differential Sharpe ratio value.
 * @param a `A_{t-1}`.
 * @param b `B_{t-1}`.
 * @param r `R_t`.
 * @returns `D_t`, 0 when `b - a²` is not positive.
 * @example
 * ```ts
 * differentialSharpe(0.01, 0.0002, 0.02); // (0.0002·0.01 - ½·0.01·0.0002) / 0.0001^1.5 = 1
 * ```
 */
export function differentialSharpe(a: number, b: number, r: number): number {
  const variance = b - a * a;
  if (!(variance > 0)) return 0;
  return (b * (r - a) - 0.5 * a * (r * r - b)) / (variance * Math.sqrt(variance));
}
