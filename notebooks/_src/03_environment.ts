// Source of notebooks/03_environment.ipynb (build: deno run -A notebooks/_build.ts).
/// <reference lib="deno.unstable" />

// %% [markdown]
// # 03 · The portfolio environment
//
// A Gymnasium-style environment over N instruments plus cash. One `step`, decided at the
// **close of bar t**:
//
// 1. the **action scheme** maps the action to target weights, using only the weights held and
//    returns of bars ≤ t;
// 2. the **market simulator** executes them at the **next bar** (t+1, at its open by default):
//    commission and slippage are charged there, once, and the portfolio is marked at the close of
//    t+1;
// 3. the **reward scheme** scores (state at t, state at t+1); **stoppers** may terminate
//    (drawdown, bankruptcy);
// 4. the observation at t+1 comes back.
//
// So the agent never trades at a price it has already seen, and every trade pays costs.
// `terminated` means the episode really ended (a stopper fired); `truncated` means it ran out of
// data or steps (PPO bootstraps through it). Everything here is `lib/env` on the sample data.

// %%
import pl from "nodejs-polars";
import { ingestSample } from "@lib/data/mod.ts";
import {
  ACTION_NAMES,
  checkEnv,
  makePortfolioEnv,
  makePortfolioVecEnv,
  type Policy,
  REWARD_NAMES,
  runEpisode,
  sample,
} from "@lib/env/mod.ts";
import { computeMetrics, equalWeightBuyAndHold } from "@lib/eval/mod.ts";
import { loadMarket, openSampleStore, storedRanges } from "@lib/pipeline/mod.ts";
import { Rng } from "@lib/util/mod.ts";
import { equityChart, showChart, showTable, weightsChart } from "@lib/viz/mod.ts";

// %%
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

// The notebooks' own store (data/notebooks/pgdata), never yours (01_ingest explains it).
const { store } = await openSampleStore("notebooks");
// Self-sufficient: load the sample data when it is not in the store (01_ingest explains it).
const stored = new Set((await storedRanges(store)).map((r) => r.instrument));
if (!stored.has("AAPL") || !stored.has("SPX")) await ingestSample(store, { silent: true });
console.log(`Store: ${store.description}`);

// %% [markdown]
// ## The market slice
//
// `loadMarket` reads the bars, pivots them into a price panel on the union calendar and computes
// the feature panel (set `basic`: `return_1`, `vol_10`, `vol_20`). AAPL and SPX overlap from
// 2013-05-13 to 2018-05-11.

// %%
const market = await loadMarket(store, {
  symbols: ["AAPL", "SPX"],
  start: "2013-05-13",
  end: "2018-05-11",
  featureSet: "basic",
});
const { prices, features } = market;
const N = prices.instruments.length;
console.log(
  `${prices.instruments.join(", ")}: ${prices.timestamps.length} bars ` +
    `${market.range.start} … ${market.range.end}; features ${features.names.join(", ")} ` +
    `(warm-up ${features.warmup} bars)`,
);

// %% [markdown]
// ## Spaces and schemes
//
// Action schemes (pure maps from an action to target weights) and reward schemes are picked by
// name from typed registries. `vol-target` takes a score in [-1, 1] per instrument, normalises to
// gross ≤ 1 and scales the portfolio to a 10 % annualised volatility estimated from the last
// 20 returns (never a future one); `discrete` picks short / flat / long per instrument.

// %%
const envOptions = { costPerTurnBps: 10, slippageBps: 5, initialCash: 1_000_000 } as const;
await showTable(pl.readRecords(ACTION_NAMES.flatMap((action) =>
  REWARD_NAMES.map((reward) => {
    const env = makePortfolioEnv(prices, features, { ...envOptions, action, reward });
    const a = env.actionSpace;
    return {
      action,
      reward,
      observation: `box[${env.observationSpace.shape.join("×")}]`,
      action_space: a.kind === "box"
        ? `box[${a.shape.join("×")}] in [${a.low[0]}, ${a.high[0]}]`
        : a.kind === "multi_discrete"
        ? `multi_discrete[${a.nvec.join(", ")}]`
        : `discrete(${a.n})`,
      earliest_start: day(prices.timestamps[env.startRange.earliest]),
    };
  })
)));

// %% [markdown]
// The observation is `N · window · F + N` values: each instrument's F features over the
// window, then the N weights currently held.
//
// ## Checking the contract
//
// `checkEnv` (after Gymnasium's `check_env`) runs seeded random actions and reports every broken
// promise: observations in the space and `Float32Array`, finite rewards, info fields (costs,
// turnover, reward terms), a named stop reason, `step` after the end throwing, and bit-identical
// trajectories for the same seed.

// %%
await showTable(pl.readRecords(ACTION_NAMES.flatMap((action) =>
  REWARD_NAMES.map((reward) => {
    const report = checkEnv(() =>
      makePortfolioEnv(prices, features, { ...envOptions, action, reward, maxSteps: 60 })
    );
    return {
      action,
      reward,
      ok: report.ok,
      steps: report.steps,
      problems: report.problems.join("; ") || "none",
    };
  })
)));

// %% [markdown]
// ## One step, looked at closely
//
// Reset at the earliest bar after warm-up (all cash), then ask for scores `[+1, +1]` (long both).
// The decision uses the close of bar t; the fill happens at the **open of t+1** and the portfolio
// is marked at the close of t+1.

// %%
const env = makePortfolioEnv(prices, features, envOptions);
const start = env.startRange.earliest;
const first = env.reset({ start });
await showTable(pl.readRecords(
  prices.instruments.flatMap((instrument, i) =>
    features.names.map((feature, f) => ({
      instrument,
      bar: day(prices.timestamps[start]),
      feature,
      observed: first.observation[i * features.names.length + f],
    }))
  ).concat(prices.instruments.map((instrument, i) => ({
    instrument,
    bar: day(prices.timestamps[start]),
    feature: "weight held",
    observed: first.observation[N * features.names.length + i],
  }))),
), 6);

// %%
const step = env.step(new Float32Array([1, 1]));
await showTable(pl.readRecords(prices.instruments.map((instrument, i) => ({
  instrument,
  [`close ${day(prices.timestamps[start])} (decision)`]: prices.close[start * N + i],
  [`open ${day(prices.timestamps[start + 1])} (fill)`]: prices.open[(start + 1) * N + i],
  [`close ${day(prices.timestamps[start + 1])} (mark)`]: prices.close[(start + 1) * N + i],
  target_weight: step.info.targetWeights?.[i] ?? NaN,
  held_weight: step.info.weights[i],
}))), 4);

// %%
await showTable(pl.readRecords([{
  net_worth: step.info.netWorth,
  commission: step.info.cost ?? 0,
  slippage: step.info.slippage ?? 0,
  turnover: step.info.turnover ?? 0,
  reward: step.reward,
  ...step.info.rewardTerms,
  terminated: step.terminated,
  truncated: step.truncated,
}]), 6);

// %% [markdown]
// The weights are well below `[0.5, 0.5]`: `vol-target` scaled the equal-score portfolio to a
// 10 % annualised volatility. The `risk-aware` reward is the net return (gross return minus this
// step's costs, exactly) minus penalties on trailing volatility and drawdown; its terms are
// reported in every step's info and logged to `tt_reward`.
//
// ## Whole episodes with hand-written policies
//
// `runEpisode` resets at a fixed start and steps a policy to the end of the data (truncated,
// `end_of_data`). Three policies: **cash** (scores 0), **long both** (constant +1 scores,
// vol-targeted), and **random** (seeded uniform scores, a stand-in for an untrained agent).

// %%
const rng = new Rng(7);
const policies: Record<string, Policy> = {
  cash: () => new Float32Array(N),
  "long both": () => new Float32Array(N).fill(1),
  random: () => sample(env.actionSpace, rng),
};
const runs = Object.entries(policies).map(([name, policy]) => ({
  name,
  rec: runEpisode(makePortfolioEnv(prices, features, envOptions), policy, { start }),
}));
const startMs = prices.timestamps[start];
const endMs = prices.timestamps[prices.timestamps.length - 1];
const buyHold = equalWeightBuyAndHold(prices, {
  initialCash: envOptions.initialCash,
  costs: env.costs, // the env's own cost settings: same simulator, same costs
  from: startMs,
  to: endMs,
});
const metricsRow = (name: string, m: ReturnType<typeof computeMetrics>) => ({
  policy: name,
  total_return: m.totalReturn,
  ann_return: m.annualizedReturn,
  ann_vol: m.annualizedVolatility,
  sharpe: m.sharpe,
  max_drawdown: m.maxDrawdown,
  turnover_per_step: m.turnover ?? NaN,
  costs_paid: m.costsPaidFraction ?? NaN,
});
await showTable(pl.readRecords([
  ...runs.map(({ name, rec }) =>
    metricsRow(
      name,
      computeMetrics(rec.netWorth, {
        timestamps: rec.equityTimestamps,
        weights: rec.heldWeights,
        traded: rec.stepTurnover,
        costs: rec.costs,
        slippage: rec.slippage,
      }),
    )
  ),
  metricsRow(
    "equal-weight buy & hold",
    computeMetrics(buyHold.equity, {
      timestamps: buyHold.timestamps,
      weights: buyHold.weights,
      traded: buyHold.traded,
      costs: buyHold.costs,
      slippage: buyHold.slippage,
    }),
  ),
]));

// %% [markdown]
// Costs at work: the random policy turns over its whole book every day (what an untrained agent
// looks like) and costs eat it; cash earns exactly nothing. Below, "long both" against
// equal-weight buy & hold (same costs), then its weights: volatility targeting cuts exposure
// when recent volatility rises and raises it (up to gross 1) when markets are calm.

// %%
const longBoth = runs.find((r) => r.name === "long both")!.rec;
await showChart(equityChart({
  strategy: { name: "long both (vol-targeted)", timestamps: longBoth.equityTimestamps, equity: longBoth.netWorth },
  benchmark: { name: "equal-weight buy & hold", timestamps: buyHold.timestamps, equity: buyHold.equity },
  title: "Hand policy vs buy & hold, same costs",
}));

// %%
await showChart(weightsChart({
  timestamps: longBoth.equityTimestamps.slice(1),
  instruments: prices.instruments,
  rows: longBoth.heldWeights,
  title: "Long both (vol-targeted): weights held",
}));

// %% [markdown]
// ## Costs are really applied, and runs are reproducible
//
// The same seeded random policy under three cost settings: only the costs differ, and the final
// net worth falls as they rise. Running the same seed twice gives the same curve to the bit.

// %%
const randomRun = (costPerTurnBps: number, slippageBps: number, seed: number) => {
  const r = new Rng(seed);
  const e = makePortfolioEnv(prices, features, { ...envOptions, costPerTurnBps, slippageBps });
  return runEpisode(e, () => sample(e.actionSpace, r), { start });
};
await showTable(pl.readRecords([[0, 0], [10, 5], [50, 25]].map(([c, s]) => {
  const rec = randomRun(c, s, 11);
  return {
    commission_bps: c,
    slippage_bps: s,
    final_net_worth: rec.netWorth[rec.netWorth.length - 1],
    commission_paid: rec.costs.reduce((a, b) => a + b, 0),
    slippage_paid: rec.slippage.reduce((a, b) => a + b, 0),
  };
})), 2);
const a = randomRun(10, 5, 11), b = randomRun(10, 5, 11);
console.log(
  `same seed twice: ${a.netWorth.every((v, i) => Object.is(v, b.netWorth[i])) ? "identical" : "DIFFERENT"} ` +
    `(${a.rewards.length} steps, final ${a.netWorth[a.rewards.length].toFixed(2)})`,
);

// %% [markdown]
// ## The vectorised env PPO trains on
//
// `makePortfolioVecEnv` steps K envs together (env k seeded `seed + k`, so episodes start at
// different bars) with auto-reset: a finished env restarts at once and its last observation is
// kept in `finalObservations`. Training uses `maxSteps` (e.g. 252 bars) for episodes of one year.

// %%
const vec = makePortfolioVecEnv(prices, features, { ...envOptions, numEnvs: 4, seed: 100, maxSteps: 252 });
vec.reset(100);
const vrng = new Rng(3);
const actions = new Float32Array(vec.numEnvs * vec.actDim);
for (let k = 0; k < vec.numEnvs; k++) actions.set(sample(vec.actionSpace, vrng), k * vec.actDim);
const vstep = vec.step(actions);
await showTable(pl.readRecords(vstep.infos.map((info, k) => ({
  env: k,
  bar: day(info.timestamp),
  net_worth: info.netWorth,
  reward: vstep.rewards[k],
  cost: info.cost ?? 0,
}))), 6);
console.log(`observations: ${vec.numEnvs} × ${vec.obsDim}, actions: ${vec.numEnvs} × ${vec.actDim}`);

// %%
await store.close();
