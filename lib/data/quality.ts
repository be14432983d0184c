/**
 * Day-level data quality: for every session day of each symbol's own exchange calendar, is
 * the symbol present, missing (market open, symbol already listed), not yet listed, or present
 * but suspicious (zero volume, inconsistent OHLC, a one-day move over a threshold that no
 * split explains, a close repeated for days)? Intraday bars are classified per day.
 *
 * Each symbol is judged against its own calendar ({@linkcode chooseCalendar} in
 * `calendars.ts`: NYSE sessions with holidays for stocks, every day for a series with weekend
 * bars such as crypto), over the span from the earliest to the latest bar of all examined
 * symbols. A day with a bar is always listed, even when its calendar says closed. A series
 * without any volume (an index) is not flagged for zero volume.
 *
 * @module
 */
import type { Queryable, Store } from "../db/store.ts";
import { readPrices } from "../db/prices_repo.ts";
import { readInstrumentMeta, replaceDataQuality } from "../db/quality_repo.ts";
import type { BarColumns } from "./panel.ts";
import { localDayMinute } from "./_time.ts";
import { type CalendarId, chooseCalendar, isSession, nyseHalfDay } from "./calendars.ts";

/** The classes, in order of severity for the summary. */
export const QUALITY_CLASSES = ["present", "suspicious", "missing", "not_listed"] as const;

/** One class of {@linkcode QUALITY_CLASSES}. */
export type QualityClass = typeof QUALITY_CLASSES[number];

/** One symbol on one day. */
export interface DayQuality {
  instrument: string;
  /** `YYYY-MM-DD` (UTC date for daily bars, exchange-local date for intraday bars). */
  day: string;
  class: QualityClass;
  /** Why (for suspicious, missing and not_listed; also notes a split-explained move). */
  detail: string | null;
}

/** Options of {@linkcode classifyBars}. */
export interface QualityOptions {
  /** A bar-to-bar close move larger than this fraction is suspicious unless a split explains it. Default 0.25. */
  moveThreshold?: number;
  /** This many equal consecutive closes (bars) are suspicious. Default 5. */
  repeatBars?: number;
  /** Zone whose local date groups intraday bars into days. Default `America/New_York`. */
  timeZone?: string;
  /** Stored exchange and security type per symbol (from `tt_instruments`); missing ones default. */
  instruments?: Record<string, { exchange?: string | null; secType?: string | null }>;
  /** Called after each symbol is classified. */
  onSymbol?: (done: number, total: number, symbol: string) => void;
}

/** How one series was judged (see {@linkcode classifySeries}). */
export interface SeriesQuality {
  symbol: string;
  calendar: CalendarId;
  /** Why this calendar (exchange, default, share of weekend bars). */
  calendarReason: string;
  /** True when every bar has volume 0 or none: the zero-volume flag is suppressed. */
  noVolume: boolean;
}

/** Split ratios checked to explain a large move (n:1 and 1:n, plus 3:2). */
const SPLIT_RATIOS = [2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 25, 30, 40, 50, 100, 1.5];
/** How close close/prevClose × ratio must be to 1 for a split to explain a move. */
const SPLIT_TOLERANCE = 0.05;

/**
 * Whether `barSize` is daily or longer (days are then UTC dates of the bar timestamps).
 * @param barSize e.g. `1 day`, `1 hour`.
 * @returns true for day, week and month bars.
 * @example
 * ```ts
 * isDailyOrLonger("1 hour"); // false
 * ```
 */
export function isDailyOrLonger(barSize: string): boolean {
  return /\b(day|week|month)s?$/.test(barSize.trim());
}

/**
 * Classifies bars per symbol and day. Pure: no database.
 * @param bars Bars of one bar size, sorted by instrument then time (as `readPrices` returns them).
 * @param barSize Their bar size.
 * @param options See {@linkcode QualityOptions}.
 * @returns One row per symbol and day of its calendar (plus days it has a bar), sorted by symbol then day.
 * @example
 * ```ts
 * const rows = classifyBars(await readPrices(store, { barSize: "1 day" }), "1 day");
 * ```
 */
export function classifyBars(
  bars: BarColumns,
  barSize: string,
  options: QualityOptions = {},
): DayQuality[] {
  return classifySeries(bars, barSize, options).rows;
}

/**
 * Like {@linkcode classifyBars}, and also says which calendar each series was judged against
 * and whether its zero-volume flag was suppressed.
 * @param bars Bars of one bar size, sorted by instrument then time.
 * @param barSize Their bar size.
 * @param options See {@linkcode QualityOptions}.
 * @returns The rows and one {@linkcode SeriesQuality} per symbol.
 * @example
 * ```ts
 * const { series } = classifySeries(bars, "1 day", { instruments: { BTC: { exchange: "PAXOS" } } });
 * series[0].calendar; // e.g. "24x7"
 * ```
 */
export function classifySeries(
  bars: BarColumns,
  barSize: string,
  options: QualityOptions = {},
): { rows: DayQuality[]; series: SeriesQuality[] } {
  const threshold = options.moveThreshold ?? 0.25;
  const repeat = options.repeatBars ?? 5;
  const zone = options.timeZone ?? "America/New_York";
  if (!(threshold > 0)) throw new RangeError(`moveThreshold must be > 0; got ${threshold}`);
  if (!(repeat >= 2) || !Number.isInteger(repeat)) {
    throw new RangeError(`repeatBars must be an integer ≥ 2; got ${repeat}`);
  }
  const daily = isDailyOrLonger(barSize);
  const n = bars.timestamp.length;
  const dayOf = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    dayOf[i] = daily
      ? new Date(bars.timestamp[i]).toISOString().slice(0, 10)
      : localDayMinute(bars.timestamp[i], zone).day;
  }
  let minDay = "", maxDay = "";
  for (const d of dayOf) {
    if (minDay === "" || d < minDay) minDay = d;
    if (d > maxDay) maxDay = d;
  }
  const span: string[] = [];
  if (n > 0) {
    for (let t = Date.parse(`${minDay}T00:00:00Z`);; t += 86_400_000) {
      const d = new Date(t).toISOString().slice(0, 10);
      if (d > maxDay) break;
      span.push(d);
    }
  }
  // Ranges of each instrument in the (instrument, time)-sorted input.
  const ranges: { symbol: string; from: number; to: number }[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0 && bars.instrument[i] < bars.instrument[i - 1]) {
      throw new TypeError(`classifyBars needs bars sorted by instrument then time (row ${i})`);
    }
    if (i === 0 || bars.instrument[i] !== bars.instrument[i - 1]) {
      ranges.push({ symbol: bars.instrument[i], from: i, to: i + 1 });
    } else {
      if (bars.timestamp[i] <= bars.timestamp[i - 1]) {
        throw new TypeError(`classifyBars needs bars sorted by instrument then time (row ${i})`);
      }
      ranges[ranges.length - 1].to = i + 1;
    }
  }
  const out: DayQuality[] = [];
  const series: SeriesQuality[] = [];
  let done = 0;
  for (const { symbol, from, to } of ranges) {
    let weekend = 0, withVolume = 0;
    for (let i = from; i < to; i++) {
      const wd = new Date(`${dayOf[i]}T00:00:00Z`).getUTCDay();
      if (wd === 0 || wd === 6) weekend++;
      const v = bars.volume[i];
      if (v != null && !Number.isNaN(v) && v !== 0) withVolume++;
    }
    const meta = options.instruments?.[symbol];
    const { calendar: cal, reason } = chooseCalendar({
      exchange: meta?.exchange,
      secType: meta?.secType,
      weekendShare: weekend / (to - from),
    });
    const noVolume = withVolume === 0;
    series.push({ symbol, calendar: cal, calendarReason: reason, noVolume });
    // Per-bar problems, gathered per day.
    const notes = new Map<string, string[]>();
    const info = new Map<string, string[]>();
    const add = (m: Map<string, string[]>, day: string, text: string) => {
      const list = m.get(day);
      if (list) {
        if (!list.includes(text)) list.push(text);
      } else m.set(day, [text]);
    };
    const zeroVol = new Map<string, number>();
    const barsPerDay = new Map<string, number>();
    for (let i = from; i < to; i++) {
      const day = dayOf[i];
      barsPerDay.set(day, (barsPerDay.get(day) ?? 0) + 1);
      const o = bars.open[i],
        h = bars.high[i],
        l = bars.low[i],
        c = bars.close[i],
        v = bars.volume[i];
      if (v === 0 && !noVolume) zeroVol.set(day, (zeroVol.get(day) ?? 0) + 1);
      if (
        !(o > 0 && h > 0 && l > 0 && c > 0) || h < Math.max(o, c) || l > Math.min(o, c) ||
        (!noVolume && !(v >= 0))
      ) {
        add(notes, day, `OHLC inconsistent (o ${o}, h ${h}, l ${l}, c ${c}, v ${v})`);
      }
      if (i > from) {
        const prev = bars.close[i - 1];
        const r = c / prev;
        if (prev > 0 && c > 0 && Math.abs(r - 1) > threshold) {
          const split = explainingSplit(r);
          const move = `move ${r >= 1 ? "+" : ""}${((r - 1) * 100).toFixed(1)}% vs previous close`;
          if (split) add(info, day, `${move} matches a ${split} split`);
          else add(notes, day, `${move} (no split explains it)`);
        }
      }
    }
    // Runs of equal closes.
    let runStart = from;
    for (let i = from + 1; i <= to; i++) {
      if (i < to && bars.close[i] === bars.close[i - 1]) continue;
      if (i - runStart >= repeat) {
        for (let j = runStart; j < i; j++) {
          add(
            notes,
            dayOf[j],
            `close ${bars.close[j]} repeated on ${i - runStart} consecutive bars`,
          );
        }
      }
      runStart = i;
    }
    for (const [day, z] of zeroVol) {
      const total = barsPerDay.get(day)!;
      add(notes, day, total === 1 ? "zero volume" : `zero volume on ${z} of ${total} bars`);
    }
    const first = dayOf[from], last = dayOf[to - 1];
    for (const day of span) {
      if (!barsPerDay.has(day) && !isSession(cal, day)) continue;
      if (cal === "NYSE" && barsPerDay.has(day)) {
        const half = nyseHalfDay(day);
        if (half) add(info, day, `NYSE ${half}`);
        else if (!isSession(cal, day)) add(info, day, "bar on a day the NYSE calendar is closed");
      }
      if (day < first) {
        out.push({
          instrument: symbol,
          day,
          class: "not_listed",
          detail: `before first bar ${first}`,
        });
      } else if (!barsPerDay.has(day)) {
        out.push({
          instrument: symbol,
          day,
          class: "missing",
          detail: day > last ? `after last bar ${last}` : "no bar",
        });
      } else if (notes.has(day)) {
        out.push({
          instrument: symbol,
          day,
          class: "suspicious",
          detail: notes.get(day)!.join("; "),
        });
      } else {
        out.push({
          instrument: symbol,
          day,
          class: "present",
          detail: info.get(day)?.join("; ") ?? null,
        });
      }
    }
    options.onSymbol?.(++done, ranges.length, symbol);
  }
  return { rows: out, series };
}

function explainingSplit(r: number): string | undefined {
  for (const s of SPLIT_RATIOS) {
    const label = s === 1.5 ? ["3:2", "2:3"] : [`${s}:1`, `1:${s}`];
    if (Math.abs(r * s - 1) <= SPLIT_TOLERANCE) return label[0]; // price fell: forward split
    if (Math.abs(r / s - 1) <= SPLIT_TOLERANCE) return label[1]; // price rose: reverse split
  }
  return undefined;
}

/** Per-symbol counts of {@linkcode QualitySummary}. */
export interface SymbolQuality {
  symbol: string;
  present: number;
  suspicious: number;
  missing: number;
  notListed: number;
  /** Calendar days since the first bar (present + suspicious + missing). */
  listedDays: number;
  /** Days with a bar / listed days, in percent (suspicious days count as covered). */
  coveragePct: number;
}

/** A day with many problems. */
export interface WorstDay {
  day: string;
  missing: number;
  suspicious: number;
  /** Up to 10 affected symbols. */
  symbols: string[];
}

/** What {@linkcode summarizeQuality} returns. */
export interface QualitySummary {
  days: number;
  symbols: SymbolQuality[];
  totals: Record<QualityClass, number>;
  /** Days ranked by missing + suspicious symbols (ties: earlier first), only days with any. */
  worstDays: WorstDay[];
}

/**
 * Aggregates classified days.
 * @param rows From {@linkcode classifyBars}.
 * @param worst How many worst days to list. Default 10.
 * @returns Per-symbol coverage and counts, totals per class, worst days.
 * @example
 * ```ts
 * const s = summarizeQuality(rows);
 * s.symbols[0].coveragePct; // e.g. 100
 * ```
 */
export function summarizeQuality(rows: DayQuality[], worst = 10): QualitySummary {
  const per = new Map<string, SymbolQuality>();
  const byDay = new Map<string, WorstDay>();
  const totals: Record<QualityClass, number> = {
    present: 0,
    suspicious: 0,
    missing: 0,
    not_listed: 0,
  };
  for (const r of rows) {
    totals[r.class]++;
    let s = per.get(r.instrument);
    if (!s) {
      s = {
        symbol: r.instrument,
        present: 0,
        suspicious: 0,
        missing: 0,
        notListed: 0,
        listedDays: 0,
        coveragePct: 0,
      };
      per.set(r.instrument, s);
    }
    if (r.class === "not_listed") s.notListed++;
    else s[r.class]++;
    if (r.class === "missing" || r.class === "suspicious") {
      let d = byDay.get(r.day);
      if (!d) byDay.set(r.day, d = { day: r.day, missing: 0, suspicious: 0, symbols: [] });
      d[r.class]++;
      if (d.symbols.length < 10) d.symbols.push(r.instrument);
    }
  }
  for (const s of per.values()) {
    s.listedDays = s.present + s.suspicious + s.missing;
    s.coveragePct = s.listedDays
      ? Math.round(((s.present + s.suspicious) / s.listedDays) * 10_000) / 100
      : 0;
  }
  const worstDays = [...byDay.values()]
    .sort((a, b) =>
      (b.missing + b.suspicious) - (a.missing + a.suspicious) || a.day.localeCompare(b.day)
    )
    .slice(0, worst);
  return {
    days: new Set(rows.map((r) => r.day)).size,
    symbols: [...per.values()].sort((a, b) => a.symbol.localeCompare(b.symbol)),
    totals,
    worstDays,
  };
}

/** Options of {@linkcode runQualityReport}. */
export interface QualityReportOptions extends QualityOptions {
  /** Default `1 day`. */
  barSize?: string;
  /** Only these symbols (the union calendar is then theirs). Default: all with bars of that size. */
  symbols?: string[];
  /** Replace the stored rows of these symbols in `tt_data_quality`. Default true. */
  persist?: boolean;
  /** Worst days to list. Default 10. */
  worst?: number;
  /** Progress: `stage` is `read`, `classify` (per symbol) or `store`. */
  onProgress?: (stage: "read" | "classify" | "store", done: number, total: number) => void;
}

/**
 * Reads bars from the store, classifies them and (by default) stores the result in
 * `tt_data_quality`, replacing earlier rows of the same symbols and bar size.
 * @param store An open store.
 * @param options See {@linkcode QualityReportOptions}.
 * @returns The rows and their summary.
 * @example
 * ```ts
 * const { summary } = await runQualityReport(store, { barSize: "1 day", moveThreshold: 0.25 });
 * ```
 */
export async function runQualityReport(
  store: Store | Queryable,
  options: QualityReportOptions = {},
): Promise<
  { barSize: string; rows: DayQuality[]; series: SeriesQuality[]; summary: QualitySummary }
> {
  const barSize = options.barSize ?? "1 day";
  const report = options.onProgress;
  report?.("read", 0, 0);
  const bars = await readPrices(store, { barSize, instruments: options.symbols });
  const instruments = options.instruments ??
    await readInstrumentMeta(store, options.symbols);
  const { rows, series } = classifySeries(bars, barSize, {
    ...options,
    instruments,
    onSymbol: (done, total, symbol) => {
      options.onSymbol?.(done, total, symbol);
      report?.("classify", done, total);
    },
  });
  if (options.persist ?? true) {
    report?.("store", 0, rows.length);
    const symbols = options.symbols ?? [...new Set(bars.instrument)];
    if ("transaction" in store) {
      await store.transaction((tx) => replaceDataQuality(tx, barSize, symbols, rows));
    } else await replaceDataQuality(store, barSize, symbols, rows);
    report?.("store", rows.length, rows.length);
  }
  return { barSize, rows, series, summary: summarizeQuality(rows, options.worst ?? 10) };
}

/**
 * One line per noteworthy series decision, to print once: series without volume (zero-volume
 * flag suppressed) and the calendars in use.
 * @param series From {@linkcode classifySeries} or {@linkcode runQualityReport}.
 * @returns Human-readable lines.
 * @example
 * ```ts
 * seriesNotes([{ symbol: "^GSPC", calendar: "NYSE", calendarReason: "default", noVolume: true }]);
 * // ["^GSPC has no volume on any bar (an index?): zero-volume days not flagged", "NYSE calendar: ^GSPC"]
 * ```
 */
export function seriesNotes(series: readonly SeriesQuality[]): string[] {
  const out: string[] = [];
  for (const s of series) {
    if (s.noVolume) {
      out.push(`${s.symbol} has no volume on any bar (an index?): zero-volume days not flagged`);
    }
  }
  const byCal = new Map<string, string[]>();
  for (const s of series) {
    const list = byCal.get(s.calendar) ?? [];
    list.push(s.calendar === "NYSE" ? s.symbol : `${s.symbol} (${s.calendarReason})`);
    byCal.set(s.calendar, list);
  }
  for (const [cal, list] of byCal) {
    out.push(
      `${cal} calendar: ${list.slice(0, 12).join(", ")}${
        list.length > 12 ? `, … (${list.length})` : ""
      }`,
    );
  }
  return out;
}
