/**
 * Repository for long-form features (`tt_features`) and signal scores
 * (`tt_signal_scores`): idempotent upserts, one transaction per batch, and reads.
 *
 * @module
 */
import type { Queryable, Store } from "./store.ts";
import { upsertColumns } from "./bulk.ts";
import { jsonColumn } from "./_json.ts";

/** Long-form feature rows as column arrays (the layout of `tt_features`). */
export interface FeatureRows {
  instrument: string[];
  /** Epoch milliseconds, UTC. */
  timestamp: ArrayLike<number>;
  feature: string[];
  value: ArrayLike<number>;
}

/** Signal score rows as column arrays (the layout of `tt_signal_scores`). */
export interface SignalRows {
  instrument: string[];
  /** Epoch milliseconds, UTC. */
  timestamp: ArrayLike<number>;
  signalName: string[];
  score: ArrayLike<number>;
  /** JSON text (or objects) with the rationale. */
  metaJson: (string | Record<string, unknown>)[];
}

/** Options of the batched writers. */
export interface BatchWriteOptions {
  /** Rows per transaction. Default 100,000. */
  rowsPerTransaction?: number;
  /** Called after each transaction commits, with the rows committed so far. */
  onCommit?: (rowsSoFar: number, totalRows: number) => void;
}

const FEATURE_COLUMNS = [
  { name: "instrument", type: "text" },
  { name: "bar_size", type: "text" },
  { name: "timestamp", type: "timestamptz" },
  { name: "feature", type: "text" },
  { name: "value", type: "float8" },
] as const;

const SIGNAL_COLUMNS = [
  { name: "instrument", type: "text" },
  { name: "bar_size", type: "text" },
  { name: "timestamp", type: "timestamptz" },
  { name: "signal_name", type: "text" },
  { name: "score", type: "float8" },
  { name: "meta_json", type: "jsonb" },
] as const;

function slice<T>(a: ArrayLike<T>, start: number, end: number): T[] {
  const out = new Array<T>(end - start);
  for (let i = start; i < end; i++) out[i - start] = a[i];
  return out;
}

async function batched(
  store: Store,
  n: number,
  options: BatchWriteOptions,
  write: (tx: Queryable, start: number, end: number) => Promise<unknown>,
): Promise<number> {
  const per = options.rowsPerTransaction ?? 100_000;
  if (!(per >= 1)) throw new RangeError(`rowsPerTransaction must be ≥ 1; got ${per}`);
  for (let start = 0; start < n; start += per) {
    const end = Math.min(n, start + per);
    await store.transaction((tx) => write(tx, start, end));
    options.onCommit?.(end, n);
  }
  return n;
}

function checkLengths(what: string, cols: Record<string, ArrayLike<unknown>>): number {
  const entries = Object.entries(cols);
  const n = entries[0][1].length;
  for (const [k, v] of entries) {
    if (v.length !== n) throw new TypeError(`${what}.${k} has ${v.length} values, expected ${n}`);
  }
  return n;
}

/**
 * Upserts feature values into `tt_features` (key: instrument, bar size, timestamp,
 * feature). Rewriting the same rows leaves the table unchanged, so a rerun is safe.
 * Each batch of `rowsPerTransaction` rows commits atomically.
 * @param store The store.
 * @param barSize Bar size of every row, e.g. `"1 day"`.
 * @param rows Long-form rows; values must be finite.
 * @param options See {@linkcode BatchWriteOptions}.
 * @returns Rows written.
 * @throws {TypeError} On columns of different lengths. {@link RangeError} on a non-finite value.
 * @example
 * ```ts
 * await upsertFeatures(store, "1 day", { instrument: ["AAPL"], timestamp: [t], feature: ["vol_20"], value: [0.012] });
 * ```
 */
export async function upsertFeatures(
  store: Store,
  barSize: string,
  rows: FeatureRows,
  options: BatchWriteOptions = {},
): Promise<number> {
  const n = checkLengths("FeatureRows", rows as unknown as Record<string, ArrayLike<unknown>>);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(rows.value[i])) {
      throw new RangeError(
        `Feature ${rows.feature[i]} of ${rows.instrument[i]} at ${
          new Date(rows.timestamp[i]).toISOString()
        } is ${rows.value[i]}; only finite values are stored`,
      );
    }
  }
  return await batched(store, n, options, (tx, s, e) =>
    upsertColumns(tx, {
      table: "tt_features",
      columns: FEATURE_COLUMNS,
      key: ["instrument", "bar_size", "timestamp", "feature"],
      data: [
        slice(rows.instrument, s, e),
        new Array(e - s).fill(barSize),
        slice(rows.timestamp, s, e),
        slice(rows.feature, s, e),
        slice(rows.value, s, e),
      ],
    }));
}

/**
 * Upserts signal scores into `tt_signal_scores` (key: instrument, bar size, timestamp,
 * signal name); score and `meta_json` are overwritten, so a rerun is idempotent.
 * @param store The store.
 * @param barSize Bar size of every row.
 * @param rows Signal rows.
 * @param options See {@linkcode BatchWriteOptions}.
 * @returns Rows written.
 * @example
 * ```ts
 * await upsertSignalScores(store, "1 day", signalRowsFromFrame(combined));
 * ```
 */
export function upsertSignalScores(
  store: Store,
  barSize: string,
  rows: SignalRows,
  options: BatchWriteOptions = {},
): Promise<number> {
  const n = checkLengths("SignalRows", rows as unknown as Record<string, ArrayLike<unknown>>);
  return batched(store, n, options, (tx, s, e) =>
    upsertColumns(tx, {
      table: "tt_signal_scores",
      columns: SIGNAL_COLUMNS,
      key: ["instrument", "bar_size", "timestamp", "signal_name"],
      data: [
        slice(rows.instrument, s, e),
        new Array(e - s).fill(barSize),
        slice(rows.timestamp, s, e),
        slice(rows.signalName, s, e),
        slice(rows.score, s, e),
        slice(rows.metaJson, s, e),
      ],
    }));
}

/** Filters for {@linkcode readFeatures} and {@linkcode readSignalScores}. */
export interface FeatureQuery {
  /** Only these symbols. Default: all. */
  instruments?: string[];
  /** Default `"1 day"`. */
  barSize?: string;
  /** Only these features / signal names. Default: all. */
  names?: string[];
  /** Inclusive start (ISO or Date). */
  start?: string | Date;
  /** Inclusive end (ISO or Date). */
  end?: string | Date;
}

function where(query: FeatureQuery, nameColumn: string): { sql: string; params: unknown[] } {
  const clauses = ["bar_size = $1"];
  const params: unknown[] = [query.barSize ?? "1 day"];
  if (query.instruments?.length) {
    params.push(query.instruments);
    clauses.push(`instrument = ANY($${params.length}::text[])`);
  }
  if (query.names?.length) {
    params.push(query.names);
    clauses.push(`${nameColumn} = ANY($${params.length}::text[])`);
  }
  if (query.start !== undefined) {
    params.push(new Date(query.start).toISOString());
    clauses.push(`timestamp >= $${params.length}::timestamptz`);
  }
  if (query.end !== undefined) {
    params.push(new Date(query.end).toISOString());
    clauses.push(`timestamp <= $${params.length}::timestamptz`);
  }
  return { sql: clauses.join(" AND "), params };
}

/**
 * Reads long-form features, ordered by instrument, timestamp, feature.
 * @param q The store.
 * @param query See {@linkcode FeatureQuery}.
 * @returns Column arrays.
 * @example
 * ```ts
 * const rows = await readFeatures(store, { instruments: ["AAPL"], names: ["vol_20"] });
 * ```
 */
export async function readFeatures(q: Queryable, query: FeatureQuery = {}): Promise<FeatureRows> {
  const w = where(query, "feature");
  const rows = await q.query<
    { instrument: string; timestamp: Date; feature: string; value: number }
  >(
    `SELECT instrument, timestamp, feature, value FROM tt_features WHERE ${w.sql}
     ORDER BY instrument, timestamp, feature`,
    w.params,
  );
  return {
    instrument: rows.map((r) => r.instrument),
    timestamp: rows.map((r) => new Date(r.timestamp).getTime()),
    feature: rows.map((r) => r.feature),
    value: rows.map((r) => r.value),
  };
}

/**
 * Reads signal scores, ordered by instrument, timestamp, signal name; `metaJson` parsed.
 * @param q The store.
 * @param query See {@linkcode FeatureQuery} (`names` filters signal names).
 * @returns Column arrays.
 * @example
 * ```ts
 * const s = await readSignalScores(store, { names: ["combined"] });
 * ```
 */
export async function readSignalScores(
  q: Queryable,
  query: FeatureQuery = {},
): Promise<SignalRows> {
  const w = where(query, "signal_name");
  const rows = await q.query<{
    instrument: string;
    timestamp: Date;
    signal_name: string;
    score: number;
    meta_json: Record<string, unknown> | string;
  }>(
    `SELECT instrument, timestamp, signal_name, score, meta_json FROM tt_signal_scores WHERE ${w.sql}
     ORDER BY instrument, timestamp, signal_name`,
    w.params,
  );
  return {
    instrument: rows.map((r) => r.instrument),
    timestamp: rows.map((r) => new Date(r.timestamp).getTime()),
    signalName: rows.map((r) => r.signal_name),
    score: rows.map((r) => r.score),
    metaJson: rows.map((r) => jsonColumn(r.meta_json)),
  };
}
