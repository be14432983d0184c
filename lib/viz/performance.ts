/**
 * Charts of a strategy's performance against its benchmark: equity curve,
 * drawdown (underwater) and rolling Sharpe ratio.
 *
 * @module
 */
import { alignToTimestamps } from "../eval/benchmarks.ts";
import {
  drawdownSeries,
  inferPeriodsPerYear,
  rollingSharpe,
  simpleReturns,
} from "../eval/metrics.ts";
import {
  type ChartSize,
  finishSpec,
  INK,
  PALETTE,
  sampleIndices,
  SERIES_COLORS,
  timeX,
  type VegaLiteSpec,
} from "./theme.ts";

/** A named equity curve. */
export interface CurveInput {
  /** Legend name. Default "Strategy" / "Benchmark". */
  name?: string;
  /** Bar times, epoch ms. Optional for a benchmark on the strategy's bars. */
  timestamps?: ArrayLike<number>;
  /** Portfolio values. */
  equity: ArrayLike<number>;
}

/** Input of the performance charts. */
export interface PerformanceChartInput extends ChartSize {
  /** The strategy; its timestamps are the chart's time axis. */
  strategy: CurveInput & { timestamps: ArrayLike<number> };
  /** Optional benchmark, read at the strategy's bar times (last value at or before). */
  benchmark?: CurveInput;
  /** Further benchmarks (the other baselines), drawn by the equity and rolling Sharpe charts. */
  benchmarks?: readonly CurveInput[];
  /** Most points drawn per series. Default 1500. */
  maxPoints?: number;
}

interface Row {
  time: number;
  series: string;
  value: number;
}

/**
 * Equity curve vs benchmark, both rescaled to start at 1 ("growth of 1").
 * @param input Strategy, optional benchmark, size, title (default "Equity (growth of 1)").
 * @returns A Vega-Lite line chart.
 * @example
 * ```ts
 * const svg = await renderSvg(equityChart({ strategy: { timestamps, equity }, benchmark: bh }));
 * ```
 */
export function equityChart(input: PerformanceChartInput): VegaLiteSpec {
  const { data, line } = lineBody(input, (eq) => Array.from(eq, (v) => v / eq[0]), {
    title: "growth of 1",
    format: "~g",
    zero: false,
  });
  return finishSpec({ data, ...line }, { title: "Equity (growth of 1)", ...input });
}

/**
 * Drawdown (underwater) chart: the fall below the running peak, strategy as an
 * area, benchmark as a line. The deepest point of each series is always drawn.
 * @param input Strategy, optional benchmark, size, title (default "Drawdown").
 * @returns A Vega-Lite layered chart.
 * @example
 * ```ts
 * drawdownChart({ strategy: { timestamps, equity } });
 * ```
 */
export function drawdownChart(input: PerformanceChartInput): VegaLiteSpec {
  const { rows, names } = seriesRows(input, drawdownSeries, true);
  const [sName, bName] = names;
  const y = {
    field: "value",
    type: "quantitative",
    title: "drawdown",
    axis: { format: "%" },
    scale: { zero: true },
  };
  const color = colorEncoding(names);
  const layer: Record<string, unknown>[] = [
    {
      transform: [{ filter: { field: "series", equal: sName } }],
      mark: { type: "area", opacity: 0.35, line: { strokeWidth: 1.2 } },
      encoding: { x: timeX(), y, color },
    },
  ];
  if (bName) {
    layer.push({
      transform: [{ filter: { field: "series", equal: bName } }],
      mark: { type: "line", strokeWidth: 1.2 },
      encoding: { x: timeX(), y, color },
    });
  }
  return finishSpec({ data: { values: rows }, layer }, { title: "Drawdown", ...input });
}

/** Input of {@linkcode rollingSharpeChart}. */
export interface RollingSharpeChartInput extends PerformanceChartInput {
  /** Window in periods. Default 63 (a quarter of daily bars). */
  window?: number;
  /** Periods per year. Default inferred from the strategy's timestamps. */
  periodsPerYear?: number;
  /** Annual risk-free rate. Default 0. */
  riskFreeRate?: number;
}

/**
 * Rolling annualised Sharpe ratio of the strategy (and benchmark) with a zero line.
 * @param input Curves, window (default 63), periods per year, size, title.
 * @returns A Vega-Lite layered chart.
 * @example
 * ```ts
 * rollingSharpeChart({ strategy: { timestamps, equity }, window: 126 });
 * ```
 */
export function rollingSharpeChart(input: RollingSharpeChartInput): VegaLiteSpec {
  const window = input.window ?? 63;
  const ppy = input.periodsPerYear ?? inferPeriodsPerYear(input.strategy.timestamps);
  const roll = (eq: ArrayLike<number>) => {
    const r = rollingSharpe(simpleReturns(eq), window, {
      periodsPerYear: ppy,
      riskFreeRate: input.riskFreeRate,
    });
    return [NaN, ...r];
  };
  const { data, line } = lineBody(input, roll, {
    title: "Sharpe (annualised)",
    format: "~g",
    zero: false,
  });
  // Own one-row data, or the rule would be drawn once per inherited row.
  const rule = {
    data: { values: [{}] },
    mark: { type: "rule", color: INK, strokeDash: [4, 3] },
    encoding: { y: { datum: 0 } },
  };
  return finishSpec({ data, layer: [line, rule] }, {
    title: `Rolling Sharpe ratio (${window} bars)`,
    ...input,
  });
}

function lineBody(
  input: PerformanceChartInput,
  transform: (equity: ArrayLike<number>) => ArrayLike<number>,
  y: { title: string; format: string; zero: boolean },
): { data: { values: Row[] }; line: Record<string, unknown> } {
  const { rows, names } = seriesRows(input, transform, false);
  const line = {
    mark: { type: "line", strokeWidth: 1.5 },
    encoding: {
      x: timeX(),
      y: {
        field: "value",
        type: "quantitative",
        title: y.title,
        axis: { format: y.format },
        scale: { zero: y.zero },
      },
      color: colorEncoding(names),
    },
  };
  return { data: { values: rows }, line };
}

function seriesRows(
  input: PerformanceChartInput,
  transform: (equity: ArrayLike<number>) => ArrayLike<number>,
  keepMinimum: boolean,
): { rows: Row[]; names: string[] } {
  const ts = input.strategy.timestamps;
  if (input.strategy.equity.length !== ts.length) {
    throw new RangeError(
      `Strategy has ${input.strategy.equity.length} equity values for ${ts.length} timestamps`,
    );
  }
  const curves: [string, ArrayLike<number>][] = [[
    input.strategy.name ?? "Strategy",
    transform(input.strategy.equity),
  ]];
  const extra = keepMinimum ? [] : input.benchmarks ?? [];
  for (const b of [input.benchmark, ...extra]) {
    if (!b) continue;
    const eq = b.timestamps
      ? alignToTimestamps({ timestamps: b.timestamps, equity: b.equity }, ts)
      : b.equity;
    if (eq.length !== ts.length) {
      throw new RangeError(
        `Benchmark has ${eq.length} values for the strategy's ${ts.length} bars; pass its timestamps`,
      );
    }
    curves.push([b.name ?? "Benchmark", transform(eq)]);
  }
  const rows: Row[] = [];
  for (const [name, values] of curves) {
    const keep: number[] = [];
    if (keepMinimum) {
      let lo = 0;
      for (let i = 1; i < values.length; i++) if (values[i] < values[lo]) lo = i;
      keep.push(lo);
    }
    for (const i of sampleIndices(values.length, input.maxPoints ?? 1500, keep)) {
      if (Number.isFinite(values[i])) rows.push({ time: ts[i], series: name, value: values[i] });
    }
  }
  return { rows, names: curves.map((c) => c[0]) };
}

function colorEncoding(names: string[]): Record<string, unknown> {
  return {
    field: "series",
    type: "nominal",
    title: null,
    scale: {
      domain: names,
      range: [SERIES_COLORS.strategy, SERIES_COLORS.benchmark, ...PALETTE].slice(0, names.length),
    },
    legend: { orient: "top", direction: "horizontal", labelLimit: 320 },
  };
}
