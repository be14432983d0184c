import assert from "node:assert/strict";
import {
  finishTrainRun,
  listTrainRuns,
  logTrainMetrics,
  readTrainMetrics,
  readTrainRun,
  registerModel,
  startTrainRun,
} from "@lib/db/mod.ts";
import { storeFactories } from "./support/stores.ts";

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] train runs store per-update metrics and link their model`, async () => {
    const store = await factory.open();
    try {
      const runId = await startTrainRun(store, { seed: 3, steps: 4096 });
      await logTrainMetrics(store, runId, [
        {
          updateIndex: 0,
          timesteps: 2048,
          policyLoss: -0.01,
          valueLoss: 0.5,
          entropy: 1.4,
          approxKl: 0.002,
          clipFraction: 0.1,
          explainedVariance: 0.2,
          meanEpisodeReturn: 0.03,
          stepsPerSecond: 2500,
        },
        {
          updateIndex: 1,
          timesteps: 4096,
          policyLoss: -0.02,
          valueLoss: 0.4,
          entropy: 1.3,
          approxKl: 0.004,
          clipFraction: 0.15,
          explainedVariance: null,
          meanEpisodeReturn: 0.05,
          stepsPerSecond: 2600,
        },
      ]);
      const rows = await readTrainMetrics(store, runId);
      assert.equal(rows.length, 2);
      assert.deepEqual(rows.map((r) => r.timesteps), [2048, 4096]);
      assert.equal(rows[0].approxKl, 0.002);
      assert.equal(rows[1].explainedVariance, null);
      const m = await registerModel(store, { name: "ppo-portfolio", path: "/x", config: {} });
      await finishTrainRun(store, runId, { modelId: m.id });
      const run = await readTrainRun(store, runId);
      assert.equal(run?.modelId, m.id);
      assert.ok(run?.finishedAt instanceof Date);
      assert.equal(run?.config.seed, 3);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] listTrainRuns() lists a model's runs newest first; unknown ids read as null`, async () => {
    const store = await factory.open();
    try {
      const m = await registerModel(store, { name: "ppo-portfolio", path: "/x", config: {} });
      const first = await startTrainRun(store, { seed: 1, token: "secret-token" });
      const resumed = await startTrainRun(store, { seed: 1, resume: String(m.id) });
      const unrelated = await startTrainRun(store, { seed: 2 });
      await finishTrainRun(store, first, { modelId: m.id });
      await finishTrainRun(store, resumed, { modelId: m.id });
      await finishTrainRun(store, unrelated);
      assert.deepEqual((await listTrainRuns(store, m.id)).map((r) => r.id), [resumed, first]);
      assert.equal((await readTrainRun(store, first))?.config.token, "***", "config is redacted");
      assert.equal((await readTrainRun(store, unrelated))?.modelId, null);
      assert.equal(await readTrainRun(store, 999_999), null);
      assert.deepEqual(await readTrainMetrics(store, 999_999), []);
      // Metrics are upserted: writing update 0 again replaces it.
      await logTrainMetrics(store, first, [{ updateIndex: 0, timesteps: 10, policyLoss: 1 }]);
      await logTrainMetrics(store, first, [{ updateIndex: 0, timesteps: 10, policyLoss: 2 }]);
      assert.deepEqual((await readTrainMetrics(store, first)).map((r) => r.policyLoss), [2]);
    } finally {
      await store.close();
    }
  });
}
