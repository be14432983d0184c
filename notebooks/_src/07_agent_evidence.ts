// Source of notebooks/07_agent_evidence.ipynb (build: deno task build).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 07 · An agent that holds up: per-asset policy, allocation from the benchmark, seeds, baselines
//
// The first agents of this project churned a random long/short book and lost to buy & hold by a
// wide margin. A new model is now **sound by design**, so that learning nothing costs little:
//
// - a **per-asset policy** (EIIE, Jiang, Xu & Liang 2017): one small network, shared by every
//   asset, scores each asset from its own feature window and current weight. It sees N× more
//   samples per parameter and runs on a universe of any size;
// - the **`allocation` action**: scores tilt the *benchmark's* weights through a softmax. With the
//   default base, zero scores hold exactly what an equal-weight buy & hold holds, and trade nothing
//   after the first buy;
// - a **rebalance band** (no trade for an asset whose target is within `band` of its weight) and
//   the **`log-return-scaled`** reward (100 × log net return: costs are inside it);
// - **several seeds** (one seed is an anecdote) and **baselines** beside buy & hold, all through the
//   same simulator and the same costs.
//
// This notebook trains three seeds on the embedded sample (AAPL and the S&P 500 index), evaluates
// them out of sample and shows the distribution and the baselines. The budget is small so that it
// runs in a minute; `deno task bench agent` runs the full workload (41 large caps, five seeds).

// %%
import pl from "nodejs-polars";
import { ingestSample } from "@lib/data/mod.ts";
import { DEFAULT_ENV_SETTINGS } from "@lib/env/mod.ts";
import {
  DEFAULT_TRAIN_OPTIONS,
  evaluateModel,
  evaluateModels,
  headlineMetrics,
  openSampleStore,
  storedRanges,
  trainSeeds,
} from "@lib/pipeline/mod.ts";
import { equityChart, showChart, showTable } from "@lib/viz/mod.ts";

// %%
// The notebooks' own store and models directory (data/notebooks/…), never yours (01_ingest).
const { store, modelsDir } = await openSampleStore("notebooks");
const stored = new Set((await storedRanges(store)).map((r) => r.instrument));
if (!stored.has("AAPL") || !stored.has("SPX")) await ingestSample(store, { silent: true });
console.log(
  `defaults of a new model: policy ${DEFAULT_TRAIN_OPTIONS.policy}, action ${DEFAULT_ENV_SETTINGS.action} ` +
    `(base ${DEFAULT_ENV_SETTINGS.allocation.base}), reward ${DEFAULT_ENV_SETTINGS.reward}, ` +
    `band ${DEFAULT_ENV_SETTINGS.band}, costs ${DEFAULT_ENV_SETTINGS.costPerTurnBps}+${DEFAULT_ENV_SETTINGS.slippageBps} bps`,
);

// %% [markdown]
// ## Three seeds, one configuration
//
// `trainSeeds` (what `deno task train --seeds 3` runs) trains one model per seed with the same
// settings and records a shared seed group in each.

// %%
const trained = await trainSeeds(store, {
  symbols: ["AAPL", "SPX"],
  start: "2013-05-13",
  end: "2016-12-30",
  steps: 6000,
  name: "nb07-agent",
  logEpisodes: "none",
  modelsDir,
}, [1, 2, 3]);
await showTable(pl.readRecords(trained.map((t) => ({
  seed: t.seed,
  model: t.modelId,
  steps_run: t.summary.timesteps,
  seconds: Number(t.summary.seconds.toFixed(1)),
}))));

// %% [markdown]
// ## Out of sample, against every baseline
//
// `evaluateModels` (what `deno task evaluate --model A,B,C` runs) evaluates each model on the same
// dates, at the evaluator's costs (the realistic defaults unless told otherwise), next to five
// baselines that go through the same simulator: equal-weight buy & hold, equal weight rebalanced
// (with the model's band), inverse volatility, the project's `combined` signal as a long-only tilt,
// and cash. The verdict is on the **median** seed, against the **best** baseline.

// %%
const ev = await evaluateModels(store, { models: trained.map((t) => String(t.modelId)) });
console.log(`evaluated ${ev.range.start} … ${ev.range.end} on ${ev.instruments.join(", ")}`);
await showTable(pl.readRecords(ev.results.map((r, i) => ({
  seed: r.model.manifest.config.seed,
  median: i === ev.medianIndex,
  sharpe: r.comparison.strategy.sharpe,
  total_return: r.comparison.strategy.totalReturn,
  max_drawdown: r.comparison.strategy.maxDrawdown,
  sharpe_minus_buy_hold: r.comparison.sharpeDifference.estimate,
  ci_low: r.comparison.sharpeDifference.lower,
  ci_high: r.comparison.sharpeDifference.upper,
}))));

// %%
const median = ev.results[ev.medianIndex];
await showTable(pl.readRecords([
  { series: "policy (median seed)", ...headlineMetrics(median.comparison.strategy) },
  ...ev.median.baselines.map((b) => ({ series: b.name, ...headlineMetrics(b.comparison.benchmark) })),
]));
console.log(ev.verdict);
console.log(median.survivorship.statement);

// %%
await showChart(equityChart({
  strategy: {
    name: "policy (median seed)",
    timestamps: median.trace.equityTimestamps,
    equity: median.trace.netWorth,
  },
  benchmark: {
    name: "equal-weight buy & hold",
    timestamps: median.benchmark.timestamps,
    equity: median.benchmark.equity,
  },
  title: "Out of sample: growth of 1",
}));

// %% [markdown]
// ## A universe given at evaluation time
//
// The per-asset network does not depend on the number of assets, so a model trained on AAPL and
// SPX can be evaluated on SPX alone (or on names it never saw, with the same features). A
// portfolio-level (`--policy mlp`) model refuses this, because its input and output sizes are its
// universe's.

// %%
const other = await evaluateModel(store, { model: String(median.model.manifest.modelId), symbols: ["SPX"] });
console.log(
  `on SPX alone: Sharpe ${other.comparison.strategy.sharpe.toFixed(2)} against ` +
    `${other.comparison.benchmark.sharpe.toFixed(2)} for buy & hold`,
);
await store.close();
