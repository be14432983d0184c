/**
 * Small helpers the benchmarks share (private to `tasks/bench/`).
 *
 * @module
 */
import type { BarColumns } from "@lib/db/mod.ts";

/**
 * The rows of days `[from, to)` of every symbol, for columns that are symbol-major with
 * `days` bars per symbol (as `syntheticBarColumns` lays them out).
 * @param b The bars.
 * @param from First day index (inclusive).
 * @param to Last day index (exclusive).
 * @param days Bars per symbol.
 * @returns The selected rows.
 * @example
 * ```ts
 * const history = barDays(all, 0, 251, 252); // every symbol's first 251 days
 * ```
 */
export function barDays(b: BarColumns, from: number, to: number, days: number): BarColumns {
  const idx: number[] = [];
  for (let i = 0; i < b.instrument.length; i++) {
    const d = i % days;
    if (d >= from && d < to) idx.push(i);
  }
  const pick = <T>(a: ArrayLike<T>) => idx.map((i) => a[i]);
  return {
    instrument: pick(b.instrument),
    timestamp: pick(b.timestamp),
    open: pick(b.open),
    high: pick(b.high),
    low: pick(b.low),
    close: pick(b.close),
    volume: pick(b.volume),
  };
}

/**
 * The median (the lower middle value for an even count).
 * @param xs Values.
 * @returns The median, NaN for none.
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(xs: readonly number[]): number {
  return xs.length ? [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)] : NaN;
}

/**
 * Rounds to one decimal (milliseconds in the JSON lines).
 * @param x A number.
 * @returns It rounded to 0.1.
 * @example
 * ```ts
 * r1(12.345); // 12.3
 * ```
 */
export function r1(x: number): number {
  return Math.round(x * 10) / 10;
}
