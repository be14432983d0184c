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
 * without any volume (an index) is not flagged for zero volume, and neither is an intraday bar
 * of an NYSE-calendar series outside the regular session (09:30–16:00 New York, 13:00 on half
 * days): vendors stamp pre- and post-market bars with volume 0; such bars are counted in the
 * day's detail instead.
 *
 * Lineage and plausibility (issue 11, items 11 and 15): `tt_prices.ingest_run_id` says which
 * ingest run last wrote each bar; {@linkcode findSplices} turns it into per-instrument
 * segments (which run, source and start wrote which range) and flags a level break at a
 * boundary between two runs (a spliced series, e.g. adjusted sample bars written over a
 * user's unadjusted ones); closes outside `PLAUSIBLE_CLOSE` are flagged per bar.
 *
 * @module
 */
import type { Queryable, Store } from "../db/store.ts";
import { listIngestRuns, readPricesWithRuns } from "../db/prices_repo.ts";
import { readInstrumentMeta, replaceDataQuality } from "../db/quality_repo.ts";
import type { BarColumns } from "./panel.ts";
import { localDayMinute, US_REGULAR_SESSION } from "./_time.ts";
import { type CalendarId, chooseCalendar, isSession, nyseHalfDay } from "./calendars.ts";
import { PLAUSIBLE_CLOSE } from "./csv_ingest.ts";

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
  /**
   * Which ingest run last wrote each bar (index for index with the bars; null: unknown) and
   * what those runs were. Without it every bar counts as written by one unknown run, so
   * there are no run boundaries and no splices.
   */
  lineage?: BarLineage;
  /** Splice rule thresholds, see {@linkcode SpliceOptions}. */
  splice?: SpliceOptions;
}

/** An ingest run as the quality report names it. */
export interface RunInfo {
  /** `sample`, `csv`, `ibkr` … */
  source: string;
  /** ISO time the run started. */
  startedAt: string;
}

/** Input of the lineage checks: per-bar run ids and the runs they point to. */
export interface BarLineage {
  /** `tt_prices.ingest_run_id` per bar (null: written before lineage was kept, or no run). */
  runIds: readonly (number | null)[];
  /** The runs by id (a missing id is reported with source `unknown`). */
  runs: ReadonlyMap<number, RunInfo>;
}

/** How one series was judged (see {@linkcode classifySeries}). */
export interface SeriesQuality {
  symbol: string;
  calendar: CalendarId;
  /** Why this calendar (exchange, default, share of weekend bars). */
  calendarReason: string;
  /** True when every bar has volume 0 or none: the zero-volume flag is suppressed. */
  noVolume: boolean;
  /**
   * Intraday bars of an NYSE-calendar series that start outside the regular session
   * (pre-/post-market); zero volume on them is not flagged. 0 for daily bars and for other
   * calendars.
   */
  extendedHoursBars: number;
  /** Bars of the series. */
  bars: number;
}

/** What {@linkcode classifySeries} returns. */
export interface ClassifiedSeries {
  rows: DayQuality[];
  series: SeriesQuality[];
  /** Per symbol, which ingest run wrote which range. */
  lineage: InstrumentLineage[];
  /** Level breaks at run boundaries (see {@linkcode findSplices}). */
  splices: SpliceFlag[];
  /** Per symbol with any, the closes outside `PLAUSIBLE_CLOSE`. */
  implausible: ImplausibleCloses[];
}

/** One stretch of consecutive bars of an instrument written by one ingest run. */
export interface LineageSegment {
  /** `tt_ingest_runs.id`, or null when unknown (bars from before lineage was kept). */
  runId: number | null;
  /** The run's source (`csv`, `sample`, `ibkr` …), `unknown` when not known. */
  source: string;
  /** ISO start of the run, null when not known. */
  startedAt: string | null;
  /** First and last bar: `YYYY-MM-DD` for daily bars, ISO minute (`…T13:30Z`) for intraday. */
  from: string;
  to: string;
  bars: number;
}

/** Which runs wrote an instrument's bars, in time order. */
export interface InstrumentLineage {
  symbol: string;
  segments: LineageSegment[];
  /**
   * Robust scale of the instrument's bar-to-bar log returns (1.4826 × median absolute
   * deviation, boundary returns left out), null with fewer than 20 returns.
   */
  sigma: number | null;
}

/** A level break where two ingest runs meet (see {@linkcode findSplices}). */
export interface SpliceFlag {
  symbol: string;
  /** Day of the first bar after the boundary (the day row that is made suspicious). */
  day: string;
  /** `source` when the two runs have different sources, `run` when only the runs differ. */
  kind: "source" | "run";
  /** The last bar before the boundary and its run. */
  before: SpliceSide;
  /** The first bar after the boundary and its run. */
  after: SpliceSide;
  /** ln(after.close / before.close). */
  logReturn: number;
  /** The same move in percent (−75.8 for a fall to 0.242×). */
  movePct: number;
  /** The instrument's robust return scale (null: too few returns, the floor alone decides). */
  sigma: number | null;
  /** The |log return| the move had to exceed: max(floor, k × sigma). */
  threshold: number;
  /** A split ratio the break matches (adjusted and unadjusted prices meeting), if any. */
  split?: string;
}

/** One side of a run boundary. */
export interface SpliceSide {
  runId: number | null;
  source: string;
  startedAt: string | null;
  /** Bar time: `YYYY-MM-DD` for daily bars, ISO minute for intraday. */
  time: string;
  close: number;
}

/** Closes of one symbol outside `PLAUSIBLE_CLOSE` (from `csv_ingest.ts`). */
export interface ImplausibleCloses {
  symbol: string;
  bars: number;
  min: number;
  max: number;
  /** First and last day with such a close. */
  from: string;
  to: string;
}

/**
 * Thresholds of the splice rule. A boundary between two runs is a splice when
 * |ln(close after / close before)| > max(`floor`, `k` × sigma), sigma being the instrument's
 * robust return scale (1.4826 × the median absolute deviation of its bar-to-bar log
 * returns, the boundary returns left out; with fewer than 20 returns the floor alone).
 *
 * Why these defaults: a real splice is a level factor, not a return — adjusted against
 * unadjusted prices differ by the split ratio (3:2 is |ln| 0.41, 2:1 0.69, 7:1 1.95),
 * prices in 1/10,000 by |ln| 9.2. Real moves of large caps rarely come near: of 220,236
 * daily log returns of the 41 large caps in `daily_sp41` (adjusted, 1999–2021) 113 (0.05 %)
 * exceed 0.2, at most 42 sigma (PG 2000-03-07, AAPL −52 % on 2000-09-29); of 14,751
 * regular-session hourly returns of `hourly_33` none does. The floor 0.2 (−18 % / +22 %)
 * keeps these apart from a 3:2 split; k = 10 raises the bar for volatile series (a coin
 * with a 4 % daily sigma needs |ln| > 0.4). A real extreme move that happens to fall exactly
 * on a run boundary is flagged too: prices alone cannot tell it from a splice, so the flag
 * names both runs for a person to check. A move inside one run is never a splice (the
 * move rule of the day classes judges it).
 */
export interface SpliceOptions {
  /** Multiple of the robust sigma. Default 10. */
  k?: number;
  /** Absolute floor on |log return|. Default 0.2. */
  floor?: number;
}

/** Default thresholds of {@linkcode SpliceOptions}. */
export const SPLICE_DEFAULTS = { k: 10, floor: 0.2 } as const;

/** Fewest returns for a robust sigma; below it only the floor applies. */
const MIN_RETURNS = 20;

function spliceSettings(o: SpliceOptions = {}): { k: number; floor: number } {
  const k = o.k ?? SPLICE_DEFAULTS.k, floor = o.floor ?? SPLICE_DEFAULTS.floor;
  if (!(k > 0 && Number.isFinite(k))) throw new RangeError(`splice k must be > 0; got ${k}`);
  if (!(floor > 0 && Number.isFinite(floor))) {
    throw new RangeError(`splice floor must be > 0; got ${floor}`);
  }
  return { k, floor };
}

/** Whether an intraday bar starting at `ms` is inside the NYSE regular session (13:00 close on half days). */
function inNyseRegularSession(ms: number): boolean {
  const { day, minute } = localDayMinute(ms, US_REGULAR_SESSION.zone);
  const close = nyseHalfDay(day) ? 13 * 60 : US_REGULAR_SESSION.close;
  return minute >= US_REGULAR_SESSION.open && minute < close;
}

function barTime(ms: number, daily: boolean): string {
  const iso = new Date(ms).toISOString();
  return daily ? iso.slice(0, 10) : `${iso.slice(0, 16)}Z`;
}

function median(values: Float64Array): number {
  const v = values.slice().sort();
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** Segments, robust sigma and splices of one instrument's bars `[from, to)`. */
function seriesLineage(
  bars: BarColumns,
  dayOf: readonly string[],
  from: number,
  to: number,
  daily: boolean,
  lineage: BarLineage | undefined,
  rule: { k: number; floor: number },
): { lineage: InstrumentLineage; splices: SpliceFlag[] } {
  const symbol = bars.instrument[from];
  const runOf = (i: number) => lineage?.runIds[i] ?? null;
  const infoOf = (id: number | null) => {
    const r = id === null ? undefined : lineage?.runs.get(id);
    return { source: r?.source ?? "unknown", startedAt: r?.startedAt ?? null };
  };
  const segments: LineageSegment[] = [];
  const boundaries: number[] = []; // index of the first bar after each boundary
  for (let i = from; i < to; i++) {
    const id = runOf(i);
    const last = segments[segments.length - 1];
    if (last && i > from && id === runOf(i - 1)) {
      last.to = barTime(bars.timestamp[i], daily);
      last.bars++;
      continue;
    }
    if (i > from) boundaries.push(i);
    const t = barTime(bars.timestamp[i], daily);
    segments.push({ runId: id, ...infoOf(id), from: t, to: t, bars: 1 });
  }
  const returns: number[] = [];
  let b = 0;
  for (let i = from + 1; i < to; i++) {
    if (b < boundaries.length && boundaries[b] === i) {
      b++;
      continue;
    }
    const r = Math.log(bars.close[i] / bars.close[i - 1]);
    if (Number.isFinite(r)) returns.push(r);
  }
  let sigma: number | null = null;
  if (returns.length >= MIN_RETURNS) {
    const x = Float64Array.from(returns);
    const m = median(x);
    sigma = 1.4826 * median(x.map((v) => Math.abs(v - m)));
  }
  const threshold = Math.max(rule.floor, sigma === null ? 0 : rule.k * sigma);
  const splices: SpliceFlag[] = [];
  for (const i of boundaries) {
    const c0 = bars.close[i - 1], c1 = bars.close[i];
    const lr = Math.log(c1 / c0);
    if (!Number.isFinite(lr) || Math.abs(lr) <= threshold) continue;
    const side = (j: number): SpliceSide => ({
      runId: runOf(j),
      ...infoOf(runOf(j)),
      time: barTime(bars.timestamp[j], daily),
      close: bars.close[j],
    });
    const before = side(i - 1), after = side(i);
    const split = explainingSplit(c1 / c0);
    splices.push({
      symbol,
      day: dayOf[i],
      kind: before.source === after.source ? "run" : "source",
      before,
      after,
      logReturn: lr,
      movePct: Math.round((Math.exp(lr) - 1) * 1000) / 10,
      sigma,
      threshold,
      ...(split ? { split } : {}),
    });
  }
  return { lineage: { symbol, segments, sigma }, splices };
}

function runName(s: { runId: number | null; source: string }): string {
  return s.runId === null ? `${s.source} bars (no run recorded)` : `run ${s.runId} (${s.source})`;
}

function spliceNote(f: SpliceFlag): string {
  return `level break ${f.movePct >= 0 ? "+" : ""}${f.movePct.toFixed(1)}% where ${
    runName(f.before)
  } (to ${f.before.time}) meets ${runName(f.after)} (from ${f.after.time}): a spliced series${
    f.split ? ` (the ratio matches a ${f.split} split: adjusted and unadjusted prices?)` : ""
  }, or a real move on the boundary`;
}

/**
 * Lineage of bars per instrument, and the splices: level breaks at a boundary between two
 * ingest runs (two sources, or two runs of one source) larger than the instrument's own
 * returns explain. The rule and its thresholds are those of {@linkcode SpliceOptions}.
 * Pure: no database.
 * @param bars Bars of one bar size, sorted by instrument then time.
 * @param barSize Their bar size (daily bars are named by date, intraday by ISO minute).
 * @param lineage Run id per bar and the runs (see {@linkcode BarLineage}).
 * @param options See {@linkcode SpliceOptions}.
 * @returns One {@linkcode InstrumentLineage} per instrument and the flagged boundaries.
 * @example
 * ```ts
 * const { bars, runIds } = await readPricesWithRuns(store, { instruments: ["AAPL"] });
 * const runs = new Map([[1, { source: "csv", startedAt: "2025-01-01T00:00:00Z" }], [2, { source: "sample", startedAt: "2025-01-02T00:00:00Z" }]]);
 * const { splices } = findSplices(bars, "1 day", { runIds, runs });
 * splices[0]?.movePct; // e.g. -75.8, with splices[0].before.runId 1 and .after.runId 2
 * ```
 */
export function findSplices(
  bars: BarColumns,
  barSize: string,
  lineage: BarLineage,
  options: SpliceOptions = {},
): { lineage: InstrumentLineage[]; splices: SpliceFlag[] } {
  const rule = spliceSettings(options);
  const n = bars.timestamp.length;
  if (lineage.runIds.length !== n) {
    throw new TypeError(`findSplices: ${lineage.runIds.length} run ids for ${n} bars`);
  }
  const daily = isDailyOrLonger(barSize);
  const dayOf = Array.from(
    bars.timestamp,
    (t) => daily ? barTime(t, true) : localDayMinute(t, "America/New_York").day,
  );
  const out: InstrumentLineage[] = [];
  const splices: SpliceFlag[] = [];
  for (let from = 0; from < n;) {
    let to = from + 1;
    while (to < n && bars.instrument[to] === bars.instrument[from]) to++;
    const r = seriesLineage(bars, dayOf, from, to, daily, lineage, rule);
    out.push(r.lineage);
    splices.push(...r.splices);
    from = to;
  }
  return { lineage: out, splices };
}

/** One ingest run as seen in the bars it still holds (see {@linkcode summarizeRuns}). */
export interface RunCoverage {
  /** Null for bars without a recorded run. */
  runId: number | null;
  source: string;
  startedAt: string | null;
  /** Instruments with at least one bar of this run. */
  instruments: number;
  /** Bars this run last wrote. */
  bars: number;
  /** Earliest and latest bar it last wrote (over all instruments). */
  from: string;
  to: string;
}

/**
 * Per ingest run, how many bars and instruments it (still) holds, from the per-instrument
 * lineage.
 * @param lineage From {@linkcode classifySeries}, {@linkcode findSplices} or {@linkcode runQualityReport}.
 * @returns One entry per run, by run id (unknown writer last).
 * @example
 * ```ts
 * summarizeRuns(report.lineage); // [{ runId: 1, source: "csv", instruments: 41, bars: 220277, … }]
 * ```
 */
export function summarizeRuns(lineage: readonly InstrumentLineage[]): RunCoverage[] {
  const by = new Map<number | null, RunCoverage & { symbols: Set<string> }>();
  for (const l of lineage) {
    for (const s of l.segments) {
      let r = by.get(s.runId);
      if (!r) {
        r = {
          runId: s.runId,
          source: s.source,
          startedAt: s.startedAt,
          instruments: 0,
          bars: 0,
          from: s.from,
          to: s.to,
          symbols: new Set(),
        };
        by.set(s.runId, r);
      }
      r.symbols.add(l.symbol);
      r.bars += s.bars;
      if (s.from < r.from) r.from = s.from;
      if (s.to > r.to) r.to = s.to;
    }
  }
  return [...by.values()]
    .sort((a, b) => (a.runId ?? Infinity) - (b.runId ?? Infinity))
    .map(({ symbols, ...r }) => ({ ...r, instruments: symbols.size }));
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
 * @returns The rows, one {@linkcode SeriesQuality} and one {@linkcode InstrumentLineage} per
 * symbol, the splices found (each also makes its day suspicious) and the implausible closes.
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
): ClassifiedSeries {
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
  const splice = spliceSettings(options.splice);
  const lineage = options.lineage;
  if (lineage && lineage.runIds.length !== n) {
    throw new TypeError(
      `classifySeries: lineage has ${lineage.runIds.length} run ids for ${n} bars`,
    );
  }
  const out: DayQuality[] = [];
  const series: SeriesQuality[] = [];
  const lineages: InstrumentLineage[] = [];
  const splices: SpliceFlag[] = [];
  const implausible: ImplausibleCloses[] = [];
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
    // Pre-/post-market bars per day, and how many of them have zero volume.
    const extended = new Map<string, { bars: number; zero: number }>();
    const sessionKnown = !daily && cal === "NYSE";
    let extendedBars = 0;
    let bad: ImplausibleCloses | undefined;
    for (let i = from; i < to; i++) {
      const day = dayOf[i];
      barsPerDay.set(day, (barsPerDay.get(day) ?? 0) + 1);
      const o = bars.open[i],
        h = bars.high[i],
        l = bars.low[i],
        c = bars.close[i],
        v = bars.volume[i];
      const outside = sessionKnown && !inNyseRegularSession(bars.timestamp[i]);
      if (outside) {
        extendedBars++;
        const e = extended.get(day) ?? { bars: 0, zero: 0 };
        e.bars++;
        if (v === 0) e.zero++;
        extended.set(day, e);
      } else if (v === 0 && !noVolume) zeroVol.set(day, (zeroVol.get(day) ?? 0) + 1);
      if (
        !(o > 0 && h > 0 && l > 0 && c > 0) || h < Math.max(o, c) || l > Math.min(o, c) ||
        (!noVolume && !(v >= 0))
      ) {
        add(notes, day, `OHLC inconsistent (o ${o}, h ${h}, l ${l}, c ${c}, v ${v})`);
      }
      if (c > PLAUSIBLE_CLOSE.max || (c > 0 && c < PLAUSIBLE_CLOSE.min)) {
        add(
          notes,
          day,
          `close ${c} outside the plausible range ${PLAUSIBLE_CLOSE.min}…${
            PLAUSIBLE_CLOSE.max.toLocaleString("en-US")
          } (prices in fractions of a unit? see ingest --price-scale)`,
        );
        if (!bad) {
          bad = { symbol, bars: 0, min: c, max: c, from: day, to: day };
          implausible.push(bad);
        }
        bad.bars++;
        bad.min = Math.min(bad.min, c);
        bad.max = Math.max(bad.max, c);
        bad.to = day;
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
    series.push({
      symbol,
      calendar: cal,
      calendarReason: reason,
      noVolume,
      extendedHoursBars: extendedBars,
      bars: to - from,
    });
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
      const regular = total - (extended.get(day)?.bars ?? 0);
      add(
        notes,
        day,
        total === 1
          ? "zero volume"
          : regular === total
          ? `zero volume on ${z} of ${total} bars`
          : `zero volume on ${z} of ${regular} regular-session bars`,
      );
    }
    for (const [day, e] of extended) {
      add(
        info,
        day,
        `${e.bars} of ${barsPerDay.get(day)} bars outside the regular session${
          e.zero ? ` (${e.zero} with zero volume, not flagged)` : ""
        }`,
      );
    }
    // Lineage: which run wrote which range, and level breaks where two runs meet.
    const found = seriesLineage(bars, dayOf, from, to, daily, lineage, splice);
    lineages.push(found.lineage);
    for (const f of found.splices) {
      splices.push(f);
      add(notes, f.day, spliceNote(f));
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
  return { rows: out, series, lineage: lineages, splices, implausible };
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

/** What {@linkcode runQualityReport} returns. */
export interface QualityReport extends ClassifiedSeries {
  barSize: string;
  /** Per ingest run, the bars and instruments it last wrote. */
  runs: RunCoverage[];
  summary: QualitySummary;
}

/**
 * Reads bars (with the ingest run that last wrote each) from the store, classifies them
 * and (by default) stores the result in `tt_data_quality`, replacing earlier rows of the
 * same symbols and bar size. Splices (level breaks where two runs meet, see
 * {@linkcode SpliceOptions}) and implausible closes make their day suspicious.
 * @param store An open store.
 * @param options See {@linkcode QualityReportOptions}.
 * @returns The rows, their summary, the lineage per instrument and per run, splices and
 * implausible closes.
 * @example
 * ```ts
 * const { summary, splices } = await runQualityReport(store, { barSize: "1 day", moveThreshold: 0.25 });
 * ```
 */
export async function runQualityReport(
  store: Store | Queryable,
  options: QualityReportOptions = {},
): Promise<QualityReport> {
  const barSize = options.barSize ?? "1 day";
  const report = options.onProgress;
  report?.("read", 0, 0);
  const { bars, runIds } = await readPricesWithRuns(store, {
    barSize,
    instruments: options.symbols,
  });
  const runs = new Map<number, RunInfo>();
  if (runIds.some((id) => id !== null)) {
    for (const r of await listIngestRuns(store)) {
      runs.set(r.id, { source: r.source, startedAt: r.startedAt.toISOString() });
    }
  }
  const instruments = options.instruments ??
    await readInstrumentMeta(store, options.symbols);
  const classified = classifySeries(bars, barSize, {
    ...options,
    instruments,
    lineage: { runIds, runs },
    onSymbol: (done, total, symbol) => {
      options.onSymbol?.(done, total, symbol);
      report?.("classify", done, total);
    },
  });
  const rows = classified.rows;
  if (options.persist ?? true) {
    report?.("store", 0, rows.length);
    const symbols = options.symbols ?? [...new Set(bars.instrument)];
    if ("transaction" in store) {
      await store.transaction((tx) => replaceDataQuality(tx, barSize, symbols, rows));
    } else await replaceDataQuality(store, barSize, symbols, rows);
    report?.("store", rows.length, rows.length);
  }
  return {
    barSize,
    ...classified,
    runs: summarizeRuns(classified.lineage),
    summary: summarizeQuality(rows, options.worst ?? 10),
  };
}

/**
 * One line per noteworthy series decision, to print once: series without volume (zero-volume
 * flag suppressed), series with pre-/post-market bars, and the calendars in use.
 * @param series From {@linkcode classifySeries} or {@linkcode runQualityReport}.
 * @returns Human-readable lines.
 * @example
 * ```ts
 * seriesNotes([{ symbol: "^GSPC", calendar: "NYSE", calendarReason: "default", noVolume: true, extendedHoursBars: 0, bars: 5000 }]);
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
  const ext = series.filter((s) => s.extendedHoursBars > 0);
  if (ext.length) {
    const share = (s: SeriesQuality) =>
      `${s.symbol} ${Math.round((s.extendedHoursBars / s.bars) * 100)}%`;
    out.push(
      `pre-/post-market bars (outside 09:30-16:00 New York; zero volume on them not flagged; ingest --rth-only keeps session bars only): ${
        ext.slice(0, 12).map(share).join(", ")
      }${ext.length > 12 ? `, … (${ext.length} symbols)` : ""} of bars`,
    );
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
