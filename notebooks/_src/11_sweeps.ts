// Source of notebooks/11_sweeps.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 11 · Sweeps: settings × seeds × folds as jobs, ranked out of sample
//
// One training run is an anecdote: another seed moves the Sharpe ratio by a whole unit, and the
// best of many settings looks good by luck. A **sweep** tries every setting of a grid (or a seeded
// random draw of it) with several seeds, optionally on walk-forward folds, as **one job per
// (setting, seed, fold)**. Each job trains and evaluates out of sample with the same code as
// `deno task train` + `deno task evaluate`.
//
// On a PostgreSQL server the jobs go to a pg-boss queue and `deno task worker` runs them on any
// number of machines (README, "More than one machine"); on the embedded store, as here, the same
// jobs run in this process one after another, with the same results. `deno task sweep` makes the
// same calls.

// %%
import pl from "nodejs-polars";
import { ingestSample } from "@lib/data/mod.ts";
import {
  parseGrid,
  parseSweepDefinition,
  planSweep,
  submitSweep,
  sweepStatus,
} from "@lib/jobs/mod.ts";
import { openSampleStore, storedRanges } from "@lib/pipeline/mod.ts";
import { showTable } from "@lib/viz/mod.ts";

// %%
// The notebooks' own store and models (data/notebooks/…), never yours (01_ingest explains it).
const { store, modelsDir } = await openSampleStore("notebooks");
const stored = new Set((await storedRanges(store)).map((r) => r.instrument));
if (!stored.has("AAPL") || !stored.has("SPX")) await ingestSample(store, { silent: true });

// %% [markdown]
// ## A tiny sweep
//
// Two learning rates × two entropy coefficients × three seeds = 12 jobs of 1024 steps each (far
// too few to trade; enough to show the machinery). The date ranges are resolved once, when the
// sweep is planned, so a job means the same thing on whichever worker runs it.

// %%
const definition = parseSweepDefinition({
  name: "nb-sweep",
  grid: parseGrid("lr=3e-4,1e-3 ent=0,0.01"),
  seeds: "1..3",
  symbols: ["AAPL", "SPX"],
  start: "2013-06-01",
  end: "2016-12-30",
  steps: 1024,
  numEnvs: 2,
});
const plan = await planSweep(store, definition);
console.log(
  `${plan.configurations} settings × ${definition.seeds.length} seeds × ${plan.folds} fold = ` +
    `${plan.jobs.length} jobs; train ${plan.jobs[0].train.start}..${plan.jobs[0].train.end}, ` +
    `test ${plan.jobs[0].test.start}..${plan.jobs[0].test.end}`,
);

// %%
const submitted = await submitSweep(store, plan, { modelsDir });
console.log(`sweep ${submitted.sweepId} (${submitted.mode}): ${submitted.completed} completed`);

// %% [markdown]
// ## The leaderboard
//
// Settings are ranked by the **median over seeds of the out-of-sample Sharpe ratio** (the IQR is
// its interval), never by in-sample reward and never by the best seed. The note says how many
// configurations were tried and gives the **deflated Sharpe ratio** of the winner (Bailey & López
// de Prado): the probability that its true Sharpe ratio beats what the best of that many tries
// reaches by luck alone.

// %%
const status = await sweepStatus(store, submitted.sweepId);
await showTable(pl.readRecords(status.leaderboard.rows.map((r) => ({
  rank: r.rank,
  setting: r.settingKey,
  median: Number(r.median.toFixed(3)),
  q1: Number(r.interval.q1.toFixed(3)),
  q3: Number(r.interval.q3.toFixed(3)),
  seeds: r.perSeed.map((s) => s.sharpe.toFixed(2)).join(" "),
  vsBuyAndHold: Number(r.medianVsBuyAndHold.toFixed(3)),
}))));
console.log(status.leaderboard.note);

// %% [markdown]
// ## Every job
//
// Each job ran once (`runs`), registered its model and logged its training metrics and its `eval`
// episode (its training episodes only when the definition sets `trainEpisodes`). The same job on
// another worker gives the same weights (`weightsSha256`).

// %%
await showTable(pl.readRecords(status.jobs.map((j) => ({
  job: j.key,
  state: j.state,
  setting: j.settingKey,
  seed: j.seed,
  runs: j.runs,
  model: j.modelId ?? "",
  sharpe: j.sharpe === null ? "" : j.sharpe.toFixed(3),
  weights: (j.weightsSha256 ?? "").slice(0, 12),
}))));
await store.close();
