import assert from "node:assert/strict";
import { panelFromBars, type PricePanel } from "@lib/data/panel.ts";
import { checkEnv, makePortfolioEnv, makePortfolioVecEnv } from "@lib/env/mod.ts";
import { computeFeaturePanel, syntheticBarColumns, syntheticBars } from "@lib/features/mod.ts";
import { perturbAfter } from "./support/env_panels.ts";

const prices: PricePanel = panelFromBars(syntheticBarColumns(syntheticBars(5, 300, 3)), "1 day");
const features = computeFeaturePanel(prices, { set: "all" });

Deno.test("portfolio env on computeFeaturePanel('all') passes checkEnv and starts after the warm-up", () => {
  const report = checkEnv(
    () => makePortfolioEnv(prices, features, { window: 2, maxSteps: 30, impactK: 0.2 }),
    { seed: 4 },
  );
  assert.deepEqual(report.problems, []);
  const env = makePortfolioEnv(prices, features, { window: 2 });
  assert.equal(env.startRange.earliest, features.warmup + 1);
  // At the earliest start every feature of every instrument is defined: no NaN turned into 0.
  const t = env.startRange.earliest;
  const F = features.names.length, n = prices.instruments.length;
  for (let k = (t - 1) * n * F; k < (t + 1) * n * F; k++) {
    assert.ok(
      Number.isFinite(features.values[k]),
      `feature value ${k} at bar ${Math.floor(k / n / F)}`,
    );
  }
});

Deno.test("portfolio env on computeFeaturePanel: observations up to t ignore bars after t", () => {
  const t = 200;
  const p2 = perturbAfter(prices, t, 11);
  const f2 = computeFeaturePanel(p2, { set: "all" });
  const a = makePortfolioVecEnv(prices, features, { numEnvs: 1, window: 3 }).envs[0];
  const b = makePortfolioVecEnv(p2, f2, { numEnvs: 1, window: 3 }).envs[0];
  let oa = a.reset({ start: 150 }).observation, ob = b.reset({ start: 150 }).observation;
  const action = new Float32Array(prices.instruments.length).fill(0.3);
  for (let s = 150; s <= t; s++) {
    assert.deepEqual(ob, oa, `observation at bar ${s}`);
    if (s === t) break;
    oa = a.step(action).observation;
    ob = b.step(action).observation;
  }
  // And the bar after t does differ, so the comparison had something to catch.
  assert.notDeepEqual(b.step(action).observation, a.step(action).observation);
});
