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

/** Settings of {@linkcode ScaledLogReturnReward}. */
export interface ScaledLogReturnOptions {
  /** Multiplier of the log return (100: the reward is in percent). Default 100. */
  scale?: number;
  /** Weight λ_v of the squared-deviation (variance) penalty. Default 0 (off). */
  volPenalty?: number;
  /** Weight λ_d of the drawdown-deepening penalty. Default 0 (off). */
  drawdownPenalty?: number;
  /** Past scaled returns in the mean the deviation is taken from. Default 20. */
  window?: number;
}

/** The defaults of {@linkcode ScaledLogReturnOptions} (the one place they are written). */
export const DEFAULT_SCALED_LOG_RETURN_OPTIONS: Readonly<Required<ScaledLogReturnOptions>> = Object
  .freeze({ scale: 100, volPenalty: 0, drawdownPenalty: 0, window: 20 });

/**
 * Log net return, scaled so that PPO's value targets are O(1), with optional
 * volatility and drawdown penalties. All terms are in the scaled unit:
 *
 *     x_t       = scale · log(next.netWorth / prev.netWorth)      (floored like log-return)
 *     volTerm   = λ_v · (x_t - x̄)²,  x̄ = mean of the previous `window` x (0 with none)
 *     ddTerm    = λ_d · scale · max(0, DD_next - DD_prev),  DD = 1 - netWorth / peak
 *     reward    = x_t - volTerm - ddTerm
 *
 * Why ×100: a diversified daily portfolio moves about 1 % a bar, so the raw log return
 * is O(0.01) and its discounted sums O(0.1) — value targets far below the O(1) scale
 * PPO's value head is initialised for and its value-loss coefficient assumes, so the
 * critic learns slowly and the advantage noise dominates. ×100 (percent log return)
 * makes a bar's reward O(1) with no state, no warm-up and no look-ahead, and keeps a
 * return worth the same in calm and volatile regimes (dividing by a trailing
 * volatility would reward the same gain more after a calm spell, which changes the
 * objective). The log keeps rewards additive: their undiscounted sum is `scale` times
 * the episode's log growth, costs included (the simulator charged them).
 * The variance term is the per-bar part of a mean-variance utility (its sum is about
 * `λ_v · T · Var(x)`); the drawdown term charges only a deepening of the drawdown, so
 * a long flat drawdown is not charged again every bar.
 * Terms: `logReturn` (unscaled), `scaledReturn` (x_t), `volPenalty`, `drawdownPenalty`.
 */
export class ScaledLogReturnReward implements RewardScheme {
  readonly name = "log-return-scaled";
  readonly #scale: number;
  readonly #lv: number;
  readonly #ld: number;
  readonly #window: number;
  #past: number[] = [];

  /**
   * @param options Scale, penalty weights and window.
   * @example
   * ```ts
   * const reward = new ScaledLogReturnReward({ scale: 100, drawdownPenalty: 0.5 });
   * ```
   */
  constructor(options: ScaledLogReturnOptions = {}) {
    const d = DEFAULT_SCALED_LOG_RETURN_OPTIONS;
    this.#scale = options.scale ?? d.scale;
    this.#lv = options.volPenalty ?? d.volPenalty;
    this.#ld = options.drawdownPenalty ?? d.drawdownPenalty;
    this.#window = options.window ?? d.window;
    if (!(this.#scale > 0) || !Number.isFinite(this.#scale)) {
      throw new RangeError(`ScaledLogReturnReward: scale = ${this.#scale} must be > 0`);
    }
    if (!(this.#lv >= 0) || !(this.#ld >= 0)) {
      throw new RangeError(
        `ScaledLogReturnReward: volPenalty = ${this.#lv} and drawdownPenalty = ${this.#ld} must be ≥ 0`,
      );
    }
    if (!Number.isInteger(this.#window) || this.#window < 1) {
      throw new RangeError(
        `ScaledLogReturnReward: window = ${this.#window} must be an integer ≥ 1`,
      );
    }
  }

  /** Clears the return history. */
  reset(_initial?: PortfolioState): void {
    this.#past = [];
  }

  /**
   * @param prev Before.
   * @param next After.
   * @returns Reward with terms `logReturn`, `scaledReturn`, `volPenalty`, `drawdownPenalty`.
   * @example
   * ```ts
   * new ScaledLogReturnReward().reward(prev, next).reward; // 100 · log(next / prev)
   * ```
   */
  reward(prev: PortfolioState, next: PortfolioState): RewardResult {
    const logReturn = Math.log(Math.max(LOG_RETURN_FLOOR, next.netWorth / prev.netWorth));
    const x = this.#scale * logReturn;
    let volPenalty = 0;
    if (this.#lv > 0) {
      let mean = 0;
      for (const p of this.#past) mean += p;
      if (this.#past.length > 0) mean /= this.#past.length;
      volPenalty = this.#lv * (x - mean) * (x - mean);
    }
    this.#past.push(x);
    if (this.#past.length > this.#window) this.#past.shift();
    let drawdownPenalty = 0;
    if (this.#ld > 0) {
      const ddPrev = 1 - prev.netWorth / prev.peakNetWorth;
      const ddNext = 1 - next.netWorth / next.peakNetWorth;
      drawdownPenalty = this.#ld * this.#scale * Math.max(0, ddNext - ddPrev);
    }
    const reward = x - volPenalty - drawdownPenalty;
    return { reward, terms: { logReturn, scaledReturn: x, volPenalty, drawdownPenalty } };
  }
}

/** Settings of {@linkcode DifferentialSharpeReward}. */
export interface DsrOptions {
  /** Adaptation rate η of the moving moments. Default 0.01. */
  eta?: number;
  /**
   * Prior per-bar volatility σ₀: the moments start at `A_0 = 0`, `B_0 = σ₀²` (one
   * pseudo-observation). Default 0.01 (≈ 16 % a year on daily bars). 0: start at 0.
   */
  priorVol?: number;
  /**
   * Warm-up: the rate is `η_t = max(η, 1/(t + 1))` at the t-th return, so the moments
   * are plain averages of the prior and the first returns until `t ≈ 1/η`, then the
   * EWMA. False: η from the first return. Default true.
   */
  warmup?: boolean;
  /** Floor of the volatility in the denominator, per bar. Default 0.001. */
  minVol?: number;
  /** Bound c of the output, `c · tanh(D / c)`; `Infinity` for the raw `D`. Default 3. */
  bound?: number;
}

/**
 * The differential Sharpe ratio (Moody & Saffell 1998/2001), warmed up and bounded.
 * With `R_t` the net return and the moving moments
 * `A_t = A_{t-1} + η_t(R_t - A_{t-1})`, `B_t = B_{t-1} + η_t(R_t² - B_{t-1})`,
 *
 *     D_t = (B_{t-1}·ΔA_t - ½·A_{t-1}·ΔB_t) / max(B_{t-1} - A_{t-1}², minVol²)^{3/2}
 *     reward = bound · tanh(D_t / bound)
 *
 * where `ΔA_t = R_t - A_{t-1}`, `ΔB_t = R_t² - B_{t-1}`. The moments start at the prior
 * `A_0 = 0`, `B_0 = priorVol²` and, with `warmup`, use `η_t = max(η, 1/(t+1))`: the
 * first return is averaged with the prior rather than replacing it, so the variance
 * estimate is never ~0 at the start (the old start at `A = B = 0` divided the second
 * step by `|R_1|³`-small numbers: episode returns of ±100,000). Near `A ≈ 0`,
 * `D_t ≈ R_t / σ`, a z-score: O(1) per bar; `tanh` leaves |D| ≲ 1 nearly unchanged and
 * bounds the rare shock (a crash after a calm spell) at `bound`. When the variance
 * (after the floor) is not positive `D_t = 0`. Terms: `dsr` (the reward), `rawDsr`
 * (`D_t`), `return` (R_t), `meanA`, `secondMomentB` (after the update).
 */
export class DifferentialSharpeReward implements RewardScheme {
  readonly name = "dsr";
  readonly eta: number;
  readonly #b0: number;
  readonly #warmup: boolean;
  readonly #minVar: number;
  readonly #bound: number;
  #a = 0;
  #b = 0;
  #t = 0;

  /**
   * @param options η, prior, warm-up, floor and bound.
   * @example
   * ```ts
   * const reward = new DifferentialSharpeReward({ eta: 0.01, bound: 3 });
   * ```
   */
  constructor(options: DsrOptions = {}) {
    this.eta = options.eta ?? 0.01;
    if (!(this.eta > 0 && this.eta <= 1)) {
      throw new RangeError(`DSR eta = ${this.eta} must be in (0, 1]`);
    }
    const priorVol = options.priorVol ?? 0.01;
    const minVol = options.minVol ?? 0.001;
    this.#bound = options.bound ?? 3;
    this.#warmup = options.warmup ?? true;
    if (
      !(priorVol >= 0) || !Number.isFinite(priorVol) || !(minVol >= 0) || !Number.isFinite(minVol)
    ) {
      throw new RangeError(
        `DSR priorVol = ${priorVol} and minVol = ${minVol} must be finite and ≥ 0`,
      );
    }
    if (!(this.#bound > 0)) throw new RangeError(`DSR bound = ${this.#bound} must be > 0`);
    this.#b0 = priorVol * priorVol;
    this.#minVar = minVol * minVol;
    this.#b = this.#b0;
  }

  /** Sets the moments back to the prior (`A = 0`, `B = priorVol²`). */
  reset(_initial?: PortfolioState): void {
    this.#a = 0;
    this.#b = this.#b0;
    this.#t = 0;
  }

  /**
   * @param prev Before.
   * @param next After.
   * @returns The bounded `D_t` and its terms.
   * @example
   * ```ts
   * scheme.reward(prev, next).terms.dsr;
   * ```
   */
  reward(prev: PortfolioState, next: PortfolioState): RewardResult {
    const r = netReturn(prev, next);
    const rawDsr = differentialSharpe(this.#a, this.#b, r, this.#minVar);
    const c = this.#bound;
    const d = Number.isFinite(c) ? c * Math.tanh(rawDsr / c) : rawDsr;
    this.#t++;
    const eta = this.#warmup ? Math.max(this.eta, 1 / (this.#t + 1)) : this.eta;
    this.#a += eta * (r - this.#a);
    this.#b += eta * (r * r - this.#b);
    return {
      reward: d,
      terms: { dsr: d, rawDsr, return: r, meanA: this.#a, secondMomentB: this.#b },
    };
  }
}

/**
 * One differential Sharpe ratio value.
 * @param a `A_{t-1}`.
 * @param b `B_{t-1}`.
 * @param r `R_t`.
 * @param minVariance Floor of the variance `b - a²` in the denominator. Default 0.
 * @returns `D_t`, 0 when the (floored) variance is not positive.
 * @example
 * ```ts
 * differentialSharpe(0.01, 0.0002, 0.02); // (0.0002·0.01 - ½·0.01·0.0002) / 0.0001^1.5 = 1
 * ```
 */
export function differentialSharpe(a: number, b: number, r: number, minVariance = 0): number {
  const variance = Math.max(b - a * a, minVariance);
  if (!(variance > 0)) return 0;
  return (b * (r - a) - 0.5 * a * (r * r - b)) / (variance * Math.sqrt(variance));
}
