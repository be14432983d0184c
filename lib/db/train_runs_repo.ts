/**
 * Training runs (`tt_train_runs`) and their per-update PPO diagnostics
 * (`tt_train_metrics`). A run is started before training, its metrics are written as
 * updates finish, and it is finished with the id of the model it produced.
 *
 * Configs are passed through {@linkcode redactDeep} before they are stored.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { upsertColumns } from "./bulk.ts";
import { redactDeep } from "../util/redact.ts";
import { jsonColumn } from "./_json.ts";

/** One PPO update's diagnostics (a `tt_train_metrics` row). */
export interface TrainMetricRow {
  /** 0-based update number within the run. */
  updateIndex: number;
  /** Env steps collected so far in the run. */
  timesteps: number;
  policyLoss?: number | null;
  valueLoss?: number | null;
  entropy?: number | null;
  approxKl?: number | null;
  clipFraction?: number | null;
  explainedVariance?: number | null;
  /** Mean undiscounted return of the episodes finished so far (recent window). */
  meanEpisodeReturn?: number | null;
  stepsPerSecond?: number | null;
}

/** A stored `tt_train_runs` row. */
export interface TrainRunRecord {
  id: number;
  startedAt: Date;
  finishedAt: Date | null;
  modelId: number | null;
  config: Record<string, unknown>;
}

/**
 * Starts a training run.
 * @param q The store.
 * @param config The run's full configuration (redacted before storing).
 * @returns The run id.
 * @example
 * ```ts
 * const runId = await startTrainRun(store, { seed: 1, steps: 4096 });
 * ```
 */
export async function startTrainRun(
  q: Queryable,
  config: Record<string, unknown>,
): Promise<number> {
  const [row] = await q.query<{ id: number }>(
    "INSERT INTO tt_train_runs (config_json) VALUES ($1::jsonb) RETURNING id",
    [JSON.stringify(redactDeep(config))],
  );
  return row.id;
}

/**
 * Marks a run finished and links the model it produced.
 * @param q The store.
 * @param runId From {@linkcode startTrainRun}.
 * @param result `modelId` of the saved model, when one was saved.
 * @example
 * ```ts
 * await finishTrainRun(store, runId, { modelId: 3 });
 * ```
 */
export async function finishTrainRun(
  q: Queryable,
  runId: number,
  result: { modelId?: number | null } = {},
): Promise<void> {
  await q.query("UPDATE tt_train_runs SET finished_at = now(), model_id = $2 WHERE id = $1", [
    runId,
    result.modelId ?? null,
  ]);
}

/**
 * Writes (upserts) per-update training metrics.
 * @param q The store.
 * @param runId From {@linkcode startTrainRun}.
 * @param rows One per update.
 * @returns Rows written.
 * @example
 * ```ts
 * await logTrainMetrics(store, runId, [{ updateIndex: 0, timesteps: 2048, policyLoss: -0.01 }]);
 * ```
 */
export function logTrainMetrics(
  q: Queryable,
  runId: number,
  rows: readonly TrainMetricRow[],
): Promise<number> {
  const col = <K extends keyof TrainMetricRow>(k: K) => rows.map((r) => r[k] ?? null);
  return upsertColumns(q, {
    table: "tt_train_metrics",
    key: ["run_id", "update_index"],
    columns: [
      { name: "run_id", type: "int8" },
      { name: "update_index", type: "int4" },
      { name: "timesteps", type: "int8" },
      { name: "policy_loss", type: "float8" },
      { name: "value_loss", type: "float8" },
      { name: "entropy", type: "float8" },
      { name: "approx_kl", type: "float8" },
      { name: "clip_fraction", type: "float8" },
      { name: "explained_variance", type: "float8" },
      { name: "mean_episode_return", type: "float8" },
      { name: "steps_per_second", type: "float8" },
    ],
    data: [
      new Array(rows.length).fill(runId),
      col("updateIndex"),
      col("timesteps"),
      col("policyLoss"),
      col("valueLoss"),
      col("entropy"),
      col("approxKl"),
      col("clipFraction"),
      col("explainedVariance"),
      col("meanEpisodeReturn"),
      col("stepsPerSecond"),
    ],
  });
}

/**
 * Reads a run's metrics in update order.
 * @param q The store.
 * @param runId `tt_train_runs.id`.
 * @returns One row per update.
 * @example
 * ```ts
 * const losses = (await readTrainMetrics(store, runId)).map((r) => r.policyLoss);
 * ```
 */
export async function readTrainMetrics(q: Queryable, runId: number): Promise<TrainMetricRow[]> {
  const rows = await q.query<Record<string, number | null>>(
    "SELECT * FROM tt_train_metrics WHERE run_id = $1 ORDER BY update_index",
    [runId],
  );
  return rows.map((r) => ({
    updateIndex: r.update_index as number,
    timesteps: r.timesteps as number,
    policyLoss: r.policy_loss,
    valueLoss: r.value_loss,
    entropy: r.entropy,
    approxKl: r.approx_kl,
    clipFraction: r.clip_fraction,
    explainedVariance: r.explained_variance,
    meanEpisodeReturn: r.mean_episode_return,
    stepsPerSecond: r.steps_per_second,
  }));
}

/**
 * Reads a training run.
 * @param q The store.
 * @param runId `tt_train_runs.id`.
 * @returns The run, or `null`.
 * @example
 * ```ts
 * const run = await readTrainRun(store, runId);
 * ```
 */
export async function readTrainRun(q: Queryable, runId: number): Promise<TrainRunRecord | null> {
  const [r] = await q.query<{
    id: number;
    started_at: Date;
    finished_at: Date | null;
    model_id: number | null;
    config_json: Record<string, unknown> | string;
  }>("SELECT * FROM tt_train_runs WHERE id = $1", [runId]);
  if (!r) return null;
  return {
    id: r.id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    modelId: r.model_id,
    config: jsonColumn(r.config_json),
  };
}

/**
 * Lists the training runs of a model (the run that produced it and any resumed runs), newest first.
 * @param q The store.
 * @param modelId `tt_models.id`.
 * @returns Run rows.
 * @example
 * ```ts
 * const [latest] = await listTrainRuns(store, modelId);
 * ```
 */
export async function listTrainRuns(q: Queryable, modelId: number): Promise<TrainRunRecord[]> {
  const rows = await q.query<{ id: number }>(
    "SELECT id FROM tt_train_runs WHERE model_id = $1 ORDER BY id DESC",
    [modelId],
  );
  const out: TrainRunRecord[] = [];
  for (const r of rows) {
    const run = await readTrainRun(q, r.id);
    if (run) out.push(run);
  }
  return out;
}
