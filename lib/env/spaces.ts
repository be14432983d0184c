/**
 * Constructors and helpers for the three spaces of the environment contract:
 * `box`, `discrete` and `multiDiscrete`. Values of every space travel as flat
 * `Float32Array`s (discrete indices as whole numbers), so that a vectorised env can
 * stack them row by row.
 *
 * @module
 */
import type { BoxSpace, DiscreteSpace, MultiDiscreteSpace, Space } from "./types.ts";
import type { Rng } from "../util/rng.ts";

/**
 * A continuous box.
 * @param shape Dimensions, e.g. `[10]`.
 * @param options `low` / `high`: one bound for every element or one per element.
 *   Defaults `-Infinity` / `+Infinity`.
 * @returns The space.
 * @throws {RangeError} When a bound array has the wrong length or `low > high` somewhere.
 * @example
 * ```ts
 * const actions = box([3], { low: -1, high: 1 });
 * ```
 */
export function box(
  shape: readonly number[],
  options: { low?: number | ArrayLike<number>; high?: number | ArrayLike<number> } = {},
): BoxSpace {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`box(): shape [${shape}] must hold non-negative integers`);
  }
  const fill = (v: number | ArrayLike<number> | undefined, dflt: number, name: string) => {
    const out = new Float32Array(size);
    if (v === undefined || typeof v === "number") out.fill(v ?? dflt);
    else {
      if (v.length !== size) {
        throw new RangeError(
          `box(): ${name} has ${v.length} entries, shape [${shape}] needs ${size}`,
        );
      }
      out.set(v);
    }
    return out;
  };
  const low = fill(options.low, -Infinity, "low");
  const high = fill(options.high, Infinity, "high");
  for (let i = 0; i < size; i++) {
    if (!(low[i] <= high[i])) {
      throw new RangeError(`box(): low[${i}] = ${low[i]} is not ≤ high[${i}] = ${high[i]}`);
    }
  }
  return { kind: "box", shape: [...shape], low, high };
}

/**
 * One choice among `n`.
 * @param n Number of choices (≥ 1).
 * @returns The space.
 * @throws {RangeError} When `n` is not a positive integer.
 * @example
 * ```ts
 * discrete(3); // 0, 1 or 2
 * ```
 */
export function discrete(n: number): DiscreteSpace {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`discrete(): n = ${n} must be a positive integer`);
  }
  return { kind: "discrete", n };
}

/**
 * Independent choices, the i-th among `nvec[i]`.
 * @param nvec Number of choices per head (each ≥ 1).
 * @returns The space.
 * @throws {RangeError} When an entry is not a positive integer.
 * @example
 * ```ts
 * multiDiscrete([3, 3]); // e.g. [0, 2]
 * ```
 */
export function multiDiscrete(nvec: readonly number[]): MultiDiscreteSpace {
  nvec.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`multiDiscrete(): nvec[${i}] = ${n} must be a positive integer`);
    }
  });
  return { kind: "multi_discrete", nvec: [...nvec] };
}

/**
 * Length of the flat array that holds one value of the space: the product of a
 * box's shape, 1 for a discrete space, the number of heads of a multi-discrete one.
 * @param space Any space.
 * @returns The flat length.
 * @example
 * ```ts
 * flatDim(box([2, 3])); // 6
 * flatDim(multiDiscrete([3, 3, 3])); // 3
 * ```
 */
export function flatDim(space: Space): number {
  switch (space.kind) {
    case "box":
      return space.shape.reduce((a, b) => a * b, 1);
    case "discrete":
      return 1;
    case "multi_discrete":
      return space.nvec.length;
  }
}

/**
 * Whether `x` is a member of the space (Gymnasium's `Space.contains`): right length,
 * finite numbers within the bounds for a box (NaN is never contained), whole numbers
 * in range for discrete spaces.
 * @param space Any space.
 * @param x A flat value, or a plain number for a discrete space.
 * @returns `true` when contained.
 * @example
 * ```ts
 * contains(box([2], { low: -1, high: 1 }), new Float32Array([0.5, -1])); // true
 * contains(discrete(3), 3); // false
 * ```
 */
export function contains(space: Space, x: ArrayLike<number> | number): boolean {
  const arr: ArrayLike<number> = typeof x === "number" ? [x] : x;
  if (arr.length !== flatDim(space)) return false;
  switch (space.kind) {
    case "box":
      for (let i = 0; i < arr.length; i++) {
        const v = arr[i];
        // Compared as float32, the type the space and observations are stored in.
        if (!(Math.fround(v) >= space.low[i] && Math.fround(v) <= space.high[i])) return false;
        if (Number.isNaN(v)) return false;
      }
      return true;
    case "discrete":
      return Number.isInteger(arr[0]) && arr[0] >= 0 && arr[0] < space.n;
    case "multi_discrete":
      for (let i = 0; i < arr.length; i++) {
        if (!(Number.isInteger(arr[i]) && arr[i] >= 0 && arr[i] < space.nvec[i])) return false;
      }
      return true;
  }
}

/**
 * A random member of the space, drawn from `rng` (Gymnasium's sampling rules for a
 * box: uniform on a bounded element, `low + exponential` / `high - exponential` on a
 * half-bounded one, standard normal on an unbounded one).
 * @param space Any space.
 * @param rng The random source (so samples are reproducible).
 * @returns A fresh flat array of length {@linkcode flatDim}.
 * @example
 * ```ts
 * const a = sample(multiDiscrete([3, 3]), new Rng(1));
 * ```
 */
export function sample(space: Space, rng: Rng): Float32Array {
  const out = new Float32Array(flatDim(space));
  switch (space.kind) {
    case "box":
      for (let i = 0; i < out.length; i++) {
        const lo = space.low[i], hi = space.high[i];
        const loF = Number.isFinite(lo), hiF = Number.isFinite(hi);
        let v: number;
        if (loF && hiF) v = lo + (hi - lo) * rng.uniform();
        else if (loF) v = lo - Math.log1p(-rng.uniform());
        else if (hiF) v = hi + Math.log1p(-rng.uniform());
        else v = rng.normal();
        // Rounding to float32 may step just outside a bound: clamp back.
        out[i] = Math.min(hi, Math.max(lo, Math.fround(v)));
      }
      return out;
    case "discrete":
      out[0] = rng.integer(0, space.n - 1);
      return out;
    case "multi_discrete":
      for (let i = 0; i < out.length; i++) out[i] = rng.integer(0, space.nvec[i] - 1);
      return out;
  }
}
