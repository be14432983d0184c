/**
 * Stored drift measurements (`tt_drift_runs`, `tt_feature_drift`); the measures
 * themselves are computed in `lib/models/drift.ts`.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { jsonColumn } from "./_json.ts";

/** The kinds of drift measured. */
export const DRIFT_KINDS = ["feature", "performance"] as const;
/** One of {@linkcode DRIFT_KINDS}. */
export type DriftKind = typeof DRIFT_KINDS[number];

/** One stored per-feature, per-instrument figure. */
export interface FeatureDriftRecord {
  instrument: string;
  feature: string;
  psi: number;
  /** Empirical p-value of the PSI (see `lib/models/drift.ts`). */
  psiP: number;
  ksD: number;
  /** Empirical p-value of the KS distance. */
  ksP: number;
  nTrain: number;
  nRecent: number;
  drifted: boolean;
}

/** What {@linkcode recordDriftRun} stores. */
export interface NewDriftRun {
  modelId: number | null;
  kind: DriftKind;
  windowStart: number | null;
  windowEnd: number | null;
  drifted: boolean;
  summary: Record<string, unknown>;
  /** Per-feature figures (feature drift only). */
  rows?: readonly FeatureDriftRecord[];
}

/** A stored drift run. */
export interface DriftRunRecord extends Omit<NewDriftRun, "rows"> {
  id: number;
  computedAt: Date;
  rows: FeatureDriftRecord[];
}

const nan = (x: number | null) => x === null ? NaN : x;
const sqlNum = (x: number) => Number.isFinite(x) ? x : null;

/**
 * Stores one drift computation and its rows, in one transaction of the caller's choice.
 * @param q The store or a transaction.
 * @param run The computation.
 * @returns The run id.
 * @example
 * ```ts
 * const id = await recordDriftRun(store, { modelId: 3, kind: "feature", windowStart, windowEnd, drifted: false, summary: {}, rows });
 * ```
 */
export async function recordDriftRun(q: Queryable, run: NewDriftRun): Promise<number> {
  const [row] = await q.query<{ id: number }>(
    `INSERT INTO tt_drift_runs (model_id, kind, window_start, window_end, drifted, summary_json)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [
      run.modelId,
      run.kind,
      run.windowStart === null ? null : new Date(run.windowStart).toISOString(),
      run.windowEnd === null ? null : new Date(run.windowEnd).toISOString(),
      run.drifted,
      JSON.stringify(run.summary),
    ],
  );
  const rows = run.rows ?? [];
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const params: unknown[] = [];
    const values = chunk.map((r) => {
      params.push(
        row.id,
        r.instrument,
        r.feature,
        sqlNum(r.psi),
        sqlNum(r.psiP),
        sqlNum(r.ksD),
        sqlNum(r.ksP),
        r.nTrain,
        r.nRecent,
        r.drifted,
      );
      const b = params.length - 10;
      return `(${Array.from({ length: 10 }, (_, k) => `$${b + k + 1}`).join(", ")})`;
    });
    await q.query(
      `INSERT INTO tt_feature_drift
         (run_id, instrument, feature, psi, psi_p, ks_d, ks_p, n_train, n_recent, drifted)
       VALUES ${values.join(", ")}`,
      params,
    );
  }
  return row.id;
}

/**
 * The newest drift run of a model and kind, with its rows.
 * @param q The store.
 * @param modelId `tt_models.id`.
 * @param kind Which drift.
 * @returns The run, or null when none was recorded.
 * @example
 * ```ts
 * const last = await latestDriftRun(store, 3, "feature"); // last?.drifted
 * ```
 */
export async function latestDriftRun(
  q: Queryable,
  modelId: number,
  kind: DriftKind,
): Promise<DriftRunRecord | null> {
  const [r] = await q.query<{
    id: number;
    model_id: number | null;
    kind: DriftKind;
    computed_at: Date;
    window_start: Date | null;
    window_end: Date | null;
    drifted: boolean;
    summary_json: Record<string, unknown> | string;
  }>(
    "SELECT * FROM tt_drift_runs WHERE model_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1",
    [modelId, kind],
  );
  if (!r) return null;
  const rows = await q.query<{
    instrument: string;
    feature: string;
    psi: number | null;
    psi_p: number | null;
    ks_d: number | null;
    ks_p: number | null;
    n_train: number;
    n_recent: number;
    drifted: boolean;
  }>("SELECT * FROM tt_feature_drift WHERE run_id = $1 ORDER BY instrument, feature", [r.id]);
  return {
    id: r.id,
    modelId: r.model_id,
    kind: r.kind,
    computedAt: r.computed_at,
    windowStart: r.window_start ? new Date(r.window_start).getTime() : null,
    windowEnd: r.window_end ? new Date(r.window_end).getTime() : null,
    drifted: r.drifted,
    summary: jsonColumn(r.summary_json),
    rows: rows.map((x) => ({
      instrument: x.instrument,
      feature: x.feature,
      psi: nan(x.psi),
      psiP: nan(x.psi_p),
      ksD: nan(x.ks_d),
      ksP: nan(x.ks_p),
      nTrain: x.n_train,
      nRecent: x.n_recent,
      drifted: x.drifted,
    })),
  };
}
