import assert from "node:assert/strict";
import {
  ACTION_NAMES,
  applyFriction,
  checkEnv,
  flatDim,
  isFrictionless,
  makePortfolioEnv,
  NO_FRICTION,
  type PortfolioEnvOptions,
  resolveFriction,
  type StepInfo,
} from "@lib/env/mod.ts";
import { perturbAfter, syntheticPrices, zeroFeatures } from "./support/env_panels.ts";

/** These tests check the equal-weight-rebalanced base; the buy-and-hold base has its own. */
const EQUAL_WEIGHT_BASE = { allocation: { base: "equal-weight" as const } };

const f64 = (xs: number[]) => Float64Array.from(xs);

Deno.test("resolveFriction() defaults to no friction and validates", () => {
  assert.deepEqual(resolveFriction(), NO_FRICTION);
  assert.ok(isFrictionless(resolveFriction({})));
  assert.ok(!isFrictionless(resolveFriction({ band: 0.01 })));
  assert.throws(() => resolveFriction({ band: -0.01 }), /band = -0.01/);
  assert.throws(() => resolveFriction({ rebalanceEvery: 0 }), /rebalanceEvery = 0/);
  assert.throws(() => resolveFriction({ rebalanceEvery: 1.5 }), RangeError);
  assert.throws(() => resolveFriction({ partialAdjustment: 0 }), /partialAdjustment = 0/);
  assert.throws(() => resolveFriction({ partialAdjustment: 1.2 }), RangeError);
});

Deno.test("applyFriction() holds an asset whose gap is below the band, and not one at or above it", () => {
  const f = resolveFriction({ band: 0.125 }); // binary fractions: the gaps are exact
  const current = f64([0.25, 0.5, 0.25, 0.0]);
  const target = f64([0.265625, 0.75, 0.375, -0.0625]);
  const r = applyFriction(target, current, 0, f);
  // Gaps 1/64 (held), 1/4 (traded), 1/8 = band (traded: the band is strict), 1/16 (held).
  assert.deepEqual([...r.hold], [1, 0, 0, 1]);
  assert.deepEqual([...r.weights], [0.25, 0.75, 0.375, 0]);
  assert.equal(r.rebalanced, true);
  assert.throws(() => applyFriction(target, f64([0]), 0, f), TypeError);
});

Deno.test("applyFriction() with rebalanceEvery = 3 trades at decisions 0, 3, 6 and holds between", () => {
  const f = resolveFriction({ rebalanceEvery: 3 });
  const current = f64([0.1, 0.2]), target = f64([0.5, 0.5]);
  const pattern = [0, 1, 2, 3, 4, 5, 6].map((k) => applyFriction(target, current, k, f));
  assert.deepEqual(pattern.map((r) => r.rebalanced), [
    true,
    false,
    false,
    true,
    false,
    false,
    true,
  ]);
  for (const r of pattern) {
    assert.deepEqual([...r.weights], r.rebalanced ? [0.5, 0.5] : [0.1, 0.2]);
    assert.deepEqual([...r.hold], r.rebalanced ? [0, 0] : [1, 1]);
  }
});

Deno.test("applyFriction() with partial adjustment moves η of the gap", () => {
  const r = applyFriction(
    f64([0.6, 0.1]),
    f64([0.2, 0.3]),
    0,
    resolveFriction({ partialAdjustment: 0.25 }),
  );
  assert.ok(Math.abs(r.weights[0] - 0.3) < 1e-15);
  assert.ok(Math.abs(r.weights[1] - 0.25) < 1e-15);
  // Band on the full gap, then η on the traded ones.
  const both = applyFriction(
    f64([0.6, 0.31]),
    f64([0.2, 0.3]),
    0,
    resolveFriction({ band: 0.02, partialAdjustment: 0.5 }),
  );
  assert.deepEqual([...both.hold], [0, 1]);
  assert.deepEqual([...both.weights], [0.4, 0.3]);
  // η = 1 is the target itself, bit for bit.
  const t = f64([0.1 + 0.2, 1 / 3]);
  assert.deepEqual([...applyFriction(t, f64([0.7, 0.05]), 0, NO_FRICTION).weights], [...t]);
});

const prices = syntheticPrices(3, 90, 7);

function run(options: PortfolioEnvOptions, p = prices, start = 5): StepInfo[] {
  const env = makePortfolioEnv(p, zeroFeatures(p), options);
  env.reset({ start });
  const infos: StepInfo[] = [];
  // Zero scores for the allocation schemes; a constant 0.3 long for the others.
  const action = new Float32Array(flatDim(env.actionSpace)).fill(
    env.actionScheme.name.startsWith("allocation") ? 0 : 0.3,
  );
  while (!env.done) infos.push(env.step(action).info);
  return infos;
}

Deno.test("portfolio env with rebalanceEvery = 5 trades nothing between rebalances", () => {
  const infos = run({ action: "allocation", actionOptions: EQUAL_WEIGHT_BASE, rebalanceEvery: 5 });
  infos.forEach((info, k) => {
    if (k % 5 === 0) assert.ok(info.turnover! > 0, `decision ${k} rebalances`);
    else {
      assert.equal(info.turnover, 0, `decision ${k} holds`);
      assert.equal(info.cost, 0);
      assert.equal(info.slippage, 0);
    }
  });
  // Held positions drift with prices: the weights are not equal between rebalances.
  assert.notDeepEqual([...infos[3].weights], [...infos[4].weights]);
});

Deno.test("portfolio env with a band larger than any drift trades only the first, all-cash decision", () => {
  const infos = run({ action: "allocation", actionOptions: EQUAL_WEIGHT_BASE, band: 0.2 });
  assert.ok(infos[0].turnover! > 0.99);
  for (const info of infos.slice(1)) assert.equal(info.turnover, 0);
  // Turnover falls with the band and is highest without one.
  const total = (xs: StepInfo[]) => xs.reduce((s, i) => s + i.turnover!, 0);
  const none = total(run({ action: "allocation", actionOptions: EQUAL_WEIGHT_BASE }));
  const small = total(run({ action: "allocation", actionOptions: EQUAL_WEIGHT_BASE, band: 0.005 }));
  assert.ok(none > small && small > total(infos), `${none} > ${small} > ${total(infos)}`);
});

Deno.test("portfolio env with partialAdjustment = 0.5 goes half way from cash on the first decision", () => {
  const [first, second] = run({
    action: "allocation",
    actionOptions: EQUAL_WEIGHT_BASE,
    partialAdjustment: 0.5,
  });
  for (const w of first.targetWeights!) assert.ok(Math.abs(w - 0.5 / 3) < 1e-15);
  assert.ok(Math.abs(first.turnover! - 0.5) < 1e-9, `turnover ${first.turnover}`);
  // Next decision: half of the remaining gap to 1/3 each.
  const expected = [...first.weights].map((w) => w + 0.5 * (1 / 3 - w));
  second.targetWeights!.forEach((w, i) => assert.ok(Math.abs(w - expected[i]) < 1e-15));
});

Deno.test("portfolio env default friction leaves existing schemes unchanged", () => {
  const base = run({ action: "vol-target", seed: 2 });
  const explicit = run({
    action: "vol-target",
    seed: 2,
    band: 0,
    rebalanceEvery: 1,
    partialAdjustment: 1,
  });
  assert.deepEqual(explicit, base);
  assert.throws(() => run({ band: 1 }), /band = 1/);
});

Deno.test("portfolio env with friction does not look ahead: bars after t do not change trades up to t", () => {
  const t = 50;
  const opts: PortfolioEnvOptions = {
    action: "allocation",
    actionOptions: EQUAL_WEIGHT_BASE,
    band: 0.01,
    partialAdjustment: 0.7,
    rebalanceEvery: 2,
  };
  const a = run(opts, prices);
  const b = run(opts, perturbAfter(prices, t, 3));
  // The decision at bar t (step t - 5) is executed at bar t+1, whose prices differ; everything
  // decided and filled at or before t is identical, as is the target decided at t.
  const k = t - 5;
  for (let s = 0; s < k; s++) assert.deepEqual(b[s], a[s], `step ${s}`);
  assert.deepEqual([...b[k].targetWeights!], [...a[k].targetWeights!]);
  assert.notDeepEqual(b[k].netWorth, a[k].netWorth);
});

Deno.test("checkEnv() passes with every friction rule on, for each action scheme", () => {
  for (const action of ACTION_NAMES) {
    const report = checkEnv(
      () =>
        makePortfolioEnv(prices, zeroFeatures(prices), {
          action,
          band: 0.02,
          rebalanceEvery: 3,
          partialAdjustment: 0.5,
          maxSteps: 30,
        }),
      { seed: 1 },
    );
    assert.deepEqual(report.problems, [], action);
    assert.ok(report.ok && report.steps > 0);
  }
});
