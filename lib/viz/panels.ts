/**
 * Feature and signal panels (long rows: instrument, timestamp, name, value) and
 * the data-quality heat map (instrument × day class).
 *
 * @module
 */
import type { QualityClass } from "../data/quality.ts";
import { type ChartSize, finishSpec, sampleIndices, timeX, type VegaLiteSpec } from "./theme.ts";

/** A time: epoch ms, a `Date`, or an ISO date string such as `"2024-01-31"` (read as UTC). */
export type TimeLike = number | Date | string;

/** One value of one feature or signal for one instrument at one time (a `tt_features` row). */
export interface PanelRow {
  /** Instrument symbol. */
  instrument: string;
  /** Bar time. */
  timestamp: TimeLike;
  /** Feature or signal name. */
  name: string;
  /** Its value. */
  value: number;
}

/** Options of the panel charts. */
export interface PanelOptions extends ChartSize {
  /** Only these instruments. Default: the first `maxInstruments` in symbol order. */
  instruments?: readonly string[];
  /** Only these names, in this order. Default: all, sorted. */
  names?: readonly string[];
  /** Most instruments drawn when `instruments` is not given. Default 6 (features), 30 (signals). */
  maxInstruments?: number;
  /** Most points per line (features) or time columns (signals). Default 600 / 120. */
  maxPoints?: number;
}

/**
 * Feature panel: one row of small multiples per feature, a line per instrument.
 * @param rows Long rows, any order; non-finite values are skipped.
 * @param options Selection, limits, panel width/height (default 680 × 110), title.
 * @returns A Vega-Lite faceted line chart.
 * @example
 * ```ts
 * featurePanelChart(rows, { names: ["ret_1", "vol_20"], instruments: ["AAPL", "MSFT"] });
 * ```
 */
export function featurePanelChart(
  rows: readonly PanelRow[],
  options: PanelOptions = {},
): VegaLiteSpec {
  const { names, instruments, groups } = select(rows, options, 6);
  const values: { time: number; instrument: string; name: string; value: number }[] = [];
  for (const [key, series] of groups) {
    const [instrument, name] = key.split("\u0000");
    series.sort((a, b) => a[0] - b[0]);
    for (const i of sampleIndices(series.length, options.maxPoints ?? 600)) {
      values.push({ time: series[i][0], instrument, name, value: series[i][1] });
    }
  }
  return finishSpec(
    {
      data: { values },
      facet: {
        row: {
          field: "name",
          type: "nominal",
          title: null,
          sort: names,
          header: { labelAngle: 0, labelAlign: "left" },
        },
      },
      spec: {
        width: options.width ?? 680,
        height: options.height ?? 110,
        mark: { type: "line", strokeWidth: 1.2 },
        encoding: {
          x: timeX(),
          y: {
            field: "value",
            type: "quantitative",
            title: null,
            scale: { zero: false },
            // Vega derives a precision from the tick step when the format has none, so "~g"
            // turned ticks 20, 40 … into "2e+1". Four significant digits, trailing zeros trimmed.
            axis: { format: ".4~g" },
          },
          color: {
            field: "instrument",
            type: "nominal",
            title: null,
            scale: { domain: instruments },
          },
        },
      },
      resolve: { scale: { y: "independent" } },
    },
    { title: "Features", ...options },
    false,
  );
}

/**
 * Signal panel: one heat map per signal, instruments × time, coloured by score
 * (diverging around 0 when scores change sign). Long histories are averaged into
 * at most `maxPoints` time columns.
 * @param rows Long rows, any order; non-finite values are skipped.
 * @param options Selection, limits, panel width/height (default 680 × 14 px per instrument), title.
 * @returns A Vega-Lite faceted heat map.
 * @example
 * ```ts
 * signalPanelChart(scores.map((s) => ({ instrument: s.instrument, timestamp: s.timestamp, name: s.signalName, value: s.score })));
 * ```
 */
export function signalPanelChart(
  rows: readonly PanelRow[],
  options: PanelOptions = {},
): VegaLiteSpec {
  const { names, instruments, groups } = select(rows, options, 30);
  const times = [...new Set([...groups.values()].flatMap((s) => s.map((p) => p[0])))].sort((a, b) =>
    a - b
  );
  const buckets = makeBuckets(times, options.maxPoints ?? 120);
  const sums = new Map<string, { sum: number; count: number }>();
  for (const [key, series] of groups) {
    for (const [t, v] of series) {
      const k = `${key}\u0000${buckets.of(t)}`;
      const acc = sums.get(k) ?? { sum: 0, count: 0 };
      acc.sum += v;
      acc.count++;
      sums.set(k, acc);
    }
  }
  const values: { time: number; time2: number; instrument: string; name: string; value: number }[] =
    [];
  const range = new Map(names.map((n) => [n, { lo: Infinity, hi: -Infinity }]));
  for (const [k, acc] of sums) {
    const [instrument, name, b] = k.split("\u0000");
    const value = acc.sum / acc.count;
    const r = range.get(name)!;
    r.lo = Math.min(r.lo, value);
    r.hi = Math.max(r.hi, value);
    values.push({ time: buckets.start[+b], time2: buckets.end[+b], instrument, name, value });
  }
  // One sub-chart per signal (not a facet) so each gets its own colour scheme.
  const vconcat = names.filter((n) => Number.isFinite(range.get(n)!.lo)).map((name) => {
    const { lo, hi } = range.get(name)!;
    return {
      title: { text: name, fontSize: 11, fontWeight: "normal" },
      transform: [{ filter: { field: "name", equal: name } }],
      width: options.width ?? 680,
      height: options.height ?? Math.max(40, 14 * instruments.length),
      mark: { type: "rect" },
      encoding: {
        x: timeX(),
        x2: { field: "time2" },
        y: { field: "instrument", type: "nominal", title: null, sort: instruments },
        color: {
          field: "value",
          type: "quantitative",
          title: "score",
          scale: lo < 0 && hi > 0 ? { scheme: "blueorange", domainMid: 0 } : { scheme: "viridis" },
        },
      },
    };
  });
  return finishSpec({ data: { values }, vconcat, resolve: { scale: { color: "independent" } } }, {
    title: "Signals",
    ...options,
  }, false);
}

/** One day's data-quality class for one instrument (a `tt_data_quality` row). */
export interface QualityRow {
  /** Instrument symbol. */
  instrument: string;
  /** The day. */
  day: TimeLike;
  /** Its class. */
  class: QualityClass;
}

/** The classes of `lib/data/quality.ts` in legend order. */
const LEGEND_ORDER: readonly QualityClass[] = ["present", "missing", "not_listed", "suspicious"];

const QUALITY_COLORS: Record<QualityClass, string> = {
  present: "#59a14f",
  missing: "#e15759",
  not_listed: "#d5d9de",
  suspicious: "#f28e2b",
};
/** When days are grouped into one column, the column shows the most severe class. */
const SEVERITY: Record<QualityClass, number> = {
  not_listed: 0,
  present: 1,
  suspicious: 2,
  missing: 3,
};

/**
 * Data-quality heat map: instruments × days coloured by class (present, missing,
 * not listed, suspicious). Long histories are grouped into at most `maxColumns`
 * columns, each showing its most severe class (missing > suspicious > present > not listed).
 * @param rows One row per instrument and day.
 * @param options Most columns (default 250), width, height (default 14 px per instrument), title.
 * @returns A Vega-Lite heat map.
 * @example
 * ```ts
 * dataQualityChart([{ instrument: "AAPL", day: "2024-01-02", class: "present" }]);
 * ```
 */
export function dataQualityChart(
  rows: readonly QualityRow[],
  options: ChartSize & { maxColumns?: number } = {},
): VegaLiteSpec {
  const instruments = [...new Set(rows.map((r) => r.instrument))].sort();
  const times = [...new Set(rows.map((r) => toMs(r.day)))].sort((a, b) => a - b);
  const buckets = makeBuckets(times, options.maxColumns ?? 250);
  const worst = new Map<string, QualityClass>();
  const counts: Record<QualityClass, number> = {
    present: 0,
    missing: 0,
    not_listed: 0,
    suspicious: 0,
  };
  for (const r of rows) {
    if (!(r.class in SEVERITY)) {
      throw new RangeError(
        `Unknown data-quality class "${r.class}" for ${r.instrument}; expected ${
          LEGEND_ORDER.join(", ")
        }`,
      );
    }
    counts[r.class]++;
    const k = `${r.instrument}\u0000${buckets.of(toMs(r.day))}`;
    const prev = worst.get(k);
    if (!prev || SEVERITY[r.class] > SEVERITY[prev]) worst.set(k, r.class);
  }
  // Merge consecutive columns of the same class into one rect: far smaller SVG, no seams.
  const values: { instrument: string; time: number; time2: number; class: QualityClass }[] = [];
  for (const instrument of instruments) {
    let run: (typeof values)[number] | undefined;
    for (let b = 0; b < buckets.start.length; b++) {
      const cls = worst.get(`${instrument}\u0000${b}`);
      if (run && cls === run.class && run.time2 === buckets.start[b]) {
        run.time2 = buckets.end[b];
        continue;
      }
      run = cls
        ? { instrument, time: buckets.start[b], time2: buckets.end[b], class: cls }
        : undefined;
      if (run) values.push(run);
    }
  }
  const domain = LEGEND_ORDER.filter((c) => counts[c] > 0);
  return finishSpec({
    data: { values },
    mark: { type: "rect" },
    encoding: {
      x: timeX(),
      x2: { field: "time2" },
      y: { field: "instrument", type: "nominal", title: null, sort: instruments },
      color: {
        field: "class",
        type: "nominal",
        title: null,
        scale: { domain, range: domain.map((c) => QUALITY_COLORS[c]) },
        legend: { orient: "top", direction: "horizontal" },
      },
    },
  }, {
    title: "Data quality",
    ...options,
    height: options.height ?? Math.max(40, 14 * instruments.length),
  });
}

function toMs(t: TimeLike): number {
  const ms = typeof t === "number"
    ? t
    : t instanceof Date
    ? t.getTime()
    : Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : t);
  if (!Number.isFinite(ms)) throw new RangeError(`Cannot read time ${String(t)}`);
  return ms;
}

function select(rows: readonly PanelRow[], options: PanelOptions, maxInstruments: number) {
  const allNames = [...new Set(rows.map((r) => r.name))].sort();
  const names = options.names ? [...options.names] : allNames;
  const allInstruments = [...new Set(rows.map((r) => r.instrument))].sort();
  const instruments = options.instruments
    ? [...options.instruments]
    : allInstruments.slice(0, options.maxInstruments ?? maxInstruments);
  const nameSet = new Set(names);
  const instSet = new Set(instruments);
  const groups = new Map<string, [number, number][]>();
  for (const r of rows) {
    if (!nameSet.has(r.name) || !instSet.has(r.instrument) || !Number.isFinite(r.value)) continue;
    const key = `${r.instrument}\u0000${r.name}`;
    let g = groups.get(key);
    if (!g) groups.set(key, g = []);
    g.push([toMs(r.timestamp), r.value]);
  }
  return { names, instruments, groups };
}

/** Groups ascending distinct times into at most `max` consecutive buckets of equal count. */
function makeBuckets(times: number[], max: number) {
  const per = Math.max(1, Math.ceil(times.length / Math.max(1, max)));
  const count = Math.ceil(times.length / per);
  const gaps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
  const step = gaps.length ? gaps[gaps.length >> 1] : 86_400_000;
  const start = Array.from({ length: count }, (_, b) => times[b * per]);
  const end = start.map((_, b) => (b + 1 < count ? start[b + 1] : times[times.length - 1] + step));
  const index = new Map(times.map((t, i) => [t, Math.floor(i / per)]));
  return { start, end, of: (t: number) => index.get(t)! };
}
