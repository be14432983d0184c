/**
 * Training end to end: bars from the store → price and feature panels → K portfolio
 * envs → PPO → saved, registered model; training metrics per update and episodes
 * (`kind = 'train'`) logged to the store as it goes.
 *
 * @module
 */
import { join } from "node:path";
import type { Store } from "../db/store.ts";
import { linkRunEpisodes, logEpisode } from "../db/episodes_repo.ts";
import { latestModel } from "../db/models_repo.ts";
import {
  finishTrainRun,
  logTrainMetrics,
  startTrainRun,
  type TrainMetricRow,
} from "../db/train_runs_repo.ts";
import {
  codeVersion,
  DEFAULT_MODEL_NAME,
  type ModelConfig,
  type SavedModel,
} from "../agents/model_io.ts";
import type { PolicyBackend, PolicyConfig } from "../agents/policy.ts";
import { perAssetTopology } from "../agents/per_asset.ts";
import {
  ObsNormalizer,
  policyConfigForSpaces,
  type PpoConfig,
  ppoConfig,
  type PpoSummary,
  type PpoUpdateStats,
  trainPpo,
} from "../agents/ppo.ts";
import { makePortfolioVecEnv } from "../env/vec_env.ts";
import type { Space } from "../env/types.ts";
import {
  DEFAULT_ENV_SETTINGS,
  envOptionsFor,
  type EnvSettingsPatch,
  parseEnvSettings,
} from "../env/settings.ts";
import type { ActionName } from "../env/registry.ts";
import { DEFAULT_SEED, deriveSeed } from "../util/rng.ts";
// Defined in lib/env/settings.ts; re-exported for pipeline users (the notebooks).
export {
  DEFAULT_ENV_SETTINGS,
  envOptionsFor,
  type EnvSettings,
  type EnvSettingsPatch,
} from "../env/settings.ts";
import type { FeatureSetName } from "../features/definitions.ts";
import { type BackendName, createPolicyBackend, resolveBackendName } from "./backends.ts";
import { resolveModel, saveAndRegisterModel } from "./models.ts";
import { mergeRanges, trainedRangesOf } from "../models/lineage.ts";
// Defined in lib/pipeline/models.ts; re-exported beside the training that records them.
import { isoDate, loadMarket, NoDataError, storedRanges } from "./market.ts";
import { actionLabelsFor, EpisodeRecorder, type EpisodeTrace } from "../env/episode.ts";
import { traceToEpisodeLog } from "./rollout.ts";
import { assertModelDirFree } from "../agents/model_io.ts";

/** The network topologies `trainModel` builds (`--policy`). */
export const POLICY_KINDS = ["per-asset", "mlp"] as const;
/**
 * `"per-asset"`: one small network shared by every asset (EIIE), which runs on a
 * universe of any size; `"mlp"`: one network over the whole portfolio observation.
 */
export type PolicyKind = typeof POLICY_KINDS[number];

/**
 * Defaults of {@linkcode TrainOptions} (the one place they are written; `deno task train --help` shows them).
 *
 * - `steps` 100,000: PPO needs tens of updates over rollouts of thousands of steps
 *   before its value estimates and advantages mean anything (SB3's own defaults are a
 *   2,048-step rollout and 10 epochs); 100k is 20 rollouts of 1,250 × 4 envs, a few
 *   tens of seconds on the kernel backend (several thousand steps a second).
 * - `policy` `"per-asset"`: the same weights score every asset, so a 41-name universe
 *   gives 41 × more samples per parameter than one, and the model runs on any universe.
 */
export const DEFAULT_TRAIN_OPTIONS = Object.freeze({
  barSize: "1 day",
  steps: 100_000,
  seed: DEFAULT_SEED,
  featureSet: "basic" as FeatureSetName,
  backend: "auto" as BackendName,
  numEnvs: 4,
  policy: "per-asset" as PolicyKind,
  name: DEFAULT_MODEL_NAME,
});

/** Action schemes whose action ends with a cash score (the per-asset policy adds one output). */
const CASH_SCORE_ACTIONS: readonly ActionName[] = ["allocation", "allocation-ls"];

/** How many env steps a training run takes, and why (see {@linkcode planSteps}). */
export interface StepPlan {
  /** Steps asked for. */
  requested: number;
  /** Envs stepped together. */
  numEnvs: number;
  /** Steps per env per rollout. */
  nSteps: number;
  /** `nSteps · numEnvs`: the steps of one PPO update. */
  rollout: number;
  /** PPO updates. */
  updates: number;
  /** Steps that will run: `updates · rollout`. */
  actual: number;
  /** One sentence saying what runs and why, e.g. for `--steps` that is not a multiple. */
  note: string;
}

/**
 * The steps a run of `steps` will actually take. PPO runs whole rollouts of
 * `nSteps × numEnvs` steps (at least one), so a request that is not a multiple is
 * rounded down (up, below one rollout). When `nSteps` is not given it is sized to the
 * request (a power of two of about a quarter of the steps per env, 64 … 2048), and a
 * divisor of the steps per env is preferred within a factor two below it, so that
 * round requests run exactly.
 * @param steps Requested env steps (all envs together), a positive integer.
 * @param numEnvs Envs stepped together.
 * @param nSteps Steps per env per rollout (default: sized as above).
 * @returns The plan, with a note saying what runs.
 * @throws {RangeError} For a non-positive or non-integer argument.
 * @example
 * ```ts
 * planSteps(100_000, 4).actual; // 100000 (20 rollouts of 1250 × 4)
 * planSteps(3000, 4, 256).actual; // 2048, and the note says why
 * ```
 */
export function planSteps(steps: number, numEnvs: number, nSteps?: number): StepPlan {
  for (const [k, v] of [["steps", steps], ["numEnvs", numEnvs], ["nSteps", nSteps]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
      throw new RangeError(`planSteps(): ${k} = ${v} must be a positive integer`);
    }
  }
  let n = nSteps;
  if (n === undefined) {
    const target = Math.max(
      64,
      Math.min(2048, 2 ** Math.floor(Math.log2(Math.max(1, steps / numEnvs / 4)))),
    );
    n = target;
    if (steps % numEnvs === 0) {
      const perEnv = steps / numEnvs;
      for (let d = target; d >= Math.ceil(target / 2); d--) {
        if (perEnv % d === 0) {
          n = d;
          break;
        }
      }
    }
  }
  const rollout = n * numEnvs;
  const updates = Math.max(1, Math.floor(steps / rollout));
  const actual = updates * rollout;
  const how = `${updates} PPO update${updates === 1 ? "" : "s"} of ${n} steps × ${numEnvs} envs`;
  const note = actual === steps
    ? `${actual} steps: ${how}`
    : `${actual} steps will run, not the ${steps} requested: PPO runs whole rollouts of ` +
      `${n} × ${numEnvs} = ${rollout} steps (${how}${
        actual > steps ? ", fewer than one rollout cannot make an update" : ""
      }); ask for a multiple of ${rollout}, or set nSteps (--n-steps) to a divisor of ${
        steps % numEnvs === 0 ? steps / numEnvs : "the steps per env"
      }`;
  return { requested: steps, numEnvs, nSteps: n, rollout, updates, actual, note };
}

/**
 * Thrown when `resume` is combined with an option the saved network cannot honour
 * (it would change the network's input or output sizes, or the meaning of its inputs).
 */
export class ResumeConflictError extends TypeError {
  override name = "ResumeConflictError";
}

/** Which training episodes `trainModel` logs to `tt_episode`: env 0's, every env's, or none. */
export const TRAIN_EPISODE_LOGGING = ["env0", "all", "none"] as const;
/** One of {@linkcode TRAIN_EPISODE_LOGGING}. */
export type TrainEpisodeLogging = typeof TRAIN_EPISODE_LOGGING[number];

/** What {@linkcode trainModel} trains. Every field has a default. */
export interface TrainOptions {
  /** Instruments; default every stored instrument. */
  symbols?: string[];
  /** First training date (ISO). Default: the first date all instruments have bars. */
  start?: string;
  /** Last training date (ISO). Default: 75 % of the way through the instruments' common range (the rest is left for evaluation). */
  end?: string;
  /** Default {@linkcode DEFAULT_TRAIN_OPTIONS}`.barSize` (`"1 day"`). */
  barSize?: string;
  /** Env steps (summed over envs). Default {@linkcode DEFAULT_TRAIN_OPTIONS}`.steps`. */
  steps?: number;
  /**
   * Seed of everything (env starts, action noise, weight init and minibatch order are
   * independent streams of it, see `deriveSeed`). Default `DEFAULT_SEED`.
   */
  seed?: number;
  /**
   * Env settings; missing fields (top-level or inside a nested option object) from
   * {@linkcode DEFAULT_ENV_SETTINGS} (resumed: from the model's).
   */
  env?: EnvSettingsPatch;
  /**
   * Network topology of a new model. Default {@linkcode DEFAULT_TRAIN_OPTIONS}`.policy`
   * (`"per-asset"`: `assetFeatures = window × F`, a cash score for the `allocation`
   * schemes; needs a continuous action scheme). Resumed: the model's.
   */
  policy?: PolicyKind;
  /**
   * Minibatches per epoch (CleanRL `num_minibatches`): sets `ppo.batchSize` to
   * `⌈rollout / minibatches⌉`. Default: `ppo.batchSize` (64) decides.
   */
  minibatches?: number;
  /** Recorded as `config.extra.seedGroup` (set by {@linkcode trainSeeds}). Default: none. */
  seedGroup?: string;
  /**
   * Features observed: a set name, or comma-separated sets and feature names, alternative-data
   * ones included (`resolveFeatureSpec`; saved as `config.features.set`, the resolved names as
   * `config.features.names`). Default {@linkcode DEFAULT_TRAIN_OPTIONS}`.featureSet`.
   */
  featureSet?: string;
  /** Network backend. Default `"auto"`. */
  backend?: BackendName;
  /** Envs stepped together. Default {@linkcode DEFAULT_TRAIN_OPTIONS}`.numEnvs`. */
  numEnvs?: number;
  /**
   * PPO overrides (defaults: SB3's, with `nSteps` sized by {@linkcode planSteps} and
   * `normalizeObs` on; resumed: the model's PPO settings, `nSteps` sized again).
   * `totalTimesteps` and `seed` come from `steps` and `seed`.
   */
  ppo?: Partial<PpoConfig>;
  /** Hidden layer sizes. Default `[64, 64]`. */
  hidden?: number[];
  /**
   * Continue from a saved model (id or directory): its env, features, instruments, weights and
   * observation-normaliser statistics are used (the Adam moments are not saved and restart at 0),
   * its PPO settings, and its name, seed, bar size and date range unless given. Options that
   * keep the network's shapes are honoured (costs, fees, friction, scheme options, drawdown
   * stop, episode length, reward, steps, seed, dates, name, envs, backend, PPO settings);
   * giving `env.action`, `env.window`, `featureSet`, `hidden`, `policy` or `barSize`
   * different from the model's throws a {@linkcode ResumeConflictError}, and so do other
   * `symbols` for an MLP model. A per-asset model may change the universe (its shapes do
   * not depend on N). The new model's `trainedRanges` are the parent's plus this run's.
   */
  resume?: string;
  /** Model directory. Default `<modelsDir>/<name>-v<version>`. */
  out?: string;
  /**
   * Parent of the default model directory when `out` is not given (the sample stores use
   * their own, see `openSampleStore`). Default `<dataDir>/models`.
   */
  modelsDir?: string;
  /** Registry name. Default {@linkcode DEFAULT_TRAIN_OPTIONS}`.name` (resumed: the model's). */
  name?: string;
  /** Which training episodes to log: env 0's (default), every env's, or none. */
  logEpisodes?: TrainEpisodeLogging;
}

/** What {@linkcode TrainHooks.onStart} is told. */
export interface TrainStartInfo {
  instruments: string[];
  range: { start: string; end: string };
  /** Steps that will run (`plan.actual`). */
  totalTimesteps: number;
  /** What runs and why. */
  plan: StepPlan;
  backend: string;
  /** `"per-asset"` or `"mlp"`. */
  policy: PolicyKind;
  seed: number;
}

/** Callbacks of {@linkcode trainModel}. */
export interface TrainHooks {
  /** Once the data is loaded and the envs are built. */
  onStart?(info: TrainStartInfo): void;
  /** After every vectorised step: steps so far and recent mean episode return (NaN before the first). */
  onProgress?(steps: number, meanEpisodeReturn: number): void;
  /** After each PPO update. */
  onUpdate?(stats: PpoUpdateStats): void;
}

/** What {@linkcode trainModel} returns. */
export interface TrainResult {
  model: SavedModel;
  modelId: number;
  version: number;
  runId: number;
  summary: PpoSummary;
  /** `tt_episode` ids of the logged training episodes. */
  episodeIds: number[];
  instruments: string[];
  range: { start: string; end: string };
  backend: string;
  /** The run's seed. */
  seed: number;
  /** What ran (requested and actual steps, rollout size). */
  plan: StepPlan;
  /** `"per-asset"` or `"mlp"`. */
  policy: PolicyKind;
  /** The seed group recorded in the model (`trainSeeds`), or null. */
  seedGroup: string | null;
}

/**
 * The default training range: the instruments' common range (latest first bar to
 * earliest last bar), of which the first 75 % is used for training.
 * @param store The store.
 * @param symbols Instruments (default all stored).
 * @param barSize Bar size.
 * @returns ISO start/end of training and the end of the common range.
 * @throws {NoDataError} When there are no bars or the instruments never overlap.
 * @example
 * ```ts
 * const { start, end } = await defaultTrainRange(store, ["AAPL", "SPX"]);
 * ```
 */
export async function defaultTrainRange(
  store: Store,
  symbols: readonly string[] | undefined,
  barSize: string = DEFAULT_TRAIN_OPTIONS.barSize,
): Promise<{ start: string; end: string; commonEnd: string }> {
  const ranges = (await storedRanges(store, barSize)).filter((r) =>
    !symbols || symbols.includes(r.instrument)
  );
  if (ranges.length === 0) {
    // loadMarket produces the detailed message (including the ingest command).
    await loadMarket(store, { symbols, barSize });
    throw new NoDataError(`No ${barSize} bars for ${symbols?.join(",")}`);
  }
  const start = ranges.map((r) => r.first).sort().at(-1)!;
  const commonEnd = ranges.map((r) => r.last).sort()[0];
  if (start >= commonEnd) {
    throw new NoDataError(
      `The instruments never trade at the same time (${
        ranges.map((r) => `${r.instrument} ${r.first}..${r.last}`).join(", ")
      }); ` +
        "pass --start/--end or fewer --symbols",
    );
  }
  const a = Date.parse(`${start}T00:00:00Z`), b = Date.parse(`${commonEnd}T00:00:00Z`);
  return { start, end: isoDate(a + 0.75 * (b - a)), commonEnd };
}

/**
 * Trains a PPO policy on stored bars and registers the model.
 *
 * @param store The store (bars are read from it; runs, metrics, episodes and the model are written to it).
 * @param options See {@linkcode TrainOptions}.
 * @param hooks Progress callbacks.
 * @returns The saved model, run id, PPO summary and logged episode ids.
 * @throws {NoDataError} When the store has no bars for the request.
 * @example
 * ```ts
 * const r = await trainModel(store, { steps: 4096, seed: 1 });
 * console.log(r.model.dir, r.modelId);
 * ```
 */
export async function trainModel(
  store: Store,
  options: TrainOptions = {},
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  const d = DEFAULT_TRAIN_OPTIONS;
  // Refuse a model directory that holds files before training, not after.
  if (options.out !== undefined) await assertModelDirFree(options.out);
  const resumed = options.resume ? await resolveModel(store, options.resume) : null;
  const rc = resumed?.manifest.config;
  if (rc) checkResumable(rc, options, resumed!.dir);
  const policyKind: PolicyKind = rc
    ? (perAssetTopology(rc.policy) ? "per-asset" : "mlp")
    : options.policy ?? d.policy;
  if (!(POLICY_KINDS as readonly string[]).includes(policyKind)) {
    throw new RangeError(
      `TrainOptions.policy = ${JSON.stringify(policyKind)}: use one of ${POLICY_KINDS.join(", ")}`,
    );
  }
  const barSize = options.barSize ?? rc?.barSize ?? d.barSize;
  const seed = options.seed ?? rc?.seed ?? d.seed;
  const numEnvs = options.numEnvs ?? d.numEnvs;
  const plan = planSteps(options.steps ?? d.steps, numEnvs, options.ppo?.nSteps);
  const env = parseEnvSettings(options.env ?? {}, "env", rc?.env ?? DEFAULT_ENV_SETTINGS);
  const featureSet: string = rc?.features.set ?? options.featureSet ?? d.featureSet;
  // A per-asset model's shapes do not depend on N: it may resume on another universe.
  const symbols = rc
    ? (policyKind === "per-asset" && options.symbols) || rc.instruments
    : options.symbols;
  let { start, end } = options;
  if (rc) {
    start ??= rc.dataRange.start;
    end ??= rc.dataRange.end;
  }
  if (start === undefined || end === undefined) {
    const range = await defaultTrainRange(store, symbols, barSize);
    start ??= range.start;
    end ??= range.end;
  }
  const market = await loadMarket(store, {
    symbols,
    start,
    end,
    barSize,
    featureSet,
    window: env.window,
  });
  if (rc && market.features.names.join(",") !== rc.features.names.join(",")) {
    throw new TypeError(
      `Resumed model observes features ${rc.features.names.join(",")}, the data gives ${
        market.features.names.join(",")
      }`,
    );
  }
  const instruments = market.prices.instruments;
  const vec = makePortfolioVecEnv(market.prices, market.features, {
    ...envOptionsFor(env, true),
    numEnvs,
    // No seed here: trainPpo seeds the env starts at its first reset (deriveSeed(seed, "envStarts")).
  });
  // Resumed: the parent's PPO settings (its loss coefficients included: parseModelConfig
  // carried those of a config saved before they moved out of the policy config).
  const inherited: Partial<PpoConfig> = rc
    ? (({ totalTimesteps: _t, seed: _s, nSteps: _n, ...rest }) => rest)(rc.ppo)
    : { normalizeObs: true };
  const minibatches = options.minibatches;
  if (minibatches !== undefined && !(Number.isInteger(minibatches) && minibatches >= 1)) {
    throw new RangeError(`TrainOptions.minibatches = ${minibatches} must be a positive integer`);
  }
  const ppo = ppoConfig({
    ...inherited,
    ...options.ppo,
    ...(minibatches === undefined ? {} : { batchSize: Math.ceil(plan.rollout / minibatches) }),
    nSteps: plan.nSteps,
    totalTimesteps: plan.actual,
    seed,
  });
  const policy = rc
    ? resumedPolicy(rc.policy, vec.obsDim, vec.actDim, deriveSeed(seed, "weightInit"))
    : newPolicy(policyKind, vec, {
      seed: deriveSeed(seed, "weightInit"),
      hidden: options.hidden,
      assetFeatures: env.window * market.features.names.length,
      cashScore: CASH_SCORE_ACTIONS.includes(env.action),
      action: env.action,
    });
  if (policy.obsDim !== vec.obsDim) {
    throw new TypeError(
      `Resumed model expects ${policy.obsDim} observation values, the env gives ${vec.obsDim}`,
    );
  }
  const backendName = resolveBackendName(options.backend ?? d.backend, policy);
  const backend: PolicyBackend = await createPolicyBackend(backendName, policy);
  if (resumed) backend.importWeights(resumed.weights);
  const version = await codeVersion();
  const seedGroup = options.seedGroup ?? null;
  const baseConfig = {
    seed,
    steps: plan.actual,
    requestedSteps: plan.requested,
    numEnvs,
    policyKind,
    ...(seedGroup === null ? {} : { seedGroup }),
    data: { instruments, barSize, start: market.range.start, end: market.range.end },
    env,
    features: market.featureSet,
    ppo,
    policy,
    backend: backend.name,
    codeVersion: version,
    resumedFrom: resumed ? resumed.dir : null,
  };
  const runId = await startTrainRun(store, baseConfig);
  const actLabels = actionLabelsFor(instruments, vec.actDim);
  const recorders: (EpisodeRecorder | null)[] = new Array(numEnvs).fill(null);
  const finished: EpisodeTrace[] = [];
  const episodeIds: number[] = [];
  const recent: number[] = [];
  const episodeReturn = new Float64Array(numEnvs);
  const logWhich = options.logEpisodes ?? "env0";
  let stepsDone = 0;
  hooks.onStart?.({
    instruments,
    range: market.range,
    totalTimesteps: plan.actual,
    plan,
    backend: backend.name,
    policy: policyKind,
    seed,
  });

  const flush = async () => {
    for (const trace of finished.splice(0)) {
      episodeIds.push(
        await logEpisode(
          store,
          traceToEpisodeLog(trace, {
            kind: "train",
            runId,
            strategy: "ppo",
            rationale:
              `PPO sampled action (training, seed ${seed}) → ${env.action} target weights; filled at the next bar's ${env.executeAt}`,
            config: baseConfig,
          }),
        ),
      );
    }
  };

  let summary: PpoSummary;
  try {
    summary = await trainPpo(vec, backend, ppo, {
      obsNormalizer: resumed?.obsNorm ? ObsNormalizer.fromJSON(resumed.obsNorm) : undefined,
      onStep(actions, res) {
        stepsDone += numEnvs;
        for (let k = 0; k < numEnvs; k++) {
          const done = res.terminated[k] === 1 || res.truncated[k] === 1;
          episodeReturn[k] += res.rewards[k];
          if (done) {
            recent.push(episodeReturn[k]);
            if (recent.length > 20) recent.shift();
            episodeReturn[k] = 0;
          }
          if (logWhich === "none" || (logWhich === "env0" && k !== 0)) continue;
          const info = res.infos[k];
          // The action was decided at the close of the bar before the one it was marked at.
          const decided = market.prices.timestamps[info.t - 1];
          let rec = recorders[k];
          if (rec === null) {
            rec = new EpisodeRecorder(instruments, actLabels, {
              timestamp: decided,
              netWorth: env.initialCash,
            });
            recorders[k] = rec;
          }
          rec.record(
            decided,
            actions.subarray(k * vec.actDim, (k + 1) * vec.actDim),
            res.rewards[k],
            info,
          );
          if (done) {
            finished.push(rec.finish());
            recorders[k] = null;
          }
        }
        hooks.onProgress?.(
          stepsDone,
          recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : NaN,
        );
      },
      async onUpdate(stats) {
        const row: TrainMetricRow = {
          updateIndex: stats.update - 1,
          timesteps: stats.timesteps,
          policyLoss: stats.policyLoss,
          valueLoss: stats.valueLoss,
          entropy: stats.entropy,
          approxKl: stats.approxKl,
          clipFraction: stats.clipFraction,
          explainedVariance: stats.explainedVariance,
          meanEpisodeReturn: stats.meanEpisodeReturn,
          stepsPerSecond: stats.stepsPerSec,
        };
        await logTrainMetrics(store, runId, [row]);
        await flush();
        hooks.onUpdate?.(stats);
      },
    });
    await flush();
  } catch (e) {
    backend.dispose();
    throw e;
  }

  const config: ModelConfig = {
    policy,
    ppo,
    env,
    features: market.featureSet,
    instruments,
    dataRange: market.range,
    trainedRanges: mergeRanges([...(rc ? trainedRangesOf(rc) : []), market.range]),
    barSize,
    seed,
    backend: backend.name,
    timesteps: (rc?.timesteps ?? 0) + summary.timesteps,
    codeVersion: version,
    resumedFrom: resumed ? resumed.dir : null,
    extra: {
      runId,
      finalMeanEpisodeReturn: summary.finalMeanEpisodeReturn,
      seconds: summary.seconds,
      stepsPerSec: summary.stepsPerSec,
      updates: summary.updates,
      requestedSteps: plan.requested,
      ...(seedGroup === null ? {} : { seedGroup }),
    },
  };
  const modelName = options.name ?? resumed?.manifest.name ?? d.name;
  // With `modelsDir`, the directory is named after the version the registry will give next
  // (on an embedded store there is no concurrent writer: the store has one owner).
  const nextVersion = options.out === undefined && options.modelsDir !== undefined
    ? ((await latestModel(store, modelName))?.version ?? 0) + 1
    : 0;
  const saved = await saveAndRegisterModel(store, backend, config, {
    dir: options.out ??
      (nextVersion ? join(options.modelsDir!, `${modelName}-v${nextVersion}`) : undefined),
    name: modelName,
    obsNorm: summary.obsNormalizer?.toJSON() ?? null,
  });
  backend.dispose();
  const modelId = saved.manifest.modelId!;
  await finishTrainRun(store, runId, { modelId });
  await linkRunEpisodes(store, runId, modelId);
  return {
    model: saved,
    modelId,
    version: saved.manifest.version!,
    runId,
    summary,
    episodeIds,
    instruments,
    range: market.range,
    backend: backend.name,
    seed,
    plan,
    policy: policyKind,
    seedGroup,
  };
}

/**
 * A new model's policy config.
 * @throws {RangeError} For the per-asset policy with a discrete action scheme.
 */
function newPolicy(
  kind: PolicyKind,
  vec: { observationSpace: Space; actionSpace: Space },
  o: {
    seed: number;
    hidden?: number[];
    assetFeatures: number;
    cashScore: boolean;
    action: ActionName;
  },
): PolicyConfig {
  const common = { seed: o.seed, ...(o.hidden ? { hidden: o.hidden } : {}) };
  if (kind === "mlp") {
    return policyConfigForSpaces(vec.observationSpace, vec.actionSpace, common);
  }
  if (vec.actionSpace.kind !== "box") {
    throw new RangeError(
      `The per-asset policy scores each asset with a continuous output; the "${o.action}" action ` +
        `scheme is discrete. Use a continuous scheme (allocation, allocation-ls, vol-target) or policy "mlp" (--policy mlp)`,
    );
  }
  return policyConfigForSpaces(vec.observationSpace, vec.actionSpace, {
    ...common,
    topology: "per-asset",
    assetFeatures: o.assetFeatures,
    cashScore: o.cashScore,
  });
}

/**
 * A resumed model's policy config: the parent's, with the run's weight-init seed; a
 * per-asset one records the universe it now trains on (its weights do not depend on it).
 */
function resumedPolicy(
  parent: PolicyConfig,
  obsDim: number,
  actDim: number,
  seed: number,
): PolicyConfig {
  if (!perAssetTopology(parent) || parent.action.kind !== "gaussian") return { ...parent, seed };
  return { ...parent, seed, obsDim, action: { kind: "gaussian", dim: actDim } };
}

/** What {@linkcode trainSeeds} is told, per seed. */
export interface TrainSeedsHooks {
  /** Hooks for the `index`-th of `count` runs (seed `seed`). */
  forSeed?(index: number, seed: number, count: number): TrainHooks;
}

/**
 * Trains one model per seed with otherwise the same options (evidence over seeds: one
 * seed is an anecdote). Every model records the same `config.extra.seedGroup`
 * (`options.seedGroup`, or `<name>-seeds-<UTC time>-<seeds>`), so that evaluation can
 * group them; with `options.out` each model goes to `<out>/seed-<S>`.
 * @param store The store.
 * @param options As for {@linkcode trainModel} (`seed` is replaced by each seed).
 * @param seeds Distinct integer seeds, at least one.
 * @param hooks Per-seed training hooks.
 * @returns One result per seed, in the order given.
 * @throws {RangeError} For an empty list, a repeated or non-integer seed.
 * @example
 * ```ts
 * const runs = await trainSeeds(store, { steps: 20_000 }, [1, 2, 3, 4, 5]);
 * console.log(runs.map((r) => r.modelId).join(","));
 * ```
 */
export async function trainSeeds(
  store: Store,
  options: TrainOptions,
  seeds: readonly number[],
  hooks: TrainSeedsHooks = {},
): Promise<TrainResult[]> {
  if (seeds.length === 0) throw new RangeError("trainSeeds(): no seed given");
  for (const s of seeds) {
    if (!Number.isInteger(s)) throw new RangeError(`trainSeeds(): seed ${s} is not an integer`);
  }
  if (new Set(seeds).size !== seeds.length) {
    throw new RangeError(`trainSeeds(): seeds ${seeds.join(",")} repeat a seed`);
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  const seedGroup = options.seedGroup ??
    `${options.name ?? DEFAULT_TRAIN_OPTIONS.name}-seeds-${stamp}-${seeds.join(",")}`;
  const out: TrainResult[] = [];
  for (let i = 0; i < seeds.length; i++) {
    out.push(
      await trainModel(
        store,
        {
          ...options,
          seed: seeds[i],
          seedGroup,
          ...(options.out === undefined ? {} : { out: join(options.out, `seed-${seeds[i]}`) }),
        },
        hooks.forSeed?.(i, seeds[i], seeds.length) ?? {},
      ),
    );
  }
  return out;
}

/**
 * Refuses resume options the saved network cannot honour: a different action scheme,
 * window, hidden sizes, topology or (for an MLP) instruments change its input or output
 * sizes; a different feature set or bar size changes what its inputs mean (and
 * invalidates the frozen observation-normaliser statistics). A per-asset network
 * scores each asset from its own row, so another universe is accepted.
 * @throws {ResumeConflictError} Naming the option, the model's value and the given one.
 */
function checkResumable(rc: ModelConfig, options: TrainOptions, dir: string): void {
  const conflicts: string[] = [];
  const differs = (flag: string, given: unknown, saved: unknown) => {
    if (given !== undefined && JSON.stringify(given) !== JSON.stringify(saved)) {
      conflicts.push(`${flag} ${JSON.stringify(given)} (the model's: ${JSON.stringify(saved)})`);
    }
  };
  const perAsset = perAssetTopology(rc.policy) !== null;
  differs("env.action (--action)", options.env?.action, rc.env.action);
  differs("env.window (--window)", options.env?.window, rc.env.window);
  differs("featureSet (--with-features)", options.featureSet, rc.features.set);
  differs("hidden (--hidden)", options.hidden, rc.policy.hidden);
  differs("policy (--policy)", options.policy, perAsset ? "per-asset" : "mlp");
  differs("barSize (--bar-size)", options.barSize, rc.barSize);
  if (!perAsset) {
    differs(
      "symbols (--symbols)",
      options.symbols && [...options.symbols].sort(),
      [...rc.instruments].sort(),
    );
  }
  if (conflicts.length > 0) {
    throw new ResumeConflictError(
      `--resume continues the network of ${dir}, whose input and output sizes (and the meaning of its ` +
        `inputs) are fixed by its action scheme, window, feature set, hidden sizes, topology, bar size and ` +
        `(for an MLP) instruments; it cannot take ${
          conflicts.join(", ")
        }. Drop these options, or train a new model without --resume.`,
    );
  }
}
