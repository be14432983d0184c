/**
 * Repository for the IBKR ingest's completed requests (`tt_ibkr_chunks`), the record
 * that makes an interrupted ingest resumable.
 *
 * @module
 */
import type { Queryable } from "./store.ts";

/** Which series a chunk belongs to. */
export interface ChunkSeries {
  /** Ticker. */
  symbol: string;
  /** IB bar size, as in `tt_prices.bar_size`. */
  barSize: string;
  /** IB tick type, e.g. `TRADES`. */
  whatToShow: string;
  /** Regular trading hours only. */
  useRth: boolean;
}

/**
 * Records a completed request `[start, end)`; call it in the transaction that wrote its bars.
 * @param q A transaction.
 * @param series The series.
 * @param chunk Range (epoch ms) and rows written.
 * @example
 * ```ts
 * await store.transaction(async (tx) => {
 *   await upsertPrices(tx, "1 day", bars);
 *   await recordIbkrChunk(tx, series, { start, end, rows: bars.timestamp.length });
 * });
 * ```
 */
export async function recordIbkrChunk(
  q: Queryable,
  series: ChunkSeries,
  chunk: { start: number; end: number; rows: number },
): Promise<void> {
  await q.query(
    `INSERT INTO tt_ibkr_chunks (symbol, bar_size, what_to_show, use_rth, chunk_start, chunk_end, rows)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (symbol, bar_size, what_to_show, use_rth, chunk_start, chunk_end)
     DO UPDATE SET rows = EXCLUDED.rows, fetched_at = now()`,
    [
      series.symbol,
      series.barSize,
      series.whatToShow,
      series.useRth,
      new Date(chunk.start).toISOString(),
      new Date(chunk.end).toISOString(),
      chunk.rows,
    ],
  );
}

/**
 * Completed ranges of a series, merged and sorted.
 * @param q The store.
 * @param series The series.
 * @returns Disjoint `[start, end)` ranges in epoch ms, ascending.
 */
export async function readIbkrCoverage(
  q: Queryable,
  series: ChunkSeries,
): Promise<[number, number][]> {
  const rows = await q.query<{ chunk_start: Date; chunk_end: Date }>(
    `SELECT chunk_start, chunk_end FROM tt_ibkr_chunks
     WHERE symbol = $1 AND bar_size = $2 AND what_to_show = $3 AND use_rth = $4 ORDER BY chunk_start`,
    [series.symbol, series.barSize, series.whatToShow, series.useRth],
  );
  const out: [number, number][] = [];
  for (const r of rows) {
    const s = new Date(r.chunk_start).getTime(), e = new Date(r.chunk_end).getTime();
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** A paced request as recorded in `tt_ibkr_requests`. */
export interface IbkrRequestRecord {
  /** Clock time the request was allowed to start (epoch ms). */
  at: number;
  /** Identity of the request (IB's "identical request"). */
  request: string;
  /** Contract + exchange + tick type. */
  contract: string;
}

/**
 * Records a paced request before it is sent (so a crash cannot forget it).
 * @param q The store.
 * @param gateway `host:port` of the gateway.
 * @param record The request.
 * @example
 * ```ts
 * await recordIbkrRequest(store, "127.0.0.1:4002", { at: permit.startedAt, ...key });
 * ```
 */
export async function recordIbkrRequest(
  q: Queryable,
  gateway: string,
  record: IbkrRequestRecord,
): Promise<void> {
  await q.query(
    "INSERT INTO tt_ibkr_requests (gateway, at_ms, request, contract) VALUES ($1, $2, $3, $4)",
    [gateway, record.at, record.request, record.contract],
  );
}

/**
 * Paced requests sent to a gateway since `since`; older ones are deleted (no pacing rule looks back further).
 * @param q The store.
 * @param gateway `host:port` of the gateway.
 * @param since Clock ms.
 * @returns The requests, oldest first.
 */
export async function recentIbkrRequests(
  q: Queryable,
  gateway: string,
  since: number,
): Promise<IbkrRequestRecord[]> {
  await q.query("DELETE FROM tt_ibkr_requests WHERE gateway = $1 AND at_ms < $2", [gateway, since]);
  const rows = await q.query<{ at_ms: number; request: string; contract: string }>(
    "SELECT at_ms, request, contract FROM tt_ibkr_requests WHERE gateway = $1 ORDER BY at_ms",
    [gateway],
  );
  return rows.map((r) => ({ at: Number(r.at_ms), request: r.request, contract: r.contract }));
}
