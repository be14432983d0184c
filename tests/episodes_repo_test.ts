import assert from "node:assert/strict";
import {
  findBenchmarkEpisode,
  linkRunEpisodes,
  listEpisodes,
  logEpisode,
  readEpisode,
  readTargetWeights,
  registerModel,
  startTrainRun,
} from "@lib/db/mod.ts";
import type { EpisodeLog } from "@lib/db/mod.ts";
import { storeFactories } from "./support/stores.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2020, 0, 2);

function sampleEpisode(overrides: Partial<EpisodeLog> = {}): EpisodeLog {
  // Two instruments, three steps: decisions on days 0..2, rewards/equity on days 1..3.
  return {
    kind: "eval",
    stopReason: "end_of_data",
    maxDrawdown: 0.02,
    sharpeRatio: 1.5,
    turnover: 1.25,
    config: { seed: 7, dbUrl: "postgres://tt:hunter2@db/x", data: { start: "2020-01-02" } },
    instruments: ["AAPL", "SPX"],
    decisionTimestamps: [T0, T0 + DAY, T0 + 2 * DAY],
    actions: [0.1, -0.2, 0.3, 0.4, 0.5, -0.6],
    targetWeights: [0.5, 0.5, 0.25, 0.75, 0, 1],
    rewardTimestamps: [T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY],
    rewards: [0.01, -0.02, 0.005],
    costs: [0.1, 0, 0.05],
    slippage: [0.05, 0, 0.025],
    stepTurnover: [1, 0, 0.5],
    equityTimestamps: [T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY],
    netWorth: [100, 101, 98.98, 99.4749],
    strategy: "ppo",
    rationale: ["first", "second", "third"],
    ...overrides,
  };
}

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] logEpisode() writes the episode and all four detail tables, readEpisode() returns them`, async () => {
    const store = await factory.open();
    try {
      const id = await logEpisode(store, sampleEpisode());
      const ep = await readEpisode(store, id);
      assert.ok(ep);
      assert.equal(ep.episode.kind, "eval");
      assert.equal(ep.episode.stopReason, "end_of_data");
      assert.equal(ep.episode.maxDrawdown, 0.02);
      assert.equal(ep.episode.sharpeRatio, 1.5);
      assert.equal(ep.episode.turnover, 1.25);
      assert.equal(ep.episode.startTime?.getTime(), T0);
      assert.equal(ep.episode.endTime?.getTime(), T0 + 3 * DAY);
      assert.equal(ep.episode.config.seed, 7);
      assert.equal(ep.episode.config.dbUrl, "postgres://tt:***@db/x", "config is redacted");
      assert.deepEqual(ep.equity.netWorth, [100, 101, 98.98, 99.4749]);
      assert.deepEqual(ep.equity.timestamp, [T0, T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY]);
      assert.deepEqual(ep.rewards.reward, [0.01, -0.02, 0.005]);
      assert.deepEqual(ep.rewards.timestamp, [T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY]);
      assert.deepEqual(ep.rewards.cost, [0.1, 0, 0.05]);
      assert.deepEqual(ep.rewards.slippage, [0.05, 0, 0.025]);
      assert.deepEqual(ep.rewards.turnover, [1, 0, 0.5]);
      assert.deepEqual(ep.actions.label, ["AAPL", "SPX", "AAPL", "SPX", "AAPL", "SPX"]);
      assert.deepEqual(ep.actions.value, [0.1, -0.2, 0.3, 0.4, 0.5, -0.6]);
      assert.deepEqual(ep.weights.value, [0.5, 0.5, 0.25, 0.75, 0, 1]);
      assert.deepEqual(ep.weights.timestamp, [
        T0,
        T0,
        T0 + DAY,
        T0 + DAY,
        T0 + 2 * DAY,
        T0 + 2 * DAY,
      ]);
      assert.deepEqual(ep.weights.rationale, [
        "first",
        "first",
        "second",
        "second",
        "third",
        "third",
      ]);
      assert.ok(ep.weights.strategy.every((s) => s === "ppo"));
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] logEpisode() writes nothing when array lengths disagree`, async () => {
    const store = await factory.open();
    try {
      await assert.rejects(
        () => logEpisode(store, sampleEpisode({ rewards: [0.01] })),
        (e: Error) => e instanceof TypeError && /rewards has 1 values, expected 3/.test(e.message),
      );
      assert.deepEqual(await listEpisodes(store), []);
      // A failure inside the transaction (duplicate equity timestamp → primary key) rolls back the episode row.
      await assert.rejects(() =>
        logEpisode(store, sampleEpisode({ kind: "train", actionLabels: ["a", "a"] }))
      );
      assert.deepEqual(await listEpisodes(store), []);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] listEpisodes() filters by kind and model, newest first`, async () => {
    const store = await factory.open();
    try {
      const m = await registerModel(store, { name: "ppo-portfolio", path: "/tmp/m1", config: {} });
      const a = await logEpisode(store, sampleEpisode({ kind: "train", modelId: m.id }));
      const b = await logEpisode(
        store,
        sampleEpisode({ kind: "eval", modelId: m.id, rationale: "same" }),
      );
      const c = await logEpisode(
        store,
        sampleEpisode({
          kind: "benchmark",
          strategy: "equal_weight",
          costs: undefined,
          slippage: undefined,
          stepTurnover: undefined,
        }),
      );
      assert.deepEqual((await listEpisodes(store)).map((e) => e.id), [c, b, a]);
      assert.deepEqual((await listEpisodes(store, { modelId: m.id })).map((e) => e.id), [b, a]);
      assert.deepEqual((await listEpisodes(store, { kind: "benchmark" })).map((e) => e.id), [c]);
      const eb = await readEpisode(store, b);
      assert.ok(eb?.weights.rationale.every((r) => r === "same"));
      assert.deepEqual(
        (await readEpisode(store, c))?.rewards.cost,
        [null, null, null],
        "costs not logged read back as null",
      );
      assert.equal(await readEpisode(store, 999_999), null);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] linkRunEpisodes() links only the run's episodes to its model`, async () => {
    const store = await factory.open();
    try {
      const runId = await startTrainRun(store, { seed: 1 });
      const other = await startTrainRun(store, { seed: 2 });
      const a = await logEpisode(store, sampleEpisode({ kind: "train", runId }));
      const b = await logEpisode(store, sampleEpisode({ kind: "train", runId }));
      const c = await logEpisode(store, sampleEpisode({ kind: "train", runId: other }));
      const m = await registerModel(store, { name: "ppo-portfolio", path: "/m", config: {} });
      assert.equal(await linkRunEpisodes(store, runId, m.id), 2);
      assert.deepEqual((await listEpisodes(store, { modelId: m.id })).map((e) => e.id), [b, a]);
      assert.equal((await readEpisode(store, c))?.episode.modelId, null);
      assert.equal(await linkRunEpisodes(store, 999_999, m.id), 0);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] findBenchmarkEpisode() finds the newest benchmark logged with an eval`, async () => {
    const store = await factory.open();
    try {
      const ev = await logEpisode(store, sampleEpisode({ kind: "eval" }));
      assert.equal(await findBenchmarkEpisode(store, ev), null);
      const bench = (evalEpisodeId: number) =>
        logEpisode(
          store,
          sampleEpisode({ kind: "benchmark", strategy: "bh", config: { evalEpisodeId } }),
        );
      await bench(ev);
      const newer = await bench(ev);
      await bench(ev + 1000);
      // An eval episode whose config names the id is not a benchmark.
      await logEpisode(store, sampleEpisode({ kind: "eval", config: { evalEpisodeId: ev } }));
      assert.equal(await findBenchmarkEpisode(store, ev), newer);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] readTargetWeights() returns long rows ordered by time and instrument`, async () => {
    const store = await factory.open();
    try {
      const id = await logEpisode(store, sampleEpisode());
      const rows = await readTargetWeights(store, id);
      assert.deepEqual(rows.slice(0, 3), [
        { timestamp: T0, instrument: "AAPL", weight: 0.5 },
        { timestamp: T0, instrument: "SPX", weight: 0.5 },
        { timestamp: T0 + DAY, instrument: "AAPL", weight: 0.25 },
      ]);
      assert.deepEqual(rows.map((r) => r.weight), [0.5, 0.5, 0.25, 0.75, 0, 1]);
      assert.deepEqual(await readTargetWeights(store, 999_999), []);
    } finally {
      await store.close();
    }
  });
}
