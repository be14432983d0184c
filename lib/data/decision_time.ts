/**
 * The moment a decision at a bar is taken: the bar's close, in the exchange's time zone.
 * Point-in-time (as-of) features may use a value only when it was known at or before
 * this moment.
 *
 * - Daily bars are stored at their session date 00:00 UTC; their decision time is the
 *   regular close of that session in New York: 16:00 America/New_York (DST-correct), or
 *   13:00 on an NYSE early close ({@linkcode nyseHalfDay}). Every instrument is assumed to
 *   trade on the NYSE calendar (the stored universe is US stocks and indices).
 * - Intraday bars (`N secs|mins|hours`) are stored at their start; their decision time is
 *   the bar's end, `timestamp + N units`.
 * - Weekly and monthly bars are refused: their stored timestamp does not say which
 *   session they end on.
 *
 * @module
 */
import { localDayMinute, normaliseBarSize, US_REGULAR_SESSION, zonedWallToUtc } from "./_time.ts";
import { nyseHalfDay } from "./calendars.ts";

/** The exchange time zone of decision times and of day counts. */
export const DECISION_ZONE = US_REGULAR_SESSION.zone;

const DAY_MS = 86_400_000;
const UNIT_MS: Readonly<Record<string, number>> = { sec: 1_000, min: 60_000, hour: 3_600_000 };

/**
 * The decision time of one bar.
 * @param timestamp The bar's stored timestamp (epoch ms; a session date at 00:00 UTC for daily bars).
 * @param barSize IBKR spelling: `"1 day"`, `"1 hour"`, `"5 mins"`, …
 * @returns Epoch ms of the bar's close.
 * @throws {RangeError} For a weekly/monthly or unparsable bar size.
 * @example
 * ```ts
 * decisionTime(Date.UTC(2018, 0, 2), "1 day"); // Date.UTC(2018, 0, 2, 21): 16:00 EST
 * decisionTime(Date.UTC(2018, 6, 3), "1 day"); // Date.UTC(2018, 6, 3, 17): 13:00 EDT, early close
 * ```
 */
export function decisionTime(timestamp: number, barSize: string): number {
  return decisionTimeOf(barSize)(timestamp);
}

/**
 * The decision times of a calendar (one bar size), element by element.
 * @param timestamps Stored bar timestamps (epoch ms).
 * @param barSize See {@linkcode decisionTime}.
 * @returns Epoch ms of each bar's close.
 * @throws {RangeError} As {@linkcode decisionTime}.
 * @example
 * ```ts
 * decisionTimes([Date.UTC(2018, 0, 2), Date.UTC(2018, 0, 3)], "1 day");
 * ```
 */
export function decisionTimes(timestamps: ArrayLike<number>, barSize: string): Float64Array {
  const f = decisionTimeOf(barSize);
  const out = new Float64Array(timestamps.length);
  for (let i = 0; i < timestamps.length; i++) out[i] = f(timestamps[i]);
  return out;
}

/**
 * The local calendar day in {@linkcode DECISION_ZONE} of an instant, as days since
 * 1970-01-01: differences of it count calendar days the way a New York desk counts them.
 * @param ms Epoch ms.
 * @returns Whole days.
 * @example
 * ```ts
 * exchangeDay(Date.UTC(2018, 0, 3, 3)); // 17533 (22:00 on 2018-01-02 in New York)
 * ```
 */
export function exchangeDay(ms: number): number {
  return Date.parse(`${localDayMinute(ms, DECISION_ZONE).day}T00:00:00Z`) / DAY_MS;
}

function decisionTimeOf(barSize: string): (ts: number) => number {
  const m = /^(\d+) (sec|min|hour|day|week|month)s?$/.exec(normaliseBarSize(barSize));
  const n = Number(m![1]);
  const unit = m![2];
  if (unit === "day") {
    if (n !== 1) throw new RangeError(`decisionTime(): bar size "${barSize}" is not supported`);
    return (ts) => {
      const day = Math.floor(ts / DAY_MS) * DAY_MS;
      const iso = new Date(day).toISOString().slice(0, 10);
      const close = nyseHalfDay(iso) ? 13 : US_REGULAR_SESSION.close / 60;
      return zonedWallToUtc(day + close * 3_600_000, DECISION_ZONE);
    };
  }
  const unitMs = UNIT_MS[unit];
  if (unitMs === undefined) {
    throw new RangeError(
      `decisionTime(): bar size "${barSize}" has no decision time (weekly and monthly bars do not say which session they end on)`,
    );
  }
  return (ts) => ts + n * unitMs;
}
