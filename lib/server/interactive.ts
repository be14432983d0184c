/**
 * Makes a `lib/viz` spec interactive in the browser without changing the builders:
 * tooltips on every mark, and zoom and pan on time (an interval selection bound to the
 * scales) on the first plot of a chart whose x axis is temporal. The static SVG reports
 * keep using the specs as built.
 *
 * @module
 */
import type { VegaLiteSpec } from "../viz/theme.ts";

type Unit = Record<string, unknown>;

/**
 * A copy of the spec with tooltips and time zoom added.
 * @param spec A Vega-Lite spec from `lib/viz`.
 * @returns The interactive spec (the input is not modified).
 * @example
 * ```ts
 * vegaEmbed("#equity", interactive(equityChart({ strategy })));
 * ```
 */
export function interactive(spec: VegaLiteSpec): VegaLiteSpec {
  const out = structuredClone(spec) as VegaLiteSpec;
  let zoomed = false;
  const visit = (u: Unit, top: boolean) => {
    if (u.mark !== undefined) {
      u.mark = typeof u.mark === "string" ? { type: u.mark } : u.mark;
      const mark = u.mark as Unit;
      if (mark.type !== "rule" && mark.tooltip === undefined) mark.tooltip = true;
      const x = (u.encoding as Unit | undefined)?.x as Unit | undefined;
      if (!zoomed && x?.type === "temporal" && (top || !("facet" in out))) {
        u.params = [
          ...((u.params as unknown[]) ?? []),
          { name: "timeZoom", select: { type: "interval", encodings: ["x"] }, bind: "scales" },
        ];
        zoomed = true;
      }
    }
    for (const k of ["layer", "hconcat", "vconcat", "concat"]) {
      if (Array.isArray(u[k])) { for (const c of u[k] as Unit[]) visit(c, false); }
    }
    if (u.spec && typeof u.spec === "object") visit(u.spec as Unit, false);
  };
  visit(out, true);
  return out;
}
