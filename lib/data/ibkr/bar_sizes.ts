/**
 * IB's historical-data limits: which bar sizes exist, the longest duration one
 * request may ask for at each bar size, and the planning of a date range into
 * requests that respect them. Also the date formats IB speaks.
 *
 * @module
 */
import { zonedWallToUtc } from "../_time.ts";

const DAY = 86_400_000;

/** Limits of one IB bar size (TWS API "Historical Bar Data: Valid Duration and Bar Size Settings"). */
export interface BarSizeSpec {
  /** Length of one bar in seconds (a month counts 30 days). */
  seconds: number;
  /** Longest duration one request may cover, in seconds; `Infinity` when years are allowed. */
  maxDurationSeconds: number;
  /** True for bar sizes of one day and longer (timestamped at the date, 00:00 UTC). */
  daily: boolean;
}

/**
 * Every bar size IB accepts, with the longest duration IB serves in one request:
 * 1800 S for 1 secs, 3600 S for 5 secs, 4 hours for 10/15 secs, 8 hours for 30 secs,
 * 1 day for 1 min, 2 days for 2 mins, 1 week for 3–20 mins, 1 month (30 days) for
 * 30 mins–8 hours; daily and longer bars accept years.
 */
export const BAR_SIZES: Readonly<Record<string, BarSizeSpec>> = Object.freeze({
  "1 secs": { seconds: 1, maxDurationSeconds: 1_800, daily: false },
  "5 secs": { seconds: 5, maxDurationSeconds: 3_600, daily: false },
  "10 secs": { seconds: 10, maxDurationSeconds: 14_400, daily: false },
  "15 secs": { seconds: 15, maxDurationSeconds: 14_400, daily: false },
  "30 secs": { seconds: 30, maxDurationSeconds: 28_800, daily: false },
  "1 min": { seconds: 60, maxDurationSeconds: 86_400, daily: false },
  "2 mins": { seconds: 120, maxDurationSeconds: 2 * 86_400, daily: false },
  "3 mins": { seconds: 180, maxDurationSeconds: 7 * 86_400, daily: false },
  "5 mins": { seconds: 300, maxDurationSeconds: 7 * 86_400, daily: false },
  "10 mins": { seconds: 600, maxDurationSeconds: 7 * 86_400, daily: false },
  "15 mins": { seconds: 900, maxDurationSeconds: 7 * 86_400, daily: false },
  "20 mins": { seconds: 1_200, maxDurationSeconds: 7 * 86_400, daily: false },
  "30 mins": { seconds: 1_800, maxDurationSeconds: 30 * 86_400, daily: false },
  "1 hour": { seconds: 3_600, maxDurationSeconds: 30 * 86_400, daily: false },
  "2 hours": { seconds: 7_200, maxDurationSeconds: 30 * 86_400, daily: false },
  "3 hours": { seconds: 10_800, maxDurationSeconds: 30 * 86_400, daily: false },
  "4 hours": { seconds: 14_400, maxDurationSeconds: 30 * 86_400, daily: false },
  "8 hours": { seconds: 28_800, maxDurationSeconds: 30 * 86_400, daily: false },
  "1 day": { seconds: 86_400, maxDurationSeconds: Infinity, daily: true },
  "1 week": { seconds: 7 * 86_400, maxDurationSeconds: Infinity, daily: true },
  "1 month": { seconds: 30 * 86_400, maxDurationSeconds: Infinity, daily: true },
});

/**
 * Looks up a bar size, refusing anything IB does not accept.
 * @param barSize E.g. `"1 day"`, `"1 hour"`, `"5 mins"`.
 * @returns Its limits.
 * @example
 * ```ts
 * barSizeSpec("1 hour").maxDurationSeconds; // 2_592_000
 * ```
 */
export function barSizeSpec(barSize: string): BarSizeSpec {
  const spec = BAR_SIZES[barSize];
  if (!spec) {
    throw new RangeError(
      `Unknown IB bar size "${barSize}"; one of: ${Object.keys(BAR_SIZES).join(", ")}`,
    );
  }
  return spec;
}

/** One historical-data request of a plan. */
export interface ChunkRequest {
  /** Inclusive start of the bars this request is for (epoch ms, UTC). */
  start: number;
  /** Exclusive end (epoch ms, UTC). */
  end: number;
  /** IB `endDateTime`: the second before `end`, `yyyyMMdd-HH:mm:ss` (UTC). */
  endDateTime: string;
  /** IB `durationStr`, e.g. `"229 D"`, `"2 Y"`, `"3600 S"`. */
  duration: string;
}

/** Options of {@linkcode planChunks}. */
export interface PlanOptions {
  /**
   * `"lean"`: as few requests as IB allows (daily ranges over a year use a `"N Y"`
   * duration that may reach before `start`; the client filters). `"advanced"`:
   * never ask for much more than the range (daily chunks of one calendar year,
   * `"1 Y"`, the oldest remainder in days). Default `"advanced"`.
   */
  mode?: "lean" | "advanced";
}

/**
 * Splits `[start, end)` into requests no longer than IB allows for `barSize`,
 * newest first (IB's natural direction, and the newest data is usually wanted first).
 * Each request asks for `(end − duration, end − 1 s]`, which covers its slice.
 *
 * @param start Inclusive start, epoch ms.
 * @param end Exclusive end, epoch ms.
 * @param barSize An IB bar size.
 * @param options See {@linkcode PlanOptions}.
 * @returns The requests; empty when the range is empty.
 * @example
 * ```ts
 * planChunks(Date.UTC(2025, 0, 1), Date.UTC(2025, 1, 1), "1 hour");
 * // [{ duration: "30 D", ... }, { duration: "1 D", ... }]
 * ```
 */
export function planChunks(
  start: number,
  end: number,
  barSize: string,
  options: PlanOptions = {},
): ChunkRequest[] {
  const spec = barSizeSpec(barSize);
  if (!(Number.isFinite(start) && Number.isFinite(end))) {
    throw new RangeError("planChunks(): start and end must be finite");
  }
  if (end <= start) return [];
  const mode = options.mode ?? "advanced";
  const out: ChunkRequest[] = [];
  let hi = end;
  while (hi > start) {
    let lo: number;
    let duration: string;
    if (spec.daily && mode === "advanced") {
      // Calendar years back from the end ("1 Y" is exact), the oldest remainder in days.
      const yearBack = yearsBefore(hi, 1);
      lo = Math.max(start, yearBack);
      duration = lo === yearBack ? "1 Y" : durationFor(hi - lo, spec);
    } else if (spec.daily) {
      // Lean: one request; over a year, the fewest calendar years reaching back to `start`.
      lo = start;
      let years = 1;
      while (yearsBefore(hi, years) > start) years++;
      duration = hi - lo <= 365 * DAY ? durationFor(hi - lo, spec) : `${years} Y`;
    } else {
      lo = Math.max(start, hi - spec.maxDurationSeconds * 1000);
      duration = durationFor(hi - lo, spec);
    }
    out.push({ start: lo, end: hi, endDateTime: formatIbDateTime(hi - 1000), duration });
    hi = lo;
  }
  return out;
}

function yearsBefore(ms: number, n: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() - n);
  return d.getTime();
}

/** Smallest IB duration string covering `ms`, in the unit IB accepts for the span. */
function durationFor(ms: number, spec: BarSizeSpec): string {
  const days = Math.ceil(ms / DAY);
  // N calendar years are at least N × 365 days, so ceil(days / 365) years cover the span.
  if (spec.daily) return days <= 365 ? `${days} D` : `${Math.ceil(days / 365)} Y`;
  if (ms < DAY) return `${Math.ceil(ms / 1000)} S`;
  return `${days} D`;
}

/**
 * Formats an instant the way IB's `endDateTime` takes UTC: `yyyyMMdd-HH:mm:ss`.
 * @param ms Epoch ms.
 * @returns E.g. `"20250817-23:59:59"`.
 */
export function formatIbDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${
    p(d.getUTCHours())
  }:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/**
 * Parses a time as IB sends it (bar dates, head timestamps) into epoch ms, UTC:
 * `yyyyMMdd` (a daily bar: that date, 00:00 UTC), epoch seconds (`formatDate=2`),
 * `yyyyMMdd-HH:mm:ss` (UTC) or `yyyyMMdd HH:mm:ss ZONE` (`formatDate=1` with an IANA zone or `UTC`).
 *
 * @param text The string from the wire.
 * @returns Epoch ms.
 * @example
 * ```ts
 * parseIbTime("20250102");            // Date.UTC(2025, 0, 2)
 * parseIbTime("1735828200");          // 2025-01-02T14:30:00Z
 * parseIbTime("20250102 09:30:00 US/Eastern");
 * ```
 */
export function parseIbTime(text: string): number {
  const s = text.trim();
  let m = /^(\d{4})(\d{2})(\d{2})$/.exec(s);
  if (m) return Date.UTC(+m[1], +m[2] - 1, +m[3]);
  if (/^\d{9,11}$/.test(s)) return Number(s) * 1000;
  m = /^(\d{4})(\d{2})(\d{2})[- ]+(\d{2}):(\d{2}):(\d{2})(?:\s+(\S+))?$/.exec(s);
  if (m) {
    const local = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    const zone = m[7];
    if (!zone) {
      if (s.includes("-")) return local;
      throw new SyntaxError(
        `IB time "${text}" has no time zone; request formatDate=2 or UTC times`,
      );
    }
    if (zone === "UTC" || zone === "GMT") return local;
    try {
      return zonedWallToUtc(local, zone);
    } catch {
      throw new SyntaxError(`IB time "${text}": unknown time zone "${zone}"`);
    }
  }
  throw new SyntaxError(`Cannot parse IB time "${text}"`);
}
