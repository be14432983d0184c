/**
 * Read-only statistics of `tt_alt_data` for the quality report (per series (source,
 * instrument, field) its events, revisions, first and last event and the gaps between
 * events; per source and field the typical gap) and the importer (stored keys an import
 * would give another value).
 *
 * @module
 */
import type { Queryable } from "./store.ts";

/** One series of `tt_alt_data` (source, instrument, field). */
export interface AltSeriesStats {
  source: string;
  instrument: string;
  field: string;
  /** Distinct event times. */
  events: number;
  /** Stored rows (events plus their revisions). */
  rows: number;
  /** Events with more than one `known_at` (revised at least once). */
  revisedEvents: number;
  /** Epoch ms. */
  firstEvent: number;
  lastEvent: number;
  /** Latest `known_at` of the series (epoch ms). */
  lastKnownAt: number;
  /** Median gap between consecutive events, in ms (`null` with one event). */
  medianGapMs: number | null;
}

/** The typical gap between events of one source and field, over all its instruments. */
export interface AltSourceGap {
  source: string;
  field: string;
  /** Median gap between consecutive events of each instrument, in ms (`null`: no instrument has two). */
  medianGapMs: number | null;
  /** Latest event of the source and field (epoch ms). */
  lastEvent: number;
}

/**
 * Per-series statistics of `tt_alt_data`, ordered by source, instrument, field.
 * @param q The store.
 * @param filter Optional instruments and sources.
 * @returns The series.
 * @example
 * ```ts
 * const series = await readAltSeriesStats(store); // [{ source: "earnings", instrument: "AAPL", field: "eps_surprise_pct", events: 8, revisedEvents: 1, … }]
 * ```
 */
export async function readAltSeriesStats(
  q: Queryable,
  filter: { instruments?: readonly string[]; sources?: readonly string[] } = {},
): Promise<AltSeriesStats[]> {
  const rows = await q.query<{
    source: string;
    instrument: string;
    field: string;
    events: number | string;
    rows: number | string;
    revised: number | string;
    first_event: Date;
    last_event: Date;
    last_known: Date;
    median_gap_s: number | null;
  }>(
    `WITH ev AS (
       SELECT source, instrument, field, event_time, count(*) AS versions, max(known_at) AS last_known
         FROM tt_alt_data
        WHERE ($1::text[] IS NULL OR instrument = ANY($1::text[]))
          AND ($2::text[] IS NULL OR source = ANY($2::text[]))
        GROUP BY source, instrument, field, event_time),
     g AS (
       SELECT ev.*, extract(epoch FROM event_time - lag(event_time)
                OVER (PARTITION BY source, instrument, field ORDER BY event_time))::float8 AS gap
         FROM ev)
     SELECT source, instrument, field, count(*)::int8 AS events, sum(versions)::int8 AS rows,
            count(*) FILTER (WHERE versions > 1)::int8 AS revised,
            min(event_time) AS first_event, max(event_time) AS last_event,
            max(last_known) AS last_known,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap_s
       FROM g GROUP BY source, instrument, field ORDER BY source, instrument, field`,
    [
      filter.instruments?.length ? [...filter.instruments] : null,
      filter.sources?.length ? [...filter.sources] : null,
    ],
  );
  return rows.map((r) => ({
    source: r.source,
    instrument: r.instrument,
    field: r.field,
    events: Number(r.events),
    rows: Number(r.rows),
    revisedEvents: Number(r.revised),
    firstEvent: new Date(r.first_event).getTime(),
    lastEvent: new Date(r.last_event).getTime(),
    lastKnownAt: new Date(r.last_known).getTime(),
    medianGapMs: r.median_gap_s === null ? null : Number(r.median_gap_s) * 1000,
  }));
}

/**
 * The typical gap between events per source and field: the median of every gap between
 * consecutive events of each of its instruments.
 * @param q The store.
 * @returns One row per source and field, ordered.
 * @example
 * ```ts
 * await readAltSourceGaps(store); // [{ source: "sentiment", field: "sentiment", medianGapMs: 86400000, lastEvent }]
 * ```
 */
export async function readAltSourceGaps(q: Queryable): Promise<AltSourceGap[]> {
  const rows = await q.query<{
    source: string;
    field: string;
    median_gap_s: number | null;
    last_event: Date;
  }>(
    `WITH ev AS (SELECT DISTINCT source, instrument, field, event_time FROM tt_alt_data),
     g AS (
       SELECT ev.*, extract(epoch FROM event_time - lag(event_time)
                OVER (PARTITION BY source, instrument, field ORDER BY event_time))::float8 AS gap
         FROM ev)
     SELECT source, field, percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap_s,
            max(event_time) AS last_event
       FROM g GROUP BY source, field ORDER BY source, field`,
  );
  return rows.map((r) => ({
    source: r.source,
    field: r.field,
    medianGapMs: r.median_gap_s === null ? null : Number(r.median_gap_s) * 1000,
    lastEvent: new Date(r.last_event).getTime(),
  }));
}

/** A stored row whose key an import gives another value. */
export interface AltStoredConflict {
  /** Index into the values checked. */
  index: number;
  /** The stored value (NaN for NULL). */
  stored: number;
}

/**
 * The values whose key (source, instrument, field, event time, known-at) is already stored
 * with another value: an import would leave the stored one (`DO NOTHING`), so the importer
 * refuses them (a revision needs a later known-at).
 * @param q The store or the import's transaction.
 * @param values The values to check.
 * @returns The conflicting ones, by index, with the stored value.
 * @example
 * ```ts
 * await readAltStoredConflicts(tx, values); // [{ index: 3, stored: 4.2 }]
 * ```
 */
export async function readAltStoredConflicts(
  q: Queryable,
  values: readonly {
    source: string;
    instrument: string;
    field: string;
    eventTime: number;
    knownAt: number;
    value: number;
  }[],
): Promise<AltStoredConflict[]> {
  const out: AltStoredConflict[] = [];
  for (let i = 0; i < values.length; i += 2000) {
    const chunk = values.slice(i, i + 2000);
    const rows = await q.query<{ n: number; stored: number | null }>(
      `SELECT t.n::int4 AS n, a.value AS stored
         FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::float8[])
              WITH ORDINALITY AS t(s, i, f, e, k, v, n)
         JOIN tt_alt_data a ON a.source = t.s AND a.instrument = t.i AND a.field = t.f
                           AND a.event_time = to_timestamp(t.e / 1000.0)
                           AND a.known_at = to_timestamp(t.k / 1000.0)
        WHERE a.value IS DISTINCT FROM t.v
        ORDER BY t.n`,
      [
        chunk.map((v) => v.source),
        chunk.map((v) => v.instrument),
        chunk.map((v) => v.field),
        chunk.map((v) => v.eventTime),
        chunk.map((v) => v.knownAt),
        chunk.map((v) => Number.isFinite(v.value) ? v.value : null),
      ],
    );
    for (const r of rows) {
      out.push({ index: i + Number(r.n) - 1, stored: r.stored === null ? NaN : r.stored });
    }
  }
  return out;
}
