/**
 * Aligned market data: instruments × timestamps in flat, time-major arrays. This is
 * the shape the features, the environment and the evaluation read.
 *
 * @module
 */

// The bar columns are the store's type (lib/db is the lower layer); re-exported here so
// `@lib/data/mod.ts` users keep working.
import type { BarColumns } from "../db/bars.ts";
export type { BarColumns } from "../db/bars.ts";
export { emptyBars } from "../db/bars.ts";

/** OHLCV for `instruments.length` instruments on a shared calendar of `timestamps.length` bars. */
export interface PricePanel {
  /** Instrument symbols, in column order. */
  instruments: string[];
  /** Bar size, e.g. `"1 day"`. */
  barSize: string;
  /** Epoch milliseconds (UTC), ascending, the union calendar. */
  timestamps: number[];
  /** `open[t * N + i]`: instrument i at bar t; `NaN` where the instrument has no bar. */
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
}

/**
 * Pivots long bars into a {@linkcode PricePanel} on the union calendar.
 * @param bars Bars of any instruments, in any order.
 * @param barSize The bar size they share.
 * @returns The panel, instruments sorted by symbol.
 * @example
 * ```ts
 * const panel = panelFromBars(rows, "1 day");
 * panel.close[t * panel.instruments.length + i];
 * ```
 */
export function panelFromBars(bars: BarColumns, barSize: string): PricePanel {
  const instruments = [...new Set(bars.instrument)].sort();
  const timestamps = [...new Set(bars.timestamp)].sort((a, b) => a - b);
  const col = new Map(instruments.map((s, i) => [s, i]));
  const row = new Map(timestamps.map((t, i) => [t, i]));
  const n = instruments.length;
  const size = timestamps.length * n;
  const make = () => new Float64Array(size).fill(NaN);
  const panel: PricePanel = {
    instruments,
    barSize,
    timestamps,
    open: make(),
    high: make(),
    low: make(),
    close: make(),
    volume: make(),
  };
  for (let k = 0; k < bars.instrument.length; k++) {
    const idx = row.get(bars.timestamp[k])! * n + col.get(bars.instrument[k])!;
    panel.open[idx] = bars.open[k];
    panel.high[idx] = bars.high[k];
    panel.low[idx] = bars.low[k];
    panel.close[idx] = bars.close[k];
    panel.volume[idx] = bars.volume[k];
  }
  return panel;
}
