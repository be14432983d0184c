// Source of notebooks/02_features_and_signals.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 02 · Features and signals
//
// An agent only sees what the features show it, so features are where look-ahead usually
// sneaks in. Here every feature is a **named Polars expression with its lookback**: the bars
// of history it needs are declared, the warm-up of a set is derived from them (never guessed),
// and the only things a feature at bar *t* may read are bars at or before *t*.
//
// Two scopes:
// - **series** features run per instrument over that instrument's own bars, in time order;
// - **cross** (cross-sectional) features rank or compare instruments at the same timestamp.
//
// Signals are scores in [-1, 1] built from features at the same bar (momentum, mean reversion
// and a weighted or rank-averaged blend). They inherit the features' absence of look-ahead.
// Everything below is `lib/features` and `lib/db` (`deno task features` / `deno task signals`
// make the same calls).

// %%
import pl from "nodejs-polars";
import { readPrices, readSignalScores } from "@lib/db/mod.ts";
import { ingestSample, panelFromBars } from "@lib/data/mod.ts";
import {
  computeFeaturePanel,
  computeFeatures,
  computeSignals,
  FEATURE_SETS,
  FEATURES,
  lookback,
  refreshFeatures,
  refreshSignals,
  toLongForm,
  warmupOf,
} from "@lib/features/mod.ts";
import { openSampleStore, storedRanges } from "@lib/pipeline/mod.ts";
import { featurePanelChart, showChart, showTable, signalPanelChart } from "@lib/viz/mod.ts";

// %%
// The notebooks' own store (data/notebooks/pgdata), never yours (01_ingest explains it).
const { store } = await openSampleStore("notebooks");
// Self-sufficient: load the sample data when it is not in the store (01_ingest explains it).
const stored = new Set((await storedRanges(store)).map((r) => r.instrument));
if (!stored.has("AAPL") || !stored.has("SPX")) await ingestSample(store, { silent: true });
await showTable(pl.readRecords(await storedRanges(store)));

// %% [markdown]
// ## The definitions
//
// `lookback` is derived from the definitions: a feature's own span plus the largest lookback of
// its inputs. `vol_20` needs 20 bars (1 for the return, then a 20-bar window adds 19).

// %%
await showTable(pl.readRecords(
  FEATURES.filter((f) => !f.name.startsWith("_")).map((f) => ({
    name: f.name,
    scope: f.scope,
    lookback: lookback(f.name),
    inputs: f.inputs.filter((i) => !i.startsWith("_")).join(", "),
    description: f.description,
  })),
));

// %%
await showTable(pl.readRecords(
  Object.entries(FEATURE_SETS).map(([set, names]) => ({
    set,
    features: names.length,
    warmup_bars: warmupOf(names),
    names: names.length > 8 ? `${names.slice(0, 8).join(", ")}, …` : names.join(", "),
  })),
));

// %% [markdown]
// ## Computing the wide frame
//
// `computeFeatures` evaluates the definitions level by level (inputs first) as one lazy Polars
// query: series features `.over("instrument")`, cross-sectional ones `.over("timestamp")`.
// A feature is **null while its window is not full**: the first rows of each instrument show
// the warm-up.

// %%
const bars = await readPrices(store, { barSize: "1 day" });
const wide = computeFeatures(bars, { set: "all" });
console.log(`${wide.height} bars × ${wide.width - 2} features`);
const shown = ["instrument", "timestamp", "return_1", "vol_20", "mom_60", "rsi_14", "zscore_20"];
await showTable(wide.filter(pl.col("instrument").eq(pl.lit("AAPL"))).select(...shown).head(4));

// %%
await showTable(wide.filter(pl.col("instrument").eq(pl.lit("AAPL"))).select(...shown).tail(4));

// %% [markdown]
// ## No look-ahead, checked on the real data
//
// Compute the features once on the full history and once on bars **cut at 2016-01-01**. If any
// feature read a later bar, its values before the cut would differ between the two runs. They
// must be identical (to the bit), feature by feature, including the cross-sectional ones.

// %%
const cut = "2016-01-01";
const truncated = computeFeatures(await readPrices(store, { end: "2015-12-31" }), { set: "all" });
const before = wide.filter(pl.col("timestamp").lt(pl.lit(new Date(`${cut}T00:00:00Z`))));
const featureNames = wide.columns.filter((c) => c !== "instrument" && c !== "timestamp");
await showTable(pl.readRecords(featureNames.map((name) => {
  const a = before.getColumn(name).toArray() as (number | null)[];
  const b = truncated.getColumn(name).toArray() as (number | null)[];
  let differing = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differing++;
  return { feature: name, rows_before_cut: a.length, rows_compared: b.length, differing };
})));

// %% [markdown]
// ## A few features over time
//
// The long form `(instrument, timestamp, feature, value)` is what `tt_features` stores and what
// the panel charts read.

// %%
const plotted = ["return_1", "vol_20", "mom_60", "rsi_14", "bb_pctb_20"];
const recent = wide.filter(pl.col("timestamp").gtEq(pl.lit(new Date("2013-05-13T00:00:00Z"))));
const long = toLongForm(recent.select("instrument", "timestamp", ...plotted));
await showChart(featurePanelChart(
  long.toRecords().map((r) => ({
    instrument: String(r.instrument),
    timestamp: r.timestamp as unknown as Date,
    name: String(r.feature),
    value: Number(r.value),
  })),
  { names: plotted, title: "Features over the common range (2013-05 … 2020-04)" },
));

// %% [markdown]
// With only two instruments, cross-sectional features are coarse: a percentile rank among two
// is 0.5 or 1.
// They become informative on a real universe (e.g. `../shared/data/daily_sp41`).

// %%
await showTable(
  wide.filter(pl.col("timestamp").eq(pl.lit(new Date("2017-06-01T00:00:00Z"))))
    .select("instrument", "timestamp", ...FEATURE_SETS.cross),
);

// %% [markdown]
// ## Storing features: `tt_features`
//
// `refreshFeatures` reads `tt_prices`, computes, and upserts the long form in batched
// transactions (idempotent: a rerun writes the same rows). With `start`, earlier bars are still
// read as history, so the stored values equal those of a full run.

// %%
const refreshed = await refreshFeatures(store, { set: "basic" });
await showTable(pl.readRecords([{
  instruments: refreshed.instruments,
  bars: refreshed.bars,
  features: refreshed.features.length,
  rows_written: refreshed.rowsWritten,
  read_s: refreshed.seconds.read,
  compute_s: refreshed.seconds.compute,
  write_s: refreshed.seconds.write,
}]), 3);

// %% [markdown]
// ## What the environment observes: the feature panel
//
// The environment reads a `FeaturePanel`: instruments × the union calendar × features, aligned
// with the price panel, `NaN` during warm-up and where an instrument has no bar. The env refuses
// to start an episode inside the warm-up, so warm-up NaNs are never observed.

// %%
const prices = panelFromBars(bars, "1 day");
const panel = computeFeaturePanel(prices, { set: "basic" });
const t = panel.timestamps.findIndex((x) => x >= Date.parse("2015-03-02T00:00:00Z"));
await showTable(pl.readRecords(panel.instruments.map((instrument, i) => ({
  instrument,
  date: new Date(panel.timestamps[t]).toISOString().slice(0, 10),
  ...Object.fromEntries(
    panel.names.map((name, f) => [
      name,
      panel.values[(t * panel.instruments.length + i) * panel.names.length + f],
    ]),
  ),
}))), 5);
console.log(
  `panel: ${panel.timestamps.length} bars × ${panel.instruments.length} instruments × ` +
    `${panel.names.length} features, warm-up ${panel.warmup} bars`,
);

// %% [markdown]
// ## Signals
//
// - **momentum**: `tanh(mom_20 / (vol_20 · √20))`, the 20-bar return in units of its expected
//   spread: a steady uptrend scores near +1;
// - **mean_reversion**: `−tanh(zscore_20 / 2)`: a close far above its 20-bar mean scores negative;
// - **combined**: their weighted mean (here equal weights), which stays in [-1, 1].
//
// Each row carries its rationale in `meta_json`.

// %%
const signals = computeSignals(wide);
await showTable(
  signals.filter(pl.col("instrument").eq(pl.lit("AAPL"))).sort("timestamp").tail(6),
);

// %%
await showTable(
  signals.groupBy("signal_name").agg(
    pl.col("score").count().alias("rows"),
    pl.col("score").mean().alias("mean"),
    pl.col("score").std().alias("std"),
    pl.col("score").min().alias("min"),
    pl.col("score").max().alias("max"),
  ).sort("signal_name"),
);

// %%
const common = signals.filter(pl.col("timestamp").gtEq(pl.lit(new Date("2013-05-13T00:00:00Z"))));
await showChart(signalPanelChart(
  common.select("instrument", "timestamp", "signal_name", "score").toRecords().map((r) => ({
    instrument: String(r.instrument),
    timestamp: r.timestamp as unknown as Date,
    name: String(r.signal_name),
    value: Number(r.score),
  })),
  { title: "Signal scores (blue: expect a fall, orange: expect a rise)" },
));

// %% [markdown]
// `refreshSignals` stores the three signals in `tt_signal_scores` (what `deno task signals`
// runs); they are read back here with `readSignalScores`.

// %%
const signalRefresh = await refreshSignals(store);
const scores = await readSignalScores(store, { instruments: ["SPX"], start: "2020-04-01" });
console.log(`${signalRefresh.rowsWritten} signal scores written`);
await showTable(pl.readRecords(scores.instrument.map((instrument, i) => ({
  instrument,
  timestamp: new Date(scores.timestamp[i]),
  signal: scores.signalName[i],
  score: scores.score[i],
}))).tail(6));

// %%
await store.close();
