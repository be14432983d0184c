/**
 * The shared look of every chart: a transparent background and mid-grey text and
 * axes that read on light and dark pages alike, one categorical palette, and the
 * {@linkcode VegaLiteSpec} type the builders return.
 *
 * @module
 */

/** A Vega-Lite specification as plain JSON (what the builders return and `renderSvg` takes). */
export type VegaLiteSpec = { $schema: string } & Record<string, unknown>;

/** The Vega-Lite schema the builders target (npm:vega-lite 6). */
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** Neutral grey used for text, axes and grid lines. */
export const INK = "#8a919c";

/** Colours of the strategy and its benchmark in every chart. */
export const SERIES_COLORS = { strategy: "#2f7ed8", benchmark: "#9aa3ad" } as const;

/** Categorical palette (Tableau 10), for instruments. */
export const PALETTE: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/** Size options shared by the builders. */
export interface ChartSize {
  /** Plot width in pixels. Default 760. */
  width?: number;
  /** Plot height in pixels. Default 220. */
  height?: number;
  /** Chart title. */
  title?: string;
}

/**
 * The Vega-Lite `config` block of the theme.
 * @returns A fresh config object.
 * @example
 * ```ts
 * const spec = { ...mySpec, config: themeConfig() };
 * ```
 */
export function themeConfig(): Record<string, unknown> {
  const axis = {
    labelColor: INK,
    titleColor: INK,
    domainColor: INK,
    tickColor: INK,
    gridColor: INK,
    gridOpacity: 0.2,
    labelFontSize: 11,
    titleFontSize: 11,
    titleFontWeight: "normal",
  };
  return {
    background: null,
    font: "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
    padding: 8,
    view: { stroke: null },
    axis,
    legend: {
      labelColor: INK,
      titleColor: INK,
      labelFontSize: 11,
      titleFontSize: 11,
      titleFontWeight: "normal",
    },
    header: { labelColor: INK, titleColor: INK, labelFontSize: 11 },
    title: { color: INK, anchor: "start", fontSize: 13, fontWeight: 600, offset: 10 },
    range: { category: [...PALETTE] },
  };
}

/**
 * Wraps a spec body with the schema, title, size and theme.
 * @param body Mark/encoding/data (or layer/facet) of the chart.
 * @param size Width, height, title.
 * @param sized False for faceted or concatenated specs whose sub-plots carry their own size.
 * @returns The complete spec.
 * @example
 * ```ts
 * finishSpec({ data: { values }, mark: "line", encoding }, { title: "Equity" });
 * ```
 */
export function finishSpec(
  body: Record<string, unknown>,
  size: ChartSize = {},
  sized = true,
): VegaLiteSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    ...(size.title ? { title: size.title } : {}),
    ...(sized ? { width: size.width ?? 760, height: size.height ?? 220 } : {}),
    ...body,
    config: themeConfig(),
  };
}

/**
 * Indices to plot when a series is too long to draw every point: every k-th index,
 * always keeping the first, the last and any indices in `keep` (e.g. a drawdown's trough).
 * @param n Series length.
 * @param maxPoints Most points wanted (≥ 2).
 * @param keep Indices that must stay.
 * @returns Ascending indices (all of 0..n-1 when n ≤ maxPoints).
 * @example
 * ```ts
 * sampleIndices(10, 4); // [0, 3, 6, 9]
 * ```
 */
export function sampleIndices(
  n: number,
  maxPoints: number,
  keep: readonly number[] = [],
): number[] {
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => i);
  const step = Math.ceil((n - 1) / (Math.max(2, maxPoints) - 1));
  const set = new Set<number>(keep.filter((i) => i >= 0 && i < n));
  for (let i = 0; i < n; i += step) set.add(i);
  set.add(n - 1);
  return [...set].sort((a, b) => a - b);
}

/**
 * The x encoding for epoch-ms times: a UTC time scale with ISO-date labels, so
 * charts read the same on every machine whatever its time zone.
 * @param field Data field holding epoch ms. Default "time".
 * @param title Axis title. Default none.
 * @returns A Vega-Lite position encoding.
 * @example
 * ```ts
 * ({ mark: "line", encoding: { x: timeX(), y: { field: "value", type: "quantitative" } } });
 * ```
 */
export function timeX(field = "time", title = ""): Record<string, unknown> {
  return {
    field,
    type: "temporal",
    title,
    scale: { type: "utc" },
    axis: { format: "%Y-%m-%d", labelAngle: 0, labelOverlap: true },
  };
}
