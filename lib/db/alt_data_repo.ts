/**
 * Point-in-time alternative data (`tt_alt_data`): every value with the time it describes
 * (`eventTime`) and the time it could first have been seen (`knownAt`). Revisions are new
 * rows with a later `knownAt`; nothing is overwritten. Reads can be cut at a moment
 * (`knownAtOrBefore`) so a feature at bar t sees only what was known at t.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { jsonColumn } from "./_json.ts";

/** Kinds of alternative data the importer knows (the `source` is free text). */
export const ALT_KINDS = ["earnings", "sentiment", "insider", "options", "generic"] as const;
/** One of {@linkcode ALT_KINDS}. */
export type AltKind = typeof ALT_KINDS[number];

/**
 * The field names the importer writes and the as-of features read (one home for both):
 * the earnings surprise in percent (event time = the report), a scheduled earnings date
 * (event time = the date announced; value NaN, 0 cancels it), a sentiment score (event
 * time = the article or post), a signed insider transaction in shares (buys > 0, event
 * time = the trade), and the options put/call ratio.
 */
export const ALT_FIELDS = {
  surprise: "eps_surprise_pct",
  announcement: "announcement",
  sentiment: "sentiment",
  insider: "insider_net_shares",
  putCall: "options_put_call",
} as const;

/** One point-in-time value. */
export interface AltValue {
  /** Where it came from, e.g. `"earnings"` or a vendor name. */
  source: string;
  instrument: string;
  /** What it measures, e.g. `"eps_surprise_pct"`, `"sentiment"`, `"announcement"`. */
  field: string;
  /** The moment or period end it describes (epoch ms). */
  eventTime: number;
  /** When it could first have been seen (epoch ms); `≥` is the only safe comparison. */
  knownAt: number;
  /** The value (NaN: an event without a number, e.g. a scheduled date). */
  value: number;
  meta?: Record<string, unknown>;
}

/** Filters of {@linkcode readAltValues}. */
export interface AltQuery {
  instruments?: readonly string[];
  sources?: readonly string[];
  fields?: readonly string[];
  /** Only values known at or before this moment (epoch ms). */
  knownAtOrBefore?: number;
}

/**
 * Inserts values; a row that already exists (same source, instrument, field, event time
 * and known-at) is left as it is, so reruns are idempotent and revisions are kept.
 * @param q The store or a transaction.
 * @param values The values.
 * @param options `runId`: the ingest run recorded on new rows.
 * @returns Rows inserted (existing ones are not counted).
 * @example
 * ```ts
 * await upsertAltValues(tx, [{ source: "earnings", instrument: "AAPL", field: "eps_surprise_pct", eventTime, knownAt, value: 4.2 }], { runId });
 * ```
 */
export async function upsertAltValues(
  q: Queryable,
  values: readonly AltValue[],
  options: { runId?: number } = {},
): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < values.length; i += 2000) {
    const chunk = values.slice(i, i + 2000);
    const rows = await q.query<{ n: number }>(
      `WITH ins AS (
         INSERT INTO tt_alt_data
           (source, instrument, field, event_time, known_at, value, meta_json, ingest_run_id)
         SELECT s, i, f, to_timestamp(e / 1000.0), to_timestamp(k / 1000.0), v, m::jsonb, $8::bigint
           FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[],
                       $6::float8[], $7::text[]) AS t(s, i, f, e, k, v, m)
         ON CONFLICT (source, instrument, field, event_time, known_at) DO NOTHING
         RETURNING 1)
       SELECT count(*)::int8 AS n FROM ins`,
      [
        chunk.map((v) => v.source),
        chunk.map((v) => v.instrument),
        chunk.map((v) => v.field),
        chunk.map((v) => v.eventTime),
        chunk.map((v) => v.knownAt),
        chunk.map((v) => Number.isFinite(v.value) ? v.value : null),
        chunk.map((v) => JSON.stringify(v.meta ?? {})),
        options.runId ?? null,
      ],
    );
    inserted += Number(rows[0].n);
  }
  return inserted;
}

/**
 * Reads values ordered by instrument, field, event time, known-at.
 * @param q The store.
 * @param query Filters; `knownAtOrBefore` cuts at a moment.
 * @returns The values (revisions included: several rows per event when it was revised).
 * @example
 * ```ts
 * const asOf = await readAltValues(store, { instruments: ["AAPL"], fields: ["sentiment"], knownAtOrBefore: Date.UTC(2018, 0, 2, 21) });
 * ```
 */
export async function readAltValues(q: Queryable, query: AltQuery = {}): Promise<AltValue[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace("$?", `$${params.length}`));
  };
  if (query.instruments?.length) add("instrument = ANY($?::text[])", [...query.instruments]);
  if (query.sources?.length) add("source = ANY($?::text[])", [...query.sources]);
  if (query.fields?.length) add("field = ANY($?::text[])", [...query.fields]);
  if (query.knownAtOrBefore !== undefined) {
    add("known_at <= to_timestamp($? / 1000.0)", query.knownAtOrBefore);
  }
  const rows = await q.query<{
    source: string;
    instrument: string;
    field: string;
    event_time: Date;
    known_at: Date;
    value: number | null;
    meta_json: Record<string, unknown> | string;
  }>(
    `SELECT source, instrument, field, event_time, known_at, value, meta_json FROM tt_alt_data
      ${where.length ? "WHERE " + where.join(" AND ") : ""}
      ORDER BY instrument, field, event_time, known_at, source`,
    params,
  );
  return rows.map((r) => ({
    source: r.source,
    instrument: r.instrument,
    field: r.field,
    eventTime: new Date(r.event_time).getTime(),
    knownAt: new Date(r.known_at).getTime(),
    value: r.value === null ? NaN : r.value,
    meta: jsonColumn(r.meta_json),
  }));
}
