/**
 * A small, fast, seedable random number generator (sfc32 seeded through splitmix32),
 * and the one derivation of a run's independent random streams from its one seed
 * ({@linkcode deriveSeed}), so that every random number in a run derives from one seed.
 *
 * @module
 */

/** The seed of a run when none is given. */
export const DEFAULT_SEED = 1;

/**
 * The independent random streams of a run, each seeded by
 * {@linkcode deriveSeed}`(seed, stream)`:
 * - `envStarts`: the envs' random episode starts (PPO's first `reset`);
 * - `actionNoise`: the sampled actions during rollouts;
 * - `weightInit`: the network's initial weights (`PolicyConfig.seed`);
 * - `minibatch`: the minibatch permutations of PPO's update epochs;
 * - `bootstrap`: the block bootstrap of the evaluation's Sharpe-difference interval.
 *
 * Append new streams at the end: a stream's index is part of its seed.
 */
export const SEED_STREAMS = [
  "envStarts",
  "actionNoise",
  "weightInit",
  "minibatch",
  "bootstrap",
] as const;

/** One of {@linkcode SEED_STREAMS}. */
export type SeedStream = typeof SEED_STREAMS[number];

/**
 * The seed of one stream of a run: a splitmix32-style hash of `(seed, stream index)`,
 * so that streams are independent of each other (unlike `seed + k`, neighbouring
 * seeds do not share streams) and the same seed always gives the same streams.
 * @param seed The run's seed (an integer; taken modulo 2³²).
 * @param stream Which stream.
 * @returns A 32-bit unsigned seed for {@linkcode Rng} (or for `PolicyConfig.seed`).
 * @throws {TypeError} When `seed` is not an integer or `stream` is unknown.
 * @example
 * ```ts
 * const noise = new Rng(deriveSeed(7, "actionNoise"));
 * const order = new Rng(deriveSeed(7, "minibatch")); // another, independent stream
 * ```
 */
export function deriveSeed(seed: number, stream: SeedStream): number {
  if (!Number.isInteger(seed)) {
    throw new TypeError(`deriveSeed(): seed must be an integer, got ${seed}`);
  }
  const index = SEED_STREAMS.indexOf(stream);
  if (index < 0) {
    throw new TypeError(
      `deriveSeed(): unknown stream ${JSON.stringify(stream)}; use one of ${
        SEED_STREAMS.join(", ")
      }`,
    );
  }
  // Two rounds of the splitmix32 finaliser: first the seed, then the stream mixed in,
  // so that (seed, stream) pairs map to well-spread, unrelated 32-bit values.
  let z = mix32(((seed % 0x1_0000_0000) | 0) + 0x9e3779b9);
  z = mix32((z ^ Math.imul(index + 1, 0x85ebca6b)) + 0x9e3779b9);
  return z >>> 0;
}

function mix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) | 0;
}

/** A seeded source of uniform and normal numbers. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | null = null;

  /**
   * @param seed Any integer; the same seed gives the same sequence on every machine.
   * @example
   * ```ts
   * const rng = new Rng(42);
   * rng.uniform(); // in [0, 1)
   * ```
   */
  constructor(seed: number) {
    let s = (seed | 0) ^ 0x9e3779b9;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** @returns A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** @returns A uniform number in [0, 1) with 53 bits of randomness. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * @param lo Inclusive lower bound.
   * @param hi Inclusive upper bound.
   * @returns A uniform integer in [lo, hi].
   */
  integer(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  /** @returns A standard normal number (Marsaglia polar method). */
  normal(): number {
    if (this.#spare !== null) {
      const v = this.#spare;
      this.#spare = null;
      return v;
    }
    let u = 0, v = 0, s = 0;
    do {
      u = this.uniform() * 2 - 1;
      v = this.uniform() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.#spare = v * m;
    return u * m;
  }

  /**
   * Fisher–Yates shuffle of `0..n-1`.
   * @param n Length of the permutation.
   * @returns A fresh random permutation.
   */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
