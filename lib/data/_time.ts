/**
 * Timestamps for importers: parsing vendor date/time text to epoch ms UTC, time-zone
 * offsets through `Intl` (DST-correct, no tz database of our own), bar-size inference.
 * Private to `lib/data/`.
 *
 * @module
 */

/** What a timestamp text said about its time zone. */
export type TimeKind = "date" | "naive" | "offset";

/** A parsed timestamp. */
export interface ParsedTime {
  /** Epoch milliseconds, UTC. */
  ms: number;
  /** `date`: date only (that day 00:00 UTC); `naive`: a wall time without offset; `offset`: with `Z` or `±hh:mm`. */
  kind: TimeKind;
  /** The UTC offset written in the text, in minutes (only for `offset`). */
  offsetMinutes?: number;
  /** The calendar year as written (for plausibility checks). */
  year: number;
  /**
   * The local calendar date as written (in the text's own offset or zone), at 00:00 UTC:
   * the canonical instant of a daily (or longer) bar, whatever the source's format.
   */
  dayMs: number;
}

/**
 * `Date.UTC` without its two-digit-year pitfall (years 0–99 are not moved to 1900–1999).
 * @param y Full year (e.g. 0050 is the year 50).
 * @param mo Month 0–11.
 * @param d Day of month.
 * @param h Hours.
 * @param mi Minutes.
 * @param s Seconds.
 * @param ms Milliseconds.
 * @returns Epoch ms.
 * @example
 * ```ts
 * new Date(utcMs(50, 0, 1)).toISOString(); // "0050-01-01T00:00:00.000Z"
 * ```
 */
export function utcMs(y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number {
  const t = new Date(Date.UTC(2000, mo, d, h, mi, s, ms));
  t.setUTCFullYear(y);
  return t.getTime();
}

/**
 * Why a date's calendar fields are invalid, or `undefined` when they are fine.
 * @param y Year.
 * @param mo Month 1–12.
 * @param d Day of month.
 * @returns e.g. `February 2015 has 28 days`.
 * @example
 * ```ts
 * invalidDateReason(2015, 2, 30); // "2015-02 has 28 days"
 * ```
 */
export function invalidDateReason(y: number, mo: number, d: number): string | undefined {
  if (mo < 1 || mo > 12) return `month ${mo} does not exist`;
  const n = daysInMonth(y, mo);
  if (d < 1 || d > n) {
    return `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")} has ${n} days`;
  }
  return undefined;
}

const TS =
  /^(\d{4})-?(\d{2})-?(\d{2})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Parses `2025-06-26`, `20250626`, `2025-06-26 13:30`, `2025-06-26T13:30:00.5Z`,
 * `2025-06-26 13:30:00-04:00`, `20250626 13:30:00`.
 *
 * @param text The field as written.
 * @param naiveZone IANA zone of wall times without an offset (default `UTC`).
 * @returns The instant, or `undefined` when the text is not a valid date/time.
 */
export function parseTimestamp(text: string, naiveZone = "UTC"): ParsedTime | undefined {
  const m = TS.exec(text.trim());
  if (!m) return undefined;
  const y = +m[1], mo = +m[2], d = +m[3];
  if (invalidDateReason(y, mo, d)) return undefined;
  const dayMs = utcMs(y, mo - 1, d);
  if (m[4] === undefined) {
    if (m[8] !== undefined) return undefined; // an offset without a time
    return { ms: dayMs, kind: "date", year: y, dayMs };
  }
  const h = +m[4], mi = +m[5], s = m[6] === undefined ? 0 : +m[6];
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const frac = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  const wall = utcMs(y, mo - 1, d, h, mi, s, frac);
  const z = m[8];
  if (z === undefined) {
    return {
      ms: naiveZone === "UTC" ? wall : zonedWallToUtc(wall, naiveZone),
      kind: "naive",
      year: y,
      dayMs,
    };
  }
  let off = 0;
  if (z.toUpperCase() !== "Z") {
    const sign = z[0] === "-" ? -1 : 1;
    const digits = z.slice(1).replace(":", "");
    const oh = +digits.slice(0, 2), om = digits.length > 2 ? +digits.slice(2, 4) : 0;
    if (oh > 18 || om > 59) return undefined;
    off = sign * (oh * 60 + om);
  }
  return { ms: wall - off * 60_000, kind: "offset", offsetMinutes: off, year: y, dayMs };
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(y: number, m: number): number {
  return m === 2 && (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)) ? 29 : MONTH_DAYS[m - 1];
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, Map<number, number>>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
    } catch {
      throw new RangeError(
        `Unknown time zone "${zone}" (use an IANA name such as America/New_York)`,
      );
    }
    formatters.set(zone, f);
  }
  return f;
}

/**
 * Offset of `zone` from UTC at instant `ms`, in milliseconds (e.g. −4 h for New York in July).
 * Cached per zone and quarter hour: zone rules never change inside one.
 *
 * @param zone IANA zone name.
 * @param ms Epoch milliseconds.
 * @returns Local time minus UTC, in ms.
 */
export function zoneOffsetMs(zone: string, ms: number): number {
  let cache = offsetCache.get(zone);
  if (!cache) offsetCache.set(zone, cache = new Map());
  const key = Math.floor(ms / 900_000);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(key * 900_000))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  const local = Date.UTC(
    parts.year,
    parts.month - 1,
    parts.day,
    parts.hour,
    parts.minute,
    parts.second,
  );
  const off = local - key * 900_000;
  cache.set(key, off);
  return off;
}

/**
 * Converts a wall-clock time in `zone` (given as if it were UTC) to the real UTC instant,
 * with Temporal's `"compatible"` disambiguation: in a DST gap the wall time does not exist
 * and moves forward by the gap (New York 2021-03-14 02:30 is 03:30 EDT, 07:30Z); in an
 * overlap the earlier instant is used (2021-11-07 01:30 is 01:30 EDT, 05:30Z).
 *
 * @param wallAsUtc `Date.UTC(y, m, d, h, mi, s)` of the local wall time.
 * @param zone IANA zone name.
 * @returns Epoch milliseconds, UTC.
 * @example
 * ```ts
 * zonedWallToUtc(Date.UTC(2021, 2, 14, 2, 30), "America/New_York"); // Date.UTC(2021, 2, 14, 7, 30)
 * ```
 */
export function zonedWallToUtc(wallAsUtc: number, zone: string): number {
  const DAY = 86_400_000;
  const before = zoneOffsetMs(zone, wallAsUtc - DAY);
  const after = zoneOffsetMs(zone, wallAsUtc + DAY);
  const valid = [...new Set([before, after])]
    .map((off) => wallAsUtc - off)
    .filter((t) => t + zoneOffsetMs(zone, t) === wallAsUtc);
  if (valid.length) return Math.min(...valid);
  // A gap: read the wall time with the offset in force before it (moves it forward).
  return wallAsUtc - before;
}

/**
 * Local date and minute of the day of an instant in `zone`.
 * @param ms Epoch milliseconds.
 * @param zone IANA zone name.
 * @returns `day` as `YYYY-MM-DD` and `minute` in 0…1439.
 */
export function localDayMinute(ms: number, zone: string): { day: string; minute: number } {
  const local = ms + zoneOffsetMs(zone, ms);
  const dayStart = Math.floor(local / 86_400_000) * 86_400_000;
  return {
    day: new Date(dayStart).toISOString().slice(0, 10),
    minute: Math.floor((local - dayStart) / 60_000),
  };
}

/** The regular session of US equities: 09:30 to 16:00 America/New_York. */
export const US_REGULAR_SESSION = {
  zone: "America/New_York",
  open: 9 * 60 + 30,
  close: 16 * 60,
} as const;

/**
 * Whether a bar starting at `ms` starts inside the US regular session (09:30 ≤ t < 16:00
 * New York time, DST-correct). Half days are not special-cased.
 * @param ms Bar start, epoch ms.
 * @returns true for a regular-session bar.
 */
export function isUsRegularSession(ms: number): boolean {
  const { minute } = localDayMinute(ms, US_REGULAR_SESSION.zone);
  return minute >= US_REGULAR_SESSION.open && minute < US_REGULAR_SESSION.close;
}

const BAR_SIZE = /^(\d+) (sec|min|hour|day|week|month)s?$/;

/**
 * Checks and normalises a bar size in IBKR's spelling (`1 day`, `1 hour`, `5 mins`, `30 secs`).
 * @param text e.g. `"1 hour"`, `"15 mins"`.
 * @returns The normalised text (plural only when N > 1, except `1 min`/`1 secs`).
 * @throws {RangeError} For anything else.
 */
export function normaliseBarSize(text: string): string {
  const m = BAR_SIZE.exec(text.trim().toLowerCase().replace(/\s+/g, " "));
  if (!m || +m[1] <= 0) {
    throw new RangeError(
      `Not a bar size: "${text}" (expected e.g. "1 day", "1 hour", "5 mins", "30 secs")`,
    );
  }
  return barSizeText(+m[1], m[2]);
}

function barSizeText(n: number, unit: string): string {
  if (unit === "sec") return `${n} secs`;
  return n === 1 ? `1 ${unit}` : `${n} ${unit}s`;
}

/**
 * Infers the bar size from sorted timestamps: the most frequent gap between consecutive
 * bars (weekends, nights and holidays are rarer than the bar interval itself).
 * Date-only timestamps are daily bars.
 *
 * @param sortedMs Ascending epoch ms of one instrument.
 * @param dateOnly Whether the file had date-only timestamps.
 * @returns e.g. `"1 day"`, `"1 hour"`, `"5 mins"`, or `undefined` with fewer than two bars.
 */
export function inferBarSize(sortedMs: ArrayLike<number>, dateOnly: boolean): string | undefined {
  const counts = new Map<number, number>();
  for (let i = 1; i < sortedMs.length; i++) {
    const d = sortedMs[i] - sortedMs[i - 1];
    if (d > 0) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  return barSizeFromGapCounts(counts, dateOnly);
}

/**
 * {@linkcode inferBarSize} from a histogram of the positive gaps (ms → how often) between
 * consecutive bars, e.g. gathered while a file streams by: the most frequent gap (ties: the
 * smaller) gives the bar size.
 *
 * @param counts Gap in ms → count (gaps ≤ 0 are ignored).
 * @param dateOnly Whether the file had date-only timestamps.
 * @returns e.g. `"1 day"`, `"1 hour"`; with no gap, `"1 day"` for date-only files, else `undefined`.
 * @example
 * ```ts
 * barSizeFromGapCounts(new Map([[3_600_000, 40], [63_000_000, 6]]), false); // "1 hour"
 * ```
 */
export function barSizeFromGapCounts(
  counts: ReadonlyMap<number, number>,
  dateOnly: boolean,
): string | undefined {
  let best = 0, bestCount = 0;
  for (const [d, c] of counts) {
    if (d <= 0) continue;
    if (c > bestCount || (c === bestCount && d < best)) [best, bestCount] = [d, c];
  }
  if (bestCount === 0) return dateOnly ? "1 day" : undefined;
  const DAY = 86_400_000;
  if (dateOnly || best >= 20 * 3_600_000) {
    if (best >= 25 * DAY) return "1 month";
    if (best >= 6 * DAY) return "1 week";
    return "1 day";
  }
  if (best % 3_600_000 === 0) return barSizeText(best / 3_600_000, "hour");
  if (best % 60_000 === 0) return barSizeText(best / 60_000, "min");
  return barSizeText(Math.max(1, Math.round(best / 1000)), "sec");
}

/**
 * Formats epoch ms for messages: the date alone at 00:00 UTC, else ISO without millis.
 * @param ms Epoch milliseconds.
 * @returns e.g. `2014-06-09` or `2025-06-26T17:30:00Z`.
 */
export function showTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.replace(".000Z", "Z");
}
