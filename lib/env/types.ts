/**
 * The environment contract (Gymnasium's API with named fields) and its spaces.
 *
 * @module
 */

/** A continuous box of `shape` with per-element bounds. */
export interface BoxSpace {
  readonly kind: "box";
  readonly shape: readonly number[];
  readonly low: Float32Array;
  readonly high: Float32Array;
}

/** One choice among `n` (`0 … n-1`). */
export interface DiscreteSpace {
  readonly kind: "discrete";
  readonly n: number;
}

/** Several independent choices, the i-th among `nvec[i]`. */
export interface MultiDiscreteSpace {
  readonly kind: "multi_discrete";
  readonly nvec: readonly number[];
}

/** Any space. */
export type Space = BoxSpace | DiscreteSpace | MultiDiscreteSpace;

/** What every step reports besides the reward; reward terms are reported separately. */
export interface StepInfo {
  /** Bar index the observation was built from (its close is the latest data seen). */
  t: number;
  /** Epoch ms of bar `t`. */
  timestamp: number;
  /** Portfolio value after the step. */
  netWorth: number;
  /** Weights held after execution (one per instrument; cash is `1 - sum`). */
  weights: Float64Array;
  /** Transaction costs charged in this step, in currency. */
  cost?: number;
  /** Slippage charged in this step, in currency. */
  slippage?: number;
  /** The square-root market-impact part of `slippage`, in currency. */
  impact?: number;
  /** Traded notional / net worth in this step. */
  turnover?: number;
  /** Target weights the action mapped to (before execution), one per instrument. */
  targetWeights?: Float64Array;
  /** Reward components by name (e.g. `{ return: …, volPenalty: … }`). */
  rewardTerms?: Record<string, number>;
  /** Why the episode ended, when it did (`"drawdown"`, `"end_of_data"`, `"max_steps"` …). */
  stopReason?: string;
}

/** The outcome of one `step`. */
export interface StepResult<Obs> {
  observation: Obs;
  reward: number;
  /** The episode really ended (drawdown stop, bankruptcy): no bootstrap. */
  terminated: boolean;
  /** Ran out of data or steps: PPO bootstraps through it. */
  truncated: boolean;
  info: StepInfo;
}

/** A single environment. */
export interface Env<Obs = Float32Array, Act = Float32Array> {
  readonly observationSpace: Space;
  readonly actionSpace: Space;
  /**
   * Starts an episode.
   * @param options `seed` re-seeds the env's RNG; `start` fixes the first bar index.
   */
  reset(options?: { seed?: number; start?: number }): { observation: Obs; info: StepInfo };
  /** Advances one bar. Throws after the episode ended until `reset`. */
  step(action: Act): StepResult<Obs>;
}

/**
 * K environments stepped together, observations and actions in flat row-major
 * arrays (`obs[k * obsDim + j]`). An env that finishes is reset automatically; the
 * observation returned for it is the first of its next episode, and its final
 * observation is in `finalObservations[k]`.
 */
export interface VecEnv {
  readonly numEnvs: number;
  readonly observationSpace: Space;
  readonly actionSpace: Space;
  /** @returns Observations, `numEnvs × obsDim`. */
  reset(seed?: number): Float32Array;
  /** @param actions `numEnvs × actDim` (continuous) or `numEnvs × heads` (discrete indices). */
  step(actions: Float32Array): VecStepResult;
}

/** The outcome of one vectorised step. */
export interface VecStepResult {
  observations: Float32Array;
  rewards: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** Present for envs whose episode ended in this step. */
  finalObservations: (Float32Array | null)[];
  infos: StepInfo[];
}
