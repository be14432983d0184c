/**
 * PPO training curves: episode return, policy and value losses, entropy and KL
 * divergence against environment steps, one small panel each.
 *
 * @module
 */
import { type ChartSize, finishSpec, SERIES_COLORS, type VegaLiteSpec } from "./theme.ts";

/** One PPO update's statistics (the columns of `tt_train_metrics`, camelCased). */
export interface TrainingMetricRecord {
  /** Update number, from 0 or 1. */
  update: number;
  /** Environment steps collected so far. */
  timesteps: number;
  /** Clipped surrogate policy loss. */
  policyLoss?: number | null;
  /** Value-function loss. */
  valueLoss?: number | null;
  /** Mean policy entropy. */
  entropy?: number | null;
  /** Approximate KL divergence between old and new policy. */
  approxKl?: number | null;
  /** Mean return of episodes finished during the rollout (null when none finished). */
  meanEpisodeReturn?: number | null;
}

const PANELS: readonly [keyof TrainingMetricRecord, string][] = [
  ["meanEpisodeReturn", "episode return"],
  ["policyLoss", "policy loss"],
  ["valueLoss", "value loss"],
  ["entropy", "entropy"],
  ["approxKl", "approx. KL"],
];

/**
 * Training curves as vertically stacked panels sharing the x axis (timesteps),
 * each with its own y scale. Missing (null/NaN) values are skipped; panels with no
 * value at all are left out.
 * @param records Per-update statistics.
 * @param size Panel width, panel height (default 110), title (default "Training").
 * @returns A Vega-Lite faceted line chart.
 * @throws {RangeError} When there are no records.
 * @example
 * ```ts
 * trainingChart([{ update: 1, timesteps: 2048, policyLoss: -0.01, valueLoss: 0.4, entropy: 1.4, approxKl: 0.01, meanEpisodeReturn: 0.02 }]);
 * ```
 */
export function trainingChart(
  records: readonly TrainingMetricRecord[],
  size: ChartSize = {},
): VegaLiteSpec {
  if (records.length === 0) {
    throw new RangeError("trainingChart needs at least one training record");
  }
  const values: { timesteps: number; update: number; metric: string; value: number }[] = [];
  const present: string[] = [];
  for (const [key, label] of PANELS) {
    let any = false;
    for (const r of records) {
      const v = r[key];
      if (typeof v === "number" && Number.isFinite(v)) {
        values.push({ timesteps: r.timesteps, update: r.update, metric: label, value: v });
        any = true;
      }
    }
    if (any) present.push(label);
  }
  return finishSpec(
    {
      data: { values },
      facet: {
        row: {
          field: "metric",
          type: "nominal",
          title: null,
          sort: present,
          header: { labelAngle: 0, labelAlign: "left" },
        },
      },
      spec: {
        width: size.width ?? 680,
        height: size.height ?? 110,
        mark: {
          type: "line",
          strokeWidth: 1.5,
          point: records.length <= 30,
          color: SERIES_COLORS.strategy,
        },
        encoding: {
          x: {
            field: "timesteps",
            type: "quantitative",
            title: "timesteps",
            axis: { format: "~s" },
          },
          y: {
            field: "value",
            type: "quantitative",
            title: null,
            scale: { zero: false },
            axis: { format: "~g" },
          },
        },
      },
      resolve: { scale: { y: "independent" } },
    },
    { title: "Training", ...size },
    false,
  );
}
