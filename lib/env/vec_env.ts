/**
 * K portfolio envs stepped together on one shared market, each with its own clock
 * and random start, observations and actions in flat row-major arrays, so that a
 * policy is called once per step for all of them.
 *
 * @module
 */
import type { PricePanel } from "../data/panel.ts";
import { assertAligned, type FeaturePanel } from "../features/feature_panel.ts";
import { PortfolioEnv, type PortfolioEnvOptions } from "./portfolio_env.ts";
import { prepareMarket } from "./simulator.ts";
import { flatDim } from "./spaces.ts";
import type { Space, StepInfo, VecEnv, VecStepResult } from "./types.ts";

/** Options of {@linkcode makePortfolioVecEnv}: every env option, plus the count. */
export interface PortfolioVecEnvOptions extends PortfolioEnvOptions {
  /**
   * Number of envs K. Default 8. Env `k` gets seed `seed + k` (so starts differ), used at its
   * first reset unless {@linkcode PortfolioVecEnv.reset} is given a seed.
   */
  numEnvs?: number;
}

/**
 * K {@linkcode PortfolioEnv}s with auto-reset (the {@linkcode VecEnv} contract): an env
 * whose episode ends in a step is reset at once (its RNG continues, no re-seed); the
 * observation returned for it is the first of its next episode, its last one is in
 * `finalObservations[k]`, and `infos[k]` is the info of the step that ended it.
 */
export class PortfolioVecEnv implements VecEnv {
  readonly numEnvs: number;
  readonly observationSpace: Space;
  readonly actionSpace: Space;
  /** The envs, in row order. */
  readonly envs: readonly PortfolioEnv[];
  /** Length of one observation row. */
  readonly obsDim: number;
  /** Length of one action row. */
  readonly actDim: number;

  /**
   * @param envs At least one env, all with the same spaces.
   * @throws {TypeError} When the spaces differ.
   */
  constructor(envs: PortfolioEnv[]) {
    if (envs.length === 0) throw new RangeError("PortfolioVecEnv needs at least one env");
    this.envs = envs;
    this.numEnvs = envs.length;
    this.observationSpace = envs[0].observationSpace;
    this.actionSpace = envs[0].actionSpace;
    this.obsDim = flatDim(this.observationSpace);
    this.actDim = flatDim(this.actionSpace);
    for (const e of envs) {
      if (flatDim(e.observationSpace) !== this.obsDim || flatDim(e.actionSpace) !== this.actDim) {
        throw new TypeError(
          "PortfolioVecEnv: all envs must have the same observation and action spaces",
        );
      }
    }
  }

  /**
   * Resets every env: env `k` with seed `seed + k`, or, when `seed` is absent, continuing
   * each env's stream (the first time: the seed it was built with). Each env's start RNG
   * is created once, at its first reset, so a seeded first reset is the only seeding
   * (`trainPpo` seeds here; build the envs without a seed then).
   * @param seed Base seed.
   * @returns Observations, `numEnvs × obsDim`.
   * @example
   * ```ts
   * const obs = vec.reset(42);
   * ```
   */
  reset(seed?: number): Float32Array {
    const out = new Float32Array(this.numEnvs * this.obsDim);
    this.envs.forEach((e, k) => {
      const { observation } = e.reset(seed === undefined ? {} : { seed: seed + k });
      out.set(observation, k * this.obsDim);
    });
    return out;
  }

  /**
   * Steps every env with its row of `actions`.
   * @param actions `numEnvs × actDim`.
   * @returns Stacked results (see the class documentation for auto-reset).
   * @throws {TypeError} When `actions` has the wrong length.
   * @example
   * ```ts
   * const { observations, rewards, terminated, truncated } = vec.step(actions);
   * ```
   */
  step(actions: Float32Array): VecStepResult {
    const K = this.numEnvs, od = this.obsDim, ad = this.actDim;
    if (actions.length !== K * ad) {
      throw new TypeError(
        `PortfolioVecEnv.step(): ${actions.length} action values, expected ${K}×${ad}`,
      );
    }
    const observations = new Float32Array(K * od);
    const rewards = new Float32Array(K);
    const terminated = new Uint8Array(K);
    const truncated = new Uint8Array(K);
    const finalObservations: (Float32Array | null)[] = new Array(K).fill(null);
    const infos: StepInfo[] = new Array(K);
    for (let k = 0; k < K; k++) {
      const env = this.envs[k];
      const r = env.step(actions.subarray(k * ad, (k + 1) * ad));
      rewards[k] = r.reward;
      terminated[k] = r.terminated ? 1 : 0;
      truncated[k] = r.truncated ? 1 : 0;
      infos[k] = r.info;
      if (r.terminated || r.truncated) {
        finalObservations[k] = r.observation;
        observations.set(env.reset().observation, k * od);
      } else {
        observations.set(r.observation, k * od);
      }
    }
    return { observations, rewards, terminated, truncated, finalObservations, infos };
  }
}

/**
 * Builds K portfolio envs on one shared market (derived arrays computed once).
 * @param prices Bars (instruments × calendar).
 * @param features Features aligned with `prices`.
 * @param options Every {@linkcode PortfolioEnvOptions} field (same defaults) plus
 *   `numEnvs` (default 8); env `k` gets seed `(options.seed ?? 0) + k` for its first reset
 *   when that reset gives none.
 * @returns The vectorised env.
 * @throws {TypeError} When the panels are not aligned.
 * @example
 * ```ts
 * const vec = makePortfolioVecEnv(prices, features, { numEnvs: 8, maxSteps: 252, seed: 1 });
 * let obs = vec.reset(1);
 * const { observations, rewards } = vec.step(new Float32Array(vec.numEnvs * vec.actDim));
 * ```
 */
export function makePortfolioVecEnv(
  prices: PricePanel,
  features: FeaturePanel,
  options: PortfolioVecEnvOptions = {},
): PortfolioVecEnv {
  assertAligned(prices, features);
  const numEnvs = options.numEnvs ?? 8;
  if (!Number.isInteger(numEnvs) || numEnvs < 1) {
    throw new RangeError(`numEnvs = ${numEnvs} must be a positive integer`);
  }
  const market = prepareMarket(prices, options.impactLookback ?? 20);
  const seed = options.seed ?? 0;
  const envs = Array.from(
    { length: numEnvs },
    (_, k) => new PortfolioEnv(market, features, { ...options, seed: seed + k }),
  );
  return new PortfolioVecEnv(envs);
}
