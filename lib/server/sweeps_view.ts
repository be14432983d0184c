/**
 * The dashboard's Sweeps page data: every sweep with its progress (`/api/sweeps`), and
 * one sweep's jobs and leaderboard (`/api/sweeps/ID`) — the same `sweepStatus` as
 * `deno task sweep status ID`: settings ranked by the out-of-sample median over seeds,
 * the number of configurations tried and the deflated Sharpe ratio of the winner. Job
 * states are the store's (`tt_sweep_jobs`, which the workers keep in step with pg-boss);
 * the dashboard opens no queue connection.
 *
 * @module
 */
import type { Queryable } from "../db/store.ts";
import { listSweeps, type SweepSummaryRecord } from "../db/sweeps_repo.ts";
import { type SweepStatus, sweepStatus } from "../jobs/sweep.ts";

/** `/api/sweeps`. */
export interface SweepsView {
  sweeps: (Omit<SweepSummaryRecord, "createdAt"> & { createdAt: string })[];
}

/**
 * Every sweep, newest first, with its jobs counted per state.
 * @param q The store.
 * @returns The list.
 * @example
 * ```ts
 * const { sweeps } = await sweepsView(store);
 * ```
 */
export async function sweepsView(q: Queryable): Promise<SweepsView> {
  const sweeps = await listSweeps(q, { limit: 100 });
  return { sweeps: sweeps.map((s) => ({ ...s, createdAt: s.createdAt.toISOString() })) };
}

/** `/api/sweeps/ID`. */
export type SweepView = SweepStatus;

/**
 * One sweep: progress, every job's state, the leaderboard with its selection-bias note.
 * @param q The store.
 * @param sweepId `tt_sweeps.id`.
 * @returns The status (as `deno task sweep status ID --json`).
 * @throws {RangeError} For an unknown sweep (the endpoint answers 404).
 * @example
 * ```ts
 * const v = await sweepView(store, 3);
 * v.leaderboard.winner?.deflatedSharpe;
 * ```
 */
export async function sweepView(q: Queryable, sweepId: number): Promise<SweepView> {
  return await sweepStatus(q, sweepId);
}
