/**
 * Trading calendars per exchange, for the data-quality report: on which days is a market
 * open, and which of those are half days?
 *
 * - `NYSE` (also used for NASDAQ, NYSE American/Arca, BATS/Cboe and IB's SMART routing of US
 *   stocks): regular sessions Monday–Friday except the holidays below, computed by rule.
 *   Source: NYSE's published holiday and early-close lists ("Holidays & Trading Hours",
 *   https://www.nyse.com/markets/hours-calendars) and NYSE Rule 7.2 (observance: a holiday on
 *   a Saturday is observed the Friday before, on a Sunday the Monday after; New Year's Day on a
 *   Saturday is not observed). Holidays: New Year's Day, Martin Luther King Jr. Day (third
 *   Monday of January, observed by NYSE since 1998), Washington's Birthday / Presidents' Day
 *   (third Monday of February), Good Friday, Memorial Day (last Monday of May), Juneteenth
 *   (June 19, since 2022), Independence Day, Labor Day (first Monday of September),
 *   Thanksgiving (fourth Thursday of November), Christmas. Special closures in
 *   {@linkcode NYSE_SPECIAL_CLOSURES}. Early closes (13:00 New York): the day after
 *   Thanksgiving, Christmas Eve and July 3 when they fall Monday–Thursday on a session
 *   (that is, when the next day is the holiday itself). Checked against the published lists for
 *   1990–2030; early-close history before 1993 is approximate.
 * - `24x7`: every day (crypto).
 * - `weekdays`: Monday–Friday without holidays (an exchange whose holidays this module does not
 *   know, e.g. FX).
 *
 * @module
 */

/** The calendars known to {@linkcode isSession}. */
export type CalendarId = "NYSE" | "24x7" | "weekdays";

/**
 * NYSE closures outside the holiday rules (1990–2030): the Nixon funeral, September 11,
 * the Reagan, Ford, G. H. W. Bush and Carter days of mourning, and Hurricane Sandy.
 */
export const NYSE_SPECIAL_CLOSURES: Readonly<Record<string, string>> = {
  "1994-04-27": "national day of mourning (Nixon)",
  "2001-09-11": "September 11 attacks",
  "2001-09-12": "September 11 attacks",
  "2001-09-13": "September 11 attacks",
  "2001-09-14": "September 11 attacks",
  "2004-06-11": "national day of mourning (Reagan)",
  "2007-01-02": "national day of mourning (Ford)",
  "2012-10-29": "Hurricane Sandy",
  "2012-10-30": "Hurricane Sandy",
  "2018-12-05": "national day of mourning (G. H. W. Bush)",
  "2025-01-09": "national day of mourning (Carter)",
};

/** Exchange codes (as IB and CSV files spell them) that follow the NYSE calendar. */
const US_EQUITY_EXCHANGES = new Set([
  "NYSE",
  "NASDAQ",
  "ISLAND",
  "NMS",
  "ARCA",
  "NYSEARCA",
  "AMEX",
  "NYSEAMERICAN",
  "NYSEMKT",
  "BATS",
  "CBOE",
  "BZX",
  "IEX",
  "SMART",
  "PINK",
  "OTC",
]);

/** Exchange codes of venues that trade every day. */
const ALWAYS_OPEN_EXCHANGES = new Set(["PAXOS", "ZEROHASH", "CRYPTO", "COINBASE", "BINANCE"]);

const ymd = (y: number, m: number, d: number) =>
  `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
const weekday = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).getUTCDay();
const shift = (day: string, n: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** The `n`-th (1-based) `wd` weekday of a month; `n = -1` for the last one. */
function nthWeekday(y: number, m: number, wd: number, n: number): string {
  if (n > 0) {
    const first = weekday(y, m, 1);
    return ymd(y, m, 1 + ((wd - first + 7) % 7) + (n - 1) * 7);
  }
  const lastDay = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const last = weekday(y, m, lastDay);
  return ymd(y, m, lastDay - ((last - wd + 7) % 7));
}

/** Western Easter Sunday (anonymous Gregorian algorithm). */
function easter(y: number): string {
  const a = y % 19, b = Math.floor(y / 100), c = y % 100;
  const d = Math.floor(b / 4), e = b % 4, f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3), h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4), k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31), day = ((h + l - 7 * m + 114) % 31) + 1;
  return ymd(y, month, day);
}

/** A fixed-date holiday moved to its observed weekday (Sat → Fri, Sun → Mon). */
function observed(y: number, m: number, d: number): string {
  const wd = weekday(y, m, d);
  return wd === 6 ? shift(ymd(y, m, d), -1) : wd === 0 ? shift(ymd(y, m, d), 1) : ymd(y, m, d);
}

const holidayCache = new Map<number, Map<string, string>>();

/**
 * NYSE full-day closures of one year, by rule plus the special closures.
 * @param year e.g. 2021.
 * @returns Map from `YYYY-MM-DD` to the holiday's name, for weekdays only.
 * @example
 * ```ts
 * nyseHolidays(2021).get("2021-04-02"); // "Good Friday"
 * ```
 */
export function nyseHolidays(year: number): Map<string, string> {
  const hit = holidayCache.get(year);
  if (hit) return hit;
  const out = new Map<string, string>();
  if (weekday(year, 1, 1) !== 6) out.set(observed(year, 1, 1), "New Year's Day");
  if (year >= 1998) out.set(nthWeekday(year, 1, 1, 3), "Martin Luther King Jr. Day");
  out.set(nthWeekday(year, 2, 1, 3), "Washington's Birthday");
  out.set(shift(easter(year), -2), "Good Friday");
  out.set(nthWeekday(year, 5, 1, -1), "Memorial Day");
  if (year >= 2022) out.set(observed(year, 6, 19), "Juneteenth");
  out.set(observed(year, 7, 4), "Independence Day");
  out.set(nthWeekday(year, 9, 1, 1), "Labor Day");
  out.set(nthWeekday(year, 11, 4, 4), "Thanksgiving");
  out.set(observed(year, 12, 25), "Christmas");
  for (const [day, why] of Object.entries(NYSE_SPECIAL_CLOSURES)) {
    if (day.startsWith(`${year}-`)) out.set(day, why);
  }
  holidayCache.set(year, out);
  return out;
}

/**
 * Whether `day` is an NYSE early close (13:00 New York): the day after Thanksgiving, and
 * Christmas Eve and July 3 when they fall on Monday–Thursday.
 * @param day `YYYY-MM-DD`.
 * @returns The reason, or undefined for a full session or a closed day.
 * @example
 * ```ts
 * nyseHalfDay("2019-07-03"); // "July 3 early close"
 * ```
 */
export function nyseHalfDay(day: string): string | undefined {
  const y = Number(day.slice(0, 4)), m = Number(day.slice(5, 7)), d = Number(day.slice(8, 10));
  if (!isSession("NYSE", day)) return undefined;
  const wd = weekday(y, m, d);
  if (day === shift(nthWeekday(y, 11, 4, 4), 1)) return "day after Thanksgiving early close";
  if (m === 12 && d === 24 && wd >= 1 && wd <= 4) return "Christmas Eve early close";
  if (m === 7 && d === 3 && wd >= 1 && wd <= 4) return "July 3 early close";
  return undefined;
}

/**
 * Whether a market following `calendar` holds a session on `day`.
 * @param calendar See {@linkcode CalendarId}.
 * @param day `YYYY-MM-DD`.
 * @returns true when open.
 * @example
 * ```ts
 * isSession("NYSE", "2012-10-29"); // false (Hurricane Sandy)
 * isSession("24x7", "2024-01-06"); // true
 * ```
 */
export function isSession(calendar: CalendarId, day: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) {
    throw new RangeError(`isSession: not a YYYY-MM-DD day: ${day}`);
  }
  if (calendar === "24x7") return true;
  const wd = new Date(`${day}T00:00:00Z`).getUTCDay();
  if (wd === 0 || wd === 6) return false;
  if (calendar === "weekdays") return true;
  return !nyseHolidays(Number(day.slice(0, 4))).has(day);
}

/**
 * Why `day` is closed on `calendar` (weekend, holiday name), or undefined when open.
 * @param calendar See {@linkcode CalendarId}.
 * @param day `YYYY-MM-DD`.
 * @returns A short reason.
 * @example
 * ```ts
 * closedReason("NYSE", "2021-04-02"); // "Good Friday"
 * ```
 */
export function closedReason(calendar: CalendarId, day: string): string | undefined {
  if (isSession(calendar, day)) return undefined;
  const wd = new Date(`${day}T00:00:00Z`).getUTCDay();
  if (wd === 0 || wd === 6) return "weekend";
  return nyseHolidays(Number(day.slice(0, 4))).get(day);
}

/**
 * Chooses an instrument's calendar: a series with at least 5 % of its bars on Saturdays or
 * Sundays trades every day (`24x7`); otherwise its exchange decides (`NYSE` for US stock
 * venues, `24x7` for crypto venues); an instrument without a known exchange is a stock and
 * follows `NYSE` unless its security type is not a stock (`weekdays` then).
 * @param info The stored exchange and security type (either may be missing), and the share of
 * bars on weekends.
 * @returns The calendar and a human-readable reason.
 * @example
 * ```ts
 * chooseCalendar({ exchange: "NASDAQ", weekendShare: 0 }).calendar; // "NYSE"
 * chooseCalendar({ weekendShare: 0.28 }).calendar; // "24x7"
 * ```
 */
export function chooseCalendar(
  info: { exchange?: string | null; secType?: string | null; weekendShare: number },
): { calendar: CalendarId; reason: string } {
  const ex = info.exchange?.trim().toUpperCase() || undefined;
  if (info.weekendShare >= 0.05) {
    return {
      calendar: "24x7",
      reason: `${(info.weekendShare * 100).toFixed(1)}% of bars on weekends`,
    };
  }
  if (ex && US_EQUITY_EXCHANGES.has(ex)) return { calendar: "NYSE", reason: `exchange ${ex}` };
  if (ex && ALWAYS_OPEN_EXCHANGES.has(ex)) return { calendar: "24x7", reason: `exchange ${ex}` };
  const sec = info.secType?.trim().toUpperCase() || "STK";
  if (sec === "STK" || sec === "ETF" || sec === "IND") {
    return { calendar: "NYSE", reason: ex ? `exchange ${ex} unknown, default` : "default" };
  }
  return {
    calendar: "weekdays",
    reason: `${sec}${ex ? ` on ${ex}` : ""}: holidays unknown, Monday–Friday`,
  };
}
