/**
 * Feature normalisation fit on a training slice only: {@linkcode fitNormaliser} returns
 * frozen statistics, {@linkcode applyNormaliser} uses them on any slice (training,
 * validation, live) without refitting, so evaluation never sees its own statistics.
 *
 * @module
 */
import type { FeaturePanel } from "./feature_panel.ts";

/** Frozen per-feature z-score statistics (pooled over instruments and training bars). */
export interface NormaliserStats {
  readonly names: readonly string[];
  readonly mean: readonly number[];
  /** Sample std (ddof=1); 1 where the training values are constant or too few. */
  readonly std: readonly number[];
  /** Finite training values per feature. */
  readonly count: readonly number[];
  /** The fit used bars with timestamp < this (epoch ms). */
  readonly fitEnd: number;
}

/**
 * Fits z-score statistics on the bars before `trainEnd` (NaN ignored).
 * @param panel Features.
 * @param trainEnd First timestamp (epoch ms or ISO date) NOT in the training slice.
 * @returns Frozen statistics.
 * @throws {RangeError} When the training slice is empty.
 * @example
 * ```ts
 * const stats = fitNormaliser(fp, Date.UTC(2020, 0, 1));
 * const z = applyNormaliser(fp, stats);
 * ```
 */
export function fitNormaliser(panel: FeaturePanel, trainEnd: number | string): NormaliserStats {
  const end = typeof trainEnd === "string" ? Date.parse(trainEnd) : trainEnd;
  const rows = panel.timestamps.findIndex((t) => t >= end);
  const tEnd = rows < 0 ? panel.timestamps.length : rows;
  if (tEnd === 0) {
    throw new RangeError(`No bars before ${new Date(end).toISOString()} to fit the normaliser on`);
  }
  const f = panel.names.length;
  const n = panel.instruments.length;
  const sum = new Float64Array(f), count = new Float64Array(f);
  for (let k = 0; k < tEnd * n; k++) {
    for (let j = 0; j < f; j++) {
      const v = panel.values[k * f + j];
      if (Number.isFinite(v)) {
        sum[j] += v;
        count[j]++;
      }
    }
  }
  const mean = Array.from(sum, (s, j) => (count[j] ? s / count[j] : 0));
  const ss = new Float64Array(f);
  for (let k = 0; k < tEnd * n; k++) {
    for (let j = 0; j < f; j++) {
      const v = panel.values[k * f + j];
      if (Number.isFinite(v)) ss[j] += (v - mean[j]) ** 2;
    }
  }
  const std = Array.from(ss, (s, j) => {
    const sd = count[j] > 1 ? Math.sqrt(s / (count[j] - 1)) : 0;
    return sd > 0 ? sd : 1;
  });
  return Object.freeze({
    names: Object.freeze([...panel.names]),
    mean: Object.freeze(mean),
    std: Object.freeze(std),
    count: Object.freeze(Array.from(count)),
    fitEnd: end,
  });
}

/**
 * Applies frozen statistics: `(x − mean) / std`, optionally clipped; NaN stays NaN.
 * @param panel Features with the same names as the statistics.
 * @param stats From {@linkcode fitNormaliser}.
 * @param options `clip`: clamp to ±clip (default: no clipping).
 * @returns A new panel (the input is not modified).
 * @throws {TypeError} When the feature names differ from the fitted ones.
 * @example
 * ```ts
 * const z = applyNormaliser(testPanel, stats, { clip: 5 });
 * ```
 */
export function applyNormaliser(
  panel: FeaturePanel,
  stats: NormaliserStats,
  options: { clip?: number } = {},
): FeaturePanel {
  if (panel.names.join(",") !== stats.names.join(",")) {
    throw new TypeError(
      `Normaliser was fit on [${stats.names.join(", ")}], panel has [${panel.names.join(", ")}]`,
    );
  }
  const f = panel.names.length;
  const clip = options.clip ?? Infinity;
  const values = new Float32Array(panel.values.length);
  for (let k = 0; k < values.length; k++) {
    const j = k % f;
    const z = (panel.values[k] - stats.mean[j]) / stats.std[j];
    values[k] = z > clip ? clip : z < -clip ? -clip : z;
  }
  return { ...panel, values };
}
