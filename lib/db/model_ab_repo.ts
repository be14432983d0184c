/**
 * Champion/challenger pairs of trading runs (`tt_ab_pairs`) and the retraining jobs a
 * trigger enqueued (`tt_retrain_jobs`), migration `1310_model_ab.sql`. The A/B logic is
 * in `lib/pipeline/shadow.ts`, the comparison in `lib/models/compare.ts`, the triggers
 * in `lib/models/triggers.ts` and `lib/pipeline/retrain.ts`.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { jsonColumn } from "./_json.ts";

/** How the challenger's book was run: beside the champion's on its own capital, or on a share of it. */
export type AbMode = "shadow" | "split";

/** A `tt_ab_pairs` row. */
export interface AbPairRecord {
  id: number;
  championRunId: number;
  challengerRunId: number;
  championModelId: number | null;
  challengerModelId: number | null;
  mode: AbMode;
  /** The champion's share of capital (`split` mode), else null. */
  split: number | null;
  createdAt: Date;
}

function toPair(r: Record<string, unknown>): AbPairRecord {
  const id = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: Number(r.id),
    championRunId: Number(r.champion_run_id),
    challengerRunId: Number(r.challenger_run_id),
    championModelId: id(r.champion_model_id),
    challengerModelId: id(r.challenger_model_id),
    mode: r.mode as AbMode,
    split: r.split === null ? null : Number(r.split),
    createdAt: r.created_at as Date,
  };
}

/**
 * Links a challenger's trading run to the champion's (once: a second call for the same
 * two runs returns the existing link).
 * @param q The store.
 * @param pair The two runs, their models, the mode and the champion's capital share.
 * @returns The link.
 * @example
 * ```ts
 * await recordAbPair(store, { championRunId: 4, challengerRunId: 5, championModelId: 1, challengerModelId: 2, mode: "shadow" });
 * ```
 */
export async function recordAbPair(
  q: Queryable,
  pair: Omit<AbPairRecord, "id" | "createdAt" | "split"> & { split?: number | null },
): Promise<AbPairRecord> {
  const rows = await q.query<Record<string, unknown>>(
    `INSERT INTO tt_ab_pairs (champion_run_id, challenger_run_id, champion_model_id,
       challenger_model_id, mode, split)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (champion_run_id, challenger_run_id) DO UPDATE SET mode = EXCLUDED.mode
     RETURNING *`,
    [
      pair.championRunId,
      pair.challengerRunId,
      pair.championModelId,
      pair.challengerModelId,
      pair.mode,
      pair.split ?? null,
    ],
  );
  return toPair(rows[0]);
}

/**
 * The A/B pairs, newest first, optionally of two given models (in either role).
 * @param q The store.
 * @param filter `models`: the two model ids (order does not matter); `runId`: pairs a run is in.
 * @returns The pairs.
 * @example
 * ```ts
 * const [latest] = await listAbPairs(store, { models: [1, 2] });
 * ```
 */
export async function listAbPairs(
  q: Queryable,
  filter: { models?: [number, number]; runId?: number } = {},
): Promise<AbPairRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.models) {
    params.push(filter.models[0], filter.models[1]);
    where.push(
      "((champion_model_id = $1 AND challenger_model_id = $2) OR (champion_model_id = $2 AND challenger_model_id = $1))",
    );
  }
  if (filter.runId !== undefined) {
    params.push(filter.runId);
    const k = `$${params.length}`;
    where.push(`(champion_run_id = ${k} OR challenger_run_id = ${k})`);
  }
  const rows = await q.query<Record<string, unknown>>(
    `SELECT * FROM tt_ab_pairs ${where.length ? "WHERE " + where.join(" AND ") : ""}
     ORDER BY id DESC`,
    params,
  );
  return rows.map(toPair);
}

/** Statuses of a retraining job (`retry`: a try failed, the queue tries it again). */
export type RetrainJobStatus = "queued" | "running" | "retry" | "ok" | "failed";

/** A `tt_retrain_jobs` row. */
export interface RetrainJobRecord {
  id: number;
  modelId: number | null;
  modelName: string;
  status: RetrainJobStatus;
  /** Why it was enqueued (the rules that fired). */
  reasons: unknown[];
  /** The job spec (`RetrainSpec` of `lib/pipeline/retrain.ts`). */
  spec: Record<string, unknown>;
  result: Record<string, unknown> | null;
  resultModelId: number | null;
  error: string | null;
  /** Times a run of it started (in-process or on a worker). */
  attempts: number;
  /** Who last started it (`host:pid`). */
  worker: string | null;
  /** The pg-boss job id when it went to the queue, else null (run in-process). */
  queueJobId: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

function toJob(r: Record<string, unknown>): RetrainJobRecord {
  const id = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: Number(r.id),
    modelId: id(r.model_id),
    modelName: String(r.model_name),
    status: r.status as RetrainJobStatus,
    reasons: jsonColumn(r.reasons_json as unknown[]) ?? [],
    spec: jsonColumn(r.spec_json as Record<string, unknown>) ?? {},
    result: r.result_json === null ? null : jsonColumn(r.result_json as Record<string, unknown>),
    resultModelId: id(r.result_model_id),
    error: (r.error as string | null) ?? null,
    attempts: Number(r.attempts ?? 0),
    worker: (r.worker as string | null) ?? null,
    queueJobId: (r.queue_job_id as string | null) ?? null,
    createdAt: r.created_at as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

/**
 * Enqueues a retraining job (status `queued`).
 * @param q The store.
 * @param job The model it retrains, why, and the spec.
 * @returns The job.
 * @example
 * ```ts
 * const job = await enqueueRetrainJob(store, { modelId: 3, modelName: "ppo", reasons: [{ rule: "every" }], spec });
 * ```
 */
export async function enqueueRetrainJob(
  q: Queryable,
  job: { modelId: number | null; modelName: string; reasons: unknown[]; spec: object },
): Promise<RetrainJobRecord> {
  const rows = await q.query<Record<string, unknown>>(
    `INSERT INTO tt_retrain_jobs (model_id, model_name, reasons_json, spec_json)
     VALUES ($1, $2, $3::jsonb, $4::jsonb) RETURNING *`,
    [job.modelId, job.modelName, JSON.stringify(job.reasons), JSON.stringify(job.spec)],
  );
  return toJob(rows[0]);
}

/**
 * Moves a job to `running`, `ok` or `failed`, with its result.
 * @param q The store.
 * @param id The job.
 * @param update The new status, result, challenger model and error.
 * @example
 * ```ts
 * await updateRetrainJob(store, job.id, { status: "ok", resultModelId: 7, result: { … } });
 * ```
 */
export async function updateRetrainJob(
  q: Queryable,
  id: number,
  update: {
    status: RetrainJobStatus;
    result?: Record<string, unknown>;
    resultModelId?: number | null;
    error?: string | null;
  },
): Promise<void> {
  const done = update.status === "ok" || update.status === "failed";
  await q.query(
    `UPDATE tt_retrain_jobs SET status = $2,
       result_json = COALESCE($3::jsonb, result_json),
       result_model_id = COALESCE($4, result_model_id),
       error = $5,
       finished_at = CASE WHEN $6 THEN now() ELSE finished_at END
     WHERE id = $1`,
    [
      id,
      update.status,
      update.result === undefined ? null : JSON.stringify(update.result),
      update.resultModelId ?? null,
      update.error ?? null,
      done,
    ],
  );
}

/**
 * Retraining jobs of a model name, newest first.
 * @param q The store.
 * @param modelName The registry name.
 * @returns The jobs.
 * @example
 * ```ts
 * const [last] = await listRetrainJobs(store, "ppo");
 * ```
 */
export async function listRetrainJobs(
  q: Queryable,
  modelName: string,
): Promise<RetrainJobRecord[]> {
  const rows = await q.query<Record<string, unknown>>(
    "SELECT * FROM tt_retrain_jobs WHERE model_name = $1 ORDER BY id DESC",
    [modelName],
  );
  return rows.map(toJob);
}

/**
 * One retraining job by id.
 * @param q The store.
 * @param id `tt_retrain_jobs.id`.
 * @returns The job, or null when there is none.
 * @example
 * ```ts
 * const job = await readRetrainJob(store, 4);
 * ```
 */
export async function readRetrainJob(q: Queryable, id: number): Promise<RetrainJobRecord | null> {
  const [row] = await q.query<Record<string, unknown>>(
    "SELECT * FROM tt_retrain_jobs WHERE id = $1",
    [id],
  );
  return row ? toJob(row) : null;
}

/**
 * Claims a retraining job for a run: moves it to `running`, counts the attempt and
 * records the worker, unless it finished (`ok`): a finished job is never run twice.
 * @param q The store.
 * @param id `tt_retrain_jobs.id`.
 * @param worker Who runs it (`host:pid`).
 * @returns The claimed job, or null when it is `ok` (or does not exist).
 * @example
 * ```ts
 * const job = await claimRetrainJob(store, 4, "lab-2:4182");
 * if (job === null) console.log("already done");
 * ```
 */
export async function claimRetrainJob(
  q: Queryable,
  id: number,
  worker: string,
): Promise<RetrainJobRecord | null> {
  const [row] = await q.query<Record<string, unknown>>(
    `UPDATE tt_retrain_jobs
        SET status = 'running', attempts = attempts + 1, worker = $2, error = NULL
      WHERE id = $1 AND status <> 'ok'
      RETURNING *`,
    [id, worker],
  );
  return row ? toJob(row) : null;
}

/**
 * Records the pg-boss job id a retraining job was queued under.
 * @param q The store.
 * @param id `tt_retrain_jobs.id`.
 * @param queueJobId pg-boss's id.
 * @example
 * ```ts
 * await setRetrainJobQueueId(store, 4, "0c9f…");
 * ```
 */
export async function setRetrainJobQueueId(
  q: Queryable,
  id: number,
  queueJobId: string,
): Promise<void> {
  await q.query("UPDATE tt_retrain_jobs SET queue_job_id = $2 WHERE id = $1", [id, queueJobId]);
}
