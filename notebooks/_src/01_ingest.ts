// Source of notebooks/01_ingest.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 01 · Ingest: real daily bars into the store
//
// Everything in this project starts from bars stored in PostgreSQL. By default the store is
// **embedded PGlite** (a real Postgres compiled to WebAssembly) in `data/pgdata`, or in
// `$TT_DATA_DIR/pgdata` when `TT_DATA_DIR` is set; set `DATABASE_URL` to use a server instead.
// Nothing here needs an account or the network.
//
// The **sample** source is real market data shipped inside two npm packages:
//
// - **SPX**: the S&P 500 index, daily, 2000-01-03 … 2020-04-17 (`vega-datasets`);
// - **AAPL**: Apple, daily, 2013-05-13 … 2018-05-11 (`@observablehq/sample-datasets`).
//
// They go through exactly the same CSV importer as vendor files (`deno task ingest --source csv`),
// adjusted with `k = adjusted close / close`, so AAPL's returns include its dividends.
// This notebook is a thin client of `lib/`: the same calls back `deno task ingest --source sample`
// and `deno task quality`.

// %%
import pl from "nodejs-polars";
import { openStore, readPrices } from "@lib/db/mod.ts";
import { ingestSample, runQualityReport, SAMPLE_DATASETS } from "@lib/data/mod.ts";
import { barsFrame } from "@lib/features/mod.ts";
import { storedRanges } from "@lib/pipeline/mod.ts";
import { dataQualityChart, featurePanelChart, renderSvg, type VegaLiteSpec } from "@lib/viz/mod.ts";

// %%
// Display helpers: charts as inline SVG (with the Vega-Lite spec), Polars frames as tables.
// Both wait a moment after displaying: the Deno kernel can publish a display after the cell's
// "idle" status, and nbconvert then drops it (seen with Deno 2.9.6 and nbconvert 6.5).
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
/**
 * Shows a chart as inline SVG, with its Vega-Lite spec for front ends that render it.
 * (The SVG also goes out as `text/html`: nbconvert's HTML export strips the elements of
 * `image/svg+xml` outputs, but keeps HTML outputs as they are.)
 */
async function show(spec: VegaLiteSpec): Promise<void> {
  const svg = await renderSvg(spec);
  await Deno.jupyter.display(
    { "text/html": svg, "image/svg+xml": svg, "application/vnd.vegalite.v5+json": spec },
    { raw: true },
  );
  await settle();
}

/**
 * Shows a Polars frame as an HTML table (times as dates, floats rounded). Displayed
 * explicitly: a frame left as a cell's last expression is sometimes missing from
 * nbconvert's output for the same reason.
 */
async function table(df: pl.DataFrame, digits = 4): Promise<void> {
  const cols = df.columns.map((c) => {
    const s = df.getColumn(c);
    const t = String(s.dtype);
    if (t.includes("Datetime")) {
      const days = (s.toArray() as unknown as (Date | null)[]).every((d) => !d || +d % 86_400_000 === 0);
      return pl.col(c).dt.strftime(days ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%S");
    }
    return t.includes("Float") ? pl.col(c).round(digits) : pl.col(c);
  });
  await Deno.jupyter.display(df.select(...cols));
  await settle();
}

// %%
const store = await openStore();
console.log(`Store: ${store.description}`);

// %% [markdown]
// ## The sample files

// %%
await table(pl.readRecords(SAMPLE_DATASETS.map((d) => ({ ...d }))));

// %% [markdown]
// ## Import
//
// Every file is read and validated **before** anything is written (a bad row refuses the whole
// run), then written per file in one transaction, with lineage in `tt_ingest_runs`. Bars are
// upserted on `(instrument, bar_size, timestamp)`, so running this cell again writes the same
// rows and changes nothing.

// %%
const ingest = await ingestSample(store, { silent: true });
await table(pl.readRecords([{
  run: ingest.runId,
  source: ingest.source,
  files: ingest.files,
  rows_read: ingest.rowsRead,
  rows_written: ingest.rowsWritten,
  symbols: ingest.symbols.join(", "),
  bar_sizes: ingest.barSizes.join(", "),
  rejected: ingest.rejected.length,
  seconds: ingest.seconds,
}]), 2);

// %% [markdown]
// What the store now holds, per instrument, and the lineage of every import run so far
// (parameters are stored with credentials redacted).

// %%
await table(pl.readRecords(await storedRanges(store)));

// %%
const runs = await store.query<Record<string, unknown>>(
  `SELECT id, source, status, rows_written, started_at, finished_at, message
   FROM tt_ingest_runs ORDER BY id`,
);
await table(pl.readRecords(runs));

// %% [markdown]
// ## The bars as a Polars frame
//
// `readPrices` returns long column arrays (one entry per bar, timestamps in epoch ms UTC);
// `barsFrame` turns them into the Polars frame the feature code works on. Daily bars are
// stamped at midnight UTC of their trading date.

// %%
const bars = await readPrices(store, { barSize: "1 day" });
const frame = barsFrame(bars);
await table(frame.filter(pl.col("instrument").eq(pl.lit("AAPL"))).head(5));

// %%
await table(frame.groupBy("instrument").agg(
  pl.col("timestamp").count().alias("bars"),
  pl.col("timestamp").min().alias("first"),
  pl.col("timestamp").max().alias("last"),
  pl.col("close").first().alias("first_close"),
  pl.col("close").last().alias("last_close"),
  pl.col("close").last().div(pl.col("close").first()).minus(1).alias("total_return"),
).sort("instrument"));

// %% [markdown]
// ### Growth of 1
//
// Each close divided by the instrument's first close. The two series cover different
// periods: any model that trades both can only use their **common** range (2013-05 … 2018-05),
// which is what the training and evaluation notebooks do.

// %%
const growth = frame
  .sort(["instrument", "timestamp"])
  .withColumns(pl.col("close").div(pl.col("close").first().over("instrument")).alias("growth"))
  .select("instrument", "timestamp", "growth");
const growthRows = growth.toRecords().map((r) => ({
  instrument: String(r.instrument),
  timestamp: r.timestamp as unknown as Date,
  name: "close, growth of 1",
  value: Number(r.growth),
}));
await show(featurePanelChart(growthRows, { title: "Sample bars: growth of 1", height: 200 }));

// %% [markdown]
// ## Data quality
//
// Before trusting bars, classify every symbol × day of the union calendar:
//
// - **present**: a bar that passes the checks;
// - **suspicious**: a bar with a close-to-close move beyond 25 % that no split ratio explains,
//   or the same close repeated for 5+ bars (a stale feed);
// - **missing**: no bar on a day the others traded, after the symbol's first bar;
// - **not_listed**: before the symbol's first bar.
//
// The classes are stored in `tt_data_quality` (replacing earlier rows of the same symbols), which
// is what `deno task quality` prints and the reports read. AAPL's days after its last bar in the
// file (2018-05-11) show as gaps: the sample simply ends there, which is exactly the kind of thing
// to see before choosing a training range.

// %%
const quality = await runQualityReport(store, { barSize: "1 day" });
await table(pl.readRecords(quality.summary.symbols.map((s) => ({ ...s }))));

// %%
await table(pl.readRecords(
  quality.summary.worstDays.length
    ? quality.summary.worstDays.map((d) => ({ ...d, symbols: d.symbols.join(", ") }))
    : [{ day: "none", missing: 0, suspicious: 0, symbols: "" }],
));

// %%
await show(
  dataQualityChart(
    quality.rows.map((r) => ({ instrument: r.instrument, day: r.day, class: r.class })),
    { title: "Data quality (symbol × day)" },
  ),
);

// %% [markdown]
// Suspicious days and their reasons, if any (a split that explains a large move is noted, not
// flagged):

// %%
const suspicious = quality.rows.filter((r) => r.class === "suspicious");
if (suspicious.length) await table(pl.readRecords(suspicious.slice(0, 20).map((r) => ({ ...r }))));
else console.log("No suspicious days in the sample.");

// %% [markdown]
// PGlite is single-process: close the store so the next notebook (or a `deno task`) can open it.

// %%
await store.close();
