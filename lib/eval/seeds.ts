/**
 * Evidence over several seeds: one seed is an anecdote (the same configuration
 * rerun with another seed can move the Sharpe ratio by a whole unit), so a
 * multi-seed evaluation reports each seed, the median and the inter-quartile range.
 * Quantiles interpolate linearly between order statistics (type 7, as NumPy's default).
 *
 * @module
 */
import { quantileSorted } from "./statistics.ts";

/** The distribution of one metric over seeds. */
export interface SeedDistribution {
  /** The values, in the order given (one per seed). */
  values: number[];
  median: number;
  /** First quartile. */
  q1: number;
  /** Third quartile. */
  q3: number;
  /** `q3 - q1`. */
  iqr: number;
  min: number;
  max: number;
}

/**
 * Median, quartiles and range of one metric over seeds (non-finite values are left
 * out of the statistics but kept in `values`).
 * @param values One value per seed.
 * @returns The distribution (NaN statistics when no value is finite).
 * @example
 * ```ts
 * seedDistribution([0.2, 0.5, 0.9, 1.1, 1.4]); // median 0.9, q1 0.5, q3 1.1, iqr 0.6
 * ```
 */
export function seedDistribution(values: readonly number[]): SeedDistribution {
  const sorted = Float64Array.from(values.filter((v) => Number.isFinite(v))).sort();
  const q = (p: number) => (sorted.length ? quantileSorted(sorted, p) : NaN);
  const q1 = q(0.25), q3 = q(0.75);
  return {
    values: [...values],
    median: q(0.5),
    q1,
    q3,
    iqr: q3 - q1,
    min: sorted.length ? sorted[0] : NaN,
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}

/**
 * The index of the median seed by a metric: the one whose value is the median for
 * an odd count, the lower of the two middle ones for an even count (the conservative
 * choice), so a verdict "on the median" is that seed's own, with its own interval.
 * @param values One value per seed (non-finite ranks lowest).
 * @returns The index into `values`.
 * @throws {RangeError} When `values` is empty.
 * @example
 * ```ts
 * medianIndex([0.9, 0.2, 1.4, 0.5]); // 3 (0.5: the lower middle of 0.2, 0.5, 0.9, 1.4)
 * ```
 */
export function medianIndex(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("medianIndex(): no value");
  const key = (v: number) => (Number.isFinite(v) ? v : -Infinity);
  const order = values.map((_, i) => i).sort((a, b) => key(values[a]) - key(values[b]) || a - b);
  return order[Math.floor((values.length - 1) / 2)];
}
