/**
 * Renders a Vega-Lite spec to an SVG string without a browser: vega-lite compiles
 * it to Vega, and a headless Vega `View` (renderer "none") writes the SVG.
 *
 * @module
 */
import * as vegaLite from "vega-lite";
import { parse, View } from "vega";
import type { VegaLiteSpec } from "./theme.ts";

/**
 * Renders a chart to SVG markup.
 * @param spec A Vega-Lite spec, e.g. from {@linkcode equityChart}.
 * @returns `<svg …>…</svg>`, ready to inline in HTML or write to a `.svg` file.
 * @throws {Error} When the spec does not compile (message prefixed with the chart title).
 * @example
 * ```ts
 * const svg = await renderSvg(equityChart({ timestamps, strategy: equity }));
 * await Deno.writeTextFile("equity.svg", svg);
 * ```
 */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  let view: View | undefined;
  try {
    // deno-lint-ignore no-explicit-any
    const compiled = vegaLite.compile(spec as any).spec;
    view = new View(parse(compiled), { renderer: "none" });
    return await view.toSVG();
  } catch (e) {
    const title = typeof spec.title === "string" ? spec.title : "untitled chart";
    throw new Error(`Cannot render ${title}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  } finally {
    view?.finalize();
  }
}
