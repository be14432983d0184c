/// <reference lib="deno.unstable" />
/**
 * Display helpers for Deno-kernel notebooks: charts as inline SVG (with their
 * Vega-Lite spec) and Polars frames as readable HTML tables.
 *
 * Both wait a moment after displaying: the Deno 2.9.6 kernel can publish a display
 * after it reported the cell idle, and nbconvert 6.5 then drops the output.
 *
 * @module
 */
import pl from "nodejs-polars";
import { renderSvg } from "./render.ts";
import type { VegaLiteSpec } from "./theme.ts";

const SETTLE_MS = 50;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/**
 * Shows a chart in a notebook as inline SVG, with its Vega-Lite spec for front ends that
 * render it. The SVG also goes out as `text/html`: nbconvert's HTML export strips the
 * elements of `image/svg+xml` outputs but keeps HTML outputs as they are.
 *
 * @param spec A Vega-Lite spec from one of the builders in this folder.
 * @returns Once the output is published.
 * @example
 * ```ts
 * await showChart(equityChart({ strategy: { timestamps, equity } }));
 * ```
 */
export async function showChart(spec: VegaLiteSpec): Promise<void> {
  const svg = await renderSvg(spec);
  await Deno.jupyter.display(
    { "text/html": svg, "image/svg+xml": svg, "application/vnd.vegalite.v5+json": spec },
    { raw: true },
  );
  await settle();
}

/**
 * Shows a Polars frame as an HTML table, times as dates (or date-times when any has a
 * time of day) and floats rounded.
 *
 * @param df The frame.
 * @param digits Decimals kept for float columns. Default 4.
 * @returns Once the output is published.
 * @example
 * ```ts
 * await showTable(pl.readRecords([{ a: 1.23456 }]), 2);
 * ```
 */
export async function showTable(df: pl.DataFrame, digits = 4): Promise<void> {
  await Deno.jupyter.display(formatFrame(df, digits));
  await settle();
}

/**
 * The frame {@linkcode showTable} displays: datetimes as `YYYY-MM-DD` (or with the time
 * when any value has one), floats rounded to `digits`.
 *
 * @param df The frame.
 * @param digits Decimals kept for float columns. Default 4.
 * @returns A new frame.
 * @example
 * ```ts
 * formatFrame(pl.DataFrame({ x: [1.23456] }), 2); // x: 1.23
 * ```
 */
export function formatFrame(df: pl.DataFrame, digits = 4): pl.DataFrame {
  const cols = df.columns.map((c) => {
    const s = df.getColumn(c);
    const t = String(s.dtype);
    if (t.includes("Datetime")) {
      const days = (s.toArray() as unknown as (Date | null)[]).every((d) =>
        !d || +d % 86_400_000 === 0
      );
      return pl.col(c).dt.strftime(days ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%S");
    }
    return t.includes("Float") ? pl.col(c).round(digits) : pl.col(c);
  });
  return df.select(...cols);
}
