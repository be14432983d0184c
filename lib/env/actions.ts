/**
 * Action schemes: pure maps from an agent's action to target portfolio weights.
 * A scheme receives everything it needs in an {@linkcode ActionContext} built by the
 * env from data at or before the decision bar — never the env itself.
 *
 * @module
 */
import type { Space } from "./types.ts";
import { box, multiDiscrete } from "./spaces.ts";

/** What an action scheme may look at when it decides at the close of bar t. */
export interface ActionContext {
  /** Number of instruments N. */
  numInstruments: number;
  /** Weights held at the close of t (cash is `1 - sum`). */
  weights: Float64Array;
  /**
   * `lookback × N` close-to-close returns of the bars `t-lookback+1 … t`, oldest row
   * first, NaN where unknown (missing bar, or before the data starts).
   */
  pastReturns: Float64Array;
}

/** Maps an action to target weights. */
export interface ActionScheme {
  /** Registry name, e.g. `"vol-target"`. */
  readonly name: string;
  /** The action space. */
  readonly space: Space;
  /** Rows of past returns wanted in {@linkcode ActionContext.pastReturns} (0: none). */
  readonly lookback: number;
  /**
   * @param action One member of `space` (continuous actions may lie outside and are clipped).
   * @param context Current weights and past returns.
   * @returns Target weights, one per instrument (a fresh array).
   */
  targetWeights(action: Float32Array, context: ActionContext): Float64Array;
}

/** Settings of {@linkcode VolatilityTargetedAction}. */
export interface VolTargetOptions {
  /** Annualised volatility the portfolio is scaled to. Default 0.10. */
  targetVol?: number;
  /** Bars per year, to turn `targetVol` into a per-bar figure. Default 252. */
  periodsPerYear?: number;
  /** Past returns (bars) in the covariance estimate. Default 20. */
  lookback?: number;
  /** Cap on gross exposure `sum |w|`. Default 1. */
  maxGross?: number;
  /** Cap on each `|w_i|`. Default 1. */
  maxWeight?: number;
}

/**
 * Continuous scores → volatility-targeted weights.
 *
 * Space: `Box([-1, 1]^N)`; actions outside are clipped first (PPO samples unclipped).
 * 1. Direction `d = a / sum |a|` and conviction `c = min(1, sum |a|)` (all-zero scores
 *    give zero weights).
 * 2. Volatility per bar of the direction portfolio `σ_d = sqrt(dᵀ C d)`, `C` the sample
 *    covariance (ddof 1) of the last `lookback` returns (unknown returns count as 0),
 *    all from bars at or before the decision bar.
 * 3. Scale `s = (targetVol / sqrt(periodsPerYear)) / σ_d`; `s = 1` when `σ_d` is 0 or
 *    fewer than 2 rows of history exist (nothing to target).
 * 4. `w = c·s·d`, then each `|w_i|` clipped to `maxWeight`, then the whole vector
 *    scaled down if `sum |w| > maxGross`.
 *
 * Full conviction (`sum |a| ≥ 1`) hits the target volatility; weaker scores take
 * proportionally less risk. Scaling the raw scores instead would turn a near-zero,
 * no-conviction output into a full position, and an untrained policy into a churner.
 */
export class VolatilityTargetedAction implements ActionScheme {
  readonly name = "vol-target";
  readonly space: Space;
  readonly lookback: number;
  readonly #n: number;
  readonly #target: number;
  readonly #maxGross: number;
  readonly #maxWeight: number;

  /**
   * @param numInstruments N.
   * @param options Target, lookback and caps (see {@linkcode VolTargetOptions}).
   * @example
   * ```ts
   * const scheme = new VolatilityTargetedAction(3, { targetVol: 0.15, maxGross: 1.5 });
   * ```
   */
  constructor(numInstruments: number, options: VolTargetOptions = {}) {
    const targetVol = options.targetVol ?? 0.10;
    const ppy = options.periodsPerYear ?? 252;
    this.lookback = options.lookback ?? 20;
    this.#maxGross = options.maxGross ?? 1;
    this.#maxWeight = options.maxWeight ?? 1;
    if (!(targetVol > 0) || !(ppy > 0) || !(this.#maxGross > 0) || !(this.#maxWeight > 0)) {
      throw new RangeError(
        "VolatilityTargetedAction: targetVol, periodsPerYear, maxGross, maxWeight must be > 0",
      );
    }
    if (!Number.isInteger(this.lookback) || this.lookback < 2) {
      throw new RangeError(
        `VolatilityTargetedAction: lookback = ${this.lookback} must be an integer ≥ 2`,
      );
    }
    this.#n = numInstruments;
    this.#target = targetVol / Math.sqrt(ppy);
    this.space = box([numInstruments], { low: -1, high: 1 });
  }

  /**
   * @param action N scores.
   * @param context Past returns (`lookback` rows).
   * @returns Target weights.
   * @example
   * ```ts
   * scheme.targetWeights(new Float32Array([1, -0.5, 0]), context);
   * ```
   */
  targetWeights(action: Float32Array, context: ActionContext): Float64Array {
    const n = this.#n;
    if (action.length !== n) {
      throw new TypeError(`vol-target action has ${action.length} entries, expected ${n}`);
    }
    const w = new Float64Array(n);
    let gross = 0;
    for (let i = 0; i < n; i++) {
      const a = Number.isNaN(action[i]) ? 0 : Math.min(1, Math.max(-1, action[i]));
      w[i] = a;
      gross += Math.abs(a);
    }
    if (gross === 0) return w;
    for (let i = 0; i < n; i++) w[i] /= gross; // the direction d, sum |d| = 1
    const sigma = portfolioVolatility(w, context.pastReturns, n);
    const scale = Math.min(1, gross) * (sigma > 0 ? this.#target / sigma : 1);
    gross = 0;
    for (let i = 0; i < n; i++) {
      w[i] = Math.min(this.#maxWeight, Math.max(-this.#maxWeight, w[i] * scale));
      gross += Math.abs(w[i]);
    }
    if (gross > this.#maxGross) {
      const k = this.#maxGross / gross;
      for (let i = 0; i < n; i++) w[i] *= k;
    }
    return w;
  }
}

/**
 * Per-bar volatility of a weighted portfolio from past returns: `sqrt(wᵀ C w)` with `C`
 * the sample covariance (ddof 1) of the rows; NaN returns count as 0.
 * @param w Weights, length N.
 * @param returns `rows × N`, time-major.
 * @param n N.
 * @returns The volatility, or 0 with fewer than 2 rows.
 * @example
 * ```ts
 * portfolioVolatility(new Float64Array([1]), new Float64Array([0.01, -0.01]), 1); // ≈ 0.01414
 * ```
 */
export function portfolioVolatility(w: Float64Array, returns: Float64Array, n: number): number {
  const rows = returns.length / n;
  if (rows < 2) return 0;
  // Var(Σ w_i r_i) over rows equals wᵀ C w for the sample covariance C.
  let s = 0, s2 = 0;
  for (let r = 0; r < rows; r++) {
    let p = 0;
    for (let i = 0; i < n; i++) {
      const x = returns[r * n + i];
      if (!Number.isNaN(x)) p += w[i] * x;
    }
    s += p;
    s2 += p * p;
  }
  const v = (s2 - s * s / rows) / (rows - 1);
  return v > 0 ? Math.sqrt(v) : 0;
}

/** Per-asset choices of {@linkcode SimpleDiscreteAction}, by index. */
export const POSITIONS = ["short", "flat", "long"] as const;
/** One of {@linkcode POSITIONS}. */
export type Position = typeof POSITIONS[number];

/** Settings of {@linkcode SimpleDiscreteAction}. */
export interface DiscreteActionOptions {
  /** Gross exposure when at least one asset is not flat. Default 1. */
  gross?: number;
}

/**
 * Per asset short / flat / long, equal-weighted.
 *
 * Space: `MultiDiscrete([3, …, 3])` (N heads); index 0 = short, 1 = flat, 2 = long
 * ({@linkcode POSITIONS}). With `k` non-flat assets each gets weight `±gross / k`;
 * all flat is all cash.
 */
export class SimpleDiscreteAction implements ActionScheme {
  readonly name = "discrete";
  readonly space: Space;
  readonly lookback = 0;
  readonly #n: number;
  readonly #gross: number;

  /**
   * @param numInstruments N.
   * @param options Gross exposure.
   * @example
   * ```ts
   * new SimpleDiscreteAction(2).targetWeights(new Float32Array([2, 0]), context); // [0.5, -0.5]
   * ```
   */
  constructor(numInstruments: number, options: DiscreteActionOptions = {}) {
    this.#n = numInstruments;
    this.#gross = options.gross ?? 1;
    if (!(this.#gross > 0)) {
      throw new RangeError(`SimpleDiscreteAction: gross = ${this.#gross} must be > 0`);
    }
    this.space = multiDiscrete(new Array(numInstruments).fill(POSITIONS.length));
  }

  /**
   * @param action N indices into {@linkcode POSITIONS}.
   * @returns Target weights.
   * @throws {RangeError} When an index is not 0, 1 or 2.
   */
  targetWeights(action: Float32Array, _context?: ActionContext): Float64Array {
    const n = this.#n;
    if (action.length !== n) {
      throw new TypeError(`discrete action has ${action.length} entries, expected ${n}`);
    }
    const w = new Float64Array(n);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const a = action[i];
      if (!(a === 0 || a === 1 || a === 2)) {
        throw new RangeError(
          `discrete action[${i}] = ${a}: must be 0 (short), 1 (flat) or 2 (long)`,
        );
      }
      w[i] = a - 1;
      if (a !== 1) k++;
    }
    if (k > 0) { for (let i = 0; i < n; i++) w[i] *= this.#gross / k; }
    return w;
  }
}
