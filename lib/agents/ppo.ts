/**
 * Proximal Policy Optimisation (Schulman et al. 2017), one file, top to bottom like
 * CleanRL's `ppo_continuous_action.py`: config → observation normaliser → rollout →
 * GAE(λ) → minibatch epochs. The network (actor, critic, loss, Adam) sits behind
 * {@linkcode PolicyBackend}, so the same algorithm drives tfjs or a hand-written kernel.
 *
 * Defaults follow Stable-Baselines3's `PPO`. Every random number (action noise,
 * minibatch permutations, env starts) derives from `config.seed`, one independent
 * stream each (`deriveSeed`).
 *
 * @module
 */
import { DEFAULT_SEED, deriveSeed, Rng } from "../util/rng.ts";
import type { Space, StepInfo, VecEnv, VecStepResult } from "../env/types.ts";
import type { PolicyBackend, PolicyConfig, PolicyTopology, UpdateStats } from "./policy.ts";
import { DEFAULT_PPO_LOSS, type PpoLossConfig, validatePpoLoss } from "./ppo_loss.ts";
import { assetCount, gatherAssetRows, perAssetTopology, policyDims } from "./per_asset.ts";

// ------------------------------------------------------------------ config

/**
 * PPO settings, the loss coefficients included ({@linkcode PpoLossConfig}: clipCoef,
 * vfCoef, entCoef, maxGradNorm, vfClip, normAdvantages; `trainPpo` hands them to
 * `backend.update` with every minibatch). Network and optimiser settings live in
 * {@linkcode PolicyConfig}.
 */
export interface PpoConfig extends PpoLossConfig {
  /** Env steps to take in total (summed over envs). Default 1_000_000. Updates = ⌊total / (nSteps·numEnvs)⌋, at least 1. */
  totalTimesteps: number;
  /** Steps per env per rollout (SB3 `n_steps`). Default 2048. */
  nSteps: number;
  /** Minibatch size (SB3 `batch_size`). Default 64. A last partial minibatch is used when the rollout is not a multiple. */
  batchSize: number;
  /** Passes over each rollout (SB3 `n_epochs`). Default 10. */
  nEpochs: number;
  /** Discount factor γ. Default 0.99. */
  gamma: number;
  /** GAE λ. Default 0.95. */
  gaeLambda: number;
  /** Adam learning rate. Default 3e-4. */
  learningRate: number;
  /** Anneal the learning rate linearly to 0 over the updates (CleanRL `anneal_lr`). Default false (SB3: constant). */
  annealLr: boolean;
  /** Stop an update's epochs early once an epoch's mean approx-KL exceeds this (CleanRL `target_kl`). Default null (off). */
  targetKl: number | null;
  /** Normalise observations with running mean/var (SB3 `VecNormalize(norm_reward=False)`). Default false. */
  normalizeObs: boolean;
  /** Clip normalised observations to ±this. Default 10 (SB3). */
  clipObs: number;
  /**
   * Treat every episode end (terminated OR truncated) as terminal, with no bootstrap —
   * CleanRL's convention, which the benchmark spec uses. Default false: truncation
   * bootstraps SB3-style, `reward += γ·V(final observation)`.
   */
  cleanrlDones: boolean;
  /**
   * Seed of every random number in the run: action noise, minibatch permutations and the
   * env starts (seeded at the first reset) are its `deriveSeed` streams. Default `DEFAULT_SEED`.
   */
  seed: number;
}

/** SB3 PPO defaults (see each field of {@linkcode PpoConfig}). */
export const DEFAULT_PPO_CONFIG: Readonly<PpoConfig> = Object.freeze({
  totalTimesteps: 1_000_000,
  nSteps: 2048,
  batchSize: 64,
  nEpochs: 10,
  gamma: 0.99,
  gaeLambda: 0.95,
  learningRate: 3e-4,
  annealLr: false,
  targetKl: null,
  normalizeObs: false,
  clipObs: 10,
  cleanrlDones: false,
  seed: DEFAULT_SEED,
  ...DEFAULT_PPO_LOSS,
});

/**
 * Fills in defaults and checks ranges.
 * @param overrides Fields to change from {@linkcode DEFAULT_PPO_CONFIG}.
 * @returns A complete config.
 * @example
 * ```ts
 * const cfg = ppoConfig({ nSteps: 256, totalTimesteps: 20480 });
 * ```
 */
export function ppoConfig(overrides: Partial<PpoConfig> = {}): PpoConfig {
  const c: PpoConfig = { ...DEFAULT_PPO_CONFIG, ...overrides };
  const positiveInts = ["totalTimesteps", "nSteps", "batchSize", "nEpochs"] as const;
  for (const k of positiveInts) {
    if (!Number.isInteger(c[k]) || c[k] < 1) {
      throw new RangeError(`PpoConfig.${k} must be a positive integer, got ${c[k]}`);
    }
  }
  for (const k of ["gamma", "gaeLambda"] as const) {
    if (!(c[k] >= 0 && c[k] <= 1)) {
      throw new RangeError(`PpoConfig.${k} must be in [0, 1], got ${c[k]}`);
    }
  }
  if (!(c.learningRate > 0)) {
    throw new RangeError(`PpoConfig.learningRate must be > 0, got ${c.learningRate}`);
  }
  if (c.targetKl !== null && !(c.targetKl > 0)) {
    throw new RangeError(`PpoConfig.targetKl must be > 0 or null, got ${c.targetKl}`);
  }
  if (!(c.clipObs > 0)) throw new RangeError(`PpoConfig.clipObs must be > 0, got ${c.clipObs}`);
  return validatePpoLoss(c, "PpoConfig");
}

/** Defaults of {@linkcode PolicyConfig} (CleanRL / SB3). */
export const DEFAULT_POLICY_OPTIONS = Object.freeze({
  hidden: [64, 64] as readonly number[],
  logStdInit: 0,
  // The weight-init stream of the default run seed (as trainModel derives it).
  seed: deriveSeed(DEFAULT_SEED, "weightInit"),
  adamEps: 1e-5,
});

/** Options of {@linkcode policyConfigForSpaces}. */
export interface PolicyOptions {
  hidden?: readonly number[];
  logStdInit?: number;
  seed?: number;
  adamEps?: number;
  /**
   * `"mlp"` (default): the portfolio-level MLP. `"per-asset"`: the shared-weight
   * per-asset network ({@linkcode PerAssetTopology}); needs `assetFeatures`.
   * A full {@linkcode PolicyTopology} object is accepted too.
   */
  topology?: "mlp" | "per-asset" | PolicyTopology;
  /** Per-asset: features per asset before its weight (`window × F` of the portfolio env). */
  assetFeatures?: number;
  /**
   * Per-asset: the action ends with one cash score. Default: inferred from the action
   * space (`N + 1` components → true, `N` → false).
   */
  cashScore?: boolean;
}

/**
 * Builds a {@linkcode PolicyConfig} from an env's spaces: a box action space gives a
 * Gaussian head, discrete / multi-discrete a categorical head per choice. With
 * `topology: "per-asset"` the observation must be `N · (assetFeatures + 1)` values
 * and the action box `N` (or `N + 1` with a cash score) values.
 * @param observationSpace Must be a box; its size is the observation length.
 * @param actionSpace Box, discrete or multi-discrete (per-asset: box only).
 * @param options Overrides of {@linkcode DEFAULT_POLICY_OPTIONS} and the topology.
 * @returns The policy config.
 * @throws {TypeError} When the spaces do not fit the topology.
 * @example
 * ```ts
 * const pc = policyConfigForSpaces(env.observationSpace, env.actionSpace, { seed: 7 });
 * const pa = policyConfigForSpaces(env.observationSpace, env.actionSpace, {
 *   topology: "per-asset", assetFeatures: window * F,
 * });
 * ```
 */
export function policyConfigForSpaces(
  observationSpace: Space,
  actionSpace: Space,
  options: PolicyOptions = {},
): PolicyConfig {
  if (observationSpace.kind !== "box") {
    throw new TypeError(`PPO needs a box observation space, got ${observationSpace.kind}`);
  }
  const obsDim = observationSpace.shape.reduce((a, b) => a * b, 1);
  let action: PolicyConfig["action"];
  if (actionSpace.kind === "box") {
    action = { kind: "gaussian", dim: actionSpace.shape.reduce((a, b) => a * b, 1) };
  } else if (actionSpace.kind === "discrete") {
    action = { kind: "categorical", nvec: [actionSpace.n] };
  } else {
    action = { kind: "categorical", nvec: [...actionSpace.nvec] };
  }
  const { topology, assetFeatures, cashScore, ...rest } = options;
  const config: PolicyConfig = { ...DEFAULT_POLICY_OPTIONS, ...rest, obsDim, action };
  const kind = typeof topology === "string" ? topology : topology?.kind ?? "mlp";
  if (kind === "mlp") return config;
  if (kind !== "per-asset") {
    throw new TypeError(`policyConfigForSpaces(): unknown topology ${JSON.stringify(kind)}`);
  }
  const t = typeof topology === "object" && topology.kind === "per-asset" ? topology : null;
  const F = assetFeatures ?? t?.assetFeatures;
  if (!(Number.isInteger(F) && F! >= 1)) {
    throw new TypeError(
      `policyConfigForSpaces(): the per-asset topology needs assetFeatures (window × features, a positive integer); got ${F}`,
    );
  }
  const probe = { kind: "per-asset" as const, assetFeatures: F!, cashScore: false };
  const N = assetCount(probe, obsDim, "policyConfigForSpaces()");
  if (action.kind !== "gaussian") {
    throw new TypeError(
      "policyConfigForSpaces(): the per-asset topology needs a box (continuous) action space",
    );
  }
  const cash = cashScore ?? t?.cashScore ?? action.dim === N + 1;
  if (action.dim !== N + (cash ? 1 : 0)) {
    throw new TypeError(
      `policyConfigForSpaces(): per-asset with ${N} assets${
        cash ? " and a cash score" : ""
      } needs ${N + (cash ? 1 : 0)} action values; the action space has ${action.dim}`,
    );
  }
  return { ...config, topology: { kind: "per-asset", assetFeatures: F!, cashScore: cash } };
}

// ------------------------------------------------------------------ observation normaliser

/** Serialisable statistics of an {@linkcode ObsNormalizer}. */
export interface ObsNormStats {
  mean: number[];
  var: number[];
  count: number;
  clip: number;
  epsilon: number;
  /**
   * Per-asset statistics (for the per-asset policy): `mean`/`var` have
   * `assetFeatures + 1` entries shared by every asset. Absent: one entry per
   * observation value.
   */
  assetFeatures?: number;
}

/**
 * Running mean / variance of observations (SB3 `RunningMeanStd`, Chan et al.'s
 * parallel update), normalising as `clip((x - mean) / sqrt(var + ε), ±clip)`.
 * Frozen statistics (evaluation) are used but never updated.
 *
 * With `assetFeatures` (the per-asset policy's layout: `N · assetFeatures` features,
 * then N weights) the statistics are shared across assets: `dim = assetFeatures + 1`
 * and every observation folds in its N asset rows. The normalisation is then
 * permutation-equivariant and works for any N, like the policy.
 */
export class ObsNormalizer {
  readonly dim: number;
  readonly mean: Float64Array;
  readonly var: Float64Array;
  count: number;
  readonly clip: number;
  readonly epsilon: number;
  /** Per-asset statistics: features per asset, or null (per observation value). */
  readonly assetFeatures: number | null;
  /** When true, {@linkcode ObsNormalizer.update} does nothing. */
  frozen = false;
  #std: Float64Array;
  #bm: Float64Array;
  #bv: Float64Array;

  /**
   * @param dim Observation length.
   * @param options `clip` (default 10), `epsilon` (default 1e-8), `assetFeatures`
   *   (per-asset statistics; then `dim` must be `assetFeatures + 1`).
   * @example
   * ```ts
   * const norm = new ObsNormalizer(90);
   * norm.update(obs, 8);
   * norm.normalize(obs, 8, out);
   * ```
   */
  constructor(
    dim: number,
    options: { clip?: number; epsilon?: number; assetFeatures?: number | null } = {},
  ) {
    this.assetFeatures = options.assetFeatures ?? null;
    if (this.assetFeatures !== null && dim !== this.assetFeatures + 1) {
      throw new RangeError(
        `ObsNormalizer: per-asset statistics need dim = assetFeatures + 1 = ${
          this.assetFeatures + 1
        }; got ${dim}`,
      );
    }
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.var = new Float64Array(dim).fill(1);
    this.count = 1e-4;
    this.clip = options.clip ?? 10;
    this.epsilon = options.epsilon ?? 1e-8;
    this.#std = new Float64Array(dim);
    this.#bm = new Float64Array(dim);
    this.#bv = new Float64Array(dim);
    this.#refreshStd();
  }

  /**
   * Restores statistics saved with {@linkcode ObsNormalizer.toJSON}.
   * @param stats Saved statistics.
   * @returns A normaliser with those statistics (not frozen).
   * @example
   * ```ts
   * const again = ObsNormalizer.fromJSON(JSON.parse(JSON.stringify(norm)));
   * ```
   */
  static fromJSON(stats: ObsNormStats): ObsNormalizer {
    if (stats.mean.length !== stats.var.length) {
      throw new TypeError(
        `ObsNormStats: mean has ${stats.mean.length} values but var has ${stats.var.length}`,
      );
    }
    const n = new ObsNormalizer(stats.mean.length, {
      clip: stats.clip,
      epsilon: stats.epsilon,
      assetFeatures: stats.assetFeatures ?? null,
    });
    n.mean.set(stats.mean);
    n.var.set(stats.var);
    n.count = stats.count;
    n.#refreshStd();
    return n;
  }

  /** @returns Plain statistics for saving next to a model. */
  toJSON(): ObsNormStats {
    return {
      mean: Array.from(this.mean),
      var: Array.from(this.var),
      count: this.count,
      clip: this.clip,
      epsilon: this.epsilon,
      ...(this.assetFeatures !== null ? { assetFeatures: this.assetFeatures } : {}),
    };
  }

  /** Per-asset mode: `n` observations as `n · N` rows of `dim` values, and N. */
  #assetRows(obs: Float32Array, n: number): { rows: Float32Array; N: number } {
    const F = this.assetFeatures!;
    const N = assetCount(
      { kind: "per-asset", assetFeatures: F, cashScore: false },
      n > 0 ? obs.length / n : 0,
      "ObsNormalizer",
    );
    const rows = new Float32Array(n * N * this.dim);
    gatherAssetRows(obs, n, N, F, rows, 0, this.dim);
    return { rows, N };
  }

  /** Stops updating (evaluation). @returns this */
  freeze(): this {
    this.frozen = true;
    return this;
  }

  /**
   * Folds `n` observations into the running statistics (no-op when frozen).
   * @param obs `n × dim` row-major (per-asset: `n` whole observations, exactly).
   * @param n Number of rows.
   */
  update(obs: Float32Array, n: number): void {
    if (this.frozen || n === 0) return;
    if (this.assetFeatures !== null) {
      const { rows, N } = this.#assetRows(obs, n);
      obs = rows;
      n *= N;
    }
    const d = this.dim, bm = this.#bm, bv = this.#bv;
    bm.fill(0);
    bv.fill(0);
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) bm[j] += obs[o + j];
    }
    for (let j = 0; j < d; j++) bm[j] /= n;
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) {
        const e = obs[o + j] - bm[j];
        bv[j] += e * e;
      }
    }
    const tot = this.count + n;
    for (let j = 0; j < d; j++) {
      const bvar = bv[j] / n; // population variance, as numpy's default
      const delta = bm[j] - this.mean[j];
      this.mean[j] += (delta * n) / tot;
      const m2 = this.var[j] * this.count + bvar * n + (delta * delta * this.count * n) / tot;
      this.var[j] = m2 / tot;
    }
    this.count = tot;
    this.#refreshStd();
  }

  /**
   * Writes normalised observations into `out` (may be `obs` itself).
   * @param obs `n × dim` raw observations.
   * @param n Number of rows.
   * @param out Destination, at least as long as the observations (default: a new array).
   * @returns `out`
   */
  normalize(
    obs: Float32Array,
    n: number,
    out?: Float32Array,
  ): Float32Array {
    const d = this.dim, c = this.clip, mean = this.mean, std = this.#std;
    if (this.assetFeatures !== null) {
      const F = this.assetFeatures, len = n > 0 ? obs.length / n : 0, N = len / d;
      out ??= new Float32Array(n * len);
      if (!Number.isInteger(N)) {
        throw new TypeError(
          `ObsNormalizer: an observation of ${len} values is not N assets × (${F} features + 1 weight)`,
        );
      }
      for (let i = 0; i < n * len; i++) {
        const k = i % len, j = k < N * F ? k % F : F;
        const z = (obs[i] - mean[j]) / std[j];
        out[i] = z > c ? c : z < -c ? -c : z;
      }
      return out;
    }
    out ??= new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) {
        const z = (obs[o + j] - mean[j]) / std[j];
        out[o + j] = z > c ? c : z < -c ? -c : z;
      }
    }
    return out;
  }

  #refreshStd(): void {
    for (let j = 0; j < this.dim; j++) this.#std[j] = Math.sqrt(this.var[j] + this.epsilon);
  }
}

// ------------------------------------------------------------------ GAE

/**
 * Generalised advantage estimation over a time-major rollout (`[step][env]`).
 * `dones[t·E + e] = 1` when env `e`'s episode ended at step `t` (its next value is
 * not used). Truncation is bootstrapped by the caller adding `γ·V(final obs)` to
 * the reward before calling this.
 *
 * @param rewards `nSteps × numEnvs` rewards.
 * @param values `nSteps × numEnvs` critic values of the observations acted on.
 * @param dones `nSteps × numEnvs` episode-ended flags after each step.
 * @param lastValues `numEnvs` values of the observations after the last step.
 * @param numEnvs Number of envs `E`.
 * @param gamma Discount γ.
 * @param lambda GAE λ.
 * @param advantages Output, `nSteps × numEnvs`.
 * @param returns Output, `advantages + values`.
 * @example
 * ```ts
 * computeGae(rew, val, done, lastV, 1, 0.99, 0.95, adv, ret);
 * ```
 */
export function computeGae(
  rewards: Float32Array,
  values: Float32Array,
  dones: Uint8Array,
  lastValues: Float32Array,
  numEnvs: number,
  gamma: number,
  lambda: number,
  advantages: Float32Array,
  returns: Float32Array,
): void {
  const nSteps = rewards.length / numEnvs;
  for (let e = 0; e < numEnvs; e++) {
    let lastGae = 0;
    let nextValue = lastValues[e];
    for (let t = nSteps - 1; t >= 0; t--) {
      const i = t * numEnvs + e;
      const nonTerminal = dones[i] ? 0 : 1;
      const delta = rewards[i] + gamma * nextValue * nonTerminal - values[i];
      lastGae = delta + gamma * lambda * nonTerminal * lastGae;
      advantages[i] = lastGae;
      returns[i] = lastGae + values[i];
      nextValue = values[i];
    }
  }
}

/**
 * Explained variance `1 - Var(y - ŷ) / Var(y)` (NaN when `Var(y) = 0`).
 * @param predicted Critic values.
 * @param target Returns.
 * @returns How much of the returns' variance the critic explains.
 * @example
 * ```ts
 * explainedVariance(values, returns); // 1 is perfect, 0 no better than the mean
 * ```
 */
export function explainedVariance(predicted: Float32Array, target: Float32Array): number {
  const n = target.length;
  let my = 0, md = 0;
  for (let i = 0; i < n; i++) {
    my += target[i];
    md += target[i] - predicted[i];
  }
  my /= n;
  md /= n;
  let vy = 0, vd = 0;
  for (let i = 0; i < n; i++) {
    const a = target[i] - my, b = target[i] - predicted[i] - md;
    vy += a * a;
    vd += b * b;
  }
  return vy === 0 ? NaN : 1 - vd / vy;
}

// ------------------------------------------------------------------ training

/** A finished episode, reported through {@linkcode PpoHooks.onEpisode}. */
export interface EpisodeInfo {
  /** Which env of the vector. */
  env: number;
  /** Undiscounted sum of the env's (raw) rewards. */
  return: number;
  /** Steps in the episode. */
  length: number;
  terminated: boolean;
  truncated: boolean;
  /** Info of the episode's last step. */
  info: StepInfo;
  /** Total env steps taken so far (all envs), including this one's batch. */
  globalStep: number;
}

/** Statistics of one PPO update (one rollout + its epochs). */
export interface PpoUpdateStats extends UpdateStats {
  /** 1-based update number. */
  update: number;
  /** Env steps so far. */
  timesteps: number;
  learningRate: number;
  /** Epochs actually run (fewer than `nEpochs` when `targetKl` stopped early). */
  epochs: number;
  explainedVariance: number;
  /** Mean return of episodes finished during this rollout (NaN if none). */
  meanEpisodeReturn: number;
  /** Episodes finished during this rollout. */
  episodes: number;
  /** Env steps per second of this update (rollout + GAE + optimisation). */
  stepsPerSec: number;
  /** Seconds spent in rollout, GAE and gradient steps during this update. */
  profile: PpoProfile;
}

/** Wall-clock split of training time in seconds. */
export interface PpoProfile {
  rollout: number;
  gae: number;
  update: number;
}

/** Callbacks while training; a returned promise is awaited. */
export interface PpoHooks {
  /** After each update. */
  onUpdate?(stats: PpoUpdateStats): void | Promise<void>;
  /** When an env finishes an episode. */
  onEpisode?(info: EpisodeInfo): void | Promise<void>;
  /**
   * After each vectorised step, with the (unclipped) actions taken and the env's result.
   * The arrays are reused: copy what you keep.
   */
  onStep?(actions: Float32Array, result: VecStepResult, globalStep: number): void | Promise<void>;
  /** Stops training at the next step; the summary says `aborted`. */
  signal?: AbortSignal;
}

/** What {@linkcode trainPpo} returns. */
export interface PpoSummary {
  /** Env steps taken. */
  timesteps: number;
  /** Updates completed. */
  updates: number;
  /** Returns of every finished episode, in order of finishing. */
  episodeReturns: number[];
  /** Mean return of the last `numEnvs` finished episodes (null if none). */
  finalMeanEpisodeReturn: number | null;
  /** One entry per update. */
  history: PpoUpdateStats[];
  /** Total seconds by phase. */
  profile: PpoProfile;
  /** Wall-clock seconds from env reset to the end of the last update. */
  seconds: number;
  /** Env steps per second over the whole run. */
  stepsPerSec: number;
  /** The observation normaliser (when `normalizeObs`), frozen, for evaluation and saving. */
  obsNormalizer: ObsNormalizer | null;
  /** True when `signal` stopped training early. */
  aborted: boolean;
}

/** Extra inputs of {@linkcode trainPpo}. */
export interface TrainPpoOptions extends PpoHooks {
  /** Continue from saved normaliser statistics (resume); otherwise a fresh one. */
  obsNormalizer?: ObsNormalizer;
}

/**
 * Rollout storage of one {@linkcode trainPpo} run, time-major `[step][env]`.
 * The hot loops over it live in the synchronous module functions below, not in the
 * async `trainPpo` itself: V8 re-optimises a long async function at every loop it
 * enters anew (on-stack replacement), and each of those compiles of the whole body took
 * ~100 ms on another core, repeated in every training run of a process.
 */
interface RolloutBuffers {
  /** Observations, `(nSteps + 1) × E × obsDim`: slot `nSteps` holds the next observation. */
  obs: Float32Array;
  act: Float32Array;
  logp: Float32Array;
  rew: Float32Array;
  val: Float32Array;
  done: Uint8Array;
  adv: Float32Array;
  ret: Float32Array;
  finalObs: Float32Array;
  finalIdx: Int32Array;
  epReturn: Float64Array;
  epLength: Int32Array;
  nSteps: number;
  numEnvs: number;
  obsDim: number;
  actDim: number;
}

function rolloutBuffers(N: number, E: number, obsDim: number, actDim: number): RolloutBuffers {
  const batch = N * E;
  return {
    obs: new Float32Array((N + 1) * E * obsDim),
    act: new Float32Array(batch * actDim),
    logp: new Float32Array(batch),
    rew: new Float32Array(batch),
    val: new Float32Array(batch),
    done: new Uint8Array(batch),
    adv: new Float32Array(batch),
    ret: new Float32Array(batch),
    finalObs: new Float32Array(E * obsDim),
    finalIdx: new Int32Array(E),
    epReturn: new Float64Array(E),
    epLength: new Int32Array(E),
    nSteps: N,
    numEnvs: E,
    obsDim,
    actDim,
  };
}

/** Minibatch storage of {@linkcode optimise}. */
interface MinibatchBuffers {
  obs: Float32Array;
  act: Float32Array;
  logp: Float32Array;
  adv: Float32Array;
  ret: Float32Array;
  val: Float32Array;
}

function minibatchBuffers(size: number, obsDim: number, actDim: number): MinibatchBuffers {
  return {
    obs: new Float32Array(size * obsDim),
    act: new Float32Array(size * actDim),
    logp: new Float32Array(size),
    adv: new Float32Array(size),
    ret: new Float32Array(size),
    val: new Float32Array(size),
  };
}

/** Stores `E` raw observation rows in `dest`, normalised (and the statistics updated) when asked. */
function storeObs(
  raw: Float32Array,
  dest: Float32Array,
  E: number,
  obsDim: number,
  normalizer: ObsNormalizer | null,
): void {
  const rows = raw.subarray(0, E * obsDim);
  if (normalizer) {
    normalizer.update(rows, E);
    normalizer.normalize(rows, E, dest);
  } else dest.set(rows);
}

/**
 * One rollout step of every env, all but the hooks: act on the stored observation, step
 * the envs, store actions, log-probabilities, values, rewards, dones and the next
 * observation, and add γ·V(final observation) to the reward of a truncated episode.
 */
function rolloutStep(
  vecEnv: VecEnv,
  backend: PolicyBackend,
  buf: RolloutBuffers,
  step: number,
  actionRng: Rng,
  normalizer: ObsNormalizer | null,
  cfg: PpoConfig,
): VecStepResult {
  const E = buf.numEnvs, obsDim = buf.obsDim, actDim = buf.actDim;
  const row = step * E;
  const obs = buf.obs.subarray(row * obsDim, (row + E) * obsDim);
  const out = backend.act(obs, E, actionRng);
  buf.act.set(out.actions.subarray(0, E * actDim), row * actDim);
  buf.logp.set(out.logProbs.subarray(0, E), row);
  buf.val.set(out.values.subarray(0, E), row);
  const actions = buf.act.subarray(row * actDim, (row + E) * actDim);
  const res = vecEnv.step(actions);
  const nextSlot = buf.obs.subarray((row + E) * obsDim, (row + 2 * E) * obsDim);
  storeObs(res.observations, nextSlot, E, obsDim, normalizer);

  let nBootstrap = 0;
  for (let e = 0; e < E; e++) {
    const r = res.rewards[e];
    buf.rew[row + e] = r;
    buf.epReturn[e] += r;
    buf.epLength[e] += 1;
    const term = res.terminated[e] === 1, trunc = res.truncated[e] === 1;
    buf.done[row + e] = term || trunc ? 1 : 0;
    if (!term && trunc && !cfg.cleanrlDones) {
      const fo = res.finalObservations[e];
      if (!fo) {
        throw new TypeError(`trainPpo: env ${e} was truncated without a final observation`);
      }
      if (normalizer) {
        normalizer.normalize(
          fo.subarray(0, obsDim),
          1,
          buf.finalObs.subarray(nBootstrap * obsDim),
        );
      } else buf.finalObs.set(fo.subarray(0, obsDim), nBootstrap * obsDim);
      buf.finalIdx[nBootstrap++] = e;
    }
  }
  if (nBootstrap > 0) {
    const v = backend.values(buf.finalObs.subarray(0, nBootstrap * obsDim), nBootstrap);
    for (let i = 0; i < nBootstrap; i++) buf.rew[row + buf.finalIdx[i]] += cfg.gamma * v[i];
  }
  return res;
}

/** Loss sums of one update's minibatches. */
interface OptimiseResult {
  sums: {
    policyLoss: number;
    valueLoss: number;
    entropy: number;
    approxKl: number;
    clipFraction: number;
  };
  /** Minibatches. */
  count: number;
  epochs: number;
}

/**
 * The optimisation phase of one update: `nEpochs` passes over the rollout in shuffled
 * minibatches through `backend.update` (a pass whose mean KL exceeds `targetKl` ends it).
 */
function optimise(
  backend: PolicyBackend,
  buf: RolloutBuffers,
  mb: MinibatchBuffers,
  lr: number,
  cfg: PpoConfig,
  minibatchRng: Rng,
): OptimiseResult {
  const obsDim = buf.obsDim, actDim = buf.actDim;
  const batch = buf.nSteps * buf.numEnvs;
  const sums = { policyLoss: 0, valueLoss: 0, entropy: 0, approxKl: 0, clipFraction: 0 };
  let count = 0;
  let epochs = 0;
  for (let epoch = 0; epoch < cfg.nEpochs; epoch++) {
    const perm = minibatchRng.permutation(batch);
    let epochKl = 0, epochCount = 0;
    for (let start = 0; start < batch; start += cfg.batchSize) {
      const size = Math.min(cfg.batchSize, batch - start);
      for (let i = 0; i < size; i++) {
        const j = perm[start + i];
        for (let k = 0, src = j * obsDim, dst = i * obsDim; k < obsDim; k++) {
          mb.obs[dst + k] = buf.obs[src + k];
        }
        for (let k = 0; k < actDim; k++) mb.act[i * actDim + k] = buf.act[j * actDim + k];
        mb.logp[i] = buf.logp[j];
        mb.adv[i] = buf.adv[j];
        mb.ret[i] = buf.ret[j];
        mb.val[i] = buf.val[j];
      }
      const full = size === cfg.batchSize;
      const s = backend.update(
        {
          size,
          obs: full ? mb.obs : mb.obs.subarray(0, size * obsDim),
          actions: full ? mb.act : mb.act.subarray(0, size * actDim),
          oldLogProbs: full ? mb.logp : mb.logp.subarray(0, size),
          advantages: full ? mb.adv : mb.adv.subarray(0, size),
          returns: full ? mb.ret : mb.ret.subarray(0, size),
          oldValues: full ? mb.val : mb.val.subarray(0, size),
        },
        lr,
        cfg,
      );
      sums.policyLoss += s.policyLoss;
      sums.valueLoss += s.valueLoss;
      sums.entropy += s.entropy;
      sums.approxKl += s.approxKl;
      sums.clipFraction += s.clipFraction;
      count++;
      epochKl += s.approxKl;
      epochCount++;
    }
    epochs++;
    if (cfg.targetKl !== null && epochKl / epochCount > cfg.targetKl) break;
  }
  return { sums, count, epochs };
}

/**
 * Trains `backend` on `vecEnv` with PPO: repeated rollouts of `nSteps` per env
 * (one batched `backend.act` per step), GAE(λ), then `nEpochs` passes of shuffled
 * minibatches through `backend.update`.
 *
 * @param vecEnv Auto-resetting vectorised env (`finalObservations` used for truncation bootstrap).
 * @param backend Network; its `config.obsDim` must match the env (per-asset: any N).
 * @param config PPO settings (missing fields take {@linkcode DEFAULT_PPO_CONFIG}).
 * @param hooks Callbacks, abort signal and optional resumed normaliser.
 * @returns Summary with per-update statistics and the profile split.
 * @example
 * ```ts
 * const backend = createTfjsPolicy(policyConfigForSpaces(env.observationSpace, env.actionSpace));
 * const summary = await trainPpo(env, backend, { totalTimesteps: 20480, nSteps: 256 });
 * console.log(summary.finalMeanEpisodeReturn);
 * ```
 */
export async function trainPpo(
  vecEnv: VecEnv,
  backend: PolicyBackend,
  config: Partial<PpoConfig> = {},
  hooks: TrainPpoOptions = {},
): Promise<PpoSummary> {
  const cfg = ppoConfig(config);
  const E = vecEnv.numEnvs;
  const { obsDim, actDim } = policyDims(
    backend.config,
    spaceSize(vecEnv.observationSpace),
    "trainPpo",
  );
  if (spaceSize(vecEnv.actionSpace) !== actDim) {
    throw new TypeError(
      `trainPpo: env actions have ${
        spaceSize(vecEnv.actionSpace)
      } values but the policy gives ${actDim}`,
    );
  }
  const N = cfg.nSteps;
  const batch = N * E;
  const numUpdates = Math.max(1, Math.floor(cfg.totalTimesteps / batch));
  const actionRng = new Rng(deriveSeed(cfg.seed, "actionNoise"));
  const minibatchRng = new Rng(deriveSeed(cfg.seed, "minibatch"));

  // Rollout and minibatch storage, allocated once.
  const buf = rolloutBuffers(N, E, obsDim, actDim);
  const mb = minibatchBuffers(cfg.batchSize, obsDim, actDim);
  const obsBuf = buf.obs;

  const pa = perAssetTopology(backend.config);
  const normalizer = cfg.normalizeObs
    ? (hooks.obsNormalizer ??
      (pa
        ? new ObsNormalizer(pa.assetFeatures + 1, {
          clip: cfg.clipObs,
          assetFeatures: pa.assetFeatures,
        })
        : new ObsNormalizer(obsDim, { clip: cfg.clipObs })))
    : null;
  if (normalizer) normalizer.frozen = false;
  const { epReturn, epLength } = buf;
  const episodeReturns: number[] = [];
  const history: PpoUpdateStats[] = [];
  const total: PpoProfile = { rollout: 0, gae: 0, update: 0 };
  const signal = hooks.signal;
  let aborted = false;
  let globalStep = 0;
  let updates = 0;

  const t0 = performance.now();
  // The one seeding of the env starts (Gymnasium: seed at the first reset; auto-resets continue).
  const first = vecEnv.reset(deriveSeed(cfg.seed, "envStarts"));
  const lastSlot = obsBuf.subarray(N * E * obsDim);
  storeObs(first, lastSlot, E, obsDim, normalizer);

  outer: for (let update = 1; update <= numUpdates; update++) {
    const lr = cfg.annealLr ? cfg.learningRate * (1 - (update - 1) / numUpdates) : cfg.learningRate;
    const rolloutStart = performance.now();
    obsBuf.copyWithin(0, N * E * obsDim); // last rollout's next observation → slot 0
    const episodesBefore = episodeReturns.length;

    // ---- rollout
    for (let step = 0; step < N; step++) {
      if (signal?.aborted) {
        aborted = true;
        break outer;
      }
      const res = rolloutStep(vecEnv, backend, buf, step, actionRng, normalizer, cfg);
      globalStep += E;
      const row = step * E;
      const actions = buf.act.subarray(row * actDim, (row + E) * actDim);
      if (hooks.onStep) {
        const p = hooks.onStep(actions, res, globalStep);
        if (p) await p;
      }
      for (let e = 0; e < E; e++) {
        if (buf.done[row + e] === 0) continue;
        episodeReturns.push(epReturn[e]);
        const info: EpisodeInfo = {
          env: e,
          return: epReturn[e],
          length: epLength[e],
          terminated: res.terminated[e] === 1,
          truncated: res.truncated[e] === 1,
          info: res.infos[e],
          globalStep,
        };
        epReturn[e] = 0;
        epLength[e] = 0;
        if (hooks.onEpisode) {
          const p = hooks.onEpisode(info);
          if (p) await p;
        }
      }
    }
    const gaeStart = performance.now();

    // ---- GAE (bootstrap the last step from V(next obs); done steps do not look past)
    const lastValues = backend.values(lastSlot, E);
    computeGae(
      buf.rew,
      buf.val,
      buf.done,
      lastValues,
      E,
      cfg.gamma,
      cfg.gaeLambda,
      buf.adv,
      buf.ret,
    );
    const updateStart = performance.now();

    // ---- optimise: nEpochs passes, a fresh permutation each
    const { sums, count, epochs } = optimise(backend, buf, mb, lr, cfg, minibatchRng);
    const end = performance.now();
    updates++;

    const profile: PpoProfile = {
      rollout: (gaeStart - rolloutStart) / 1000,
      gae: (updateStart - gaeStart) / 1000,
      update: (end - updateStart) / 1000,
    };
    total.rollout += profile.rollout;
    total.gae += profile.gae;
    total.update += profile.update;
    const finished = episodeReturns.slice(episodesBefore);
    const stats: PpoUpdateStats = {
      update,
      timesteps: globalStep,
      learningRate: lr,
      epochs,
      policyLoss: sums.policyLoss / count,
      valueLoss: sums.valueLoss / count,
      entropy: sums.entropy / count,
      approxKl: sums.approxKl / count,
      clipFraction: sums.clipFraction / count,
      explainedVariance: explainedVariance(buf.val, buf.ret),
      meanEpisodeReturn: finished.length
        ? finished.reduce((a, b) => a + b, 0) / finished.length
        : NaN,
      episodes: finished.length,
      stepsPerSec: batch / ((end - rolloutStart) / 1000),
      profile,
    };
    history.push(stats);
    if (hooks.onUpdate) await hooks.onUpdate(stats);
  }

  const seconds = (performance.now() - t0) / 1000;
  const last = episodeReturns.slice(-E);
  normalizer?.freeze();
  return {
    timesteps: globalStep,
    updates,
    episodeReturns,
    finalMeanEpisodeReturn: last.length ? last.reduce((a, b) => a + b, 0) / last.length : null,
    history,
    profile: total,
    seconds,
    stepsPerSec: globalStep / seconds,
    obsNormalizer: normalizer,
    aborted,
  };
}

/** Number of scalars in a box space (discrete: 1; multi-discrete: its number of heads). */
function spaceSize(space: Space): number {
  if (space.kind === "box") return space.shape.reduce((a, b) => a * b, 1);
  if (space.kind === "discrete") return 1;
  return space.nvec.length;
}
