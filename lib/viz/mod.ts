/**
 * Charts as plain Vega-Lite specs (JSON you can test, store or hand to any
 * Vega-Lite front end), one renderer to SVG that needs no browser, and the
 * self-contained HTML report composed of them. Viz sits above `lib/eval`: it may
 * compute drawdowns or compare with a benchmark through eval, eval never imports viz.
 *
 * @example
 * ```ts
 * import { equityChart, renderSvg } from "@lib/viz/mod.ts";
 * const svg = await renderSvg(equityChart({ strategy: { timestamps, equity }, benchmark }));
 * ```
 *
 * @module
 */
export * from "./theme.ts";
export * from "./render.ts";
export * from "./performance.ts";
export * from "./weights.ts";
export * from "./training.ts";
export * from "./panels.ts";
export * from "./notebook.ts";
export * from "./html_report.ts";
export * from "./attribution_chart.ts";
