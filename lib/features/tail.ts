/**
 * Features over the newest bars only: the live trading cycle's feature step. A decision at
 * the last bar `T − 1` observes the features of the `window` bars ending there; each of
 * those depends on a bounded stretch of history (its derived warm-up), except the
 * exponential means (RSI, MACD, ATR), whose recursion remembers every bar since the
 * series began. {@linkcode featureTailBars} is the history the decision needs, and
 * {@linkcode computeFeaturePanelTail} computes the panel over just those bars, so a live
 * cycle costs the same on its first day and after five years of trading.
 *
 * **Exactness** (values are float32 in a {@linkcode FeaturePanel}; measured on 50
 * synthetic symbols × 2,520 bars, every feature of the set `all`, 21 decision bars):
 * - finite-memory features (returns, momentum, volatility, volume, ranks): equal bit for
 *   bit to the full-history computation with no margin at all;
 * - exponential means: differ by up to 1e+2 relative with 20 bars of margin, equal bit for
 *   bit to float32 with 400 bars of margin and more (i12-incr measured 1e-12 relative in
 *   float64 after 400 bars, bit-for-bit after ≈600); the margin used is
 *   {@linkcode EXPONENTIAL_MEMORY_BARS} = 600;
 * - rolling windows over the price level (`bb_pctb_20`, `zscore_20`): Polars' rolling
 *   mean/std keep running sums whose rounding depends on where the series starts, so a
 *   value can land one float32 ulp away (2 of 1,050 `bb_pctb_20` values, at every margin
 *   from 20 to 1,000 bars; ≈6e-8 relative). No margin removes that; the evaluation's own
 *   features start at its range's first bar and carry the same kind of difference.
 *
 * @module
 */
import type { PricePanel } from "../data/panel.ts";
import { computeFeaturePanel, warmupOf } from "./compute.ts";
import {
  featureDef,
  type FeatureSetName,
  RAW_COLUMNS,
  resolveFeatureNames,
} from "./definitions.ts";
import type { FeaturePanel } from "./feature_panel.ts";
import type { AltValue } from "../db/alt_data_repo.ts";
import { isAltFeatureName } from "./alt_features.ts";

/**
 * The features whose expression is an exponential mean (`ewmMean`) of its inputs: their
 * value at a bar depends on every earlier bar. Features reading them inherit that.
 */
export const EXPONENTIAL_FEATURES: readonly string[] = [
  "_rsi_gain_14",
  "_rsi_loss_14",
  "_macd_line",
  "_macd_signal_line",
  "atr_14",
];

/**
 * Extra history before the derived warm-up when an exponential mean is observed: after
 * this many bars the recursion has forgotten its seed to below float32 resolution (see
 * the module notes for the measurement).
 */
export const EXPONENTIAL_MEMORY_BARS = 600;

/**
 * Whether a feature's value depends on unboundedly old bars (it is, or reads, an
 * exponential mean).
 * @param name A feature name (helpers `_…` included).
 * @returns True for RSI, MACD and ATR and anything built on them.
 * @throws {RangeError} For an unknown feature.
 * @example
 * ```ts
 * hasUnboundedMemory("macd_hist"); // true
 * hasUnboundedMemory("vol_20"); // false
 * ```
 */
export function hasUnboundedMemory(name: string): boolean {
  if ((RAW_COLUMNS as readonly string[]).includes(name)) return false;
  // As-of features read the alternative values (all of them, not only the tail's) and the
  // decision times of their own lookback: a bounded stretch of the calendar.
  if (isAltFeatureName(name)) return false;
  if (EXPONENTIAL_FEATURES.includes(name)) return true;
  return featureDef(name).inputs.some(hasUnboundedMemory);
}

/**
 * Bars of history a decision at the newest bar needs for its observation: the derived
 * warm-up, the observation window and one bar, plus {@linkcode EXPONENTIAL_MEMORY_BARS}
 * when an exponential mean is observed.
 * @param names Features observed (resolved names).
 * @param window Observation window (bars of features per instrument).
 * @returns Bars, counting the decision bar.
 * @example
 * ```ts
 * featureTailBars(["return_1", "vol_10", "vol_20"], 1); // 22 = 20 + 1 + 1
 * featureTailBars(["rsi_14"], 5); // 620 = 14 + 5 + 1 + 600
 * featureTailBars(["sentiment_mean_5d", "alt:v:score:decay=3"], 1); // 32 = 30 + 1 + 1
 * ```
 */
export function featureTailBars(names: readonly string[], window: number): number {
  if (!(Number.isInteger(window) && window >= 1)) {
    throw new RangeError(`featureTailBars(): window must be a positive integer, got ${window}`);
  }
  const memory = names.some(hasUnboundedMemory) ? EXPONENTIAL_MEMORY_BARS : 0;
  return warmupOf(names) + window + 1 + memory;
}

/**
 * {@linkcode computeFeaturePanel} over the last `bars` bars of a price panel only, returned
 * aligned with the whole panel: `NaN` before those bars, and `warmup` the index of the
 * first bar where every feature is defined. The observation at the panel's last bar
 * equals the full-history computation's within the module's notes when
 * `bars >= featureTailBars(names, window)`.
 * @param prices The price panel (its newest bars are the decision's).
 * @param options Which features (default the set `all`); `alt`: the alternative values of
 *   the as-of features (all of them known by the last decision, not only the tail's).
 * @param bars Bars to compute over (a panel shorter than that is computed whole).
 * @returns The feature panel aligned with `prices`.
 * @throws {RangeError} When `bars` is not a positive integer.
 * @example
 * ```ts
 * const names = resolveFeatureNames({ set: "basic" });
 * const fp = computeFeaturePanelTail(prices, { names }, featureTailBars(names, 1));
 * ```
 */
export function computeFeaturePanelTail(
  prices: PricePanel,
  options: { set?: FeatureSetName; names?: readonly string[]; alt?: readonly AltValue[] },
  bars: number,
): FeaturePanel {
  if (!(Number.isInteger(bars) && bars >= 1)) {
    throw new RangeError(
      `computeFeaturePanelTail(): bars must be a positive integer, got ${bars}`,
    );
  }
  const names = resolveFeatureNames(options);
  const T = prices.timestamps.length;
  if (bars >= T) return computeFeaturePanel(prices, { names, alt: options.alt });
  const n = prices.instruments.length;
  const from = T - bars;
  const cut = (a: Float64Array) => a.slice(from * n);
  const tail: PricePanel = {
    instruments: prices.instruments,
    barSize: prices.barSize,
    timestamps: prices.timestamps.slice(from),
    open: cut(prices.open),
    high: cut(prices.high),
    low: cut(prices.low),
    close: cut(prices.close),
    volume: cut(prices.volume),
  };
  const part = computeFeaturePanel(tail, { names, alt: options.alt });
  const f = names.length;
  const values = new Float32Array(T * n * f).fill(NaN);
  values.set(part.values, from * n * f);
  return {
    instruments: [...prices.instruments],
    timestamps: [...prices.timestamps],
    names: part.names,
    values,
    warmup: from + part.warmup,
  };
}
