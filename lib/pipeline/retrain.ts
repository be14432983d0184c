/**
 * Retraining a model when its triggers fire (rules: `lib/models/triggers.ts`), and its
 * performance drift with a backtest over the same bars.
 *
 * A retraining job is walk-forward: the newest `trainBars` bars before a held-back tail
 * of `holdoutBars` bars train a new version (resumed from the model: same env, features
 * and network, trained further on the new window — qlib's rolling update), the tail
 * evaluates it out of sample, the champion is evaluated on the same tail, and
 * `compareModels` on the two episodes gives the verdict. The new version is registered
 * under the model's name and aliased `challenger`. It never promotes itself: only
 * `deno task models alias … champion`, or a rule with `autoPromote`, which moves
 * `champion` only on the verdict `promote`.
 *
 * THE SEAM of the job engine: a job is a row of `tt_retrain_jobs` with a plain-JSON
 * {@linkcode RetrainSpec}; {@linkcode runRetrainJob}`(store, job)` runs one, claiming the
 * row first (a job that finished `ok` is returned as stored, never run twice).
 * {@linkcode runTriggers} calls it in-process (its `runner` option); on a PostgreSQL
 * server `lib/jobs/retrain_queue.ts` puts the job id on the pg-boss queue `tt-retrain`
 * and `deno task worker` calls `runRetrainJob` for it.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import type { ModelRecord } from "../db/models_repo.ts";
import { readModel } from "../db/models_repo.ts";
import { readAlias } from "../db/model_aliases_repo.ts";
import {
  claimRetrainJob,
  enqueueRetrainJob,
  readRetrainJob,
  type RetrainJobRecord,
  updateRetrainJob,
} from "../db/model_ab_repo.ts";
import { readAccountCurve } from "../db/execution_repo.ts";
import { listEpisodes } from "../db/episodes_repo.ts";
import { parseModelConfig } from "../agents/model_io.ts";
import { setAlias } from "../models/aliases.ts";
import { COMPARE_VERDICTS, compareModels, type CompareVerdict } from "../models/compare.ts";
import {
  computePerformanceDrift,
  type ModelPerformanceDrift,
  type PerformanceDriftThresholds,
  performanceRunOf,
} from "../models/performance_drift.ts";
import {
  commonBarCalendar,
  evaluateTriggers,
  readTriggerState,
  type TriggerReason,
  type TriggerRules,
  type TriggerState,
} from "../models/triggers.ts";
import { evaluateModel, InSampleError } from "./evaluate.ts";
import { isoDate } from "./market.ts";
import { trainModel } from "./train.ts";

/** A retraining job, plain JSON (stored as `tt_retrain_jobs.spec_json`). */
export interface RetrainSpec {
  /** The model retrained (resumed from). */
  modelId: number;
  modelName: string;
  /** Training window (ISO dates, inclusive). */
  trainStart: string;
  trainEnd: string;
  /** Held-back tail, evaluated out of sample (ISO dates, inclusive). */
  holdoutStart: string;
  dataEnd: string;
  /** PPO env steps. */
  steps: number;
  seed: number;
  /** Envs stepped together. Default 2. */
  numEnvs?: number;
  /** Parent of the new model's directory. Default `<dataDir>/models`. */
  modelsDir?: string;
  /** Move `champion` to the new version when the comparison says `promote`. */
  autoPromote: boolean;
}

/** Options of {@linkcode retrainSpecFor}. */
export interface RetrainWindowOptions {
  /** Bars of the training window. Default 756 (three years of daily bars). */
  trainBars?: number;
  /** Bars held back at the end for the out-of-sample check. Default 126 (half a year). */
  holdoutBars?: number;
  /** PPO env steps. Default 4096. */
  steps?: number;
  /** Seed. Default: the model's seed + 1. */
  seed?: number;
  numEnvs?: number;
  modelsDir?: string;
  autoPromote?: boolean;
}

/**
 * The walk-forward windows of a retraining of `model` on the store's newest bars.
 * @param store The store.
 * @param model The registry row.
 * @param options Window lengths, steps, seed, directory, auto-promotion.
 * @returns The spec.
 * @throws {RangeError} When the store has too few bars for the two windows.
 * @example
 * ```ts
 * const spec = await retrainSpecFor(store, model, { trainBars: 500, holdoutBars: 100 });
 * ```
 */
export async function retrainSpecFor(
  store: Store,
  model: ModelRecord,
  options: RetrainWindowOptions = {},
): Promise<RetrainSpec> {
  const cfg = parseModelConfig(model.config, `tt_models ${model.id} config`);
  const trainBars = options.trainBars ?? 756, holdoutBars = options.holdoutBars ?? 126;
  for (const [k, v] of [["trainBars", trainBars], ["holdoutBars", holdoutBars]] as const) {
    if (!Number.isInteger(v) || v < 20) {
      throw new RangeError(`${k} = ${v} must be a whole number of bars ≥ 20`);
    }
  }
  const cal = await commonBarCalendar(store, cfg.instruments, cfg.barSize);
  if (cal.length < holdoutBars + 40) {
    throw new RangeError(
      `${cal.length} ${cfg.barSize} bars of ${cfg.instruments.join(", ")} stored: a retraining ` +
        `with a ${holdoutBars}-bar tail needs at least ${holdoutBars + 40}`,
    );
  }
  const h = cal.length - holdoutBars;
  return {
    modelId: model.id,
    modelName: model.name,
    trainStart: isoDate(cal[Math.max(0, h - trainBars)]),
    trainEnd: isoDate(cal[h - 1]),
    holdoutStart: isoDate(cal[h]),
    dataEnd: isoDate(cal[cal.length - 1]),
    steps: options.steps ?? 4096,
    seed: options.seed ?? cfg.seed + 1,
    numEnvs: options.numEnvs,
    modelsDir: options.modelsDir,
    autoPromote: options.autoPromote ?? false,
  };
}

/** What a retraining job produced (stored as `tt_retrain_jobs.result_json`). */
export interface RetrainOutcome {
  jobId: number;
  /** The new version. */
  challengerModelId: number;
  challengerVersion: number;
  /** The model compared against on the tail (the name's champion, else the retrained model). */
  championModelId: number;
  challengerEpisodeId: number;
  championEpisodeId: number;
  /** The champion's tail evaluation overlaps its training (biased in its favour). */
  championInSample: boolean;
  verdict: CompareVerdict;
  text: string;
  /** True when `autoPromote` moved `champion` to the new version. */
  promoted: boolean;
}

/**
 * Runs one retraining job (see the module notes): train, evaluate on the tail, compare,
 * alias `challenger`, promote only with `autoPromote` and the verdict `promote`. The job's
 * row is claimed (`running`, one more attempt) and goes to `ok` (with the outcome) or
 * `failed` / `retry` (with the error, rethrown). A job already `ok` is not run again:
 * its stored outcome is returned.
 * @param store The store.
 * @param job The queued job (its `spec` is a {@linkcode RetrainSpec}).
 * @param options Worker name, whether this is the last try.
 * @returns The outcome.
 * @example
 * ```ts
 * const job = await enqueueRetrainJob(store, { modelId: m.id, modelName: m.name, reasons: [], spec: await retrainSpecFor(store, m) });
 * const out = await runRetrainJob(store, job); // out.challengerModelId is NAME@challenger
 * ```
 */
export async function runRetrainJob(
  store: Store,
  job: RetrainJobRecord,
  options: RunRetrainOptions = {},
): Promise<RetrainOutcome> {
  const spec = parseRetrainSpec(job.spec, `retrain job ${job.id}`);
  const claimed = await claimRetrainJob(store, job.id, options.worker ?? "in-process");
  if (claimed === null) {
    const done = await readRetrainJob(store, job.id);
    if (done === null) throw new RangeError(`Retrain job ${job.id} does not exist in this store`);
    return parseRetrainOutcome(done.result, `retrain job ${job.id} result`);
  }
  try {
    const trained = await trainModel(store, {
      resume: String(spec.modelId),
      start: spec.trainStart,
      end: spec.trainEnd,
      steps: spec.steps,
      seed: spec.seed,
      numEnvs: spec.numEnvs ?? 2,
      modelsDir: spec.modelsDir,
      logEpisodes: "none",
    });
    const tail = { start: spec.holdoutStart, end: spec.dataEnd, logBenchmark: false };
    const ev = await evaluateModel(store, { model: String(trained.modelId), ...tail });
    const alias = await readAlias(store, spec.modelName, "champion");
    const championId = alias?.modelId ?? spec.modelId;
    const champEv = await evaluateModel(store, {
      model: String(championId),
      ...tail,
      allowInSample: true,
    });
    const champ = await readModel(store, championId);
    const next = await readModel(store, trained.modelId);
    if (!champ || !next) throw new RangeError(`Model ${championId} or ${trained.modelId} vanished`);
    const cmp = await compareModels(store, champ, next, { source: "episodes", seed: spec.seed });
    const why = `retrain job ${job.id}: ${JSON.stringify(job.reasons)}`;
    await setAlias(store, next, "challenger", { who: "retrain-trigger", why });
    let promoted = false;
    if (spec.autoPromote && cmp.verdict === "promote" && !champEv.inSample) {
      await setAlias(store, next, "champion", {
        who: "retrain-trigger",
        why: `auto-promote (job ${job.id}): ${cmp.text}`,
      });
      promoted = true;
    }
    const out: RetrainOutcome = {
      jobId: job.id,
      challengerModelId: trained.modelId,
      challengerVersion: trained.version,
      championModelId: championId,
      challengerEpisodeId: ev.episodeId,
      championEpisodeId: champEv.episodeId,
      championInSample: champEv.inSample,
      verdict: cmp.verdict,
      text: cmp.text +
        (champEv.inSample
          ? " (the champion's tail overlaps its training: biased in its favour; no auto-promotion)"
          : ""),
      promoted,
    };
    await updateRetrainJob(store, job.id, {
      status: "ok",
      result: { ...out },
      resultModelId: trained.modelId,
    });
    return out;
  } catch (e) {
    await updateRetrainJob(store, job.id, {
      status: options.finalAttempt === false ? "retry" : "failed",
      error: e instanceof Error ? e.message : String(e),
    }).catch(() => undefined);
    throw e;
  }
}

/** What {@linkcode runRetrainJob} is told. */
export interface RunRetrainOptions {
  /** Who runs it, recorded on the row. Default `"in-process"`. */
  worker?: string;
  /** No try is left after this one: a failure marks the row `failed` (else `retry`). Default true. */
  finalAttempt?: boolean;
}

/**
 * Reads a stored {@linkcode RetrainOutcome} (`tt_retrain_jobs.result_json`) back.
 * @param json The stored value.
 * @param where Named in errors.
 * @returns The outcome.
 * @throws {TypeError} Naming the first missing or mistyped field.
 * @example
 * ```ts
 * const out = parseRetrainOutcome(job.result, `job ${job.id}`);
 * ```
 */
export function parseRetrainOutcome(json: unknown, where: string): RetrainOutcome {
  if (typeof json !== "object" || json === null) throw new TypeError(`${where}: not an object`);
  const o = json as Record<string, unknown>;
  const num = (k: string) => {
    if (typeof o[k] !== "number") throw new TypeError(`${where}: ${k} must be a number`);
    return o[k] as number;
  };
  const verdicts: readonly string[] = COMPARE_VERDICTS;
  if (typeof o.verdict !== "string" || !verdicts.includes(o.verdict)) {
    throw new TypeError(`${where}: verdict must be one of ${verdicts.join(", ")}`);
  }
  if (typeof o.text !== "string") throw new TypeError(`${where}: text must be a string`);
  return {
    jobId: num("jobId"),
    challengerModelId: num("challengerModelId"),
    challengerVersion: num("challengerVersion"),
    championModelId: num("championModelId"),
    challengerEpisodeId: num("challengerEpisodeId"),
    championEpisodeId: num("championEpisodeId"),
    championInSample: o.championInSample === true,
    verdict: o.verdict as CompareVerdict,
    text: o.text,
    promoted: o.promoted === true,
  };
}

/**
 * Reads a stored job spec back, checking every field.
 * @param json The stored value.
 * @param where Named in errors.
 * @returns The spec.
 * @throws {TypeError} Naming the first missing or mistyped field.
 * @example
 * ```ts
 * const spec = parseRetrainSpec(job.spec, `job ${job.id}`);
 * ```
 */
export function parseRetrainSpec(json: unknown, where: string): RetrainSpec {
  if (typeof json !== "object" || json === null) throw new TypeError(`${where}: not an object`);
  const o = json as Record<string, unknown>;
  const str = (k: string) => {
    if (typeof o[k] !== "string") throw new TypeError(`${where}: ${k} must be a string`);
    return o[k] as string;
  };
  const num = (k: string, optional = false) => {
    if (optional && o[k] === undefined) return undefined;
    if (typeof o[k] !== "number" || !Number.isFinite(o[k])) {
      throw new TypeError(`${where}: ${k} must be a number`);
    }
    return o[k] as number;
  };
  if (o.modelsDir !== undefined && typeof o.modelsDir !== "string") {
    throw new TypeError(`${where}: modelsDir must be a string`);
  }
  return {
    modelId: num("modelId")!,
    modelName: str("modelName"),
    trainStart: str("trainStart"),
    trainEnd: str("trainEnd"),
    holdoutStart: str("holdoutStart"),
    dataEnd: str("dataEnd"),
    steps: num("steps")!,
    seed: num("seed")!,
    numEnvs: num("numEnvs", true),
    modelsDir: o.modelsDir as string | undefined,
    autoPromote: o.autoPromote === true,
  };
}

/** What {@linkcode runTriggers} did. */
export interface TriggersResult {
  modelId: number;
  state: TriggerState;
  fired: TriggerReason[];
  /** The enqueued job (with `run` or `enqueue`), else null. */
  job: RetrainJobRecord | null;
  /** The job's outcome when it ran. */
  outcome: RetrainOutcome | null;
}

/**
 * Evaluates a model's retraining rules; when one fires and `enqueue` (or `run`) is set,
 * enqueues a retraining job, and with `run` runs it with `runner` (default in-process
 * {@linkcode runRetrainJob}; the job engine passes its own).
 * @param store The store.
 * @param model The registry row.
 * @param rules The rules.
 * @param options `enqueue`, `run`, the windows of the job, the runner.
 * @returns State, fired rules, job and outcome.
 * @example
 * ```ts
 * const r = await runTriggers(store, model, { everyBars: 63 }, { run: true });
 * r.outcome?.challengerModelId;
 * ```
 */
export async function runTriggers(
  store: Store,
  model: ModelRecord,
  rules: TriggerRules,
  options: RetrainWindowOptions & {
    enqueue?: boolean;
    run?: boolean;
    runner?: (store: Store, job: RetrainJobRecord) => Promise<RetrainOutcome>;
  } = {},
): Promise<TriggersResult> {
  const state = await readTriggerState(store, model);
  const fired = evaluateTriggers(rules, state);
  if (fired.length === 0 || !(options.enqueue || options.run)) {
    return { modelId: model.id, state, fired, job: null, outcome: null };
  }
  const spec = await retrainSpecFor(store, model, {
    ...options,
    autoPromote: options.autoPromote ?? rules.autoPromote,
  });
  const job = await enqueueRetrainJob(store, {
    modelId: model.id,
    modelName: model.name,
    reasons: fired,
    spec,
  });
  if (!options.run) return { modelId: model.id, state, fired, job, outcome: null };
  const outcome = await (options.runner ?? runRetrainJob)(store, job);
  return { modelId: model.id, state, fired, job, outcome };
}

/**
 * Performance drift of a model's trading run with a backtest over the same bars: when no
 * evaluation episode of the model covers the run, the model is evaluated over the run's
 * range first (out of sample only; an in-sample range is left to the stored episodes with
 * a warning). See `computePerformanceDrift`.
 * @param store The store.
 * @param model The registry row.
 * @param options Run, thresholds, seed, whether to store.
 * @returns The drift figures.
 * @example
 * ```ts
 * const d = await performanceDriftOf(store, model, { runId: 12 });
 * d.drifted;
 * ```
 */
export async function performanceDriftOf(
  store: Store,
  model: ModelRecord,
  options: {
    runId?: number;
    thresholds?: Partial<PerformanceDriftThresholds>;
    seed?: number;
    record?: boolean;
  } = {},
): Promise<ModelPerformanceDrift> {
  const runId = options.runId ?? await performanceRunOf(store, model.id);
  const curve = await readAccountCurve(store, runId);
  const warnings: string[] = [];
  let episodeId: number | undefined;
  const covered = curve.length >= 4 &&
    (await listEpisodes(store, { kind: "eval", modelId: model.id, limit: 200 })).some((e) =>
      e.startTime !== null && e.endTime !== null && e.startTime.getTime() <= curve[0].bar &&
      e.endTime.getTime() >= curve[curve.length - 1].bar
    );
  if (curve.length >= 4 && !covered) {
    try {
      const ev = await evaluateModel(store, {
        model: String(model.id),
        start: isoDate(curve[0].bar),
        end: isoDate(curve[curve.length - 1].bar),
        logBenchmark: false,
      });
      episodeId = ev.episodeId;
    } catch (e) {
      if (!(e instanceof InSampleError)) throw e;
      warnings.push(`the run's range overlaps training, not evaluated over it: ${e.message}`);
    }
  }
  const d = await computePerformanceDrift(store, model, { ...options, runId, episodeId });
  d.warnings.push(...warnings);
  return d;
}
