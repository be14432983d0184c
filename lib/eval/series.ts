/**
 * Reshaping stored episode rows into the arrays the metrics, charts and report take.
 *
 * @module
 */

/** A long weight row, the shape of `tt_target_weights` (timestamp as Date or epoch ms). */
export interface LongWeightRow {
  /** Bar time. */
  timestamp: Date | number;
  /** Instrument symbol. */
  instrument: string;
  /** Weight of the instrument at that time. */
  weight: number;
}

/** Weights pivoted to one row per time, see {@linkcode pivotWeights}. */
export interface WeightMatrix {
  /** Instruments, sorted, in column order. */
  instruments: string[];
  /** Distinct times, epoch ms, ascending. */
  timestamps: number[];
  /** `rows[t][i]`: weight of instrument i at time t (0 where no row was stored). */
  rows: Float64Array[];
}

/**
 * Pivots long weight rows (one per time and instrument) into one row per time.
 * Instruments without a row at some time get weight 0 there (they were not held).
 * @param rows Long rows in any order.
 * @returns Instruments, times and the weight rows.
 * @throws {RangeError} When a time and instrument appear twice.
 * @example
 * ```ts
 * const w = pivotWeights(await readTargetWeights(store, id)); // readTargetWeights: lib/db
 * renderReportHtml({ strategy: { timestamps, equity, weights: w } });
 * ```
 */
export function pivotWeights(rows: readonly LongWeightRow[]): WeightMatrix {
  const ms = (t: Date | number) => (typeof t === "number" ? t : t.getTime());
  const instruments = [...new Set(rows.map((r) => r.instrument))].sort();
  const timestamps = [...new Set(rows.map((r) => ms(r.timestamp)))].sort((a, b) => a - b);
  const col = new Map(instruments.map((s, i) => [s, i]));
  const row = new Map(timestamps.map((t, i) => [t, i]));
  const out = timestamps.map(() => new Float64Array(instruments.length));
  const seen = new Set<string>();
  for (const r of rows) {
    const t = ms(r.timestamp);
    const key = `${t}\u0000${r.instrument}`;
    if (seen.has(key)) {
      throw new RangeError(`Two weights for ${r.instrument} at ${new Date(t).toISOString()}`);
    }
    seen.add(key);
    out[row.get(t)!][col.get(r.instrument)!] = r.weight;
  }
  return { instruments, timestamps, rows: out };
}
