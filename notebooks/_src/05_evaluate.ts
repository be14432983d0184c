// Source of notebooks/05_evaluate.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 05 · Out-of-sample evaluation
//
// A model is judged only on dates it was **not trained on**. `evaluateModel` (what
// `deno task evaluate` runs):
//
// - loads the saved policy and its frozen observation normaliser, and rebuilds the env with
//   the settings it was trained with (same costs, same execution at the next bar's open);
// - reads enough history before the start for the features' warm-up (read, never traded on);
// - runs one **deterministic** pass (the Gaussian policy's mean) from the day after the training
//   range to the end of the common data, and logs it as an `eval` episode;
// - builds an **equal-weight buy & hold** of the same universe, paying the same commission and
//   slippage, and logs it as a `benchmark` episode;
// - compares the two with the probabilistic Sharpe ratio and a block-bootstrap confidence interval
//   of the Sharpe difference, so the verdict says whether a difference is distinguishable from luck.
//
// The model trained in `04_train` is used when the registry has one; otherwise a small one is
// trained here first (4096 steps, seed 1).

// %%
import pl from "nodejs-polars";
import { listEpisodes, listModels } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import {
  evaluateModel,
  headlineMetrics,
  openSampleStore,
  storedRanges,
  trainModel,
  walkForward,
  writeEpisodeReport,
} from "@lib/pipeline/mod.ts";
import { drawdownChart, equityChart, rollingSharpeChart, showChart, showTable, weightsChart } from "@lib/viz/mod.ts";

// %%
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

// The notebooks' own store, models and reports (data/notebooks/…), never yours (01_ingest).
const { store, modelsDir, reportsDir } = await openSampleStore("notebooks");
// Self-sufficient: load the sample data when it is not in the store (01_ingest explains it) …
const stored = new Set((await storedRanges(store)).map((r) => r.instrument));
if (!stored.has("AAPL") || !stored.has("SPX")) await ingestSample(store, { silent: true });
// … and train a small model when none is registered (04_train explains it).
let [model] = await listModels(store, { name: "ppo-portfolio" });
if (!model) {
  const trained = await trainModel(store, {
    symbols: ["AAPL", "SPX"],
    featureSet: "basic",
    steps: 4096,
    seed: 1,
    ppo: { nSteps: 64 },
    modelsDir,
  });
  [model] = await listModels(store, { name: "ppo-portfolio" });
  console.log(`trained model ${trained.modelId} (no model was registered)`);
}
const trainedRange = (model.config as { dataRange: { start: string; end: string } }).dataRange;
console.log(
  `model ${model.id}: ${model.name} v${model.version}, trained on ${trainedRange.start} … ${trainedRange.end}`,
);

// %% [markdown]
// ## The evaluation

// %%
const ev = await evaluateModel(store, { model: String(model.id) });
const c = ev.comparison;
console.log(
  `${ev.inSample ? "IN-SAMPLE" : "out of sample"}: ${ev.range.start} … ${ev.range.end}, ` +
    `${ev.trace.rewards.length} steps, stopped by ${ev.trace.stopReason}; ` +
    `episodes ${ev.episodeId} (eval) and ${ev.benchmarkEpisodeId} (benchmark)`,
);
await showTable(pl.readRecords([
  { series: c.strategyName, ...headlineMetrics(c.strategy) },
  { series: c.benchmarkName, ...headlineMetrics(c.benchmark) },
]));

// %% [markdown]
// ### Is the difference luck?
//
// - **PSR vs 0**: probability that the strategy's true Sharpe ratio is above 0, given the observed
//   one, the sample length, skewness and kurtosis (Bailey & López de Prado).
// - **PSR vs benchmark**: the same against the benchmark's observed Sharpe ratio.
// - **Sharpe difference**: a stationary block-bootstrap interval of Sharpe(strategy) −
//   Sharpe(benchmark) on the same bars; when it contains 0 the data cannot tell them apart.

// %%
const d = c.sharpeDifference;
await showTable(pl.readRecords([{
  psr_vs_zero: c.psrVsZero,
  psr_vs_benchmark: c.psrVsBenchmark,
  sharpe_difference: d.estimate,
  ci_lower: d.lower,
  ci_upper: d.upper,
  confidence: d.confidence,
  p_value: d.pValue,
  significant: d.significant,
  alpha: c.alphaBeta.alpha,
  beta: c.alphaBeta.beta,
  information_ratio: c.activeRisk.informationRatio,
  tracking_error: c.activeRisk.trackingError,
}]));
console.log(c.verdict);

// %% [markdown]
// ## Charts
//
// Both curves start at the close of the first evaluation day, with the same cash. The benchmark
// pays its one buy's costs; the strategy pays costs every time it rebalances.

// %%
const strategyCurve = { name: c.strategyName, timestamps: ev.trace.equityTimestamps, equity: ev.trace.netWorth };
const benchmarkCurve = { name: c.benchmarkName, timestamps: ev.benchmark.timestamps, equity: ev.benchmark.equity };
await showChart(equityChart({ strategy: strategyCurve, benchmark: benchmarkCurve, title: "Out of sample: growth of 1" }));

// %%
await showChart(drawdownChart({ strategy: strategyCurve, benchmark: benchmarkCurve }));

// %%
await showChart(rollingSharpeChart({ strategy: strategyCurve, benchmark: benchmarkCurve, window: 63 }));

// %%
await showChart(weightsChart({
  timestamps: ev.trace.rewardTimestamps,
  instruments: ev.trace.instruments,
  rows: ev.trace.heldWeights,
  // Shorts make cash exceed 100 %; the cash band would then read like extra exposure.
  showCash: false,
  title: "Weights held by the policy (cash = 1 − sum)",
}));

// %% [markdown]
// ## The decisions, step by step
//
// Each action is decided at a bar's close and marked at the next bar (filled at its open):
// `decided` is always one bar before `marked`. Commission and slippage are charged at the fill.

// %%
const n = ev.trace.instruments.length;
await showTable(pl.readRecords(ev.trace.rewards.slice(0, 8).map((reward, k) => ({
  decided: day(ev.trace.decisionTimestamps[k]),
  marked: day(ev.trace.rewardTimestamps[k]),
  ...Object.fromEntries(ev.trace.instruments.map((s, i) => [`target_${s}`, ev.trace.targetWeights[k * n + i]])),
  net_worth: ev.trace.netWorth[k + 1],
  commission: ev.trace.costs[k],
  slippage: ev.trace.slippage[k],
  reward,
}))), 5);

// %% [markdown]
// ## Guard rails
//
// Evaluating on the training range, or on another universe than the model's, is refused with a
// message that says why (the observation holds every instrument's features and weights, so the
// network is tied to its universe). An in-sample run is possible only when asked for, and is
// labelled as such in the episode.

// %%
for (const attempt of [
  { label: "training range", options: { start: trainedRange.start, end: trainedRange.end } },
  { label: "SPX only", options: { symbols: ["SPX"] } },
]) {
  try {
    await evaluateModel(store, { model: String(model.id), ...attempt.options });
    console.log(`${attempt.label}: accepted (unexpected)`);
  } catch (e) {
    console.log(`${attempt.label}: refused by ${(e as Error).name}\n  ${(e as Error).message}\n`);
  }
}

// %% [markdown]
// Every evaluation is an episode in the store, next to its benchmark:

// %%
await showTable(pl.readRecords((await listEpisodes(store, { modelId: model.id })).filter((e) => e.kind !== "train").map((e) => ({
  episode: e.id,
  kind: e.kind,
  start: e.startTime,
  end: e.endTime,
  stop: e.stopReason,
  sharpe: e.sharpeRatio,
  max_drawdown: e.maxDrawdown,
}))));

// %% [markdown]
// ## Walk-forward
//
// One split is one draw. Walk-forward trains a fresh model on each rolling window (2 years) and
// evaluates it on the following year it never saw, then reports every fold and the aggregate;
// the out-of-sample years are stitched into one curve. (2048 steps per fold here: a smoke run of
// the procedure, not a tuned model.)

// %%
const wf = await walkForward(
  store,
  {
    train: { symbols: ["AAPL", "SPX"], featureSet: "basic", steps: 2048, seed: 1, ppo: { nSteps: 64 }, modelsDir },
    trainYears: 2,
    testYears: 1,
  },
  {
    onFold: (i, total, train, test) =>
      console.log(`fold ${i + 1}/${total}: train ${train.start} … ${train.end}, test ${test.start} … ${test.end}`),
  },
);
await showTable(pl.readRecords(wf.folds.map((f) => ({
  fold: f.index,
  test_start: f.test.start,
  test_end: f.test.end,
  model: f.modelId,
  sharpe: f.strategy.sharpe,
  benchmark_sharpe: f.benchmark.sharpe,
  total_return: f.strategy.totalReturn,
  benchmark_return: f.benchmark.totalReturn,
  sharpe_diff_lower: f.sharpeDifference.lower,
  sharpe_diff_upper: f.sharpeDifference.upper,
  psr: f.psr,
}))));

// %%
const agg = (a: typeof wf.aggregate.strategy) => ({
  folds: a.folds,
  positive_folds: a.positiveFolds,
  mean_sharpe: a.metrics.sharpe?.mean ?? NaN,
  median_sharpe: a.metrics.sharpe?.median ?? NaN,
  mean_total_return: a.metrics.totalReturn?.mean ?? NaN,
  worst_drawdown: a.metrics.maxDrawdown?.max ?? NaN,
});
await showTable(pl.readRecords([
  { series: "PPO (per fold)", ...agg(wf.aggregate.strategy) },
  { series: "buy & hold (per fold)", ...agg(wf.aggregate.benchmark) },
]));
if (wf.stitched) {
  await showChart(equityChart({
    strategy: { name: "PPO, out-of-sample folds", ...wf.stitched.strategy },
    benchmark: { name: "equal-weight buy & hold", ...wf.stitched.benchmark },
    title: "Walk-forward: stitched out-of-sample curves",
  }));
}

// %% [markdown]
// ## The HTML report
//
// One self-contained file (inline SVG charts, metrics, the benchmark comparison with its interval,
// config and data lineage), the same one `deno task report --episode N` writes.

// %%
const report = await writeEpisodeReport(
  store,
  { episodeId: ev.episodeId },
  `${reportsDir}/episode-${ev.episodeId}.html`,
);
console.log(`report of episode ${report.episodeId}: ${report.path}`);

// %%
await store.close();
