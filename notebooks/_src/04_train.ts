// Source of notebooks/04_train.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 04 · Training a PPO agent
//
// `trainModel` is the whole training path in one call (the same one `deno task train` makes):
// stored bars → price and feature panels → K portfolio envs → PPO → a saved, **registered**
// model, with the metrics of every update (`tt_train_metrics`) and the training episodes
// (`tt_episode`, kind `train`) logged to the store as it goes.
//
// - **Training range**: by default the first 75 % of the instruments' common range
//   (AAPL and SPX: 2013-05-13 … 2017-02-09). The rest is kept for the out-of-sample evaluation in
//   `05_evaluate`; the model records its training range, and evaluation refuses to overlap it.
// - **Seeds**: one seed drives the network initialisation, the env starts and the action
//   sampling; the same seed and settings give the same weights to the bit.
// - **Budget**: a few thousand env steps so the notebook finishes in seconds. That is far too
//   little to learn a good policy; the point here is the machinery, and being honest about it.

// %%
import pl from "nodejs-polars";
import { listEpisodes, listModels, readEpisode, readTrainMetrics } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import {
  DEFAULT_ENV_SETTINGS,
  openSampleStore,
  storedRanges,
  trainModel,
  type TrainOptions,
} from "@lib/pipeline/mod.ts";
import { equityChart, showChart, showTable, trainingChart } from "@lib/viz/mod.ts";

// %%
// The notebooks' own store and models directory (data/notebooks/…), never yours (01_ingest).
const { store, modelsDir } = await openSampleStore("notebooks");
// Self-sufficient: load the sample data when it is not in the store (01_ingest explains it).
const stored = new Set((await storedRanges(store)).map((r) => r.instrument));
if (!stored.has("AAPL") || !stored.has("SPX")) await ingestSample(store, { silent: true });
console.log(`Store: ${store.description}`);

// %% [markdown]
// ## The settings
//
// The env settings a model is trained with are saved with it and reused, unchanged, when it is
// evaluated: action and reward scheme, observation window, commission and slippage, execution
// at the next bar's open.

// %%
// (Nested option objects, e.g. the allocation scheme's, and null are shown as JSON text.)
await showTable(pl.readRecords([Object.fromEntries(
  Object.entries(DEFAULT_ENV_SETTINGS).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : v]),
)]));

// %%
const options: TrainOptions = {
  symbols: ["AAPL", "SPX"],
  featureSet: "basic",
  steps: 4096,
  numEnvs: 4,
  seed: 1,
  // 64 steps per env per rollout: 16 PPO updates in 4096 steps, enough points for the curves.
  ppo: { nSteps: 64 },
  // Models go to data/notebooks/models/<name>-v<version>, beside the notebooks' store.
  modelsDir,
};
const result = await trainModel(store, options, {
  onStart: (i) =>
    console.log(
      `training on ${i.instruments.join(", ")} ${i.range.start} … ${i.range.end}, ` +
        `${i.totalTimesteps} steps, backend ${i.backend}`,
    ),
  onUpdate: (s) =>
    console.log(
      `update ${String(s.update).padStart(2)}  steps ${String(s.timesteps).padStart(5)}  ` +
        `policy loss ${s.policyLoss.toFixed(4)}  value loss ${s.valueLoss.toFixed(4)}  ` +
        `entropy ${s.entropy.toFixed(3)}  KL ${s.approxKl.toFixed(5)}`,
    ),
});

// %%
await showTable(pl.readRecords([{
  model_id: result.modelId,
  name: result.model.manifest.name,
  version: result.version,
  train_run: result.runId,
  instruments: result.instruments.join(", "),
  trained_from: result.range.start,
  trained_to: result.range.end,
  backend: result.backend,
  timesteps: result.summary.timesteps,
  updates: result.summary.updates,
  seconds: result.summary.seconds,
  steps_per_second: result.summary.stepsPerSec,
}]), 2);

// %% [markdown]
// ## Training curves
//
// Read back from `tt_train_metrics` (what the report and `deno task report` read). The episode
// return is the mean undiscounted reward sum of the one-year episodes finished in the last
// rollout (missing where none finished); entropy measures how random the Gaussian policy still is
// (it falls once the policy commits, which 4096 steps are too few for); the approximate KL shows
// how far each update moved the policy (PPO keeps it small by clipping).

// %%
const metrics = await readTrainMetrics(store, result.runId);
await showTable(pl.readRecords(metrics.map((m) => ({ ...m }))), 5);

// %%
await showChart(trainingChart(
  metrics.map((m) => ({
    update: m.updateIndex + 1,
    timesteps: m.timesteps,
    policyLoss: m.policyLoss,
    valueLoss: m.valueLoss,
    entropy: m.entropy,
    approxKl: m.approxKl,
    meanEpisodeReturn: m.meanEpisodeReturn,
  })),
  { title: `Training run ${result.runId}` },
));

// %% [markdown]
// ## Training episodes
//
// Env 0's episodes are logged like any other (`tt_episode`, `tt_equity_curve`, `tt_action`,
// `tt_reward` with the costs of each step, `tt_target_weights` with a rationale). Actions here are
// *sampled* (exploration), so these curves say little about the deterministic policy.

// %%
const episodes = await listEpisodes(store, { kind: "train", runId: result.runId });
await showTable(pl.readRecords(episodes.map((e) => ({
  episode: e.id,
  start: e.startTime,
  end: e.endTime,
  stop: e.stopReason,
  sharpe: e.sharpeRatio,
  max_drawdown: e.maxDrawdown,
  turnover_sum: e.turnover,
}))));

// %%
if (episodes.length > 0) {
  const detail = (await readEpisode(store, episodes[0].id))!;
  await showChart(equityChart({
    strategy: { name: `training episode ${episodes[0].id}`, timestamps: detail.equity.timestamp, equity: detail.equity.netWorth },
    title: "Last logged training episode (sampled actions)",
  }));
}

// %% [markdown]
// ## The model registry
//
// The model directory holds `model.json` (format, topology, the full config: env settings,
// feature names, instruments, training range, PPO settings, seed, code version) and the weights;
// `tt_models` registers it with a version per name.

// %%
await showTable(pl.readRecords((await listModels(store)).map((m) => ({
  id: m.id,
  name: m.name,
  version: m.version,
  path: m.path,
  created: m.createdAt,
}))));

// %%
const cfg = result.model.manifest.config;
await showTable(pl.readRecords([{
  obs_dim: cfg.policy.obsDim,
  hidden: cfg.policy.hidden.join("×"),
  action: cfg.policy.action.kind,
  features: cfg.features.names.join(", "),
  n_steps: cfg.ppo.nSteps,
  batch_size: cfg.ppo.batchSize,
  epochs: cfg.ppo.nEpochs,
  gamma: cfg.ppo.gamma,
  learning_rate: cfg.ppo.learningRate,
  normalize_obs: cfg.ppo.normalizeObs,
  seed: cfg.seed,
  code_version: cfg.codeVersion.slice(0, 12),
}]), 6);

// %% [markdown]
// ## Same seed, same model
//
// Train again with identical options under another registry name and compare every weight:
// seeded runs are reproducible to the bit (on the same backend).

// %%
const again = await trainModel(store, { ...options, name: "ppo-repro-check" });
const w1 = result.model.weights, w2 = again.model.weights;
const identical = w1.length === w2.length &&
  w1.every((w, k) => w.name === w2[k].name && w.values.every((v, j) => Object.is(v, w2[k].values[j])));
console.log(
  `${w1.reduce((n, w) => n + w.values.length, 0)} weights; ` +
    `run ${result.runId} vs run ${again.runId}: ${identical ? "bit-identical" : "DIFFERENT"}`,
);

// %%
await store.close();
