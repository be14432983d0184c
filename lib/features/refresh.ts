/**
 * The store round trip behind `deno task features` and `deno task signals`: read
 * `tt_prices`, compute with Polars, upsert long form into `tt_features` /
 * `tt_signal_scores` (idempotent, one transaction per batch).
 *
 * @module
 */
import pl from "nodejs-polars";
import type { Store } from "../db/store.ts";
import { readPrices } from "../db/prices_repo.ts";
import {
  type FeatureRows,
  type SignalRows,
  upsertFeatures,
  upsertSignalScores,
} from "../db/features_repo.ts";
import type { BarColumns } from "../data/panel.ts";
import { computeFeatures, type FeatureSelection, toLongForm } from "./compute.ts";
import { resolveFeatureNames } from "./definitions.ts";
import {
  type CombineOptions,
  combineSignals,
  generateMeanReversionSignals,
  generateMomentumSignals,
  SIGNAL_FEATURES,
  type SignalFrame,
} from "./signals.ts";

/**
 * Column arrays of a long feature frame, ready for {@linkcode upsertFeatures}.
 * @param long `(instrument, timestamp, feature, value)` from `toLongForm`.
 * @returns Feature rows (timestamps in epoch ms), in primary-key order (instrument, timestamp, name).
 * @example
 * ```ts
 * await upsertFeatures(store, "1 day", featureRows(toLongForm(frame)));
 * ```
 */
export function featureRows(long: pl.DataFrame): FeatureRows {
  const { order, instrument, name } = keyOrder(long, "feature");
  return {
    instrument,
    timestamp: permuteNumbers(epochMs(long.getColumn("timestamp")), order),
    feature: name,
    value: permuteNumbers(long.getColumn("value").cast(pl.Float64).toTypedArray(), order),
  };
}

/**
 * Column arrays of a signal frame, ready for {@linkcode upsertSignalScores}.
 * @param signals A frame from the signal generators or `combineSignals`.
 * @returns Signal rows, in primary-key order (instrument, timestamp, name).
 * @example
 * ```ts
 * await upsertSignalScores(store, "1 day", signalRows(computeSignals(frame)));
 * ```
 */
export function signalRows(signals: SignalFrame): SignalRows {
  const { order, instrument, name } = keyOrder(signals, "signal_name");
  const col = (name: string) => signals.getColumn(name);
  return {
    instrument,
    timestamp: permuteNumbers(epochMs(col("timestamp")), order),
    signalName: name,
    score: permuteNumbers(col("score").cast(pl.Float64).toTypedArray(), order),
    metaJson: permute(col("meta_json").toArray() as string[], order),
  };
}

/**
 * The primary-key order (instrument, timestamp, name) of a long frame as a permutation,
 * with the instrument and name columns already in that order. Polars ranks each key
 * column (byte order, as the database's C collation); three stable counting sorts
 * (name, then timestamp, then instrument) give the order in O(rows), and strings are
 * built from the few distinct values instead of crossing from Polars one by one
 * (together ~4× cheaper than `toArray` of the two string columns; a Polars multi-key
 * sort took 200–500 ms). Writing in key order makes B-tree inserts and probes walk
 * the index left to right instead of jumping around it (the long form comes feature
 * by feature): on PGlite, a first load of 236k feature rows took 3.46 s feature by
 * feature, 2.72 s by instrument and timestamp, ~10% less again in full key order.
 */
function keyOrder(
  frame: pl.DataFrame,
  nameColumn: string,
): { order: Int32Array; instrument: string[]; name: string[] } {
  const c = pl.col;
  const ranks = frame.select(
    c("instrument").cast(pl.Utf8).rank("dense").alias("i"),
    c("timestamp").rank("dense").alias("t"),
    c(nameColumn).cast(pl.Utf8).rank("dense").alias("n"),
  );
  const rank = (k: string) => ranks.getColumn(k).cast(pl.Int32).toTypedArray() as Int32Array;
  const distinct = (k: string) =>
    frame.getColumn(k).cast(pl.Utf8).unique().sort().toArray() as string[];
  const inst = rank("i"), time = rank("t"), name = rank("n");
  const instNames = distinct("instrument"), nameNames = distinct(nameColumn);
  let order = countingSort(name, nameNames.length, null);
  order = countingSort(time, frame.height, order);
  order = countingSort(inst, instNames.length, order);
  const n = order.length;
  const instrument = new Array<string>(n), names = new Array<string>(n);
  for (let j = 0; j < n; j++) {
    instrument[j] = instNames[inst[order[j]] - 1];
    names[j] = nameNames[name[order[j]] - 1];
  }
  return { order, instrument, name: names };
}

/** A stable counting sort of `input` (default 0…n−1) by its 1-based `rank` (≤ `buckets`). */
function countingSort(rank: Int32Array, buckets: number, input: Int32Array | null): Int32Array {
  const n = rank.length;
  const start = new Int32Array(buckets + 2);
  for (let i = 0; i < n; i++) start[rank[i]]++;
  for (let k = 1; k < start.length; k++) start[k] += start[k - 1];
  const out = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const row = input ? input[j] : j;
    out[start[rank[row] - 1]++] = row;
  }
  return out;
}

function permute<T>(a: ArrayLike<T>, order: Int32Array): T[] {
  const out = new Array<T>(order.length);
  for (let i = 0; i < order.length; i++) out[i] = a[order[i]];
  return out;
}

function permuteNumbers(a: ArrayLike<number>, order: Int32Array): Float64Array {
  const out = new Float64Array(order.length);
  for (let i = 0; i < order.length; i++) out[i] = a[order[i]];
  return out;
}

function epochMs(s: pl.Series): Float64Array {
  return s.cast(pl.Datetime("ms")).cast(pl.Int64).cast(pl.Float64).toTypedArray() as Float64Array;
}

/** What to refresh. */
export interface RefreshOptions extends FeatureSelection {
  /** Only these symbols. Default: every symbol in `tt_prices` for the bar size. */
  instruments?: string[];
  /** Default `"1 day"`. */
  barSize?: string;
  /**
   * Write only values from this date (ISO, inclusive). Earlier bars are still read as
   * history, so every value written equals the one a full run writes (windows, ranks
   * and exponential means all see the same past).
   */
  start?: string;
  /** Inclusive end (ISO date). */
  end?: string;
  /** Rows per transaction. Default 100,000. */
  rowsPerTransaction?: number;
  /** Progress: called after each commit. */
  onCommit?: (rowsSoFar: number, totalRows: number) => void;
  /** Bars already read (skips `readPrices`; used by benchmarks and tests). */
  bars?: BarColumns;
}

/** What a refresh did. */
export interface RefreshSummary {
  instruments: number;
  bars: number;
  features: string[];
  rowsWritten: number;
  seconds: { read: number; compute: number; write: number };
}

async function loadBars(store: Store, options: RefreshOptions): Promise<BarColumns> {
  return options.bars ?? await readPrices(store, {
    instruments: options.instruments,
    barSize: options.barSize ?? "1 day",
    end: options.end,
  });
}

/** Keeps rows at or after `start` (an ISO date or date-time, UTC). */
function fromStart(frame: pl.DataFrame, start: string | undefined): pl.DataFrame {
  if (start === undefined) return frame;
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(start) ? `${start}T00:00:00Z` : start);
  if (Number.isNaN(t)) throw new RangeError(`--start is not a date: ${start}`);
  return frame.filter(pl.col("timestamp").gtEq(pl.lit(new Date(t))));
}

/**
 * Reads bars, computes features and upserts their long form into `tt_features`.
 * @param store The store.
 * @param options See {@linkcode RefreshOptions}.
 * @returns A summary with the time of each phase.
 * @throws {RangeError} When there are no bars for the selection.
 * @example
 * ```ts
 * const s = await refreshFeatures(store, { set: "training", instruments: ["AAPL", "MSFT"] });
 * ```
 */
export async function refreshFeatures(
  store: Store,
  options: RefreshOptions = {},
): Promise<RefreshSummary> {
  const t0 = performance.now();
  const bars = await loadBars(store, options);
  if (bars.instrument.length === 0) throw new RangeError(noBars(options));
  const t1 = performance.now();
  const names = resolveFeatureNames(options);
  const rows = featureRows(
    toLongForm(fromStart(computeFeatures(bars, { names }), options.start), names),
  );
  const t2 = performance.now();
  const written = await upsertFeatures(store, options.barSize ?? "1 day", rows, options);
  const t3 = performance.now();
  return {
    instruments: new Set(bars.instrument).size,
    bars: bars.instrument.length,
    features: names,
    rowsWritten: written,
    seconds: { read: (t1 - t0) / 1000, compute: (t2 - t1) / 1000, write: (t3 - t2) / 1000 },
  };
}

/** What signals to compute. */
export interface SignalRefreshOptions extends Omit<RefreshOptions, "set" | "names"> {
  /** Momentum horizon. Default 20. */
  horizon?: 20 | 60 | 120;
  /** Combination of `momentum` and `mean_reversion`. Default equal weights, `weighted`. */
  combine?: CombineOptions;
}

/**
 * Reads bars, computes the momentum, mean-reversion and combined signals, and upserts
 * them into `tt_signal_scores`.
 * @param store The store.
 * @param options See {@linkcode SignalRefreshOptions}.
 * @returns A summary (`features` lists the signal names written).
 * @example
 * ```ts
 * await refreshSignals(store, { combine: { method: "rank", weights: { momentum: 2, mean_reversion: 1 } } });
 * ```
 */
export async function refreshSignals(
  store: Store,
  options: SignalRefreshOptions = {},
): Promise<RefreshSummary> {
  const t0 = performance.now();
  const bars = await loadBars(store, options);
  if (bars.instrument.length === 0) throw new RangeError(noBars(options));
  const t1 = performance.now();
  const frame = computeFeatures(bars, {
    names: [...SIGNAL_FEATURES.momentum, ...SIGNAL_FEATURES.mean_reversion],
  });
  const signals = computeSignals(fromStart(frame, options.start), options);
  const t2 = performance.now();
  const written = await upsertSignalScores(
    store,
    options.barSize ?? "1 day",
    signalRows(signals),
    options,
  );
  const t3 = performance.now();
  return {
    instruments: new Set(bars.instrument).size,
    bars: bars.instrument.length,
    features: [...new Set(signals.getColumn("signal_name").toArray() as string[])].sort(),
    rowsWritten: written,
    seconds: { read: (t1 - t0) / 1000, compute: (t2 - t1) / 1000, write: (t3 - t2) / 1000 },
  };
}

/** What {@linkcode refreshAll} did. */
export interface FullRefreshSummary {
  features: RefreshSummary;
  signals: RefreshSummary;
  seconds: { read: number; compute: number; write: number; total: number };
}

/**
 * Features and signals in one pass: reads the bars once, computes the feature set plus
 * what the signals need, and upserts both (the work of `deno task features` followed by
 * `deno task signals`, without reading and computing twice).
 * @param store The store.
 * @param options Feature selection, signal options and the shared filters.
 * @returns Both summaries and the time of each phase.
 * @throws {RangeError} When there are no bars for the selection.
 * @example
 * ```ts
 * const s = await refreshAll(store, { set: "all", combine: { method: "rank" } });
 * s.seconds.total;
 * ```
 */
export async function refreshAll(
  store: Store,
  options: RefreshOptions & SignalRefreshOptions = {},
): Promise<FullRefreshSummary> {
  const t0 = performance.now();
  const bars = await loadBars(store, options);
  if (bars.instrument.length === 0) throw new RangeError(noBars(options));
  const t1 = performance.now();
  const names = resolveFeatureNames(options);
  const frame = fromStart(
    computeFeatures(bars, {
      names: [
        ...new Set([...names, ...SIGNAL_FEATURES.momentum, ...SIGNAL_FEATURES.mean_reversion]),
      ],
    }),
    options.start,
  );
  const rows = featureRows(toLongForm(frame, names));
  const signals = computeSignals(frame, options);
  const sRows = signalRows(signals);
  const t2 = performance.now();
  const barSize = options.barSize ?? "1 day";
  const fWritten = await upsertFeatures(store, barSize, rows, options);
  const t3 = performance.now();
  const sWritten = await upsertSignalScores(store, barSize, sRows, options);
  const t4 = performance.now();
  const instruments = new Set(bars.instrument).size;
  const read = (t1 - t0) / 1000, compute = (t2 - t1) / 1000;
  return {
    features: {
      instruments,
      bars: bars.instrument.length,
      features: names,
      rowsWritten: fWritten,
      seconds: { read, compute, write: (t3 - t2) / 1000 },
    },
    signals: {
      instruments,
      bars: bars.instrument.length,
      features: [...new Set(sRows.signalName)].sort(),
      rowsWritten: sWritten,
      seconds: { read: 0, compute: 0, write: (t4 - t3) / 1000 },
    },
    seconds: { read, compute, write: (t4 - t2) / 1000, total: (t4 - t0) / 1000 },
  };
}

/**
 * The three standard signals of a feature frame, stacked: `momentum`,
 * `mean_reversion` and their combination (`combined`).
 * @param frame Wide features including `SIGNAL_FEATURES`.
 * @param options Horizon and combination.
 * @returns One signal frame.
 * @example
 * ```ts
 * const frame = computeFeatures(bars, { names: [...SIGNAL_FEATURES.momentum, ...SIGNAL_FEATURES.mean_reversion] });
 * computeSignals(frame, { combine: { method: "rank" } });
 * ```
 */
export function computeSignals(
  frame: pl.DataFrame,
  options: { horizon?: 20 | 60 | 120; combine?: CombineOptions } = {},
): SignalFrame {
  const mom = generateMomentumSignals(frame, { horizon: options.horizon });
  const mr = generateMeanReversionSignals(frame);
  const combined = combineSignals([mom, mr], options.combine);
  return pl.concat([mom, mr, combined], { how: "vertical" });
}

function noBars(o: RefreshOptions): string {
  const what = [
    o.instruments?.length ? `symbols ${o.instruments.join(",")}` : "any symbol",
    `bar size "${o.barSize ?? "1 day"}"`,
    o.start ? `from ${o.start}` : "",
    o.end ? `to ${o.end}` : "",
  ].filter(Boolean).join(", ");
  return `No bars in tt_prices for ${what}; run \`deno task ingest\` first`;
}
