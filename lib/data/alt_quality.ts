/**
 * The alternative-data section of the quality report: coverage per instrument and source
 * (first and last event, counts), stale series and revisions.
 *
 * A series (source, instrument, field) is **stale** when its last event is older than
 * `staleFactor` (default 2) × the typical gap of its source and field (the median gap
 * between consecutive events over all its instruments), or than `maxAgeDays` when given.
 * Age is measured at `asOf`, by default the latest event of the same source and field: a
 * historical file is not stale because it ends in the past, only an instrument that stopped
 * while the others of its source went on.
 *
 * @module
 */
import type { Queryable, Store } from "../db/store.ts";
import {
  type AltSeriesStats,
  readAltSeriesStats,
  readAltSourceGaps,
} from "../db/alt_quality_repo.ts";

/** Defaults of {@linkcode AltQualityOptions}. */
export const ALT_STALE_DEFAULTS = { staleFactor: 2 } as const;

/** Options of {@linkcode runAltQualityReport}. */
export interface AltQualityOptions {
  /** Stale after this many typical gaps without an event. Default 2. */
  staleFactor?: number;
  /** Stale after this many days without an event (replaces the factor rule). */
  maxAgeDays?: number;
  /** Moment ages are measured at (epoch ms). Default: the latest event of each source and field. */
  asOf?: number;
  /** Only these instruments. */
  instruments?: readonly string[];
}

/** One series in the report (times as ISO text). */
export interface AltSeriesQuality {
  source: string;
  instrument: string;
  field: string;
  events: number;
  rows: number;
  /** Events with more than one `known_at`. */
  revisedEvents: number;
  firstEvent: string;
  lastEvent: string;
  lastKnownAt: string;
  /** Median gap between this series' events, days (`null` with one event). */
  medianGapDays: number | null;
  /** Typical gap of the source and field, days (`null`: none has two events). */
  typicalGapDays: number | null;
  /** Days from the last event to the moment ages are measured at. */
  ageDays: number;
  stale: boolean;
  /** Why it is stale (or why staleness cannot be judged). */
  staleReason?: string;
}

/** Coverage of one source and field over its instruments. */
export interface AltSourceCoverage {
  source: string;
  field: string;
  instruments: number;
  events: number;
  rows: number;
  revisedEvents: number;
  firstEvent: string;
  lastEvent: string;
  typicalGapDays: number | null;
  /** Stale series. */
  stale: number;
}

/** What {@linkcode runAltQualityReport} returns. */
export interface AltQualityReport {
  series: AltSeriesQuality[];
  sources: AltSourceCoverage[];
  totals: { series: number; events: number; rows: number; revisedEvents: number; stale: number };
  rule: { staleFactor: number; maxAgeDays: number | null; asOf: string | null };
}

const DAY = 86_400_000;

/**
 * Reads coverage, staleness and revisions of the alternative data (read only).
 * @param store The store.
 * @param options See {@linkcode AltQualityOptions}.
 * @returns The report (empty lists when there is no alternative data).
 * @throws {RangeError} For a non-positive factor or age.
 * @example
 * ```ts
 * const alt = await runAltQualityReport(store, { staleFactor: 2 });
 * alt.series.filter((s) => s.stale); // series that stopped while their source went on
 * ```
 */
export async function runAltQualityReport(
  store: Store | Queryable,
  options: AltQualityOptions = {},
): Promise<AltQualityReport> {
  const staleFactor = options.staleFactor ?? ALT_STALE_DEFAULTS.staleFactor;
  if (!(staleFactor > 0) || !Number.isFinite(staleFactor)) {
    throw new RangeError(`staleFactor must be a positive number; got ${staleFactor}`);
  }
  if (
    options.maxAgeDays !== undefined &&
    (!(options.maxAgeDays > 0) || !Number.isFinite(options.maxAgeDays))
  ) {
    throw new RangeError(`maxAgeDays must be a positive number; got ${options.maxAgeDays}`);
  }
  const stats = await readAltSeriesStats(store, { instruments: options.instruments });
  const gaps = new Map(
    (await readAltSourceGaps(store)).map((g) => [`${g.source}\u0000${g.field}`, g]),
  );
  const series = stats.map((s) => judge(s, gaps.get(`${s.source}\u0000${s.field}`)));
  const by = new Map<string, AltSourceCoverage & { set: Set<string> }>();
  for (const s of series) {
    const key = `${s.source}\u0000${s.field}`;
    let c = by.get(key);
    if (!c) {
      c = {
        source: s.source,
        field: s.field,
        instruments: 0,
        events: 0,
        rows: 0,
        revisedEvents: 0,
        firstEvent: s.firstEvent,
        lastEvent: s.lastEvent,
        typicalGapDays: s.typicalGapDays,
        stale: 0,
        set: new Set(),
      };
      by.set(key, c);
    }
    c.set.add(s.instrument);
    c.events += s.events;
    c.rows += s.rows;
    c.revisedEvents += s.revisedEvents;
    if (s.firstEvent < c.firstEvent) c.firstEvent = s.firstEvent;
    if (s.lastEvent > c.lastEvent) c.lastEvent = s.lastEvent;
    if (s.stale) c.stale++;
  }
  const sources = [...by.values()].map(({ set, ...c }) => ({ ...c, instruments: set.size }));
  return {
    series,
    sources,
    totals: {
      series: series.length,
      events: series.reduce((a, s) => a + s.events, 0),
      rows: series.reduce((a, s) => a + s.rows, 0),
      revisedEvents: series.reduce((a, s) => a + s.revisedEvents, 0),
      stale: series.filter((s) => s.stale).length,
    },
    rule: {
      staleFactor,
      maxAgeDays: options.maxAgeDays ?? null,
      asOf: options.asOf === undefined ? null : iso(options.asOf),
    },
  };

  function judge(
    s: AltSeriesStats,
    gap: { medianGapMs: number | null; lastEvent: number } | undefined,
  ): AltSeriesQuality {
    const asOf = options.asOf ?? gap?.lastEvent ?? s.lastEvent;
    const ageMs = Math.max(0, asOf - s.lastEvent);
    const typical = gap?.medianGapMs ?? s.medianGapMs;
    let stale = false;
    let staleReason: string | undefined;
    if (options.maxAgeDays !== undefined) {
      stale = ageMs > options.maxAgeDays * DAY;
      if (stale) {
        staleReason = `no event for ${days(ageMs)} days (more than ${options.maxAgeDays})`;
      }
    } else if (typical === null || typical <= 0) {
      staleReason = "cannot judge: no instrument of this source and field has two events";
    } else {
      stale = ageMs > staleFactor * typical;
      if (stale) {
        staleReason = `no event for ${days(ageMs)} days, over ${staleFactor} × the typical gap of ${
          days(typical)
        } days`;
      }
    }
    return {
      source: s.source,
      instrument: s.instrument,
      field: s.field,
      events: s.events,
      rows: s.rows,
      revisedEvents: s.revisedEvents,
      firstEvent: iso(s.firstEvent),
      lastEvent: iso(s.lastEvent),
      lastKnownAt: iso(s.lastKnownAt),
      medianGapDays: s.medianGapMs === null ? null : days(s.medianGapMs),
      typicalGapDays: typical === null ? null : days(typical),
      ageDays: days(ageMs),
      stale,
      ...(staleReason ? { staleReason } : {}),
    };
  }
}

/**
 * Text lines of the alternative-data section (for `deno task quality`).
 * @param r From {@linkcode runAltQualityReport}.
 * @param limit Series listed at most per list. Default 20.
 * @returns Lines (a single line when there is no alternative data).
 * @example
 * ```ts
 * for (const line of altQualityLines(await runAltQualityReport(store))) console.log(line);
 * ```
 */
export function altQualityLines(r: AltQualityReport, limit = 20): string[] {
  if (r.series.length === 0) return ["  No alternative data (deno task ingest --source alt)."];
  const t = r.totals;
  const out = [
    `  ${t.series} series, ${t.events} events, ${t.rows} rows; ${t.revisedEvents} events revised (more than one known_at); ${t.stale} stale`,
    `  ${"source".padEnd(14)}${"field".padEnd(22)}${"instr.".padStart(7)}${"events".padStart(8)}${
      "revised".padStart(8)
    }${"stale".padStart(6)}  first .. last event (typical gap)`,
  ];
  for (const c of r.sources) {
    out.push(
      `  ${c.source.padEnd(14)}${c.field.padEnd(22)}${String(c.instruments).padStart(7)}${
        String(c.events).padStart(8)
      }${String(c.revisedEvents).padStart(8)}${String(c.stale).padStart(6)}  ${
        c.firstEvent.slice(0, 10)
      } .. ${c.lastEvent.slice(0, 10)} (${
        c.typicalGapDays === null ? "n/a" : `${c.typicalGapDays} d`
      })`,
    );
  }
  out.push("", "  Coverage per instrument (source/field: events, first .. last, revised):");
  for (const s of r.series.slice(0, limit)) {
    out.push(
      `  ${s.instrument.padEnd(10)} ${s.source}/${s.field}: ${s.events} events, ${
        s.firstEvent.slice(0, 10)
      } .. ${s.lastEvent.slice(0, 10)}, ${s.revisedEvents} revised${s.stale ? ", STALE" : ""}`,
    );
  }
  if (r.series.length > limit) out.push(`  … ${r.series.length - limit} more (--json lists all)`);
  const stale = r.series.filter((s) => s.stale);
  if (stale.length) {
    out.push("", `  Stale series: ${stale.length}`);
    for (const s of stale.slice(0, limit)) {
      out.push(`  ${s.instrument} ${s.source}/${s.field}: ${s.staleReason}`);
    }
  }
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function days(ms: number): number {
  return Number((ms / DAY).toFixed(2));
}
