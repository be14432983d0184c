/**
 * Trading friction by design: rules that decide, between an action scheme's target
 * weights and the simulator, which instruments trade at all and how far. A pure
 * function of the target, the weights held and the decision's index in the episode,
 * shared by the env and by benchmark runners, so that a benchmark "rebalanced with the
 * same band" trades by exactly the same rule as the agent.
 *
 * Costs are not computed here: the simulator charges them, through the one cost model
 * (`costs.ts`), on whatever is traded. An instrument this module marks as held keeps its
 * units in the simulator (no order, no cost), so its weight drifts with its price.
 *
 * @module
 */

/** Settings of {@linkcode applyFriction}; the defaults trade straight to the target. */
export interface FrictionOptions {
  /**
   * Rebalance band, in weight: an instrument whose `|target - current| < band` is not
   * traded. Default 0 (every instrument trades).
   */
  band?: number;
  /**
   * Rebalance only at decisions `0, k, 2k, …` of an episode (the first one included) and
   * hold every position in between. Default 1 (every bar).
   */
  rebalanceEvery?: number;
  /**
   * Partial adjustment η in `(0, 1]`: a traded instrument moves to
   * `current + η · (target - current)`. Default 1 (all the way).
   */
  partialAdjustment?: number;
}

/** {@linkcode FrictionOptions} with every default filled in and validated. */
export interface ResolvedFriction {
  band: number;
  rebalanceEvery: number;
  partialAdjustment: number;
}

/** The defaults: no band, every bar, all the way. */
export const NO_FRICTION: Readonly<ResolvedFriction> = Object.freeze({
  band: 0,
  rebalanceEvery: 1,
  partialAdjustment: 1,
});

/**
 * Fills in the defaults and validates.
 * @param options Band, rebalancing period, partial adjustment.
 * @returns The resolved settings.
 * @throws {RangeError} When `band` is not in `[0, 1)`, `rebalanceEvery` not a positive
 *   integer, or `partialAdjustment` not in `(0, 1]`.
 * @example
 * ```ts
 * resolveFriction({ band: 0.02 }); // { band: 0.02, rebalanceEvery: 1, partialAdjustment: 1 }
 * ```
 */
export function resolveFriction(options: FrictionOptions = {}): ResolvedFriction {
  const band = options.band ?? NO_FRICTION.band;
  const rebalanceEvery = options.rebalanceEvery ?? NO_FRICTION.rebalanceEvery;
  const partialAdjustment = options.partialAdjustment ?? NO_FRICTION.partialAdjustment;
  if (!(band >= 0 && band < 1)) {
    throw new RangeError(`Friction: band = ${band} must be in [0, 1) (a weight difference)`);
  }
  if (!Number.isInteger(rebalanceEvery) || rebalanceEvery < 1) {
    throw new RangeError(`Friction: rebalanceEvery = ${rebalanceEvery} must be a positive integer`);
  }
  if (!(partialAdjustment > 0 && partialAdjustment <= 1)) {
    throw new RangeError(`Friction: partialAdjustment = ${partialAdjustment} must be in (0, 1]`);
  }
  return { band, rebalanceEvery, partialAdjustment };
}

/**
 * Whether the settings change nothing (the target goes to the simulator as it is).
 * @param f Resolved settings.
 * @returns True for the defaults.
 * @example
 * ```ts
 * isFrictionless(resolveFriction()); // true
 * ```
 */
export function isFrictionless(f: ResolvedFriction): boolean {
  return f.band === 0 && f.rebalanceEvery === 1 && f.partialAdjustment === 1;
}

/** What {@linkcode applyFriction} decided. */
export interface FrictionResult {
  /** Weights to send to the simulator (held instruments at their current weight). */
  weights: Float64Array;
  /** 1 where the instrument must not trade: the simulator keeps its units. */
  hold: Uint8Array;
  /** False on a bar between rebalances (everything held). */
  rebalanced: boolean;
}

/**
 * Applies the friction rules to one decision:
 * 1. when `step % rebalanceEvery !== 0` every instrument is held;
 * 2. otherwise instrument `i` is held when `|target_i - current_i| < band`;
 * 3. an instrument not held gets `current_i + η · (target_i - current_i)` (exactly
 *    `target_i` when η = 1).
 * @param target The action scheme's target weights.
 * @param current Weights held at the decision bar's close.
 * @param step The decision's index in the episode (0 for the first, from all cash).
 * @param friction From {@linkcode resolveFriction}.
 * @returns The weights to execute and which instruments to hold.
 * @throws {TypeError} When `target` and `current` differ in length.
 * @example
 * ```ts
 * const f = resolveFriction({ band: 0.05, partialAdjustment: 0.5 });
 * applyFriction(new Float64Array([0.5, 0.52]), new Float64Array([0.3, 0.5]), 0, f);
 * // weights [0.4, 0.5], hold [0, 1]
 * ```
 */
export function applyFriction(
  target: ArrayLike<number>,
  current: ArrayLike<number>,
  step: number,
  friction: ResolvedFriction,
): FrictionResult {
  const n = target.length;
  if (current.length !== n) {
    throw new TypeError(`applyFriction(): ${n} target weights but ${current.length} current`);
  }
  const weights = new Float64Array(n);
  const hold = new Uint8Array(n);
  const rebalanced = step % friction.rebalanceEvery === 0;
  const eta = friction.partialAdjustment;
  for (let i = 0; i < n; i++) {
    const gap = target[i] - current[i];
    if (!rebalanced || Math.abs(gap) < friction.band) {
      weights[i] = current[i];
      hold[i] = 1;
    } else {
      weights[i] = eta === 1 ? target[i] : current[i] + eta * gap;
    }
  }
  return { weights, hold, rebalanced };
}
