/**
 * Computes features with Polars: long bars → a lazy frame → one `withColumns` per
 * dependency level of the definitions → a wide feature frame (one row per bar), its
 * long form for storage, or the aligned {@linkcode FeaturePanel} the environment reads.
 *
 * @module
 */
import pl from "nodejs-polars";
import type { BarColumns, PricePanel } from "../data/panel.ts";
import type { FeaturePanel } from "./feature_panel.ts";
import type { AltValue } from "../db/alt_data_repo.ts";
import {
  type FeatureSetName,
  lookback,
  plan,
  RAW_COLUMNS,
  resolveFeatureNames,
  splitFeatureNames,
} from "./definitions.ts";
import { joinAltFeatures } from "./alt_features.ts";

/** Which features to compute: a named set and/or explicit names (default: the set `all`). */
export interface FeatureSelection {
  /** A named set (see `FEATURE_SETS`). */
  set?: FeatureSetName;
  /** Explicit feature names, added to the set. */
  names?: readonly string[];
}

/**
 * Builds the Polars bars frame (`instrument` str, `timestamp` datetime[ms], OHLCV f64).
 * @param bars Long column arrays, any order.
 * @returns The frame (not yet sorted).
 * @throws {TypeError} When the columns have different lengths.
 * @example
 * ```ts
 * const df = barsFrame(await readPrices(store));
 * ```
 */
export function barsFrame(bars: BarColumns): pl.DataFrame {
  const n = bars.instrument.length;
  for (const k of ["timestamp", ...RAW_COLUMNS] as const) {
    if (bars[k].length !== n) {
      throw new TypeError(
        `BarColumns.${k} has ${bars[k].length} values, expected ${n} (one per instrument entry)`,
      );
    }
  }
  return pl.DataFrame([
    pl.Series("instrument", bars.instrument, pl.Utf8),
    timestampSeries(bars.timestamp),
    ...RAW_COLUMNS.map((k) => pl.Series(k, Float64Array.from(bars[k]), pl.Float64)),
  ]);
}

/**
 * A `timestamp` datetime[ms] series from epoch milliseconds.
 * @param ms Epoch milliseconds.
 * @returns The series.
 * @example
 * ```ts
 * timestampSeries([Date.UTC(2024, 0, 2)]).dtype; // Datetime(ms)
 * ```
 */
export function timestampSeries(ms: ArrayLike<number>): pl.Series {
  return pl.Series("timestamp", Float64Array.from(ms), pl.Float64).cast(pl.Int64).cast(
    pl.Datetime("ms"),
  );
}

/**
 * Adds feature columns to a lazy bars frame: sorts by (instrument, timestamp), then
 * evaluates each dependency level, series features `.over("instrument")` and
 * cross-sectional ones `.over("timestamp")`. Non-finite results (a division by zero)
 * become null. Helpers (`_…`) are dropped. Other columns of the input are kept.
 *
 * @param bars Lazy frame with `instrument`, `timestamp` and the OHLCV columns.
 * @param names Features to add (resolved names).
 * @returns The lazy wide frame.
 * @example
 * ```ts
 * const wide = featuresLazy(barsFrame(bars).lazy(), ["vol_20"]).collectSync();
 * ```
 */
export function featuresLazy(bars: pl.LazyDataFrame, names: readonly string[]): pl.LazyDataFrame {
  // Each instrument's bars are contiguous and in time order after the sort, so a
  // pointwise expression (shifts combined elementwise) evaluated down the whole column
  // equals the per-instrument one wherever its shifts stay inside the instrument:
  // exactly from the derived lookback on. Earlier rows are masked to null via the bar's
  // position within its instrument. Rolling and exponential features run per instrument.
  //
  // Windows partition on KEY, the run number of the instrument down the sorted frame:
  // the same groups as `instrument`, but a column Polars knows is sorted (`.sort()` of
  // already ascending values sets the flag), so `.over(KEY)` works on contiguous slices
  // instead of hashing 1.26M strings and scattering every result back.
  const c = pl.col;
  let lf = bars.sort(["instrument", "timestamp"])
    .withColumns(
      c("instrument").neq(c("instrument").shift(1)).fillNull(true).cast(pl.UInt32).cumSum()
        .sort().alias(KEY),
    )
    .withColumns(pl.intRange(0, pl.len(), 1, pl.Int32).over(KEY).alias(POS));
  const drop: string[] = [KEY, POS];
  for (const level of plan(names)) {
    lf = lf.withColumns(...level.map((d) => {
      const e = d.expr();
      if (d.scope === "cross") return e.over("timestamp").alias(d.name);
      return (d.pointwise ? e : e.over(KEY)).alias(d.name);
    }));
    // A second, cheap pass over the materialised columns: non-finite → null, and the
    // warm-up of pointwise features → null. (Wrapping the expression itself in
    // when/then would evaluate it twice: Polars does not share it across the branches.)
    lf = lf.withColumns(...level.map((d) => {
      const col = c(d.name);
      const ok = d.scope === "series" && d.pointwise
        ? c(POS).gtEq(lookback(d.name)).and(col.isFinite())
        : col.isFinite();
      return pl.when(ok).then(col).otherwise(pl.lit(null)).alias(d.name);
    }));
    for (const d of level) if (!names.includes(d.name)) drop.push(d.name);
  }
  return lf.drop(drop);
}

const POS = "_pos_in_instrument";
const KEY = "_instrument_run";

/**
 * Computes a wide feature frame: one row per bar, sorted by (instrument, timestamp),
 * columns `instrument`, `timestamp`, then the features in definition order.
 * @param bars Long bars (column arrays or a Polars bars frame).
 * @param selection Features to compute; default all.
 * @returns The frame; a feature is null where its window is not full.
 * @example
 * ```ts
 * const frame = computeFeatures(bars, { set: "basic" });
 * frame.columns; // ["instrument", "timestamp", "return_1", "vol_10", "vol_20"]
 * ```
 */
export function computeFeatures(
  bars: BarColumns | pl.DataFrame,
  selection: FeatureSelection = {},
): pl.DataFrame {
  const names = resolveFeatureNames(selection);
  const df = Array.isArray((bars as BarColumns).instrument)
    ? barsFrame(bars as BarColumns)
    : bars as pl.DataFrame;
  return featuresLazy(df.lazy(), names).select("instrument", "timestamp", ...names).collectSync();
}

/**
 * The long form `(instrument, timestamp, feature, value)` of a wide frame, nulls dropped.
 * Features whose null masks are identical share one filtered copy of `instrument` and
 * `timestamp` (Arrow buffers are reference counted), `feature` is categorical and
 * constant per part, so the long frame costs little more than its `value` column.
 * @param frame A wide frame (eager or lazy) from {@linkcode computeFeatures} / {@linkcode featuresLazy}.
 * @param names Feature columns to melt. Default: every column but instrument and timestamp.
 * @returns The long frame (row order: feature by feature, then as in `frame`).
 * @example
 * ```ts
 * toLongForm(frame).height; // defined values only
 * ```
 */
export function toLongForm(
  frame: pl.DataFrame | pl.LazyDataFrame,
  names?: readonly string[],
): pl.DataFrame {
  return longFormLazy(frame, names).collectSync();
}

/**
 * The lazy version of {@linkcode toLongForm}. A lazy `frame` is collected here, once:
 * grouping features by null mask needs the values. The returned plan then only filters
 * and concatenates.
 * @param frame A wide frame (eager or lazy).
 * @param names Feature columns; default every column but instrument and timestamp.
 * @returns The lazy long frame.
 * @example
 * ```ts
 * const long = longFormLazy(featuresLazy(barsFrame(bars).lazy(), names), names).collectSync();
 * ```
 */
export function longFormLazy(
  frame: pl.DataFrame | pl.LazyDataFrame,
  names?: readonly string[],
): pl.LazyDataFrame {
  const c = pl.col;
  const cols = names
    ? [...names]
    : frame.columns.filter((n) => n !== "instrument" && n !== "timestamp");
  const wide = ("collectSync" in frame ? frame : frame.lazy())
    .select(c("instrument"), c("timestamp"), ...cols.map((n) => c(n).cast(pl.Float64)))
    .collectSync();
  if (cols.length === 0) {
    return wide.lazy().select(
      c("instrument"),
      c("timestamp"),
      pl.lit(null).cast(pl.Categorical).alias("feature"),
      pl.lit(null).cast(pl.Float64).alias("value"),
    ).head(0);
  }
  const base = wide.lazy();
  const parts: pl.LazyDataFrame[] = [];
  for (const group of sameNullMask(wide, cols)) {
    // One filter per group; the parts select from its result, so Polars computes it
    // once (common subplan) and every part shares its instrument and timestamp buffers.
    const kept = base.select(c("instrument"), c("timestamp"), ...group.map((n) => c(n)))
      .filter(c(group[0]).isNotNull());
    for (const name of group) {
      parts.push(kept.select(
        c("instrument"),
        c("timestamp"),
        pl.lit(name).cast(pl.Categorical).alias("feature"),
        c(name).alias("value"),
      ));
    }
  }
  return pl.concat(parts, { rechunk: false, how: "vertical" });
}

/**
 * Groups columns by identical null masks (equal null counts, then equal masks).
 * @returns Groups of column names, in the order of `cols`.
 */
function sameNullMask(frame: pl.DataFrame, cols: readonly string[]): string[][] {
  const counts = cols.map((n) => frame.getColumn(n).nullCount());
  const groups: { count: number; names: string[] }[] = [];
  for (const [i, name] of cols.entries()) {
    const group = groups.find((g) =>
      g.count === counts[i] && (counts[i] === 0 || sameMask(frame, g.names[0], name))
    );
    if (group) group.names.push(name);
    else groups.push({ count: counts[i], names: [name] });
  }
  return groups.map((g) => g.names);
}

function sameMask(frame: pl.DataFrame, a: string, b: string): boolean {
  const same = frame.select(pl.col(a).isNull().eq(pl.col(b).isNull()).all().alias("same"));
  return same.getColumn("same").toArray()[0] === true;
}

/**
 * The warm-up of a set of features: the largest derived lookback.
 * @param names Feature names.
 * @returns Bars before every feature is defined.
 * @example
 * ```ts
 * warmupOf(["return_1", "mom_120"]); // 120
 * ```
 */
export function warmupOf(names: readonly string[]): number {
  return Math.max(0, ...names.map(lookback));
}

/**
 * Computes features aligned with a price panel: same instruments, same calendar,
 * `NaN` in warm-up and where an instrument has no bar (a finite close). Series features
 * run over each instrument's own bars; cross-sectional ones at each timestamp over the
 * instruments with a bar there. As-of features over alternative data (the set `alt`,
 * `alt:…`) are joined from `options.alt` at each bar's decision time
 * ({@linkcode joinAltFeatures}).
 *
 * @param prices The price panel.
 * @param options Which features (default: the set `all`); `alt`: the point-in-time values
 *   the alternative-data features read (required when any is asked for).
 * @returns The wide panel, `values[(t * N + i) * F + f]`.
 * @throws {TypeError} When alternative-data features are asked for without `alt` values.
 * @example
 * ```ts
 * const fp = computeFeaturePanel(panelFromBars(bars, "1 day"), { set: "training" });
 * assertAligned(prices, fp);
 * ```
 */
export function computeFeaturePanel(
  prices: PricePanel,
  options: { set?: FeatureSetName; names?: readonly string[]; alt?: readonly AltValue[] } = {},
): FeaturePanel {
  const names = resolveFeatureNames(options);
  const split = splitFeatureNames(names);
  if (split.alt.length > 0 && options.alt === undefined) {
    throw new TypeError(
      `computeFeaturePanel(): ${
        split.alt.join(", ")
      } read alternative data; pass its values as options.alt ` +
        `(the pipeline's loadMarket reads them from tt_alt_data)`,
    );
  }
  const n = prices.instruments.length;
  const t = prices.timestamps.length;
  const f = names.length;
  const values = new Float32Array(t * n * f).fill(NaN);
  if (split.alt.length > 0) {
    const cols = joinAltFeatures(prices, split.alt, options.alt!);
    const fa = split.alt.length;
    const at = split.alt.map((a) => names.indexOf(a));
    for (let k = 0; k < t * n; k++) {
      for (let j = 0; j < fa; j++) values[k * f + at[j]] = cols[k * fa + j];
    }
  }
  const bar = split.bar;
  const fb = bar.length;
  const barAt = bar.map((b) => names.indexOf(b));
  const rows: number[] = [];
  for (let k = 0; k < t * n; k++) if (Number.isFinite(prices.close[k])) rows.push(k);
  if (rows.length > 0 && fb > 0) {
    const idx = Int32Array.from(rows);
    const pick = (a: Float64Array) => {
      const out = new Float64Array(idx.length);
      for (let j = 0; j < idx.length; j++) out[j] = a[idx[j]];
      return out;
    };
    const inst = new Array<string>(idx.length);
    const ts = new Float64Array(idx.length);
    for (let j = 0; j < idx.length; j++) {
      inst[j] = prices.instruments[idx[j] % n];
      ts[j] = prices.timestamps[Math.floor(idx[j] / n)];
    }
    const df = pl.DataFrame([
      pl.Series("instrument", inst, pl.Utf8),
      timestampSeries(ts),
      ...RAW_COLUMNS.map((k) => pl.Series(k, pick(prices[k]), pl.Float64)),
      pl.Series("_cell", idx, pl.Int32),
    ]);
    const out = featuresLazy(df.lazy(), bar)
      .select(pl.col("_cell"), ...bar.map((name) => pl.col(name).cast(pl.Float64).fillNull(NaN)))
      .collectSync();
    const cell = out.getColumn("_cell").toTypedArray() as Int32Array;
    for (let j = 0; j < fb; j++) {
      const col = out.getColumn(bar[j]).toTypedArray() as Float64Array;
      for (let r = 0; r < cell.length; r++) values[cell[r] * f + barAt[j]] = col[r];
    }
  }
  return {
    instruments: [...prices.instruments],
    timestamps: [...prices.timestamps],
    names,
    values,
    warmup: warmupOf(names),
  };
}
