/**
 * Repository for `tt_data_quality`: day-level availability classes per symbol and bar size.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { upsertColumns } from "./bulk.ts";

/** A row of `tt_data_quality`. */
export interface DataQualityRow {
  instrument: string;
  /** `YYYY-MM-DD`. */
  day: string;
  class: "present" | "missing" | "not_listed" | "suspicious";
  detail: string | null;
}

/**
 * Replaces the stored classes of `instruments` at `barSize` by `rows` (run it in a
 * transaction to make the swap atomic).
 * @param q A transaction (or the store).
 * @param barSize Bar size the rows describe.
 * @param instruments Symbols whose old rows are removed first.
 * @param rows New rows.
 * @returns Rows written.
 * @example
 * ```ts
 * await store.transaction((tx) => replaceDataQuality(tx, "1 day", ["AAPL"], rows));
 * ```
 */
export async function replaceDataQuality(
  q: Queryable,
  barSize: string,
  instruments: string[],
  rows: readonly DataQualityRow[],
): Promise<number> {
  await q.query(
    "DELETE FROM tt_data_quality WHERE bar_size = $1 AND instrument = ANY($2::text[])",
    [barSize, instruments],
  );
  const n = rows.length;
  return await upsertColumns(q, {
    table: "tt_data_quality",
    columns: [
      { name: "instrument", type: "text" },
      { name: "bar_size", type: "text" },
      { name: "day", type: "date" },
      { name: "class", type: "text" },
      { name: "detail", type: "text" },
    ],
    key: ["instrument", "bar_size", "day"],
    data: [
      rows.map((r) => r.instrument),
      new Array(n).fill(barSize),
      rows.map((r) => r.day),
      rows.map((r) => r.class),
      rows.map((r) => r.detail),
    ],
  });
}

/**
 * Reads stored classes.
 * @param q The store.
 * @param query Bar size (default `1 day`), optional symbols and classes.
 * @returns Rows sorted by instrument and day.
 * @example
 * ```ts
 * const gaps = await readDataQuality(store, { classes: ["missing"] });
 * ```
 */
export async function readDataQuality(
  q: Queryable,
  query: { barSize?: string; instruments?: string[]; classes?: DataQualityRow["class"][] } = {},
): Promise<DataQualityRow[]> {
  const params: unknown[] = [query.barSize ?? "1 day"];
  const where = ["bar_size = $1"];
  if (query.instruments?.length) {
    params.push(query.instruments);
    where.push(`instrument = ANY($${params.length}::text[])`);
  }
  if (query.classes?.length) {
    params.push(query.classes);
    where.push(`class = ANY($${params.length}::text[])`);
  }
  const rows = await q.query<
    {
      instrument: string;
      day: string | Date;
      class: DataQualityRow["class"];
      detail: string | null;
    }
  >(
    `SELECT instrument, to_char(day, 'YYYY-MM-DD') AS day, class, detail FROM tt_data_quality
     WHERE ${where.join(" AND ")} ORDER BY instrument, day`,
    params,
  );
  return rows.map((r) => ({
    instrument: r.instrument,
    day: String(r.day),
    class: r.class,
    detail: r.detail,
  }));
}

/**
 * Exchange and security type of instruments, from `tt_instruments` (the quality report picks
 * each symbol's trading calendar from them).
 * @param q The store.
 * @param symbols Only these symbols (default all).
 * @returns Map from symbol to its stored exchange (primary exchange preferred) and sec type.
 * @example
 * ```ts
 * const meta = await readInstrumentMeta(store, ["AAPL"]);
 * meta.AAPL?.exchange; // e.g. "NASDAQ"
 * ```
 */
export async function readInstrumentMeta(
  q: Queryable,
  symbols?: string[],
): Promise<Record<string, { exchange: string | null; secType: string | null }>> {
  const rows = await q.query<
    { symbol: string; exchange: string | null; sec_type: string | null }
  >(
    `SELECT symbol, COALESCE(NULLIF(primary_exchange, ''), NULLIF(exchange, '')) AS exchange, sec_type
     FROM tt_instruments ${symbols ? "WHERE symbol = ANY($1::text[])" : ""}`,
    symbols ? [symbols] : [],
  );
  const out: Record<string, { exchange: string | null; secType: string | null }> = {};
  for (const r of rows) out[r.symbol] = { exchange: r.exchange, secType: r.sec_type };
  return out;
}
