// Source of notebooks/01_ingest.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 01 · Ingest: real daily bars into the store
//
// Everything in this project starts from bars stored in PostgreSQL. The notebooks keep to a
// store of their own: **embedded PGlite** (a real Postgres compiled to WebAssembly) in
// `data/notebooks/pgdata` (`$TT_DATA_DIR/notebooks/pgdata` when `TT_DATA_DIR` is set), with
// their models and reports beside it, so the sample never mixes with your data in `data/pgdata`
// or a `DATABASE_URL` server (`06_your_own_data` shows your own files, in a scratch store).
// An embedded store has one owner at a time: run the notebooks one after another, each closes
// the store in its last cell. Nothing here needs an account or the network.
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
import { listIngestRuns, readPrices } from "@lib/db/mod.ts";
import { ingestSample, runQualityReport, SAMPLE_DATASETS } from "@lib/data/mod.ts";
import { barsFrame } from "@lib/features/mod.ts";
import { openSampleStore, storedRanges } from "@lib/pipeline/mod.ts";
import { dataQualityChart, featurePanelChart, showChart, showTable } from "@lib/viz/mod.ts";

// %%
const { store } = await openSampleStore("notebooks");
console.log(`Store: ${store.description}`);

// %% [markdown]
// ## The sample files

// %%
await showTable(pl.readRecords(SAMPLE_DATASETS.map((d) => ({ ...d }))));

// %% [markdown]
// ## Import
//
// Every file is read and validated **before** anything is written (a bad row refuses the whole
// run), then written per file in one transaction, with lineage in `tt_ingest_runs`. Bars are
// upserted on `(instrument, bar_size, timestamp)`, so running this cell again writes the same
// rows and changes nothing.

// %%
const ingest = await ingestSample(store, { silent: true });
await showTable(pl.readRecords([{
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
await showTable(pl.readRecords(await storedRanges(store)));

// %%
const runs = (await listIngestRuns(store)).reverse(); // oldest first
await showTable(pl.readRecords(runs.map((r) => ({
  id: r.id,
  source: r.source,
  status: r.status,
  rows_written: r.rowsWritten,
  started_at: r.startedAt,
  finished_at: r.finishedAt,
  message: r.message,
}))));

// %% [markdown]
// ## The bars as a Polars frame
//
// `readPrices` returns long column arrays (one entry per bar, timestamps in epoch ms UTC);
// `barsFrame` turns them into the Polars frame the feature code works on. Daily bars are
// stamped at midnight UTC of their trading date.

// %%
const bars = await readPrices(store, { barSize: "1 day" });
const frame = barsFrame(bars);
await showTable(frame.filter(pl.col("instrument").eq(pl.lit("AAPL"))).head(5));

// %%
await showTable(frame.groupBy("instrument").agg(
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
await showChart(featurePanelChart(growthRows, { title: "Sample bars: growth of 1", height: 200 }));

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
await showTable(pl.readRecords(quality.summary.symbols.map((s) => ({ ...s }))));

// %%
await showTable(pl.readRecords(
  quality.summary.worstDays.length
    ? quality.summary.worstDays.map((d) => ({ ...d, symbols: d.symbols.join(", ") }))
    : [{ day: "none", missing: 0, suspicious: 0, symbols: "" }],
));

// %%
await showChart(
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
if (suspicious.length) await showTable(pl.readRecords(suspicious.slice(0, 20).map((r) => ({ ...r }))));
else console.log("No suspicious days in the sample.");

// %% [markdown]
// PGlite is single-process: close the store so the next notebook (or a `deno task`) can open it.

// %%
await store.close();
