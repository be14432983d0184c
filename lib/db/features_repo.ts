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

/** Where an instrument's stored features (or signals) end, for the incremental step. */
export interface StoredFrontier {
  instrument: string;
  /** First and last bar in `tt_prices` (epoch ms; null when the instrument has no bars). */
  firstBar: number | null;
  lastBar: number | null;
  /** The last timestamp with a stored row of one of the asked names (null: none stored). */
  lastStored: number | null;
  /** The asked names stored at `lastStored`, with their values (sorted by name). */
  storedNames: string[];
  storedValues: number[];
}

/** Filters of {@linkcode readFeatureFrontier}. */
export interface FrontierQuery {
  /** Default: every instrument with bars of the bar size in `tt_prices`. */
  instruments?: string[];
  /** Default `"1 day"`. */
  barSize?: string;
  /** Feature (or signal) names that count as stored. */
  names: readonly string[];
  /** `features` (default, `tt_features`) or `signals` (`tt_signal_scores`). */
  table?: "features" | "signals";
}

/**
 * Per instrument: its first and last bar and the last bar with stored features, with the
 * names and values stored there. Every lookup walks a primary-key index (no scan of
 * `tt_features`), so it stays cheap as the tables grow.
 * @param q The store.
 * @param query See {@linkcode FrontierQuery}.
 * @returns One entry per instrument, sorted by instrument.
 * @example
 * ```ts
 * const f = await readFeatureFrontier(store, { names: ["vol_20"] });
 * f.filter((x) => x.lastStored === null || x.lastStored < x.lastBar!); // instruments with new bars
 * ```
 */
export async function readFeatureFrontier(
  q: Queryable,
  query: FrontierQuery,
): Promise<StoredFrontier[]> {
  const [table, name, value] = query.table === "signals"
    ? ["tt_signal_scores", "signal_name", "score"]
    : ["tt_features", "feature", "value"];
  const params: unknown[] = [query.barSize ?? "1 day", [...query.names]];
  // A loose index scan lists the instruments (one probe per instrument, not a scan).
  const instruments = query.instruments?.length
    ? (params.push(query.instruments), `SELECT unnest($3::text[]) AS instrument`)
    : `WITH RECURSIVE r AS (
         (SELECT instrument FROM tt_prices WHERE bar_size = $1 ORDER BY instrument LIMIT 1)
         UNION ALL
         SELECT (SELECT p.instrument FROM tt_prices p WHERE p.bar_size = $1
                 AND p.instrument > r.instrument ORDER BY p.instrument LIMIT 1)
         FROM r WHERE r.instrument IS NOT NULL)
       SELECT instrument FROM r WHERE instrument IS NOT NULL`;
  const rows = await q.query<{
    instrument: string;
    first_bar: Date | null;
    last_bar: Date | null;
    last_stored: Date | null;
    names: string[] | null;
    vals: number[] | null;
  }>(
    `WITH i AS (${instruments})
     SELECT i.instrument,
       (SELECT p.timestamp FROM tt_prices p WHERE p.instrument = i.instrument AND p.bar_size = $1
        ORDER BY p.timestamp LIMIT 1) AS first_bar,
       (SELECT p.timestamp FROM tt_prices p WHERE p.instrument = i.instrument AND p.bar_size = $1
        ORDER BY p.timestamp DESC LIMIT 1) AS last_bar,
       l.ts AS last_stored,
       ARRAY(SELECT s.${name} FROM ${table} s WHERE s.instrument = i.instrument
             AND s.bar_size = $1 AND s.timestamp = l.ts AND s.${name} = ANY($2::text[])
             ORDER BY s.${name}) AS names,
       ARRAY(SELECT s.${value} FROM ${table} s WHERE s.instrument = i.instrument
             AND s.bar_size = $1 AND s.timestamp = l.ts AND s.${name} = ANY($2::text[])
             ORDER BY s.${name}) AS vals
     FROM i LEFT JOIN LATERAL (
       SELECT s.timestamp AS ts FROM ${table} s WHERE s.instrument = i.instrument
       AND s.bar_size = $1 AND s.${name} = ANY($2::text[]) ORDER BY s.timestamp DESC LIMIT 1
     ) l ON true
     ORDER BY i.instrument`,
    params,
  );
  const ms = (d: Date | null) => (d === null ? null : new Date(d).getTime());
  return rows.map((r) => ({
    instrument: r.instrument,
    firstBar: ms(r.first_bar),
    lastBar: ms(r.last_bar),
    lastStored: ms(r.last_stored),
    storedNames: r.names ?? [],
    storedValues: (r.vals ?? []).map(Number),
  }));
}

/**
 * The earliest bar any of `instruments` needs for `bars` bars of history before `before`:
 * per instrument the `bars`-th of its own bars before `before` (or its first bar when it
 * has fewer), then the minimum. Counting each instrument's own bars keeps a gap (a
 * missing bar) from shortening its history.
 * @param q The store.
 * @param query Instruments, bar size, the first new bar (epoch ms) and the bar count (≥ 1).
 * @returns Epoch ms, or null when none of the instruments has a bar before `before`.
 * @example
 * ```ts
 * const from = await readHistoryStart(store, { instruments: ["AAPL"], before: t, bars: 120 });
 * ```
 */
export async function readHistoryStart(
  q: Queryable,
  query: { instruments: string[]; barSize?: string; before: number; bars: number },
): Promise<number | null> {
  if (!(Number.isInteger(query.bars) && query.bars >= 1)) {
    throw new RangeError(`readHistoryStart: bars must be an integer ≥ 1; got ${query.bars}`);
  }
  const rows = await q.query<{ start: Date | null }>(
    `SELECT min(COALESCE(
       (SELECT p.timestamp FROM tt_prices p WHERE p.instrument = i.instrument AND p.bar_size = $1
        AND p.timestamp < $3::timestamptz ORDER BY p.timestamp DESC OFFSET ($4::int - 1) LIMIT 1),
       (SELECT p.timestamp FROM tt_prices p WHERE p.instrument = i.instrument AND p.bar_size = $1
        AND p.timestamp < $3::timestamptz ORDER BY p.timestamp LIMIT 1))) AS start
     FROM unnest($2::text[]) AS i(instrument)`,
    [query.barSize ?? "1 day", query.instruments, new Date(query.before).toISOString(), query.bars],
  );
  const s = rows[0]?.start ?? null;
  return s === null ? null : new Date(s).getTime();
}
