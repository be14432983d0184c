/**
 * Sweeps end to end: submit a plan (stored in `tt_sweeps` / `tt_sweep_jobs`), then
 * either put its jobs on the pg-boss queue for workers (a server) or run them here one
 * after another (PGlite, or `mode: "in-process"`): the same `executeSweepJob` either
 * way, so the results are the same. {@linkcode sweepStatus} reports progress, each
 * job's state and the leaderboard.
 *
 * @module
 */
import type { Queryable, Store } from "../db/store.ts";
import {
  createSweep,
  listSweepJobs,
  readSweep,
  setSweepJobQueueId,
  type SweepJobRecord,
  type SweepMode,
  type SweepRecord,
} from "../db/sweeps_repo.ts";
import type { TrainHooks } from "../pipeline/train.ts";
import { type Leaderboard, type LeaderboardJob, sweepLeaderboard } from "./leaderboard.ts";
import { type LeaseOptions, openSweepQueue, type QueueOptions, type SweepQueue } from "./queue.ts";
import {
  executeSweepJob,
  parseSweepJobResult,
  type SweepJobResult,
  workerName,
} from "./run_job.ts";
import { settingKey } from "./sweep_definition.ts";
import { jobKeySuffix, type SweepPlan } from "./sweep_plan.ts";

/** What {@linkcode submitSweep} is told. */
export interface SubmitSweepOptions {
  /**
   * `"queue"`: enqueue for workers (needs `url`); `"in-process"`: run every job here, one
   * after another; `"auto"` (default): the queue on a server store, in-process on PGlite.
   */
  mode?: "auto" | SweepMode;
  /** The server's URL (the store's), for the queue. */
  url?: string;
  /** Lease and retries of queued jobs. */
  lease?: LeaseOptions;
  /** Queue connection settings. */
  queue?: QueueOptions;
  /** In-process: parent of the model directories. Default `<dataDir>/models`. */
  modelsDir?: string;
  /** In-process: called before each job runs. */
  onJob?(index: number, total: number, key: string): TrainHooks | void;
  /** In-process: called after each job (its result, or its error). */
  onJobDone?(key: string, outcome: { result: SweepJobResult } | { error: string }): void;
}

/** What {@linkcode submitSweep} returns. */
export interface SubmittedSweep {
  sweepId: number;
  mode: SweepMode;
  /** Job keys in plan order. */
  keys: string[];
  configurations: number;
  folds: number;
  /** In-process: jobs that completed and failed. */
  completed: number;
  failed: number;
}

/**
 * Stores a sweep and its jobs, then enqueues them (queue mode) or runs them one after
 * another in this process (in-process mode; a failing job is recorded `failed` with its
 * message and the others still run).
 * @param store The store (a server for queue mode).
 * @param plan From `planSweep`.
 * @param options Mode, server URL, lease, in-process callbacks.
 * @returns The sweep id and its job keys.
 * @throws {TypeError} For queue mode without a server store and URL.
 * @example
 * ```ts
 * const plan = await planSweep(store, parseSweepDefinition({ grid: { lr: [3e-4, 1e-3] }, seeds: "1..3" }));
 * const { sweepId } = await submitSweep(store, plan, { url: Deno.env.get("DATABASE_URL") });
 * ```
 */
export async function submitSweep(
  store: Store,
  plan: SweepPlan,
  options: SubmitSweepOptions = {},
): Promise<SubmittedSweep> {
  const mode: SweepMode = options.mode === undefined || options.mode === "auto"
    ? (store.kind === "postgres" && options.url ? "queue" : "in-process")
    : options.mode;
  if (mode === "queue" && (store.kind !== "postgres" || !options.url)) {
    throw new TypeError(
      "A queued sweep needs a PostgreSQL server that the workers reach (DATABASE_URL or --db-url); " +
        "the embedded store runs a sweep in-process",
    );
  }
  const { id, jobs } = await createSweep(store, {
    name: plan.definition.name,
    definition: plan.definition,
    configurations: plan.configurations,
    mode,
    jobs: plan.jobs.map((j) => ({
      keySuffix: jobKeySuffix(j),
      settingIndex: j.settingIndex,
      settingKey: settingKey(j.setting),
      seed: j.seed,
      fold: j.fold,
      spec: j,
    })),
  });
  const out: SubmittedSweep = {
    sweepId: id,
    mode,
    keys: jobs.map((j) => j.key),
    configurations: plan.configurations,
    folds: plan.folds,
    completed: 0,
    failed: 0,
  };
  if (mode === "queue") {
    const queue = await openSweepQueue(options.url!, { ...options.queue, supervise: false });
    try {
      const ids = await queue.enqueue(
        jobs.map((j) => ({ sweepId: id, key: j.key })),
        options.lease,
      );
      for (let i = 0; i < jobs.length; i++) await setSweepJobQueueId(store, jobs[i].key, ids[i]);
    } finally {
      await queue.close();
    }
    return out;
  }
  const done = await runSweepInProcess(store, id, options);
  return { ...out, ...done };
}

/**
 * Runs every job of a sweep that is not completed, one after another, in this process
 * (the same `executeSweepJob` as a worker). Each job is tried once; a failure is
 * recorded on it and the next job runs.
 * @param store The store.
 * @param sweepId `tt_sweeps.id`.
 * @param options Models directory and callbacks (see {@linkcode SubmitSweepOptions}).
 * @returns Jobs completed and failed by this call.
 * @example
 * ```ts
 * await runSweepInProcess(store, 3);
 * ```
 */
export async function runSweepInProcess(
  store: Store,
  sweepId: number,
  options: Pick<SubmitSweepOptions, "modelsDir" | "onJob" | "onJobDone"> = {},
): Promise<{ completed: number; failed: number }> {
  const jobs = (await listSweepJobs(store, sweepId)).filter((j) => j.state !== "completed");
  let completed = 0, failed = 0;
  const worker = `${workerName()} (in-process)`;
  for (let i = 0; i < jobs.length; i++) {
    const hooks = options.onJob?.(i, jobs.length, jobs[i].key) ?? undefined;
    try {
      const { result } = await executeSweepJob(store, jobs[i].key, {
        worker,
        finalAttempt: true,
        modelsDir: options.modelsDir,
        trainHooks: hooks,
      });
      completed++;
      options.onJobDone?.(jobs[i].key, { result });
    } catch (e) {
      failed++;
      options.onJobDone?.(jobs[i].key, { error: (e as Error)?.message ?? String(e) });
    }
  }
  return { completed, failed };
}

/** One job in {@linkcode SweepStatus}. */
export interface SweepJobStatus {
  key: string;
  /** pg-boss's state for a queued sweep (`created`, `retry`, `active`, `completed`, `failed`, …), else the store's. */
  state: string;
  settingKey: string;
  seed: number;
  fold: number;
  /** Times a worker started it. */
  runs: number;
  worker: string | null;
  error: string | null;
  modelId: number | null;
  /** Out-of-sample Sharpe ratio once completed. */
  sharpe: number | null;
  weightsSha256: string | null;
}

/** What {@linkcode sweepStatus} returns. */
export interface SweepStatus {
  sweep: Omit<SweepRecord, "definition">;
  /** Jobs per state, and the total. */
  progress: Record<string, number> & { total: number };
  jobs: SweepJobStatus[];
  leaderboard: Leaderboard;
}

/**
 * A sweep's progress, every job's state and the leaderboard.
 * @param store The store (any connection to it: the dashboard passes its read connection).
 * @param sweepId `tt_sweeps.id`.
 * @param options `queue`: read pg-boss's states of a queued sweep from it.
 * @returns The status.
 * @throws {RangeError} For an unknown sweep.
 * @example
 * ```ts
 * const s = await sweepStatus(store, 3);
 * console.log(s.progress, s.leaderboard.rows[0]?.settingKey);
 * ```
 */
export async function sweepStatus(
  store: Queryable & { description?: string },
  sweepId: number,
  options: { queue?: SweepQueue } = {},
): Promise<SweepStatus> {
  const sweep = await readSweep(store, sweepId);
  if (sweep === null) {
    throw new RangeError(`No sweep ${sweepId} in ${store.description ?? "the store"}`);
  }
  const records = await listSweepJobs(store, sweepId);
  const queued = options.queue && sweep.mode === "queue"
    ? await options.queue.states(sweepId)
    : null;
  const parsed = records.map((r) => ({ r, result: resultOf(r) }));
  const jobs: SweepJobStatus[] = parsed.map(({ r, result }) => ({
    key: r.key,
    state: queued?.get(r.key)?.state ?? r.state,
    settingKey: r.settingKey,
    seed: r.seed,
    fold: r.fold,
    runs: r.runs,
    worker: r.worker,
    error: r.error,
    modelId: r.modelId,
    sharpe: result ? result.sharpe : null,
    weightsSha256: result ? result.weightsSha256 : null,
  }));
  const progress: Record<string, number> & { total: number } = { total: jobs.length };
  for (const j of jobs) progress[j.state] = (progress[j.state] ?? 0) + 1;
  const board: LeaderboardJob[] = parsed.map(({ r, result }) => ({
    key: r.key,
    settingIndex: r.settingIndex,
    settingKey: r.settingKey,
    seed: r.seed,
    fold: r.fold,
    state: r.state,
    result,
  }));
  const { definition: _d, ...head } = sweep;
  return {
    sweep: head,
    progress,
    jobs,
    leaderboard: sweepLeaderboard(board, sweep.configurations),
  };
}

function resultOf(r: SweepJobRecord): SweepJobResult | null {
  return r.state === "completed" && r.result !== null
    ? parseSweepJobResult(r.result, `job ${r.key}`)
    : null;
}
