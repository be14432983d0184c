/**
 * Portfolio weights over time as a stacked area chart.
 *
 * @module
 */
import {
  type ChartSize,
  finishSpec,
  PALETTE,
  sampleIndices,
  timeX,
  type VegaLiteSpec,
} from "./theme.ts";

/** Input of {@linkcode weightsChart}. */
export interface WeightsChartInput extends ChartSize {
  /** Bar times, epoch ms, one per row. */
  timestamps: ArrayLike<number>;
  /** Instruments in weight-column order. */
  instruments: readonly string[];
  /** `rows[t][i]`: weight of instrument i held over bar t. */
  rows: readonly ArrayLike<number>[];
  /** Add a "Cash" band `1 − Σw` when it is positive. Default true. */
  showCash?: boolean;
  /** Instruments shown by name (largest mean |weight| first); the rest are summed as "Other". Default 9. */
  maxInstruments?: number;
  /** Most time points drawn. Default 600. */
  maxPoints?: number;
}

/**
 * Weights over time, stacked: one band per instrument (the smallest grouped as
 * "Other") plus cash.
 * @param input Times, instruments, weight rows, size, title (default "Portfolio weights").
 * @returns A Vega-Lite stacked area chart.
 * @throws {RangeError} When rows and timestamps differ in length or a row has the wrong width.
 * @example
 * ```ts
 * weightsChart({ timestamps, instruments: ["AAPL", "MSFT"], rows: [[0.5, 0.5], [0.6, 0.4]] });
 * ```
 */
export function weightsChart(input: WeightsChartInput): VegaLiteSpec {
  const { timestamps: ts, instruments, rows } = input;
  if (rows.length !== ts.length) {
    throw new RangeError(`Got ${rows.length} weight rows for ${ts.length} timestamps`);
  }
  const n = instruments.length;
  const meanAbs = new Float64Array(n);
  rows.forEach((row, t) => {
    if (row.length !== n) {
      throw new RangeError(`Weight row ${t} has ${row.length} entries for ${n} instruments`);
    }
    for (let i = 0; i < n; i++) meanAbs[i] += Math.abs(row[i]) / rows.length;
  });
  const maxNamed = input.maxInstruments ?? 9;
  const order = [...instruments.keys()].sort((a, b) => meanAbs[b] - meanAbs[a] || a - b);
  const named = order.slice(0, n > maxNamed + 1 ? maxNamed : n);
  const grouped = order.slice(named.length);
  const showCash = input.showCash ?? true;
  const values: { time: number; asset: string; weight: number; order: number }[] = [];
  for (const t of sampleIndices(rows.length, input.maxPoints ?? 600)) {
    const row = rows[t];
    let sum = 0;
    named.forEach((i, k) => {
      values.push({ time: ts[t], asset: instruments[i], weight: row[i], order: k });
      sum += row[i];
    });
    if (grouped.length > 0) {
      let other = 0;
      for (const i of grouped) other += row[i];
      values.push({ time: ts[t], asset: "Other", weight: other, order: named.length });
      sum += other;
    }
    if (showCash) {
      values.push({
        time: ts[t],
        asset: "Cash",
        weight: Math.max(0, 1 - sum),
        order: named.length + 1,
      });
    }
  }
  const domain = [
    ...named.map((i) => instruments[i]),
    ...(grouped.length > 0 ? ["Other"] : []),
    ...(showCash ? ["Cash"] : []),
  ];
  const range = domain.map((name, k) =>
    name === "Cash" ? "#d5d9de" : name === "Other" ? "#7b848f" : PALETTE[k % PALETTE.length]
  );
  return finishSpec({
    data: { values },
    mark: { type: "area", interpolate: "step-after" },
    encoding: {
      x: timeX(),
      y: {
        field: "weight",
        type: "quantitative",
        stack: "zero",
        title: "weight",
        axis: { format: "%" },
      },
      color: {
        field: "asset",
        type: "nominal",
        title: null,
        scale: { domain, range },
        legend: { orient: "right" },
      },
      order: { field: "order", type: "quantitative" },
    },
  }, { title: "Portfolio weights", ...input });
}
