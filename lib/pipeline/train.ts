/**
 * Training end to end: bars from the store → price and feature panels → K portfolio
 * envs → PPO → saved, registered model; training metrics per update and episodes
 * (`kind = 'train'`) logged to the store as it goes.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import {
  finishTrainRun,
  logEpisode,
  logTrainMetrics,
  startTrainRun,
  type TrainMetricRow,
} from "../db/episodes_repo.ts";
import {
  codeVersion,
  loadModel,
  type ModelConfig,
  type SavedModel,
  saveModel,
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
import type { ActionName, RewardName } from "../env/registry.ts";
import { makePortfolioVecEnv } from "../env/vec_env.ts";
import type { PortfolioEnvOptions } from "../env/portfolio_env.ts";
import type { FeatureSetName } from "../features/definitions.ts";
import { type BackendName, createPolicyBackend, resolveBackendName } from "./backends.ts";
import { isoDate, loadMarket, NoDataError, storedRanges } from "./market.ts";
import { actionLabelsFor, EpisodeRecorder, type EpisodeTrace } from "../env/episode.ts";
import { traceToEpisodeLog } from "./rollout.ts";

/** The env settings a model is trained with and evaluated under (JSON-serialisable). */
export interface EnvSettings {
  action: ActionName;
  reward: RewardName;
  /** Bars of features per instrument in an observation. */
  window: number;
  /** Commission, bps of traded notional. */
  costPerTurnBps: number;
  /** Fixed slippage, bps of traded notional. */
  slippageBps: number;
  /** Terminate at this drawdown from the peak (null: off). */
  drawdownStop: number | null;
  /** Cash at reset. */
  initialCash: number;
  /** Training episode length in bars (evaluation runs the whole range). */
  episodeLength: number;
  /** Fill at the next bar's open or close. */
  executeAt: "open" | "close";
}

/** Default {@linkcode EnvSettings}. */
export const DEFAULT_ENV_SETTINGS: Readonly<EnvSettings> = Object.freeze({
  action: "vol-target",
  reward: "risk-aware",
  window: 1,
  costPerTurnBps: 10,
  slippageBps: 5,
  drawdownStop: null,
  initialCash: 1_000_000,
  episodeLength: 252,
  executeAt: "open",
});

/**
 * The env options for {@linkcode EnvSettings}.
 * @param s Settings.
 * @param training With `episodeLength` as `maxSteps` (training) or without (a full evaluation pass).
 * @returns Options for `makePortfolioEnv` / `makePortfolioVecEnv`.
 * @example
 * ```ts
 * const env = makePortfolioEnv(prices, features, envOptionsFor(DEFAULT_ENV_SETTINGS, false));
 * ```
 */
export function envOptionsFor(s: EnvSettings, training: boolean): PortfolioEnvOptions {
  return {
    action: s.action,
    reward: s.reward,
    window: s.window,
    executeAt: s.executeAt,
    costPerTurnBps: s.costPerTurnBps,
    slippageBps: s.slippageBps,
    initialCash: s.initialCash,
    ...(s.drawdownStop === null ? {} : { drawdownStop: s.drawdownStop }),
    ...(training ? { maxSteps: s.episodeLength } : {}),
  };
}

/** What {@linkcode trainModel} trains. Every field has a default. */
export interface TrainOptions {
  /** Instruments; default every stored instrument. */
  symbols?: string[];
  /** First training date (ISO). Default: the first date all instruments have bars. */
  start?: string;
  /** Last training date (ISO). Default: 75 % of the way through the instruments' common range (the rest is left for evaluation). */
  end?: string;
  /** Default `"1 day"`. */
  barSize?: string;
  /** Env steps (summed over envs). Default 4096. */
  steps?: number;
  /** Seed of everything. Default 1. */
  seed?: number;
  /** Env settings; missing fields from {@linkcode DEFAULT_ENV_SETTINGS}. */
  env?: Partial<EnvSettings>;
  /** Feature set observed. Default `"basic"`. */
  featureSet?: FeatureSetName;
  /** Network backend. Default `"auto"`. */
  backend?: BackendName;
  /** Envs stepped together. Default 4. */
  numEnvs?: number;
  /** PPO overrides (defaults: SB3's, with `nSteps` sized so a short run still makes several updates, and `normalizeObs` on). */
  ppo?: Partial<PpoConfig>;
  /** Hidden layer sizes. Default `[64, 64]`. */
  hidden?: number[];
  /**
   * Continue from a saved model (id or directory): its env, features, instruments, weights and
   * observation-normaliser statistics are used (the Adam moments are not saved and restart at 0).
   */
  resume?: string;
  /** Model directory. Default `<dataDir>/models/<name>-v<version>`. */
  out?: string;
  /** Registry name. Default `"ppo-portfolio"`. */
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
  barSize = "1 day",
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
  const barSize = options.barSize ?? "1 day";
  const seed = options.seed ?? 1;
  const steps = options.steps ?? 4096;
  const numEnvs = options.numEnvs ?? 4;
  const resumed = options.resume ? await loadModel(options.resume, store) : null;
  const rc = resumed?.manifest.config;
  const env: EnvSettings = rc
    ? { ...(rc.env as unknown as EnvSettings) }
    : { ...DEFAULT_ENV_SETTINGS, ...options.env };
  if (rc && options.env?.episodeLength !== undefined) env.episodeLength = options.env.episodeLength;
  const featureSet = (rc?.features.set ?? options.featureSet ?? "basic") as FeatureSetName;
  if (
    rc && options.symbols &&
    [...options.symbols].sort().join(",") !== [...rc.instruments].sort().join(",")
  ) {
    throw new TypeError(
      `--resume continues a model trained on ${rc.instruments.join(", ")}; it cannot train on ${
        options.symbols.join(", ")
      } ` +
        "(the observation and action sizes depend on the instruments)",
    );
  }
  const symbols = rc ? rc.instruments : options.symbols;
  let { start, end } = options;
  if (start === undefined || end === undefined) {
    const d = await defaultTrainRange(store, symbols, barSize);
    start ??= d.start;
    end ??= d.end;
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
    seed: seed + 1000,
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
    ? { ...rc.policy, seed }
    : policyConfigForSpaces(vec.observationSpace, vec.actionSpace, {
      seed,
      ...(options.hidden ? { hidden: options.hidden } : {}),
    });
  if (policy.obsDim !== vec.obsDim) {
    throw new TypeError(
      `Resumed model expects ${policy.obsDim} observation values, the env gives ${vec.obsDim}`,
    );
  }
  const backendName = resolveBackendName(options.backend ?? "auto", policy);
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
    env: env as unknown as Record<string, unknown>,
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
  const saved = await saveModel(backend, config, {
    store,
    dir: options.out,
    name: options.name ?? resumed?.manifest.name,
    obsNorm: summary.obsNormalizer?.toJSON() ?? null,
  });
  backend.dispose();
  const modelId = saved.manifest.modelId!;
  await finishTrainRun(store, runId, { modelId });
  await store.query("UPDATE tt_episode SET model_id = $1 WHERE run_id = $2", [modelId, runId]);
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
