/**
 * The interface between PPO (rollout, GAE, minibatching: `ppo.ts`) and the network
 * that computes actions, values and gradient steps. Two implementations sit behind
 * it: tfjs (any tfjs backend) and a hand-written kernel for the MLP.
 *
 * @module
 */
import type { Rng } from "../util/rng.ts";

/** Network and optimiser settings shared by every backend. */
export interface PolicyConfig {
  /** Length of one observation. */
  obsDim: number;
  /** Continuous actions: `{ kind: "gaussian", dim }`; discrete: one categorical head per entry of `nvec`. */
  action: { kind: "gaussian"; dim: number } | { kind: "categorical"; nvec: readonly number[] };
  /** Hidden layer sizes of both actor and critic. Default `[64, 64]`. */
  hidden: readonly number[];
  /** Initial log standard deviation (gaussian). Default 0. */
  logStdInit: number;
  /** Seed for the initial weights (orthogonal init: √2 hidden, 0.01 actor out, 1 critic out). */
  seed: number;
  /** Adam epsilon. Default 1e-5. */
  adamEps: number;
  /** Global gradient-norm clip. Default 0.5. */
  maxGradNorm: number;
  /** PPO ratio clip. Default 0.2. */
  clipCoef: number;
  /** Value-loss coefficient. Default 0.5. */
  vfCoef: number;
  /** Entropy coefficient. Default 0. */
  entCoef: number;
  /** Normalise advantages within each minibatch (ddof=1 std, +1e-8). Default true. */
  normAdvantages: boolean;
  /**
   * Clip the value loss SB3-style around the rollout's values (`clip_range_vf`):
   * `max((V-R)², (V_old + clip(V-V_old, ±vfClip) - R)²)`. Needs `Minibatch.oldValues`.
   * Default null / absent: unclipped value loss (CleanRL bench, SB3 default).
   */
  vfClip?: number | null;
}

/** Output of {@linkcode PolicyBackend.act} for `n` observations. */
export interface ActResult {
  /** `n × dim` sampled (unclipped) actions, or `n × heads` category indices. */
  actions: Float32Array;
  /** Log-probability of each action (summed over dimensions / heads). */
  logProbs: Float32Array;
  /** Critic value of each observation. */
  values: Float32Array;
}

/** One minibatch for a gradient step; all arrays have `size` rows. */
export interface Minibatch {
  size: number;
  obs: Float32Array;
  actions: Float32Array;
  oldLogProbs: Float32Array;
  advantages: Float32Array;
  returns: Float32Array;
  /** Critic values at rollout time (for the optional clipped value loss, `PolicyConfig.vfClip`). */
  oldValues?: Float32Array;
}

/** Diagnostics of one gradient step. */
export interface UpdateStats {
  policyLoss: number;
  valueLoss: number;
  entropy: number;
  /** `mean((ratio - 1) - log ratio)`. */
  approxKl: number;
  /** Share of samples with `|ratio - 1| > clip`. */
  clipFraction: number;
}

/** A named weight tensor (row-major). */
export interface NamedWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** What PPO needs from a network. */
export interface PolicyBackend {
  /** e.g. `"tfjs-wasm"`, `"kernel"`. */
  readonly name: string;
  readonly config: PolicyConfig;
  /**
   * Samples actions (noise drawn from `rng`, so runs are reproducible) or, with
   * `deterministic`, returns the mean / arg-max action.
   */
  act(obs: Float32Array, n: number, rng: Rng, options?: { deterministic?: boolean }): ActResult;
  /** Critic values for `n` observations. */
  values(obs: Float32Array, n: number): Float32Array;
  /** One clipped-surrogate + value-loss Adam step at learning rate `lr`. */
  update(batch: Minibatch, lr: number): UpdateStats;
  /** All parameters (and Adam state is not included). */
  exportWeights(): NamedWeight[];
  /** Restores parameters exported by the same backend kind and config. */
  importWeights(weights: NamedWeight[]): void;
  /** Frees native or tensor memory. */
  dispose(): void;
}
