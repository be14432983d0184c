/**
 * Read-only summaries for the dashboard (`lib/server/`) that no other repository offers:
 * the latest training runs with their progress, in one query.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { jsonColumn } from "./_json.ts";

/** A training run with how far it got, see {@linkcode listTrainProgress}. */
export interface TrainProgress {
  id: number;
  startedAt: Date;
  finishedAt: Date | null;
  modelId: number | null;
  /** Steps the run was asked for (`config.steps`), when recorded. */
  plannedSteps: number | null;
  /** PPO updates logged so far. */
  updates: number;
  /** Environment steps of the last logged update (0 before the first). */
  timesteps: number;
  /** Mean episode return of the last update that had one. */
  lastEpisodeReturn: number | null;
  /** Steps per second of the last update. */
  stepsPerSecond: number | null;
  /** Instruments trained on (`config.data.instruments`). */
  instruments: string[];
  seed: number | null;
}

/**
 * The latest training runs with their logged progress, newest first.
 * @param q The store.
 * @param limit Most runs. Default 20.
 * @returns One line per run.
 * @example
 * ```ts
 * const running = (await listTrainProgress(store)).filter((r) => r.finishedAt === null);
 * ```
 */
export async function listTrainProgress(q: Queryable, limit = 20): Promise<TrainProgress[]> {
  const rows = await q.query<{
    id: number;
    started_at: Date;
    finished_at: Date | null;
    model_id: number | null;
    config_json: Record<string, unknown> | string;
    updates: number;
    timesteps: number | null;
    last_return: number | null;
    sps: number | null;
  }>(
    `SELECT r.id, r.started_at, r.finished_at, r.model_id, r.config_json,
       (SELECT count(*)::int8 FROM tt_train_metrics m WHERE m.run_id = r.id) AS updates,
       (SELECT m.timesteps FROM tt_train_metrics m WHERE m.run_id = r.id
         ORDER BY m.update_index DESC LIMIT 1) AS timesteps,
       (SELECT m.mean_episode_return FROM tt_train_metrics m
         WHERE m.run_id = r.id AND m.mean_episode_return IS NOT NULL
         ORDER BY m.update_index DESC LIMIT 1) AS last_return,
       (SELECT m.steps_per_second FROM tt_train_metrics m WHERE m.run_id = r.id
         ORDER BY m.update_index DESC LIMIT 1) AS sps
     FROM tt_train_runs r ORDER BY r.id DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => {
    const cfg = jsonColumn(r.config_json);
    const data = (typeof cfg.data === "object" && cfg.data !== null ? cfg.data : {}) as Record<
      string,
      unknown
    >;
    return {
      id: Number(r.id),
      startedAt: new Date(r.started_at),
      finishedAt: r.finished_at === null ? null : new Date(r.finished_at),
      modelId: r.model_id === null ? null : Number(r.model_id),
      plannedSteps: typeof cfg.steps === "number" ? cfg.steps : null,
      updates: Number(r.updates),
      timesteps: r.timesteps === null ? 0 : Number(r.timesteps),
      lastEpisodeReturn: r.last_return,
      stepsPerSecond: r.sps,
      instruments: Array.isArray(data.instruments) ? data.instruments.map(String) : [],
      seed: typeof cfg.seed === "number" ? cfg.seed : null,
    };
  });
}
