/**
 * Sweeps (`tt_sweeps`) and their jobs (`tt_sweep_jobs`): the definition of a
 * hyperparameter sweep, one row per (setting, seed, fold) job with its spec, its state,
 * how many times a worker started it, its error and its result. The queue that hands
 * the jobs to workers is pg-boss's (`lib/jobs/`); these rows make a job idempotent on
 * its key: {@linkcode claimSweepJob} refuses a completed job, so it never runs twice.
 *
 * Specs and results are JSON written and parsed by `lib/jobs/`.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { jsonColumn } from "./_json.ts";

/** How a sweep runs: pg-boss workers (a server) or one job after another in the submitting process. */
export type SweepMode = "queue" | "in-process";

/** The states of a sweep job (pg-boss's names; `retry`: failed, to be tried again). */
export const SWEEP_JOB_STATES = ["created", "active", "retry", "completed", "failed"] as const;
/** One of {@linkcode SWEEP_JOB_STATES}. */
export type SweepJobState = typeof SWEEP_JOB_STATES[number];

/** A stored `tt_sweeps` row. */
export interface SweepRecord {
  id: number;
  name: string;
  definition: unknown;
  /** Distinct settings tried. */
  configurations: number;
  mode: SweepMode;
  createdAt: Date;
}

/** A stored `tt_sweep_jobs` row. */
export interface SweepJobRecord {
  id: number;
  sweepId: number;
  key: string;
  settingIndex: number;
  settingKey: string;
  seed: number;
  fold: number;
  spec: unknown;
  state: SweepJobState;
  queueJobId: string | null;
  /** Times a worker started it. */
  runs: number;
  worker: string | null;
  error: string | null;
  modelId: number | null;
  result: unknown;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

interface SweepRow {
  id: number;
  name: string;
  definition: unknown;
  configurations: number;
  mode: SweepMode;
  created_at: Date;
}

interface JobRow {
  id: number;
  sweep_id: number;
  job_key: string;
  setting_index: number;
  setting_key: string;
  seed: number;
  fold: number;
  spec: unknown;
  state: SweepJobState;
  queue_job_id: string | null;
  runs: number;
  worker: string | null;
  error: string | null;
  model_id: number | null;
  result: unknown;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

function toJob(r: JobRow): SweepJobRecord {
  return {
    id: r.id,
    sweepId: r.sweep_id,
    key: r.job_key,
    settingIndex: r.setting_index,
    settingKey: r.setting_key,
    seed: r.seed,
    fold: r.fold,
    spec: jsonColumn(r.spec),
    state: r.state,
    queueJobId: r.queue_job_id,
    runs: r.runs,
    worker: r.worker,
    error: r.error,
    modelId: r.model_id,
    result: jsonColumn(r.result ?? null),
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** What {@linkcode createSweep} stores. */
export interface NewSweep {
  name: string;
  definition: object;
  configurations: number;
  mode: SweepMode;
  /** One per job. */
  jobs: readonly NewSweepJob[];
}

/** One job of {@linkcode NewSweep}; `key` is given by the caller and must be unique. */
export interface NewSweepJob {
  /** Key suffix after the sweep id, e.g. `0/s1/f0`; the stored key is `<sweepId>/<suffix>`. */
  keySuffix: string;
  settingIndex: number;
  settingKey: string;
  seed: number;
  fold: number;
  spec: object;
}

/**
 * Stores a sweep and its jobs in one transaction.
 * @param store Anything with `transaction` (an open `Store`).
 * @param sweep The definition, the number of settings, the mode and the jobs.
 * @returns The sweep id and the stored jobs, in the order given.
 * @example
 * ```ts
 * const { id, jobs } = await createSweep(store, { name: "lr", definition, configurations: 2, mode: "queue", jobs: [] });
 * ```
 */
export async function createSweep(
  store: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  sweep: NewSweep,
): Promise<{ id: number; jobs: SweepJobRecord[] }> {
  return await store.transaction(async (tx) => {
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO tt_sweeps (name, definition, configurations, mode)
       VALUES ($1, $2::jsonb, $3, $4) RETURNING id`,
      [sweep.name, JSON.stringify(sweep.definition), sweep.configurations, sweep.mode],
    );
    const jobs: SweepJobRecord[] = [];
    for (const j of sweep.jobs) {
      const [job] = await tx.query<JobRow>(
        `INSERT INTO tt_sweep_jobs (sweep_id, job_key, setting_index, setting_key, seed, fold, spec)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING *`,
        [
          row.id,
          `${row.id}/${j.keySuffix}`,
          j.settingIndex,
          j.settingKey,
          j.seed,
          j.fold,
          JSON.stringify(j.spec),
        ],
      );
      jobs.push(toJob(job));
    }
    return { id: row.id, jobs };
  });
}

/**
 * Records the queue's id of an enqueued job.
 * @param q The store.
 * @param key The job key.
 * @param queueJobId pg-boss's job id.
 * @example
 * ```ts
 * await setSweepJobQueueId(store, "3/0/s1/f0", id);
 * ```
 */
export async function setSweepJobQueueId(
  q: Queryable,
  key: string,
  queueJobId: string,
): Promise<void> {
  await q.query("UPDATE tt_sweep_jobs SET queue_job_id = $2 WHERE job_key = $1", [
    key,
    queueJobId,
  ]);
}

/**
 * Claims a job for a run: marks it `active`, counts the run and names the worker,
 * unless it is already completed (or unknown). This is what makes a job idempotent on
 * its key: a job redelivered after it completed is not run again.
 * @param q The store.
 * @param key The job key.
 * @param worker Who runs it (host and pid).
 * @returns The claimed row, or null when the job is completed or unknown.
 * @example
 * ```ts
 * const job = await claimSweepJob(store, "3/0/s1/f0", "host:1234");
 * if (job === null) console.log("already done");
 * ```
 */
export async function claimSweepJob(
  q: Queryable,
  key: string,
  worker: string,
): Promise<SweepJobRecord | null> {
  const [row] = await q.query<JobRow>(
    `UPDATE tt_sweep_jobs
        SET state = 'active', runs = runs + 1, worker = $2, started_at = now(), error = NULL
      WHERE job_key = $1 AND state <> 'completed'
      RETURNING *`,
    [key, worker],
  );
  return row ? toJob(row) : null;
}

/**
 * Records a job's result and marks it completed (first writer wins: a job already
 * completed keeps its first result).
 * @param q The store.
 * @param key The job key.
 * @param outcome The registered model and the JSON result.
 * @returns Whether this call completed it.
 * @example
 * ```ts
 * await completeSweepJob(store, key, { modelId: 12, result });
 * ```
 */
export async function completeSweepJob(
  q: Queryable,
  key: string,
  outcome: { modelId: number | null; result: object },
): Promise<boolean> {
  const rows = await q.query<{ id: number }>(
    `UPDATE tt_sweep_jobs
        SET state = 'completed', model_id = $2, result = $3::jsonb, error = NULL, finished_at = now()
      WHERE job_key = $1 AND state <> 'completed'
      RETURNING id`,
    [key, outcome.modelId, JSON.stringify(outcome.result)],
  );
  return rows.length > 0;
}

/**
 * Records a job's failure: `failed` when no try is left, else `retry`.
 * @param q The store.
 * @param key The job key.
 * @param failure The error message and whether it is final.
 * @example
 * ```ts
 * await failSweepJob(store, key, { error: "No 1 day bars for NOPE", final: true });
 * ```
 */
export async function failSweepJob(
  q: Queryable,
  key: string,
  failure: { error: string; final: boolean },
): Promise<void> {
  await q.query(
    `UPDATE tt_sweep_jobs
        SET state = $3, error = $2, finished_at = CASE WHEN $3 = 'failed' THEN now() END
      WHERE job_key = $1 AND state <> 'completed'`,
    [key, failure.error, failure.final ? "failed" : "retry"],
  );
}

/**
 * Reads one sweep.
 * @param q The store.
 * @param id `tt_sweeps.id`.
 * @returns The sweep, or null.
 * @example
 * ```ts
 * const sweep = await readSweep(store, 3);
 * ```
 */
export async function readSweep(q: Queryable, id: number): Promise<SweepRecord | null> {
  const [r] = await q.query<SweepRow>("SELECT * FROM tt_sweeps WHERE id = $1", [id]);
  return r ? toSweep(r) : null;
}

function toSweep(r: SweepRow): SweepRecord {
  return {
    id: Number(r.id),
    name: r.name,
    definition: jsonColumn(r.definition),
    configurations: r.configurations,
    mode: r.mode,
    createdAt: r.created_at,
  };
}

/** A sweep with its jobs counted per state (what {@linkcode listSweeps} returns). */
export interface SweepSummaryRecord extends Omit<SweepRecord, "definition"> {
  /** Jobs per state (only states that occur), and `total`. */
  progress: Record<string, number> & { total: number };
}

/**
 * The newest sweeps with their jobs counted per state.
 * @param q The store.
 * @param options `limit`, default 50.
 * @returns Sweeps, newest first.
 * @example
 * ```ts
 * for (const s of await listSweeps(store)) console.log(s.id, s.progress.completed ?? 0, s.progress.total);
 * ```
 */
export async function listSweeps(
  q: Queryable,
  options: { limit?: number } = {},
): Promise<SweepSummaryRecord[]> {
  const sweeps = await q.query<SweepRow>(
    "SELECT * FROM tt_sweeps ORDER BY id DESC LIMIT $1",
    [options.limit ?? 50],
  );
  if (sweeps.length === 0) return [];
  const counts = await q.query<{ sweep_id: number; state: string; n: number }>(
    `SELECT sweep_id, state, count(*)::int AS n FROM tt_sweep_jobs
      WHERE sweep_id = ANY($1::bigint[]) GROUP BY sweep_id, state`,
    [sweeps.map((r) => r.id)],
  );
  return sweeps.map((r) => {
    const { definition: _d, ...head } = toSweep(r);
    const progress: Record<string, number> & { total: number } = { total: 0 };
    for (const c of counts.filter((c) => Number(c.sweep_id) === head.id)) {
      progress[c.state] = Number(c.n);
      progress.total += Number(c.n);
    }
    return { ...head, progress };
  });
}

/**
 * Reads one job by key.
 * @param q The store.
 * @param key The job key.
 * @returns The job, or null.
 * @example
 * ```ts
 * (await readSweepJob(store, "3/0/s1/f0"))?.state;
 * ```
 */
export async function readSweepJob(q: Queryable, key: string): Promise<SweepJobRecord | null> {
  const [r] = await q.query<JobRow>("SELECT * FROM tt_sweep_jobs WHERE job_key = $1", [key]);
  return r ? toJob(r) : null;
}

/**
 * A sweep's jobs in (setting, seed, fold) order.
 * @param q The store.
 * @param sweepId `tt_sweeps.id`.
 * @returns The jobs.
 * @example
 * ```ts
 * const done = (await listSweepJobs(store, 3)).filter((j) => j.state === "completed").length;
 * ```
 */
export async function listSweepJobs(q: Queryable, sweepId: number): Promise<SweepJobRecord[]> {
  const rows = await q.query<JobRow>(
    "SELECT * FROM tt_sweep_jobs WHERE sweep_id = $1 ORDER BY setting_index, seed, fold",
    [sweepId],
  );
  return rows.map(toJob);
}
