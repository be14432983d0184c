// Source of notebooks/08_model_registry.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 08 · The model registry: versions, aliases, rollback, A/B, drift, retraining
//
// Every training run registers a **version** of a model name in `tt_models` (`ppo-portfolio`
// v1, v2, …) with the checksums of its files. An **alias** names one version: `champion` is
// what trading and evaluation use, `challenger` what is being tried, any other name works.
// Everywhere a model is named (`evaluate`, `report`, `train --resume`, `trade`) these work:
//
// | reference | names |
// | --- | --- |
// | `12` | `tt_models` id 12 |
// | `ppo-portfolio@v3` | version 3 |
// | `ppo-portfolio@latest` | the newest version |
// | `ppo-portfolio@champion` | whatever the alias points at now |
//
// Moving an alias is recorded with who, when and why; a **rollback** undoes the newest change
// still in effect (repeated rollbacks go further back) and a **restore** re-applies a rolled-back
// change, so every earlier state can be reached again. `deno task models` makes the same calls.

// %%
import pl from "nodejs-polars";
import { aliasEvents } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import { refreshFeatures } from "@lib/features/mod.ts";
import {
  compareModels,
  computeModelDrift,
  describeModel,
  listModelSummaries,
  lookupModelRef,
  restoreAlias,
  rollbackAlias,
  setAlias,
} from "@lib/models/mod.ts";
import {
  evaluateModel,
  headlineMetrics,
  openSampleStore,
  performanceDriftOf,
  replayShadow,
  runTriggers,
  storedRanges,
  trainModel,
} from "@lib/pipeline/mod.ts";
import { showTable } from "@lib/viz/mod.ts";

// %%
// The notebooks' own store and models (data/notebooks/…), never yours (01_ingest explains it).
const { store, modelsDir } = await openSampleStore("notebooks");
const stored = new Set((await storedRanges(store)).map((r) => r.instrument));
if (!stored.has("AAPL") || !stored.has("SPX")) await ingestSample(store, { silent: true });

// %% [markdown]
// ## Two versions
//
// Two small runs under one name (4096 steps each, seeds 1 and 2; far too few to trade, enough to
// show the registry). Each becomes the next version of `registry-demo`.

// %%
const name = "registry-demo";
for (const seed of [1, 2]) {
  await trainModel(store, {
    name,
    symbols: ["AAPL", "SPX"],
    featureSet: "basic",
    steps: 4096,
    seed,
    ppo: { nSteps: 64 },
    modelsDir,
  });
}
const versions = await listModelSummaries(store, { name });
await showTable(pl.readRecords(versions.slice(0, 2).map((m) => ({
  id: m.id,
  ref: `${m.name}@v${m.version}`,
  seed: m.seed,
  trained: m.trainRange ? `${m.trainRange.start} … ${m.trainRange.end}` : "",
  aliases: m.aliases.join(", "),
}))));

// %% [markdown]
// ## Aliases
//
// The older of the two becomes `champion`, then the newer replaces it. Evaluation takes the
// alias like any other reference.

// %%
const [newer, older] = versions;
const resolve = (ref: string) => lookupModelRef(store, ref);
await setAlias(store, await resolve(`${name}@v${older.version}`), "champion", {
  who: "notebook",
  why: "first version",
});
await setAlias(store, await resolve(`${name}@v${newer.version}`), "champion", {
  who: "notebook",
  why: "second seed",
});
const champion = await resolve(`${name}@champion`);
console.log(`${name}@champion is model ${champion.id} (v${champion.version})`);
const ev = await evaluateModel(store, { model: `${name}@champion` });
console.log(`evaluated ${name}@champion (model ${ev.model.manifest.modelId}) on ${ev.range.start} … ${ev.range.end}`);
await showTable(pl.readRecords([
  { series: ev.comparison.strategyName, ...headlineMetrics(ev.comparison.strategy) },
  { series: ev.comparison.benchmarkName, ...headlineMetrics(ev.comparison.benchmark) },
]));

// %% [markdown]
// ## Rollback and restore
//
// A rollback moves `champion` back to the version it named before its last change; a restore
// undoes the rollback. The history keeps every step.

// %%
await rollbackAlias(store, name, "champion", { who: "notebook", why: "drawdown in paper" });
console.log(`after rollback: champion = v${(await resolve(`${name}@champion`)).version}`);
await restoreAlias(store, name, "champion", { who: "notebook", why: "the drawdown was the market" });
console.log(`after restore:  champion = v${(await resolve(`${name}@champion`)).version}`);
await showTable(pl.readRecords((await aliasEvents(store, name, "champion")).map((e) => ({
  event: e.id,
  at: e.at.toISOString().slice(0, 19),
  action: e.action,
  from: e.previousModelId ?? "",
  to: e.modelId ?? "",
  who: e.who,
  why: e.why ?? "",
}))));

// %% [markdown]
// ## What the registry knows about a model
//
// `describeModel` (`deno task models show REF`) gathers lineage, settings, the latest training
// metrics and evaluations, and checks the files against the checksums recorded at save time: a
// directory edited after it was registered shows `changed`, and loading it is refused.

// %%
const d = await describeModel(store, champion);
console.log(JSON.stringify(
  {
    ref: `${d.name}@v${d.version}`,
    aliases: d.aliases,
    trainedRanges: d.trainedRanges,
    universe: d.instruments,
    features: `${d.featureSet} (${d.features.length})`,
    backend: d.backend,
    codeVersion: d.codeVersion,
    files: d.files,
    evaluations: d.evaluations.map((e) => ({ episode: e.episodeId, sharpe: e.sharpe })),
  },
  null,
  2,
));

// %% [markdown]
// ## Champion and challenger on the same bars
//
// The other version becomes `challenger` and trades in **shadow**: the same trading cycle on the
// same bars as the champion, filled by the paper broker in its own book (it would never reach IB).
// `deno task trade --model NAME@champion --shadow NAME@challenger --start … --end …` does the same;
// `--split 0.8` would share the capital instead. Then `compareModels` (`deno task models compare`)
// reads the two books: the Sharpe difference with the evaluation's block-bootstrap interval and a
// verdict. A few hundred bars rarely settle it, and the report says how many more would be needed
// at the observed difference — a projection, not a reason to look again every day.

// %%
const challenger = await resolve(`${name}@v${older.version}`);
await setAlias(store, challenger, "challenger", { who: "notebook", why: "the other seed" });
const ab = await replayShadow(store, {
  champion: `${name}@champion`,
  challenger: `${name}@challenger`,
  start: ev.range.start,
  end: ev.range.end,
});
const cmp = await compareModels(store, await resolve(`${name}@champion`), challenger);
await showTable(pl.readRecords([
  { book: "champion", run: ab.champion.runId, ...headlineMetrics(ab.champion.metrics) },
  { book: "challenger", run: ab.challenger.runId, ...headlineMetrics(ab.challenger.metrics) },
]));
console.log(`${cmp.verdict}: ${cmp.text}`);

// %% [markdown]
// ## Drift
//
// **Feature drift**: each observed feature and instrument over the last 63 bars against the
// training data (PSI and KS, calibrated on windows of the training data). **Performance drift**:
// the champion's book against its backtest (the evaluation episode over the same bars): tracking
// error, cumulative difference, and how often block-bootstrap paths of the backtest draw down as
// deep or return as little. Both are stored (`tt_drift_runs`) and shown by `models show`.

// %%
// Feature drift reads the stored features (`deno task features`).
await refreshFeatures(store, { set: "basic" });
const fd = await computeModelDrift(store, await resolve(`${name}@champion`), { window: 63 });
console.log(
  `feature drift: ${fd.drifted ? "DRIFTED" : "none"} — ${fd.driftedPairs} of ${fd.pairs} pairs moved`,
);
const pd = await performanceDriftOf(store, await resolve(`${name}@champion`), {
  runId: ab.champion.runId,
});
await showTable(pl.readRecords([{
  drifted: pd.drifted,
  returns: pd.bars,
  totalReturn: pd.live.totalReturn,
  backtestMedian: pd.expected.medianReturn,
  pReturn: pd.pReturn,
  maxDrawdown: pd.live.maxDrawdown,
  pDrawdown: pd.pDrawdown,
  trackingError: pd.sameBars?.trackingError ?? null,
}]));

// %% [markdown]
// ## A retraining trigger
//
// Rule: retrain every 20 new bars since the training data ended. It fires, enqueues a job and
// runs it in-process: the champion is resumed on the newest 500 bars before a held-back tail of
// 126, evaluated out of sample on the tail against the champion on the same tail, and registered
// as `challenger`. It never promotes itself (`--auto-promote` would, on the verdict `promote` only).

// %%
const trig = await runTriggers(store, await resolve(`${name}@champion`), { everyBars: 20 }, {
  run: true,
  trainBars: 500,
  holdoutBars: 126,
  steps: 2048,
  modelsDir,
});
console.log(trig.fired.map((f) => `${f.rule}: ${f.detail}`).join("\n"));
const o = trig.outcome!;
console.log(
  `job ${o.jobId}: model ${o.challengerModelId} (v${o.challengerVersion}) is ${name}@challenger; ` +
    `champion still model ${(await resolve(`${name}@champion`)).id}; on the tail: ${o.verdict}`,
);
await store.close();
