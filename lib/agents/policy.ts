/**
 * The interface between PPO (rollout, GAE, minibatching: `ppo.ts`) and the network
 * that computes actions, values and gradient steps. Two implementations sit behind
 * it: tfjs (any tfjs backend) and a hand-written kernel for the MLP.
 *
 * @module
 */
import type { Rng } from "../util/rng.ts";
import type { PpoLossConfig } from "./ppo_loss.ts";

/**
 * Network and optimiser settings shared by every backend. The PPO loss
 * coefficients (clip, value and entropy coefficients, max grad norm, value clip,
 * advantage normalisation) live in `PpoConfig` (`ppo.ts`) and reach the backend
 * through {@linkcode PolicyBackend.update}; a policy config saved before that move
 * still carries them and still loads (see `parsePolicyConfig`).
 */
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
  /**
   * Network topology. Absent or `{ kind: "mlp" }`: one actor and one critic MLP over
   * the whole observation (the default). `{ kind: "per-asset", … }`: the shared-weight
   * per-asset network of {@linkcode PerAssetTopology}.
   */
  topology?: PolicyTopology;
}

/** The portfolio-level MLP (the default topology). */
export interface MlpTopology {
  kind: "mlp";
}

/**
 * The per-asset, shared-weight policy (EIIE, Jiang, Xu & Liang 2017). The
 * observation is `N · assetFeatures` features (asset-major: asset i's
 * `window × F` block) followed by the N current weights; each asset's row
 * `[its assetFeatures values, its weight]` (`assetDim = assetFeatures + 1`) goes
 * through the same actor and critic MLPs. N is inferred from the observation
 * length at act/update time, so a model runs on a universe of any size.
 *
 * - Action: asset i's action mean is the actor's first output on row i; with
 *   `cashScore`, one more component (last) whose mean is the mean over assets of
 *   the actor's second output. The Gaussian log-std is one shared scalar for the
 *   asset scores (plus one for the cash score), so `actor/logStd` has 1 (or 2)
 *   values whatever N.
 * - Value: the mean over assets of the critic's output (permutation invariant).
 *
 * `PolicyConfig.obsDim` and `action.dim` record the universe the config was built
 * for; the network's weights do not depend on them.
 */
export interface PerAssetTopology {
  kind: "per-asset";
  /** Features per asset before its weight: `window × F` of the portfolio env. */
  assetFeatures: number;
  /** Append one cash score to the action (allocation schemes with N scores + 1 cash score). */
  cashScore: boolean;
}

/** One of the network topologies of {@linkcode PolicyConfig}. */
export type PolicyTopology = MlpTopology | PerAssetTopology;

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
  /** Critic values at rollout time (for the optional clipped value loss, `PpoLossConfig.vfClip`). */
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
  /**
   * One PPO-loss Adam step at learning rate `lr`: the loss of `ppo_loss.ts` with the
   * coefficients `loss` (PPO passes its `PpoConfig`; the coefficients are not part of
   * the network's config), gradients clipped to `loss.maxGradNorm`.
   */
  update(batch: Minibatch, lr: number, loss: PpoLossConfig): UpdateStats;
  /**
   * The unclipped gradient of the same loss, without changing anything (for the
   * backend contract tests): named and shaped as {@linkcode PolicyBackend.exportWeights}.
   */
  gradients(
    batch: Minibatch,
    loss: PpoLossConfig,
  ): { stats: UpdateStats; gradients: NamedWeight[] };
  /** All parameters (and Adam state is not included). */
  exportWeights(): NamedWeight[];
  /** Restores parameters exported by the same backend kind and config. */
  importWeights(weights: NamedWeight[]): void;
  /** Frees native or tensor memory. */
  dispose(): void;
}

/**
 * Reads a {@linkcode PolicyConfig} from JSON (a saved model's `config.policy`),
 * validating every field and naming the bad one. Configs saved before the loss
 * coefficients moved to `PpoConfig` carry `clipCoef`, `vfCoef`, `entCoef`,
 * `maxGradNorm`, `vfClip` and `normAdvantages`; they are accepted and left out of
 * the result (read them with {@linkcode legacyPpoLoss}).
 * @param json The parsed JSON value.
 * @param where Where it came from, for error messages.
 * @returns The config.
 * @throws {TypeError} Naming the first missing or invalid field.
 * @example
 * ```ts
 * const policy = parsePolicyConfig(manifest.config.policy, "model.json config.policy");
 * ```
 */
export function parsePolicyConfig(json: unknown, where = "policy config"): PolicyConfig {
  const o = record(json, where);
  const posInt = (v: unknown, field: string): number => {
    if (!(typeof v === "number" && Number.isInteger(v) && v >= 1)) {
      throw new TypeError(`${where}.${field} must be a positive integer; got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const num = (v: unknown, field: string): number => {
    if (!(typeof v === "number" && Number.isFinite(v))) {
      throw new TypeError(`${where}.${field} must be a finite number; got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const list = (v: unknown, field: string): number[] => {
    if (!Array.isArray(v) || v.length === 0) {
      throw new TypeError(`${where}.${field} must be a non-empty array; got ${JSON.stringify(v)}`);
    }
    return v.map((x, i) => posInt(x, `${field}[${i}]`));
  };
  const a = record(o.action, `${where}.action`);
  let action: PolicyConfig["action"];
  if (a.kind === "gaussian") action = { kind: "gaussian", dim: posInt(a.dim, "action.dim") };
  else if (a.kind === "categorical") {
    action = { kind: "categorical", nvec: list(a.nvec, "action.nvec") };
  } else {
    throw new TypeError(
      `${where}.action.kind must be "gaussian" or "categorical"; got ${JSON.stringify(a.kind)}`,
    );
  }
  const config: PolicyConfig = {
    obsDim: posInt(o.obsDim, "obsDim"),
    action,
    hidden: list(o.hidden, "hidden"),
    logStdInit: num(o.logStdInit, "logStdInit"),
    seed: num(o.seed, "seed"),
    adamEps: num(o.adamEps, "adamEps"),
  };
  if (!(config.adamEps > 0)) {
    throw new TypeError(`${where}.adamEps must be > 0; got ${config.adamEps}`);
  }
  if (o.topology !== undefined && o.topology !== null) {
    const t = record(o.topology, `${where}.topology`);
    if (t.kind === "mlp") config.topology = { kind: "mlp" };
    else if (t.kind === "per-asset") {
      if (typeof t.cashScore !== "boolean") {
        throw new TypeError(
          `${where}.topology.cashScore must be a boolean; got ${JSON.stringify(t.cashScore)}`,
        );
      }
      if (action.kind !== "gaussian") {
        throw new TypeError(`${where}.topology: per-asset needs a gaussian action`);
      }
      config.topology = {
        kind: "per-asset",
        assetFeatures: posInt(t.assetFeatures, "topology.assetFeatures"),
        cashScore: t.cashScore,
      };
    } else {
      throw new TypeError(
        `${where}.topology.kind must be "mlp" or "per-asset"; got ${JSON.stringify(t.kind)}`,
      );
    }
  }
  return config;
}

/**
 * The PPO loss coefficients a policy config saved before they moved to `PpoConfig`
 * carries (absent fields are left out), so a resumed run can keep them.
 * @param json A saved `config.policy`.
 * @returns The coefficients found (`{}` for a current config).
 * @example
 * ```ts
 * const ppo = ppoConfig({ ...legacyPpoLoss(saved.manifest.config.policy), ...saved.manifest.config.ppo });
 * ```
 */
export function legacyPpoLoss(json: unknown): Partial<PpoLossConfig> {
  const o = record(json, "policy config");
  const out: Partial<PpoLossConfig> = {};
  for (const k of ["clipCoef", "vfCoef", "entCoef", "maxGradNorm"] as const) {
    if (typeof o[k] === "number") out[k] = o[k] as number;
  }
  if (typeof o.vfClip === "number" || o.vfClip === null) out.vfClip = o.vfClip as number | null;
  if (typeof o.normAdvantages === "boolean") out.normAdvantages = o.normAdvantages;
  return out;
}

function record(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TypeError(`${where} must be an object; got ${JSON.stringify(v)}`);
  }
  return v as Record<string, unknown>;
}
