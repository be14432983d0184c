/**
 * Retraining jobs on the job engine. A trigger (`lib/models/triggers.ts`) that fires
 * enqueues a `tt_retrain_jobs` row (`runTriggers` of `lib/pipeline/retrain.ts`); this
 * module decides where it runs: on a PostgreSQL server its id goes to the pg-boss queue
 * {@linkcode RETRAIN_QUEUE} and any `deno task worker` takes it (the same workers,
 * lease and bounded retries as sweep jobs); on PGlite (one process) it runs here, now.
 * Either way the one code path is `runRetrainJob`, which claims the row first: a job
 * that finished `ok` is never run again, a failed try is recorded on the row (`retry`,
 * then `failed` with its message on the last try).
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import type { ModelRecord } from "../db/models_repo.ts";
import {
  readRetrainJob,
  type RetrainJobRecord,
  setRetrainJobQueueId,
} from "../db/model_ab_repo.ts";
import type { TriggerRules } from "../models/triggers.ts";
import {
  parseRetrainOutcome,
  type RetrainOutcome,
  type RetrainWindowOptions,
  runRetrainJob,
  runTriggers,
  type TriggersResult,
} from "../pipeline/retrain.ts";
import { type LeaseOptions, openSweepQueue, type QueueOptions, RETRAIN_QUEUE } from "./queue.ts";
import { workerName } from "./run_job.ts";

/** Where a retraining job went. */
export interface RetrainDispatch {
  /** `queue`: on pg-boss for the workers; `in-process`: run by this call. */
  mode: "queue" | "in-process";
  /** `tt_retrain_jobs.id`. */
  jobId: number;
  /** pg-boss's job id (queue mode), else null. */
  queueJobId: string | null;
  /** The pg-boss queue (queue mode), else null. */
  queue: string | null;
  /** The outcome when it ran here (in-process), else null. */
  outcome: RetrainOutcome | null;
}

/** What {@linkcode dispatchRetrainJob} is told. */
export interface DispatchRetrainOptions {
  /**
   * The server's URL (the store's): with a PostgreSQL store the job is queued. Without
   * it (or on PGlite) the job runs in-process.
   */
  url?: string;
  /** Lease and retries of the queued job. Default `DEFAULT_LEASE`. */
  lease?: LeaseOptions;
  /** Queue connection settings. */
  queue?: QueueOptions;
}

/**
 * Sends a retraining job where it runs: the pg-boss queue on a server store with `url`
 * (the pg-boss id is recorded on the row), else runs it in this process.
 * @param store The store.
 * @param job The `tt_retrain_jobs` row.
 * @param options Server URL, lease, queue settings.
 * @returns Where it went (and the outcome when it ran here).
 * @example
 * ```ts
 * const d = await dispatchRetrainJob(store, job, { url: Deno.env.get("DATABASE_URL") });
 * console.log(d.mode, d.queueJobId ?? d.outcome?.challengerModelId);
 * ```
 */
export async function dispatchRetrainJob(
  store: Store,
  job: RetrainJobRecord,
  options: DispatchRetrainOptions = {},
): Promise<RetrainDispatch> {
  if (store.kind === "postgres" && options.url) {
    const queue = await openSweepQueue(options.url, { ...options.queue, supervise: false });
    try {
      const queueJobId = await queue.enqueueRetrain(job.id, options.lease);
      await setRetrainJobQueueId(store, job.id, queueJobId);
      return { mode: "queue", jobId: job.id, queueJobId, queue: RETRAIN_QUEUE, outcome: null };
    } finally {
      await queue.close();
    }
  }
  const outcome = await runRetrainJob(store, job, { worker: `${workerName()} (in-process)` });
  return { mode: "in-process", jobId: job.id, queueJobId: null, queue: null, outcome };
}

/**
 * Runs one retraining job by id, as a worker does: a job already `ok` is not run again
 * (its stored outcome is returned with `ran: false`).
 * @param store The store.
 * @param retrainJobId `tt_retrain_jobs.id`.
 * @param options Worker name; `finalAttempt` false leaves a failure as `retry`.
 * @returns Whether it ran, and the outcome.
 * @throws {RangeError} For an unknown job; whatever training or evaluation throws.
 * @example
 * ```ts
 * const { ran, outcome } = await executeRetrainJob(store, 4, { worker: "lab-2:4182" });
 * ```
 */
export async function executeRetrainJob(
  store: Store,
  retrainJobId: number,
  options: { worker?: string; finalAttempt?: boolean } = {},
): Promise<{ ran: boolean; outcome: RetrainOutcome }> {
  const job = await readRetrainJob(store, retrainJobId);
  if (job === null) {
    throw new RangeError(`Retrain job ${retrainJobId} does not exist in ${store.description}`);
  }
  if (job.status === "ok") {
    return { ran: false, outcome: parseRetrainOutcome(job.result, `retrain job ${job.id}`) };
  }
  const outcome = await runRetrainJob(store, job, {
    worker: options.worker ?? workerName(),
    finalAttempt: options.finalAttempt,
  });
  return { ran: true, outcome };
}

/** What {@linkcode triggerRetraining} returns. */
export interface TriggerRetrainingResult extends TriggersResult {
  /** Where the job went, when a rule fired and `run` was set; else null. */
  dispatch: RetrainDispatch | null;
}

/**
 * Evaluates a model's retraining rules and, when one fires and `run` is set, enqueues
 * the retraining job and dispatches it ({@linkcode dispatchRetrainJob}: pg-boss on a
 * server, in-process on PGlite). What `deno task models triggers --run` and
 * `deno task trade --triggers` call.
 * @param store The store.
 * @param model The registry row.
 * @param rules The rules.
 * @param options `run`, the job's windows, and the dispatch options.
 * @returns The trigger state, the rules that fired, the job, where it went, its outcome (in-process).
 * @example
 * ```ts
 * const r = await triggerRetraining(store, model, { everyBars: 20 }, { run: true, url });
 * r.dispatch?.mode; // "queue" on a server
 * ```
 */
export async function triggerRetraining(
  store: Store,
  model: ModelRecord,
  rules: TriggerRules,
  options: RetrainWindowOptions & DispatchRetrainOptions & { run?: boolean } = {},
): Promise<TriggerRetrainingResult> {
  const r = await runTriggers(store, model, rules, {
    ...options,
    run: false,
    enqueue: options.run,
  });
  if (r.job === null) return { ...r, dispatch: null };
  const dispatch = await dispatchRetrainJob(store, r.job, options);
  const job = (await readRetrainJob(store, r.job.id)) ?? r.job;
  return { ...r, job, outcome: dispatch.outcome, dispatch };
}

/** The rules and retraining windows of a `--triggers` list. */
export interface TriggerList {
  rules: TriggerRules;
  window: Pick<RetrainWindowOptions, "trainBars" | "holdoutBars" | "steps">;
}

/**
 * Reads the `--triggers` list of `deno task trade`: comma-separated `every=N`,
 * `feature-drift`, `performance-drift`, `auto-promote`, and the retraining job's
 * `train-bars=N`, `holdout-bars=N`, `steps=N`.
 * @param text The list.
 * @returns The rules and the windows.
 * @throws {RangeError} For an unknown item, a bad number, or no rule at all.
 * @example
 * ```ts
 * parseTriggerList("every=20,feature-drift,steps=2048");
 * // { rules: { everyBars: 20, featureDrift: true }, window: { steps: 2048 } }
 * ```
 */
export function parseTriggerList(text: string): TriggerList {
  const rules: TriggerRules = {};
  const window: TriggerList["window"] = {};
  const whole = (item: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (v === undefined || v === "" || !Number.isInteger(n) || n < min) {
      throw new RangeError(`--triggers item "${item}": a whole number ≥ ${min} after "="`);
    }
    return n;
  };
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const [k, v] = item.split("=", 2);
    switch (k) {
      case "every":
        rules.everyBars = whole(item, v, 1);
        break;
      case "feature-drift":
        rules.featureDrift = true;
        break;
      case "performance-drift":
        rules.performanceDrift = true;
        break;
      case "auto-promote":
        rules.autoPromote = true;
        break;
      case "train-bars":
        window.trainBars = whole(item, v, 20);
        break;
      case "holdout-bars":
        window.holdoutBars = whole(item, v, 20);
        break;
      case "steps":
        window.steps = whole(item, v, 1);
        break;
      default:
        throw new RangeError(
          `--triggers item "${item}" is not one of every=N, feature-drift, performance-drift, ` +
            `auto-promote, train-bars=N, holdout-bars=N, steps=N`,
        );
    }
  }
  if (rules.everyBars === undefined && !rules.featureDrift && !rules.performanceDrift) {
    throw new RangeError(
      `--triggers "${text}" has no rule: give every=N, feature-drift or performance-drift`,
    );
  }
  return { rules, window };
}

/**
 * The plain-JSON summary of a {@linkcode triggerRetraining} result (what
 * `deno task trade --triggers --json` prints under `triggers`).
 * @param r The result.
 * @returns Fired rules, the trigger state, the job, where it went, the outcome.
 * @example
 * ```ts
 * console.log(JSON.stringify({ triggers: triggersSummary(r) }));
 * ```
 */
export function triggersSummary(r: TriggerRetrainingResult): Record<string, unknown> {
  return {
    modelId: r.modelId,
    fired: r.fired,
    newBars: r.state.newBars,
    since: r.state.since,
    featureDrift: r.state.featureDrift,
    performanceDrift: r.state.performanceDrift,
    job: r.job ? { id: r.job.id, status: r.job.status } : null,
    mode: r.dispatch?.mode ?? null,
    queue: r.dispatch?.queue ?? null,
    queueJobId: r.dispatch?.queueJobId ?? null,
    outcome: r.outcome,
  };
}

/**
 * One line on what the triggers did, for the text output of the tasks.
 * @param r The result.
 * @param modelName The model's registry name (for `NAME@challenger`).
 * @returns The line.
 * @example
 * ```ts
 * console.log(describeTriggerRetraining(r, "ppo"));
 * ```
 */
export function describeTriggerRetraining(r: TriggerRetrainingResult, modelName: string): string {
  if (r.fired.length === 0) {
    return `triggers: no rule fired (${r.state.newBars} new bars since ${r.state.since})`;
  }
  const fired = r.fired.map((f) => `${f.rule} (${f.detail})`).join("; ");
  const d = r.dispatch;
  if (d === null) return `triggers: fired ${fired}; not enqueued`;
  if (d.mode === "queue") {
    return `triggers: fired ${fired} → retrain job ${d.jobId} queued on ${d.queue} (pg-boss job ` +
      `${d.queueJobId}) for deno task worker; it registers ${modelName}@challenger`;
  }
  const o = d.outcome!;
  return `triggers: fired ${fired} → retrain job ${d.jobId} ran in-process: model ` +
    `${o.challengerModelId} (v${o.challengerVersion}) is ${modelName}@challenger` +
    `${o.promoted ? " and now champion (auto-promote)" : ""}; ${o.verdict}`;
}
