// Source of notebooks/10_dashboard.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 10 · The dashboard: the store as served pages and JSON
//
// `deno task dashboard` serves read-only pages over the store: **Overview** (models with their
// aliases, evaluations, training and trading runs), **Model / evaluation** (equity against every
// baseline, drawdown, rolling Sharpe, weights, training curves, the verdict with its interval),
// **Risk attribution**, **Live monitoring** (the paper/IB book, updating by itself) and **Data**
// (quality heat map and coverage). Each page renders a JSON endpoint, and those endpoints are
// useful on their own.
//
// PGlite is single-process, and this notebook holds its store open, so the dashboard is started
// *in this process* on the notebook's own store (`storeAccessFrom(store)`): it serves through
// the process that owns the store. From a terminal, `deno task dashboard` opens the store per
// request instead and lets go in between (README, "Dashboard").

// %%
import pl from "nodejs-polars";
import { ingestSample } from "@lib/data/mod.ts";
import { openSampleStore, storedRanges } from "@lib/pipeline/mod.ts";
import { startDashboard, storeAccessFrom } from "@lib/server/mod.ts";
import { showTable } from "@lib/viz/mod.ts";

// %%
// The notebooks' own store (data/notebooks/…), never yours (01_ingest explains it).
const { store } = await openSampleStore("notebooks");
if ((await storedRanges(store)).length === 0) await ingestSample(store, { silent: true });
const dash = await startDashboard({ access: storeAccessFrom(store), port: 0 });
console.log(`dashboard at ${dash.url} (store: ${dash.store}) while this kernel runs this cell`);

// %% [markdown]
// ## Coverage, from `/api/data`
//
// First and last bar, bar count and the day classes of the quality report per instrument.

// %%
const data = await (await fetch(`${dash.url}/api/data`)).json();
await showTable(pl.readRecords(data.coverage));

// %% [markdown]
// ## Models and evaluations, from `/api/overview`
//
// Empty until a notebook (04, 05, 07, 08) or `deno task train` has trained a model here.

// %%
const overview = await (await fetch(`${dash.url}/api/overview`)).json();
if (overview.models.length) {
  await showTable(pl.readRecords(overview.models.map((m: Record<string, unknown>) => ({
    id: m.id,
    model: `${m.name}@v${m.version}`,
    aliases: (m.aliases as string[]).join(", "),
    seed: m.seed,
  }))));
} else console.log("no models in the notebooks' store yet");
console.log(`${overview.evaluations.length} evaluations, ${overview.training.length} training runs`);

// %%
await dash.close();
await store.close();
