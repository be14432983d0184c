/**
 * The wide, in-memory feature view the environment observes: instruments ×
 * timestamps × features on the same calendar as a {@linkcode PricePanel}.
 *
 * @module
 */
import type { PricePanel } from "../data/panel.ts";

/** Features aligned with a price panel. */
export interface FeaturePanel {
  /** Same order as the price panel's instruments. */
  instruments: string[];
  /** Same calendar as the price panel (epoch ms UTC, ascending). */
  timestamps: number[];
  /** Feature names, in the order of the last axis. */
  names: string[];
  /** `values[(t * N + i) * F + f]`; `NaN` during warm-up or where the instrument has no bar. */
  values: Float32Array;
  /** Bars needed before every feature is defined (the largest lookback). */
  warmup: number;
}

/**
 * Checks that a feature panel is aligned with a price panel.
 * @param prices The price panel.
 * @param features The feature panel.
 * @throws {TypeError} When instruments, calendar or array sizes differ.
 * @example
 * ```ts
 * assertAligned(prices, features);
 * ```
 */
export function assertAligned(prices: PricePanel, features: FeaturePanel): void {
  const n = prices.instruments.length;
  const t = prices.timestamps.length;
  if (features.instruments.join("\u0000") !== prices.instruments.join("\u0000")) {
    throw new TypeError("Feature panel instruments differ from the price panel's");
  }
  if (
    features.timestamps.length !== t ||
    features.timestamps.some((x, i) => x !== prices.timestamps[i])
  ) {
    throw new TypeError("Feature panel calendar differs from the price panel's");
  }
  if (features.values.length !== t * n * features.names.length) {
    throw new TypeError(
      `Feature values have ${features.values.length} entries, expected ${t}×${n}×${features.names.length}`,
    );
  }
}
