// Source of notebooks/12_alternative_data.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 12 · Alternative data, point in time: as-of features and training with them
//
// Earnings surprises, announced dates, sentiment scores and insider trades are where look-ahead
// hides: a figure stamped with the period it describes instead of the moment it was published, a
// score revised later, a date moved. Every value in `tt_alt_data` therefore carries both its
// `event_time` (what it describes) and its `known_at` (when it could first have been seen), and a
// revision is a new row with a later `known_at`.
//
// The as-of features at bar t read only values known at or before t's **decision time**: the
// bar's close in New York (16:00 America/New_York on a daily bar's session date, 13:00 on NYSE
// early closes).
//
// **The values below are GENERATED** (`syntheticAltValues`, source `"generated"`), not real
// earnings or sentiment: no vendor is reachable from here.

// %%
import pl from "nodejs-polars";
import { readAltValues, upsertAltValues } from "@lib/db/mod.ts";
import { decisionTimes, ingestSample } from "@lib/data/mod.ts";
import { joinAltFeatures, resolveFeatureSpec, syntheticAltValues } from "@lib/features/mod.ts";
import { loadMarket, openSampleStore, storedRanges, trainModel } from "@lib/pipeline/mod.ts";
import { showTable } from "@lib/viz/mod.ts";

// %%
// The notebooks' own store and models (data/notebooks/…), never yours (01_ingest explains it).
const { store, modelsDir } = await openSampleStore("notebooks");
const stored = new Set((await storedRanges(store)).map((r) => r.instrument));
if (!stored.has("AAPL") || !stored.has("SPX")) await ingestSample(store, { silent: true });

// %% [markdown]
// ## Generated values, written to `tt_alt_data`
//
// Quarterly earnings reports (published after the close, some revised weeks later), their dates
// announced weeks ahead, daily sentiment scores (some known only the next day), sparse insider
// trades filed days later, and a generic `generated:score` series. Writing them twice inserts
// nothing the second time.

// %%
const market = await loadMarket(store, { symbols: ["AAPL", "SPX"], featureSet: "basic" });
// Each instrument's values over its own bars (AAPL's sample starts in 2013, SPX's in 2000).
const generated = market.prices.instruments.flatMap((symbol, i) => {
  const N = market.prices.instruments.length;
  const own = market.prices.timestamps.filter((_, t) =>
    Number.isFinite(market.prices.close[t * N + i])
  );
  return syntheticAltValues([symbol], own, { seed: 12 + i });
});
const inserted = await upsertAltValues(store, generated);
console.log(
  `${generated.length} generated values, ${inserted} new rows (0 on a rerun of this notebook)`,
);
const aaplEarnings = await readAltValues(store, {
  instruments: ["AAPL"],
  fields: ["eps_surprise_pct"],
});
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");
await showTable(
  pl.readRecords(aaplEarnings.slice(0, 8).map((v) => ({
    source: v.source,
    field: v.field,
    event_time: iso(v.eventTime),
    known_at: iso(v.knownAt),
    value: v.value,
  }))),
  8,
);

// %% [markdown]
// ## A revision published after t does not change the feature at t
//
// Take an AAPL report and the first close after it was published: `earnings_surprise_last` there
// is the first print. Now add a revision published one day later (in memory only). The feature at
// that close is unchanged; from the first close after the revision's `known_at` on it is the
// revised figure.

// %%
const prices = market.prices;
const D = decisionTimes(prices.timestamps, prices.barSize);
const report = aaplEarnings.find((v) => v.knownAt > Date.UTC(2015, 0, 1))!;
const t = D.findIndex((d) => d >= report.knownAt);
const revision = {
  ...report,
  knownAt: D[t] + 86_400_000,
  value: report.value + 1.5,
  meta: { generated: true, note: "revision" },
};
const aaplValues = generated.filter((v) => v.instrument === "AAPL");
const names = ["earnings_surprise_last", "days_since_earnings", "days_to_next_earnings"];
const before = joinAltFeatures(prices, names, aaplValues);
const after = joinAltFeatures(prices, names, [...aaplValues, revision]);
const n = prices.instruments.length, F = names.length;
const i = prices.instruments.indexOf("AAPL");
await showTable(
  pl.readRecords([t - 1, t, t + 1, t + 2].map((bar) => ({
    bar: iso(prices.timestamps[bar]).slice(0, 10),
    decision_time: iso(D[bar]),
    surprise_without_revision: before[(bar * n + i) * F],
    surprise_with_revision: after[(bar * n + i) * F],
    days_since_earnings: after[(bar * n + i) * F + 1],
    days_to_next_earnings: after[(bar * n + i) * F + 2],
  }))),
  4,
);
console.log(
  `report published ${iso(report.knownAt)} (UTC), revision ${iso(revision.knownAt)}: ` +
    `at bar t the two agree (${before[(t * n + i) * F]} = ${after[(t * n + i) * F]})`,
);

// %% [markdown]
// ## Training with alternative-data features
//
// The same spec `deno task train --with-features …` takes: sets and feature names, the generic
// `alt:<source>:<field>` with a decay (half-life in bars) or a window. The model's config saves
// the spec and the resolved names; `evaluate` and `trade` rebuild them from `tt_alt_data` with
// the same decision-time rule. 2048 steps: far too few to trade, enough to show the path.

// %%
const spec = "basic,earnings_surprise_last,days_since_earnings,days_to_next_earnings," +
  "sentiment_mean_5d,insider_net_30d,alt:generated:score:decay=5";
console.log(resolveFeatureSpec(spec).join(", "));
const result = await trainModel(store, {
  symbols: ["AAPL", "SPX"],
  start: "2013-06-03",
  end: "2016-12-30",
  featureSet: spec,
  steps: 2048,
  numEnvs: 2,
  seed: 1,
  name: "nb-alt-data",
  modelsDir,
});
const cfg = result.model.manifest.config;
await showTable(
  pl.readRecords([{
    model: `${cfg.features.set.slice(0, 30)}… (id ${result.modelId})`,
    observed: cfg.features.names.length,
    names: cfg.features.names.join(", "),
  }]),
  1,
);

// %%
await store.close();
