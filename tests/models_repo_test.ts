import assert from "node:assert/strict";
import {
  deleteModel,
  finishTrainRun,
  latestModel,
  listEpisodes,
  listModels,
  listTrainRuns,
  logEpisode,
  readModel,
  readModelVersion,
  readTrainRun,
  registerModel,
  startTrainRun,
  updateModelPath,
} from "@lib/db/mod.ts";
import { storeFactories } from "./support/stores.ts";

const T0 = Date.UTC(2020, 0, 2);

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] registerModel() numbers versions per name from 1`, async () => {
    const store = await factory.open();
    try {
      const a = await registerModel(store, {
        name: "ppo-portfolio",
        path: "/a",
        config: { token: "x", seed: 1 },
      });
      const b = await registerModel(store, { name: "ppo-portfolio", path: "/b", config: {} });
      const c = await registerModel(store, { name: "other", path: "/c", config: {} });
      assert.deepEqual([a.version, b.version, c.version], [1, 2, 1]);
      assert.equal(a.config.token, "***");
      await updateModelPath(store, b.id, "/b2");
      assert.equal((await readModel(store, b.id))?.path, "/b2");
      assert.deepEqual((await listModels(store, { name: "ppo-portfolio" })).map((m) => m.version), [
        2,
        1,
      ]);
      assert.equal(await readModel(store, 424242), null);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] readModelVersion() and latestModel() find a model by name and version`, async () => {
    const store = await factory.open();
    try {
      assert.equal(await latestModel(store), null);
      assert.equal(await latestModel(store, "ppo-portfolio"), null);
      const a1 = await registerModel(store, { name: "a", path: "/a1", config: { seed: 1 } });
      const a2 = await registerModel(store, { name: "a", path: "/a2", config: { seed: 2 } });
      const b1 = await registerModel(store, { name: "b", path: "/b1", config: {} });
      assert.equal((await readModelVersion(store, "a", 2))?.id, a2.id);
      assert.equal((await readModelVersion(store, "a", 1))?.path, "/a1");
      assert.equal((await readModelVersion(store, "a", 1))?.config.seed, 1);
      assert.equal(await readModelVersion(store, "a", 3), null);
      assert.equal(await readModelVersion(store, "c", 1), null);
      assert.equal((await latestModel(store, "a"))?.id, a2.id);
      assert.equal((await latestModel(store))?.id, b1.id, "without a name: the newest of any name");
      assert.ok(a1.createdAt instanceof Date);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] deleteModel() removes a registered model, keeps its episodes and runs unlinked`, async () => {
    const store = await factory.open();
    try {
      const m = await registerModel(store, { name: "a", path: "/a1", config: {} });
      const keep = await registerModel(store, { name: "a", path: "/a2", config: {} });
      const runId = await startTrainRun(store, { seed: 1 });
      await finishTrainRun(store, runId, { modelId: m.id });
      const ep = await logEpisode(store, {
        kind: "eval",
        modelId: m.id,
        runId,
        stopReason: "end_of_data",
        maxDrawdown: 0,
        sharpeRatio: 0,
        turnover: 0,
        config: {},
        instruments: ["A"],
        decisionTimestamps: [T0],
        actions: [1],
        targetWeights: [1],
        rewardTimestamps: [T0 + 1],
        rewards: [0],
        equityTimestamps: [T0, T0 + 1],
        netWorth: [100, 100],
        strategy: "ppo",
      });
      assert.equal(await deleteModel(store, m.id), true);
      assert.equal(await readModel(store, m.id), null);
      assert.equal(await deleteModel(store, m.id), false, "a second delete finds nothing");
      assert.equal(await deleteModel(store, 424242), false);
      assert.deepEqual((await listModels(store)).map((r) => r.id), [keep.id]);
      const [e] = await listEpisodes(store);
      assert.equal(e.id, ep);
      assert.equal(e.modelId, null);
      assert.equal((await readTrainRun(store, runId))?.modelId, null);
      assert.deepEqual(await listTrainRuns(store, m.id), []);
      // The next version of the name continues after the highest one left.
      assert.equal((await registerModel(store, { name: "a", path: "/a3", config: {} })).version, 3);
    } finally {
      await store.close();
    }
  });
}
