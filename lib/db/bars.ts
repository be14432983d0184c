/**
 * Bars as column arrays, the shape of `tt_prices` rows. The store owns this type
 * (it reads and writes it); `lib/data` re-exports it for the sources that produce it.
 *
 * @module
 */

/** Bars as column arrays (one entry per bar), the shape of `tt_prices` rows. */
export interface BarColumns {
  instrument: string[];
  /** Epoch milliseconds, UTC. */
  timestamp: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}

/**
 * A {@linkcode BarColumns} with no bars, to fill with `push`.
 * @returns Seven empty column arrays.
 * @example
 * ```ts
 * const bars = emptyBars();
 * bars.instrument.push("AAPL");
 * ```
 */
export function emptyBars(): BarColumns {
  return { instrument: [], timestamp: [], open: [], high: [], low: [], close: [], volume: [] };
}
