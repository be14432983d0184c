/**
 * Repository for bars, instruments and ingest lineage.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { upsertColumns } from "./bulk.ts";
import { type BarColumns, emptyBars } from "./bars.ts";
import { redact, redactDeep } from "../util/redact.ts";
import { jsonColumn } from "./_json.ts";

const PRICE_COLUMNS = [
  { name: "instrument", type: "text" },
  { name: "bar_size", type: "text" },
  { name: "timestamp", type: "timestamptz" },
  { name: "open", type: "float8" },
  { name: "high", type: "float8" },
  { name: "low", type: "float8" },
  { name: "close", type: "float8" },
  { name: "volume", type: "float8" },
  { name: "ingest_run_id", type: "int8" },
] as const;

/** Options of {@linkcode upsertPrices}. */
export interface UpsertPricesOptions {
  /**
   * `tt_ingest_runs.id` of the run writing these bars, stored in `tt_prices.ingest_run_id`
   * of every inserted bar and of every bar whose values change; a bar equal to the stored
   * one keeps its stored run id. Default none (null: writer unknown).
   */
  runId?: number | null;
}

/**
 * Upserts bars into `tt_prices` (idempotent: the same bars twice leave the same rows, and
 * the same run id: an identical bar is not rewritten).
 * @param q The store or, for atomic writes, a transaction.
 * @param barSize Bar size of every bar, e.g. `"1 day"`, `"1 hour"`.
 * @param bars Column arrays of equal length.
 * @param options See {@linkcode UpsertPricesOptions}.
 * @returns Rows sent (inserted, updated or already equal).
 * @example
 * ```ts
 * const runId = await startIngestRun(store, "csv", { path: "AAPL.csv" });
 * await store.transaction((tx) => upsertPrices(tx, "1 day", bars, { runId }));
 * ```
 */
export function upsertPrices(
  q: Queryable,
  barSize: string,
  bars: BarColumns,
  options: UpsertPricesOptions = {},
): Promise<number> {
  const n = bars.instrument.length;
  const runId = options.runId ?? null;
  if (runId !== null && !(Number.isSafeInteger(runId) && runId > 0)) {
    return Promise.reject(
      new RangeError(`upsertPrices: runId must be a positive integer; got ${runId}`),
    );
  }
  return upsertColumns(q, {
    table: "tt_prices",
    columns: PRICE_COLUMNS,
    key: ["instrument", "bar_size", "timestamp"],
    stamp: ["ingest_run_id"],
    data: [
      bars.instrument,
      new Array(n).fill(barSize),
      bars.timestamp,
      bars.open,
      bars.high,
      bars.low,
      bars.close,
      bars.volume,
      new Array(n).fill(runId),
    ],
  });
}

/** Filters for {@linkcode readPrices}. */
export interface PriceQuery {
  /** Only these symbols. Default: all. */
  instruments?: string[];
  /** Default `"1 day"`. */
  barSize?: string;
  /** Inclusive start (ISO date or `Date`). */
  start?: string | Date;
  /** Inclusive end (ISO date or `Date`; a date-only end includes that whole day). */
  end?: string | Date;
}

/**
 * Reads bars from `tt_prices`, ordered by instrument then time.
 * @param q The store.
 * @param query See {@linkcode PriceQuery}.
 * @returns Column arrays (timestamps in epoch ms).
 * @example
 * ```ts
 * const bars = await readPrices(store, { instruments: ["AAPL"], start: "2015-01-01" });
 * ```
 */
export async function readPrices(q: Queryable, query: PriceQuery = {}): Promise<BarColumns> {
  return (await readPriceRows(q, query, false)).bars;
}

/**
 * Like {@linkcode readPrices}, with the ingest run that last wrote each bar
 * (`tt_prices.ingest_run_id`; null for bars written before lineage was kept or without a run).
 * @param q The store.
 * @param query See {@linkcode PriceQuery}.
 * @returns The bars and, index for index, their run ids.
 * @example
 * ```ts
 * const { bars, runIds } = await readPricesWithRuns(store, { instruments: ["AAPL"] });
 * runIds[0]; // e.g. 3
 * ```
 */
export async function readPricesWithRuns(
  q: Queryable,
  query: PriceQuery = {},
): Promise<{ bars: BarColumns; runIds: (number | null)[] }> {
  return await readPriceRows(q, query, true);
}

async function readPriceRows(
  q: Queryable,
  query: PriceQuery,
  withRuns: boolean,
): Promise<{ bars: BarColumns; runIds: (number | null)[] }> {
  const { where, params } = priceFilter(query);
  const rows = await q.query<{
    instrument: string;
    timestamp: Date;
    open: number;
    high: number;
    low: number;
    close: number;
    volume: number;
    ingest_run_id?: number | string | null;
  }>(
    `SELECT instrument, timestamp, open, high, low, close, volume${
      withRuns ? ", ingest_run_id" : ""
    } FROM tt_prices
     WHERE ${where.join(" AND ")} ORDER BY instrument, timestamp`,
    params,
  );
  const out = emptyBars();
  const runIds: (number | null)[] = [];
  for (const r of rows) {
    out.instrument.push(r.instrument);
    out.timestamp.push(new Date(r.timestamp).getTime());
    out.open.push(r.open);
    out.high.push(r.high);
    out.low.push(r.low);
    out.close.push(r.close);
    out.volume.push(r.volume);
    if (withRuns) runIds.push(r.ingest_run_id == null ? null : Number(r.ingest_run_id));
  }
  return { bars: out, runIds };
}

/**
 * The same bars as {@linkcode readPrices}, fetched as one row of arrays per instrument
 * (`array_agg`): 3–4× faster on PGlite for a few thousand bars, where building one JS
 * object per row dominates. float8 arrays travel as shortest round-trip text, so values
 * are exact. Used by the incremental feature step, whose budget is a few hundred ms.
 * @param q The store.
 * @param query See {@linkcode PriceQuery}.
 * @returns Column arrays, ordered by instrument then time.
 * @example
 * ```ts
 * const bars = await readPricesGrouped(store, { instruments: ["AAPL", "MSFT"] });
 * ```
 */
export async function readPricesGrouped(
  q: Queryable,
  query: PriceQuery = {},
): Promise<BarColumns> {
  const { where, params } = priceFilter(query);
  const agg = (e: string, as: string) => `array_agg(${e} ORDER BY timestamp) AS ${as}`;
  const rows = await q.query<{
    instrument: string;
    t: number[];
    o: number[];
    h: number[];
    l: number[];
    c: number[];
    v: number[];
  }>(
    `SELECT instrument, ${agg("(extract(epoch FROM timestamp) * 1000)::float8", "t")},
       ${agg("open", "o")}, ${agg("high", "h")}, ${agg("low", "l")}, ${agg("close", "c")},
       ${agg("volume", "v")}
     FROM tt_prices WHERE ${where.join(" AND ")} GROUP BY instrument ORDER BY instrument`,
    params,
  );
  const out = emptyBars();
  for (const r of rows) {
    for (let k = 0; k < r.t.length; k++) {
      out.instrument.push(r.instrument);
      out.timestamp.push(Math.round(Number(r.t[k])));
      out.open.push(Number(r.o[k]));
      out.high.push(Number(r.h[k]));
      out.low.push(Number(r.l[k]));
      out.close.push(Number(r.c[k]));
      out.volume.push(Number(r.v[k]));
    }
  }
  return out;
}

/** The WHERE clause and parameters of a {@linkcode PriceQuery}. */
function priceFilter(query: PriceQuery): { where: string[]; params: unknown[] } {
  const where = ["bar_size = $1"];
  const params: unknown[] = [query.barSize ?? "1 day"];
  if (query.instruments?.length) {
    params.push(query.instruments);
    where.push(`instrument = ANY($${params.length}::text[])`);
  }
  if (query.start !== undefined) {
    params.push(toIso(query.start, false));
    where.push(`timestamp >= $${params.length}::timestamptz`);
  }
  if (query.end !== undefined) {
    params.push(toIso(query.end, true));
    where.push(
      `timestamp ${
        typeof query.end === "string" && /^\d{4}-\d{2}-\d{2}$/.test(query.end) ? "<" : "<="
      } $${params.length}::timestamptz`,
    );
  }
  return { where, params };
}

/**
 * Reads the distinct bar times of `tt_prices` (the union calendar of the instruments).
 * @param q The store.
 * @param query Same filters as {@linkcode readPrices}.
 * @returns Epoch ms, ascending.
 * @example
 * ```ts
 * const calendar = await readBarCalendar(store, { start: "2015-01-01", end: "2020-12-31" });
 * ```
 */
export async function readBarCalendar(q: Queryable, query: PriceQuery = {}): Promise<number[]> {
  const { where, params } = priceFilter(query);
  const rows = await q.query<{ timestamp: Date }>(
    `SELECT DISTINCT timestamp FROM tt_prices WHERE ${where.join(" AND ")} ORDER BY timestamp`,
    params,
  );
  return rows.map((r) => new Date(r.timestamp).getTime());
}

/** First and last bar of one instrument, see {@linkcode readBarRanges}. */
export interface BarRange {
  instrument: string;
  /** First bar, epoch ms. */
  first: number;
  /** Last bar, epoch ms. */
  last: number;
  /** Number of bars. */
  bars: number;
}

/**
 * Per-instrument first bar, last bar and bar count of one bar size.
 * @param q The store.
 * @param barSize Default `"1 day"`.
 * @returns One row per instrument with bars, sorted by instrument (empty when there are none).
 * @example
 * ```ts
 * const [aapl] = await readBarRanges(store); // { instrument: "AAPL", first: 1368403200000, … }
 * ```
 */
export async function readBarRanges(q: Queryable, barSize = "1 day"): Promise<BarRange[]> {
  const rows = await q.query<{ instrument: string; first: Date; last: Date; bars: number }>(
    `SELECT instrument, min(timestamp) AS first, max(timestamp) AS last, count(*)::int8 AS bars
     FROM tt_prices WHERE bar_size = $1 GROUP BY instrument ORDER BY instrument`,
    [barSize],
  );
  return rows.map((r) => ({
    instrument: r.instrument,
    first: new Date(r.first).getTime(),
    last: new Date(r.last).getTime(),
    bars: Number(r.bars),
  }));
}

/**
 * The first stored bar of each instrument, over every bar size (what
 * `tt_instruments.first_bar` records).
 * @param q The store or a transaction.
 * @param instruments Symbols to look up.
 * @returns One row per symbol that has bars, sorted by symbol.
 * @example
 * ```ts
 * const firsts = await readFirstBars(tx, ["AAPL", "MSFT"]); // [{ instrument: "AAPL", first: … }]
 * ```
 */
export async function readFirstBars(
  q: Queryable,
  instruments: readonly string[],
): Promise<{ instrument: string; first: number }[]> {
  const rows = await q.query<{ instrument: string; first: Date }>(
    `SELECT instrument, min(timestamp) AS first FROM tt_prices WHERE instrument = ANY($1::text[])
     GROUP BY instrument ORDER BY instrument`,
    [[...instruments]],
  );
  return rows.map((r) => ({ instrument: r.instrument, first: new Date(r.first).getTime() }));
}

/**
 * Counts the rows of `tt_prices`.
 * @param q The store.
 * @returns Bars stored, of every instrument and bar size.
 * @example
 * ```ts
 * if ((await countPrices(store)) === 0) console.log("empty store");
 * ```
 */
export async function countPrices(q: Queryable): Promise<number> {
  const [row] = await q.query<{ n: number }>("SELECT count(*)::int8 AS n FROM tt_prices");
  return Number(row.n);
}

function toIso(v: string | Date, endOfDay: boolean): string {
  if (v instanceof Date) return v.toISOString();
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const d = new Date(`${v}T00:00:00Z`);
    if (Number.isNaN(d.getTime())) throw new RangeError(`Not a date: ${v}`);
    if (endOfDay) d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString();
  }
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new RangeError(`Not a date: ${v}`);
  return d.toISOString();
}

/** A row of `tt_instruments`. */
export interface InstrumentRecord {
  symbol: string;
  secType?: string;
  exchange?: string | null;
  primaryExchange?: string | null;
  currency?: string | null;
  conId?: number | null;
  /** First available bar (epoch ms or Date). */
  firstBar?: number | Date | null;
}

/**
 * Upserts instrument metadata (only the fields given overwrite stored ones).
 * @param q The store or a transaction.
 * @param items Instruments.
 */
export async function upsertInstruments(q: Queryable, items: InstrumentRecord[]): Promise<void> {
  for (const it of items) {
    await q.query(
      `INSERT INTO tt_instruments (symbol, sec_type, exchange, primary_exchange, currency, con_id, first_bar, updated_at)
       VALUES ($1, COALESCE($2, 'STK'), $3, $4, $5, $6, $7, now())
       ON CONFLICT (symbol) DO UPDATE SET
         sec_type = COALESCE($2, tt_instruments.sec_type),
         exchange = COALESCE($3, tt_instruments.exchange),
         primary_exchange = COALESCE($4, tt_instruments.primary_exchange),
         currency = COALESCE($5, tt_instruments.currency),
         con_id = COALESCE($6, tt_instruments.con_id),
         first_bar = COALESCE($7, tt_instruments.first_bar),
         updated_at = now()`,
      [
        it.symbol,
        it.secType ?? null,
        it.exchange ?? null,
        it.primaryExchange ?? null,
        it.currency ?? null,
        it.conId ?? null,
        it.firstBar == null ? null : new Date(it.firstBar).toISOString(),
      ],
    );
  }
}

/**
 * Records the start of an ingest run (lineage). Parameters are redacted before storing.
 * @param q The store.
 * @param source `sample`, `csv`, `ibkr` …
 * @param parameters What the run was asked to do.
 * @returns The run id.
 */
export async function startIngestRun(
  q: Queryable,
  source: string,
  parameters: Record<string, unknown>,
): Promise<number> {
  const [row] = await q.query<{ id: number }>(
    "INSERT INTO tt_ingest_runs (source, parameters) VALUES ($1, $2::jsonb) RETURNING id",
    [source, JSON.stringify(redactDeep(parameters))],
  );
  return row.id;
}

/**
 * Records the end of an ingest run.
 * @param q The store.
 * @param id From {@linkcode startIngestRun}.
 * @param result Rows written, status and an optional (redacted) message.
 */
export async function finishIngestRun(
  q: Queryable,
  id: number,
  result: { rowsWritten: number; status: "ok" | "failed"; message?: string },
): Promise<void> {
  await q.query(
    "UPDATE tt_ingest_runs SET finished_at = now(), rows_written = $2, status = $3, message = $4 WHERE id = $1",
    [id, result.rowsWritten, result.status, result.message ? redact(result.message) : null],
  );
}

/** A stored `tt_ingest_runs` row (lineage of one import). */
export interface IngestRunRecord {
  id: number;
  /** `sample`, `csv`, `ibkr` … */
  source: string;
  /** `running`, `ok` or `failed`. */
  status: string;
  rowsWritten: number;
  startedAt: Date;
  finishedAt: Date | null;
  /** Redacted message of a finished run, if any. */
  message: string | null;
  /** What the run was asked to do (redacted when stored). */
  parameters: Record<string, unknown>;
}

/**
 * Lists ingest runs, newest first.
 * @param q The store.
 * @param options `limit`: at most this many runs (default: all).
 * @returns Run rows.
 * @example
 * ```ts
 * const lastFive = await listIngestRuns(store, { limit: 5 });
 * ```
 */
export async function listIngestRuns(
  q: Queryable,
  options: { limit?: number } = {},
): Promise<IngestRunRecord[]> {
  const rows = await q.query<{
    id: number;
    source: string;
    status: string;
    rows_written: number;
    started_at: Date;
    finished_at: Date | null;
    message: string | null;
    parameters: Record<string, unknown> | string;
  }>(
    `SELECT id, source, status, rows_written, started_at, finished_at, message, parameters
     FROM tt_ingest_runs ORDER BY id DESC ${options.limit === undefined ? "" : "LIMIT $1"}`,
    options.limit === undefined ? [] : [options.limit],
  );
  return rows.map((r) => ({
    id: r.id,
    source: r.source,
    status: r.status,
    rowsWritten: Number(r.rows_written),
    startedAt: new Date(r.started_at),
    finishedAt: r.finished_at === null ? null : new Date(r.finished_at),
    message: r.message,
    parameters: jsonColumn(r.parameters),
  }));
}

/** The bars one ingest run last wrote in a range (a model's data lineage). */
export interface RangeWriter {
  /** `tt_ingest_runs.id`, or null for bars written before lineage was kept. */
  runId: number | null;
  source: string | null;
  startedAt: Date | null;
  bars: number;
  first: Date;
  last: Date;
}

/**
 * Which ingest runs last wrote the bars of some instruments in a date range, with how
 * many bars each: the data a model was trained on.
 * @param q The store.
 * @param query Instruments, bar size and the inclusive ISO date range.
 * @returns One entry per run (null run: bars from before lineage was kept), oldest run first.
 * @example
 * ```ts
 * const w = await ingestRunsOfRange(store, { instruments: ["AAPL"], barSize: "1 day", start: "2015-01-01", end: "2016-12-31" });
 * ```
 */
export async function ingestRunsOfRange(
  q: Queryable,
  query: { instruments: readonly string[]; barSize: string; start: string; end: string },
): Promise<RangeWriter[]> {
  const rows = await q.query<{
    run_id: number | null;
    source: string | null;
    started_at: Date | null;
    bars: number;
    first: Date;
    last: Date;
  }>(
    `SELECT p.ingest_run_id AS run_id, r.source, r.started_at, count(*)::int8 AS bars,
            min(p.timestamp) AS first, max(p.timestamp) AS last
       FROM tt_prices p LEFT JOIN tt_ingest_runs r ON r.id = p.ingest_run_id
      WHERE p.instrument = ANY($1::text[]) AND p.bar_size = $2
        AND p.timestamp >= $3::timestamptz AND p.timestamp <= $4::timestamptz
      GROUP BY p.ingest_run_id, r.source, r.started_at
      ORDER BY p.ingest_run_id NULLS FIRST`,
    [
      [...query.instruments],
      query.barSize,
      `${query.start}T00:00:00Z`,
      `${query.end}T23:59:59.999Z`,
    ],
  );
  return rows.map((r) => ({
    runId: r.run_id === null ? null : Number(r.run_id),
    source: r.source,
    startedAt: r.started_at,
    bars: Number(r.bars),
    first: new Date(r.first),
    last: new Date(r.last),
  }));
}
