/**
 * Bar charts of a risk attribution (`lib/eval/attribution.ts`): one horizontal bar per
 * instrument for each measure (return contribution, volatility contribution, turnover,
 * costs), side by side with their own scales.
 *
 * @module
 */
import type { InstrumentAttribution } from "../eval/attribution.ts";
import { type ChartSize, finishSpec, PALETTE, type VegaLiteSpec } from "./theme.ts";

/** The measures drawn, in order: field of {@linkcode InstrumentAttribution}, title, format. */
const MEASURES: readonly [keyof InstrumentAttribution, string, string][] = [
  ["returnContribution", "return contribution", ".2%"],
  ["volatilityContribution", "volatility contribution (ann.)", ".2%"],
  ["turnover", "turnover (Σ|Δw|)", ".3~g"],
  ["costs", "costs", ".4~g"],
];

/**
 * Attribution bars: a panel per measure, instruments on the y axis in the given order;
 * measures that are not finite for any instrument (costs without costs) are left out.
 * @param rows One line per instrument.
 * @param size Panel width (default 200), height (default 18 px per instrument), title.
 * @returns A Vega-Lite horizontally concatenated bar chart.
 * @throws {RangeError} When there are no rows.
 * @example
 * ```ts
 * attributionChart(riskAttribution({ instruments, weights, returns }).instruments);
 * ```
 */
export function attributionChart(
  rows: readonly InstrumentAttribution[],
  size: ChartSize = {},
): VegaLiteSpec {
  if (rows.length === 0) throw new RangeError("attributionChart needs at least one instrument");
  const order = rows.map((r) => r.instrument);
  const hconcat = MEASURES.filter(([k]) => rows.some((r) => Number.isFinite(r[k] as number))).map(
    ([key, title, format], m) => ({
      width: size.width ?? 200,
      height: size.height ?? Math.max(40, 18 * rows.length),
      data: {
        values: rows.filter((r) => Number.isFinite(r[key] as number)).map((r) => ({
          instrument: r.instrument,
          value: r[key],
        })),
      },
      mark: { type: "bar", color: PALETTE[m % PALETTE.length], tooltip: true },
      encoding: {
        y: { field: "instrument", type: "nominal", title: null, sort: order },
        x: { field: "value", type: "quantitative", title, axis: { format } },
      },
    }),
  );
  return finishSpec({ hconcat }, { title: "Risk attribution by instrument", ...size }, false);
}
