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
  /**
   * 1 where instrument `i` has a valid (finite, positive) close at the decision bar `t`,
   * 0 where it has none (not listed yet, or a missing bar). Absent: all available.
   * Schemes that allocate over "the instruments" (the `allocation` schemes) leave an
   * unavailable instrument at its current weight and share the rest among the others.
   */
  available?: Uint8Array;
  /**
   * Growth of each instrument since the episode's first fill: `close(t) / fill price`
   * at the bar after the episode's first decision (1 at that first decision), NaN for an
   * instrument that had no fill price then (not listed yet). An equal-weight buy & hold
   * bought at that fill holds weights proportional to it. Absent: unknown (schemes fall
   * back to equal weight).
   */
  growth?: Float64Array;
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
 * 1. Direction `d = a / sum |a|` and conviction `c = sqrt(mean a_i²)`, the RMS score
 *    (in [0, 1]; all-zero scores give zero weights).
 * 2. Volatility per bar of the direction portfolio `σ_d = sqrt(dᵀ C d)`, `C` the sample
 *    covariance (ddof 1) of the last `lookback` returns (unknown returns count as 0),
 *    all from bars at or before the decision bar.
 * 3. Scale `s = (targetVol / sqrt(periodsPerYear)) / σ_d`; `s = 1` when `σ_d` is 0 or
 *    fewer than 2 rows of history exist (nothing to target).
 * 4. `w = c·s·d`, then each `|w_i|` clipped to `maxWeight`, then the whole vector
 *    scaled down if `sum |w| > maxGross`.
 *
 * Full conviction (every `|a_i| = 1`) hits the target volatility; weaker scores take
 * proportionally less risk. Scaling the raw scores instead would turn a near-zero,
 * no-conviction output into a full position, and an untrained policy into a churner.
 * The conviction is the RMS, not `min(1, sum |a|)`: a sum grows with N, so untrained
 * outputs with mean `|a| ≈ 0.09` already gave `sum |a| ≈ 0.7` at N = 8 and full
 * conviction at N = 41; their RMS stays ≈ 0.1 whatever N is. One asset at `|a| = 1`
 * and the rest at 0 has conviction `1/√N`.
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
    let gross = 0, squares = 0;
    for (let i = 0; i < n; i++) {
      const a = Number.isNaN(action[i]) ? 0 : Math.min(1, Math.max(-1, action[i]));
      w[i] = a;
      gross += Math.abs(a);
      squares += a * a;
    }
    if (gross === 0) return w;
    for (let i = 0; i < n; i++) w[i] /= gross; // the direction d, sum |d| = 1
    const sigma = portfolioVolatility(w, context.pastReturns, n);
    const conviction = Math.min(1, Math.sqrt(squares / n));
    const scale = conviction * (sigma > 0 ? this.#target / sigma : 1);
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

/**
 * What the `allocation` schemes share out: the instruments available at the decision
 * bar and the weight they may split (whatever unavailable instruments do not hold).
 */
interface AllocationBase {
  /** Indices of the available instruments. */
  idx: number[];
  /** `1 - Σ w_j` over the unavailable instruments `j` (their weights are kept). */
  free: number;
  /** The target, pre-filled with the current weights (kept where unavailable). */
  w: Float64Array;
}

function allocationBase(n: number, context: ActionContext, name: string): AllocationBase {
  if (context.weights.length !== n) {
    throw new TypeError(`${name}: context has ${context.weights.length} weights, expected ${n}`);
  }
  const available = context.available;
  if (available !== undefined && available.length !== n) {
    throw new TypeError(
      `${name}: context.available has ${available.length} entries, expected ${n}`,
    );
  }
  const w = Float64Array.from(context.weights);
  const idx: number[] = [];
  let kept = 0;
  for (let i = 0; i < n; i++) {
    if (available === undefined || available[i]) idx.push(i);
    else kept += w[i];
  }
  return { idx, free: 1 - kept, w };
}

function validateCashShare(cashShare: number, name: string): void {
  if (!(cashShare >= 0 && cashShare < 1)) {
    throw new RangeError(`${name}: cashShare = ${cashShare} must be in [0, 1)`);
  }
}

const clipScore = (a: number) => Number.isNaN(a) ? 0 : Math.min(1, Math.max(-1, a));

/**
 * The benchmark the `allocation` schemes start from: equal weight over the instruments
 * available at the decision bar, `cashShare` in cash. Instruments without a valid close
 * keep their current weight; the others split `free = 1 - Σ (kept weights)`:
 * `w_i = free · (1 - cashShare) / k` for the `k` available instruments.
 *
 * This is what an all-zero action of {@linkcode AllocationAction} and
 * {@linkcode LongShortAllocationAction} returns, bit for bit, and the target of an
 * "equal weight rebalanced" benchmark.
 * @param context Current weights and availability (see {@linkcode ActionContext}).
 * @param cashShare Fraction in cash, in `[0, 1)`. Default 0.
 * @returns The base weights, one per instrument.
 * @throws {RangeError} When `cashShare` is outside `[0, 1)`.
 * @example
 * ```ts
 * const ctx = { numInstruments: 4, weights: new Float64Array(4), pastReturns: new Float64Array(0) };
 * benchmarkWeights(ctx, 0.2); // [0.2, 0.2, 0.2, 0.2]
 * ```
 */
export function benchmarkWeights(context: ActionContext, cashShare = 0): Float64Array {
  validateCashShare(cashShare, "benchmarkWeights");
  const { idx, free, w } = allocationBase(context.numInstruments, context, "benchmarkWeights");
  const share = Math.max(0, free);
  for (const i of idx) w[i] = share * (1 - cashShare) / idx.length;
  return w;
}

/** Settings of {@linkcode AllocationAction}. */
export interface AllocationOptions {
  /** Cash's share of the base (benchmark) weights, in `[0, 1)`. Default 0. */
  cashShare?: number;
  /**
   * The base weight cash's score acts on when `cashShare` is below it:
   * `ρ = max(cashShare, cashReach)`. Lets the agent move to cash from a 0 cash share.
   * Default 0.5.
   */
  cashReach?: number;
  /** Multiplies the clipped scores before the softmax (its inverse temperature). Default 1. */
  scoreScale?: number;
  /**
   * The benchmark zero scores reproduce: `"buy-and-hold"` (default), the weights an
   * equal-weight buy & hold from the episode's first fill holds now (proportional to
   * {@linkcode ActionContext.growth}: zero scores trade nothing after the first buy), or
   * `"equal-weight"`, equal weight rebalanced every bar.
   */
  base?: AllocationBaseName;
}

/** The benchmarks {@linkcode AllocationAction} can start from. */
export const ALLOCATION_BASES = ["buy-and-hold", "equal-weight"] as const;
/** One of {@linkcode ALLOCATION_BASES}. */
export type AllocationBaseName = typeof ALLOCATION_BASES[number];

/**
 * Relative base masses of the available instruments `idx`: 1 each for equal weight; the
 * growth since the first fill for buy & hold (0 for an instrument that had no fill then;
 * equal weight when no growth is known, e.g. without `context.growth`).
 */
function baseMasses(idx: number[], context: ActionContext, base: AllocationBaseName): Float64Array {
  const b = new Float64Array(idx.length).fill(1);
  const g = context.growth;
  if (base === "equal-weight" || g === undefined) return b;
  let total = 0;
  for (let j = 0; j < idx.length; j++) {
    const v = g[idx[j]];
    b[j] = Number.isFinite(v) && v > 0 ? v : 0;
    total += b[j];
  }
  return total > 0 ? b : b.fill(1);
}

/** The defaults of {@linkcode AllocationOptions} (the one place they are written). */
export const DEFAULT_ALLOCATION_OPTIONS: Readonly<Required<AllocationOptions>> = Object.freeze({
  cashShare: 0,
  cashReach: 0.5,
  scoreScale: 1,
  base: "buy-and-hold",
});

/**
 * Long-only allocation from the benchmark: scores tilt the benchmark's weights through a
 * softmax.
 *
 * Space: `Box([-1, 1]^{N+1})`, N asset scores then one cash score; clipped to `[-1, 1]`
 * (NaN as 0) and multiplied by `scoreScale` (`s_i`, `s_c`). Base weights
 * `b_i = (1 - c) · g_i / Σ_j g_j` over the `k` available instruments and `c = cashShare`
 * in cash, where `g` is the benchmark's relative mass: with `base: "buy-and-hold"` (the
 * default) the growth since the episode's first fill ({@linkcode ActionContext.growth}),
 * so zero scores hold what an equal-weight buy & hold holds and trade nothing after the
 * first buy; with `base: "equal-weight"`, 1 each ({@linkcode benchmarkWeights}). Tilts are
 * taken from the benchmark, never from the current holdings, so they do not compound.
 * Masses
 *
 *     m_i = b_i · exp(s_i)                         (available instruments)
 *     m_c = max(0, c + ρ · (exp(s_c) - 1)),  ρ = max(c, cashReach)
 *     w_i = free · m_i / (Σ_j m_j + m_c)
 *
 * For `c ≥ cashReach` this is exactly `softmax(s + log b)` over assets and cash. For a
 * smaller `c` (in particular the default 0) cash's mass is the affine
 * `c + ρ(e^{s_c} - 1)`: it equals `c` at `s_c = 0` (so zero scores give the base weights
 * exactly, with no cash when `c = 0`), grows like a base weight of `ρ` for positive
 * cash scores, and stops at 0 for negative ones. With the defaults a cash score of +1
 * and neutral asset scores hold `0.5(e - 1) / (1 + 0.5(e - 1)) ≈ 46 %` in cash.
 * Unavailable instruments keep their current weight; `free` is what they leave. Weights
 * are ≥ 0 and sum to `free · (1 - cash share)`.
 */
export class AllocationAction implements ActionScheme {
  readonly name = "allocation";
  readonly space: Space;
  readonly lookback = 0;
  readonly #n: number;
  readonly #c: number;
  readonly #rho: number;
  readonly #scale: number;
  readonly #base: AllocationBaseName;

  /**
   * @param numInstruments N.
   * @param options Cash share, cash reach, score scale, base benchmark.
   * @example
   * ```ts
   * const scheme = new AllocationAction(3, { cashShare: 0.1 });
   * scheme.targetWeights(new Float32Array(4), context); // [0.3, 0.3, 0.3]
   * ```
   */
  constructor(numInstruments: number, options: AllocationOptions = {}) {
    this.#n = numInstruments;
    const d = DEFAULT_ALLOCATION_OPTIONS;
    this.#c = options.cashShare ?? d.cashShare;
    validateCashShare(this.#c, "AllocationAction");
    const reach = options.cashReach ?? d.cashReach;
    if (!(reach > 0 && reach <= 1)) {
      throw new RangeError(`AllocationAction: cashReach = ${reach} must be in (0, 1]`);
    }
    this.#rho = Math.max(this.#c, reach);
    this.#scale = options.scoreScale ?? d.scoreScale;
    if (!(this.#scale > 0 && this.#scale <= 20)) {
      throw new RangeError(`AllocationAction: scoreScale = ${this.#scale} must be in (0, 20]`);
    }
    this.#base = options.base ?? d.base;
    if (!(ALLOCATION_BASES as readonly string[]).includes(this.#base)) {
      throw new RangeError(
        `AllocationAction: base = ${JSON.stringify(this.#base)} must be one of ${
          ALLOCATION_BASES.join(", ")
        }`,
      );
    }
    this.space = box([numInstruments + 1], { low: -1, high: 1 });
  }

  /**
   * @param action N asset scores, then the cash score.
   * @param context Current weights and availability.
   * @returns Target weights.
   * @throws {TypeError} When the action does not have N + 1 entries.
   * @example
   * ```ts
   * scheme.targetWeights(new Float32Array([1, 0, 0, 0]), context); // more of asset 0
   * ```
   */
  targetWeights(action: Float32Array, context: ActionContext): Float64Array {
    const n = this.#n;
    if (action.length !== n + 1) {
      throw new TypeError(`allocation action has ${action.length} entries, expected ${n + 1}`);
    }
    const { idx, free, w } = allocationBase(n, context, "allocation");
    if (idx.length === 0) return w;
    const c = this.#c, k = idx.length;
    const b = baseMasses(idx, context, this.#base);
    // Normaliser Σ_j m_j + m_c = (1 - c)·Σ_j b_j exp(s_j) / Σ_j b_j + m_c, written as 1
    // plus the departures from the base: at zero scores both are exactly 0 (Σ b_j·1 is
    // Σ b_j to the bit), so z is exactly 1 and the base weights come back bit for bit.
    let sumB = 0, sumExp = 0;
    const e = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      e[j] = b[j] * Math.exp(this.#scale * clipScore(action[idx[j]]));
      sumB += b[j];
      sumExp += e[j];
    }
    const cashExcess = Math.max(-c, this.#rho * (Math.exp(this.#scale * clipScore(action[n])) - 1));
    const z = 1 + (1 - c) * (sumExp / sumB - 1) + cashExcess;
    const share = Math.max(0, free);
    for (let j = 0; j < k; j++) w[idx[j]] = share * (1 - c) * e[j] / (sumB * z);
    return w;
  }
}

/** Settings of {@linkcode LongShortAllocationAction}. */
export interface LongShortAllocationOptions {
  /** Cash's share of the base (benchmark) weights, in `[0, 1)`. Default 0. */
  cashShare?: number;
  /** Largest tilt of one asset, in units of the equal weight `1/k`. Default 2. */
  maxTilt?: number;
  /** Cap on gross exposure `Σ |w|`, at least 1. Default 1.5. */
  maxGross?: number;
}

/** The defaults of {@linkcode LongShortAllocationOptions} (the one place they are written). */
export const DEFAULT_ALLOCATION_LS_OPTIONS: Readonly<Required<LongShortAllocationOptions>> = Object
  .freeze({ cashShare: 0, maxTilt: 2, maxGross: 1.5 });

/**
 * Long/short allocation from the benchmark: base weights plus a tilt, gross capped.
 *
 * Space: `Box([-1, 1]^{N+1})`, N asset scores `a_i` then one cash score `a_c`, clipped
 * to `[-1, 1]` (NaN as 0). With `b_i` the base weights ({@linkcode benchmarkWeights}:
 * `free · (1 - cashShare) / k` over the `k` available instruments), `τ = maxTilt`:
 *
 *     w_i = (1 - a_c) · b_i + τ · a_i / k
 *
 * then, when `Σ |w| > maxGross` (unavailable instruments included, their weights kept),
 * the available weights are scaled by `max(0, maxGross - G_kept) / G_available`.
 * `a_c = 1` drops the benchmark leg (only the tilts remain), `a_c = -1` doubles it
 * (up to the gross cap); zero scores give the base weights exactly. With the defaults
 * an asset ranges over `[-1/k, 3/k]` before the cap.
 */
export class LongShortAllocationAction implements ActionScheme {
  readonly name = "allocation-ls";
  readonly space: Space;
  readonly lookback = 0;
  readonly #n: number;
  readonly #c: number;
  readonly #tilt: number;
  readonly #maxGross: number;

  /**
   * @param numInstruments N.
   * @param options Cash share, tilt and gross cap.
   * @example
   * ```ts
   * const scheme = new LongShortAllocationAction(4, { maxTilt: 1, maxGross: 1.2 });
   * ```
   */
  constructor(numInstruments: number, options: LongShortAllocationOptions = {}) {
    this.#n = numInstruments;
    const d = DEFAULT_ALLOCATION_LS_OPTIONS;
    this.#c = options.cashShare ?? d.cashShare;
    validateCashShare(this.#c, "LongShortAllocationAction");
    this.#tilt = options.maxTilt ?? d.maxTilt;
    this.#maxGross = options.maxGross ?? d.maxGross;
    if (!(this.#tilt >= 0) || !Number.isFinite(this.#tilt)) {
      throw new RangeError(`LongShortAllocationAction: maxTilt = ${this.#tilt} must be ≥ 0`);
    }
    if (!(this.#maxGross >= 1) || !Number.isFinite(this.#maxGross)) {
      throw new RangeError(
        `LongShortAllocationAction: maxGross = ${this.#maxGross} must be ≥ 1 (the benchmark's gross)`,
      );
    }
    this.space = box([numInstruments + 1], { low: -1, high: 1 });
  }

  /**
   * @param action N asset scores, then the cash score.
   * @param context Current weights and availability.
   * @returns Target weights.
   * @throws {TypeError} When the action does not have N + 1 entries.
   * @example
   * ```ts
   * scheme.targetWeights(new Float32Array([1, -1, 0, 0, 0]), context);
   * ```
   */
  targetWeights(action: Float32Array, context: ActionContext): Float64Array {
    const n = this.#n;
    if (action.length !== n + 1) {
      throw new TypeError(`allocation-ls action has ${action.length} entries, expected ${n + 1}`);
    }
    const { idx, free, w } = allocationBase(n, context, "allocation-ls");
    if (idx.length === 0) return w;
    const k = idx.length;
    const b = Math.max(0, free) * (1 - this.#c) / k;
    const lever = 1 - clipScore(action[n]);
    let gAvail = 0, gKept = 0;
    const open = new Uint8Array(n);
    for (const i of idx) open[i] = 1;
    for (let i = 0; i < n; i++) if (!open[i]) gKept += Math.abs(w[i]);
    for (const i of idx) {
      const a = clipScore(action[i]);
      // Zero scores: lever = 1 and the tilt is 0, so w_i = b exactly.
      w[i] = lever * b + this.#tilt * a / k;
      gAvail += Math.abs(w[i]);
    }
    if (gKept + gAvail > this.#maxGross && gAvail > 0) {
      const s = Math.max(0, this.#maxGross - gKept) / gAvail;
      for (const i of idx) w[i] *= s;
    }
    return w;
  }
}
