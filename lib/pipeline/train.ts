/**
 * Training end to end: bars from the store → price and feature panels → K portfolio
 * envs → PPO → saved, registered model; training metrics per update and episodes
 * (`kind = 'train'`) logged to the store as it goes.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import { linkRunEpisodes, logEpisode } from "../db/episodes_repo.ts";
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
import type { PolicyBackend } from "../agents/policy.ts";
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
import {
  DEFAULT_ENV_SETTINGS,
  envOptionsFor,
  type EnvSettings,
  parseEnvSettings,
} from "../env/settings.ts";
import { DEFAULT_SEED, deriveSeed } from "../util/rng.ts";
// Defined in lib/env/settings.ts; re-exported for pipeline users (the notebooks).
export { DEFAULT_ENV_SETTINGS, envOptionsFor, type EnvSettings } from "../env/settings.ts";
import type { FeatureSetName } from "../features/definitions.ts";
import { type BackendName, createPolicyBackend, resolveBackendName } from "./backends.ts";
import { resolveModel, saveAndRegisterModel } from "./models.ts";
import { isoDate, loadMarket, NoDataError, storedRanges } from "./market.ts";
import { actionLabelsFor, EpisodeRecorder, type EpisodeTrace } from "../env/episode.ts";
import { traceToEpisodeLog } from "./rollout.ts";

/** Defaults of {@linkcode TrainOptions} (the one place they are written; `deno task train --help` shows them). */
export const DEFAULT_TRAIN_OPTIONS = Object.freeze({
  barSize: "1 day",
  steps: 4096,
  seed: DEFAULT_SEED,
  featureSet: "basic" as FeatureSetName,
  backend: "auto" as BackendName,
  numEnvs: 4,
  name: DEFAULT_MODEL_NAME,
});

/**
 * Thrown when `resume` is combined with an option the saved network cannot honour
 * (it would change the network's input or output sizes, or the meaning of its inputs).
 */
export class ResumeConflictError extends TypeError {
  override name = "ResumeConflictError";
}

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
  /** Env settings; missing fields from {@linkcode DEFAULT_ENV_SETTINGS}. */
  env?: Partial<EnvSettings>;
  /** Feature set observed. Default {@linkcode DEFAULT_TRAIN_OPTIONS}`.featureSet`. */
  featureSet?: FeatureSetName;
  /** Network backend. Default `"auto"`. */
  backend?: BackendName;
  /** Envs stepped together. Default {@linkcode DEFAULT_TRAIN_OPTIONS}`.numEnvs`. */
  numEnvs?: number;
  /** PPO overrides (defaults: SB3's, with `nSteps` sized so a short run still makes several updates, and `normalizeObs` on). */
  ppo?: Partial<PpoConfig>;
  /** Hidden layer sizes. Default `[64, 64]`. */
  hidden?: number[];
  /**
   * Continue from a saved model (id or directory): its env, features, instruments, weights and
   * observation-normaliser statistics are used (the Adam moments are not saved and restart at 0),
   * and its name, seed, bar size and date range unless given. Options that keep the network's
   * shapes are honoured (costs, slippage, drawdown stop, episode length, reward, steps, seed,
   * dates, name, envs, backend); giving `env.action`, `env.window`, `featureSet`, `hidden`,
   * `symbols` or `barSize` different from the model's throws a {@linkcode ResumeConflictError}.
   */
  resume?: string;
  /** Model directory. Default `<dataDir>/models/<name>-v<version>`. */
  out?: string;
  /** Registry name. Default {@linkcode DEFAULT_TRAIN_OPTIONS}`.name` (resumed: the model's). */
  name?: string;
  /** Which training episodes to log: env 0's (default), every env's, or none. */
  logEpisodes?: "env0" | "all" | "none";
}

/** Callbacks of {@linkcode trainModel}. */
export interface TrainHooks {
  /** Once the data is loaded and the envs are built. */
  onStart?(
    info: {
      instruments: string[];
      range: { start: string; end: string };
      totalTimesteps: number;
      backend: string;
    },
  ): void;
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
  const resumed = options.resume ? await resolveModel(store, options.resume) : null;
  const rc = resumed?.manifest.config;
  if (rc) checkResumable(rc, options, resumed!.dir);
  const barSize = options.barSize ?? rc?.barSize ?? d.barSize;
  const seed = options.seed ?? rc?.seed ?? d.seed;
  const steps = options.steps ?? d.steps;
  const numEnvs = options.numEnvs ?? d.numEnvs;
  const env = parseEnvSettings({
    ...(rc?.env ?? DEFAULT_ENV_SETTINGS),
    ...definedFields(options.env),
  });
  const featureSet = (rc?.features.set ?? options.featureSet ?? d.featureSet) as FeatureSetName;
  const symbols = rc ? rc.instruments : options.symbols;
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
  const nStepsDefault = Math.max(
    64,
    Math.min(2048, 2 ** Math.floor(Math.log2(Math.max(1, steps / numEnvs / 4)))),
  );
  const ppo = ppoConfig({
    nSteps: nStepsDefault,
    normalizeObs: true,
    ...options.ppo,
    totalTimesteps: steps,
    seed,
  });
  const policy = rc
    ? { ...rc.policy, seed: deriveSeed(seed, "weightInit") }
    : policyConfigForSpaces(vec.observationSpace, vec.actionSpace, {
      seed: deriveSeed(seed, "weightInit"),
      ...(options.hidden ? { hidden: options.hidden } : {}),
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
  const baseConfig = {
    seed,
    steps,
    numEnvs,
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
    totalTimesteps: steps,
    backend: backend.name,
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
    },
  };
  const saved = await saveAndRegisterModel(store, backend, config, {
    dir: options.out,
    name: options.name ?? resumed?.manifest.name ?? d.name,
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
  };
}

/** `o` without its `undefined` fields (so that spreading it keeps what it does not set). */
function definedFields<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Refuses resume options the saved network cannot honour: a different action scheme,
 * window, hidden sizes or instruments change its input or output sizes; a different
 * feature set or bar size changes what its inputs mean (and invalidates the frozen
 * observation-normaliser statistics).
 * @throws {ResumeConflictError} Naming the option, the model's value and the given one.
 */
function checkResumable(rc: ModelConfig, options: TrainOptions, dir: string): void {
  const conflicts: string[] = [];
  const differs = (flag: string, given: unknown, saved: unknown) => {
    if (given !== undefined && JSON.stringify(given) !== JSON.stringify(saved)) {
      conflicts.push(`${flag} ${JSON.stringify(given)} (the model's: ${JSON.stringify(saved)})`);
    }
  };
  differs("env.action (--action)", options.env?.action, rc.env.action);
  differs("env.window (--window)", options.env?.window, rc.env.window);
  differs("featureSet (--with-features)", options.featureSet, rc.features.set);
  differs("hidden (--hidden)", options.hidden, rc.policy.hidden);
  differs("barSize (--bar-size)", options.barSize, rc.barSize);
  differs(
    "symbols (--symbols)",
    options.symbols && [...options.symbols].sort(),
    [...rc.instruments].sort(),
  );
  if (conflicts.length > 0) {
    throw new ResumeConflictError(
      `--resume continues the network of ${dir}, whose input and output sizes (and the meaning of its ` +
        `inputs) are fixed by its action scheme, window, feature set, hidden sizes, bar size and instruments; ` +
        `it cannot take ${
          conflicts.join(", ")
        }. Drop these options, or train a new model without --resume.`,
    );
  }
}
