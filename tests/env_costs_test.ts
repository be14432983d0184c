import assert from "node:assert/strict";
import {
  applyTransactionCosts,
  makePortfolioEnv,
  prepareMarket,
  resolveCostOptions,
  slippageCost,
  trailingImpactInputs,
} from "@lib/env/mod.ts";
import { handPanel, zeroFeatures } from "./support/env_panels.ts";

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);

// Two assets, bars 0..3. A: open 100/101/103/105, close 100/102/104/106.
// B: open 50/49/47/45, close 50/48/46/44.
const prices = handPanel(["A", "B"], {
  open: [[100, 50], [101, 49], [103, 47], [105, 45]],
  close: [[100, 50], [102, 48], [104, 46], [106, 44]],
});
const LONG_SHORT = new Float32Array([2, 0]); // A long, B short → weights [0.5, -0.5]
const FLAT = new Float32Array([1, 1]);
const base = {
  action: "discrete" as const,
  reward: "log-return" as const,
  initialCash: 10_000,
  costPerTurnBps: 10,
  slippageBps: 5,
};

Deno.test("applyTransactionCosts() charges cost_per_turn bps of traded notional", () => {
  assert.equal(applyTransactionCosts(10_000, 10), 10);
  assert.equal(applyTransactionCosts(-2_000, 25), 5);
});

Deno.test("slippageCost() is fixed bps plus k·σ·sqrt(Q/ADV) of the notional", () => {
  const s = slippageCost(10_000, 0.02, 1_000_000, { slippageBps: 5, impactK: 1 });
  close(s.fixed, 5);
  close(s.impact, 10_000 * 0.02 * Math.sqrt(0.01)); // 20
  assert.deepEqual(slippageCost(10_000, 0.02, NaN, { slippageBps: 0, impactK: 1 }), {
    fixed: 0,
    impact: 0,
  });
});

Deno.test("resolveCostOptions() fills defaults and rejects negative costs", () => {
  assert.deepEqual(resolveCostOptions({ costPerTurnBps: 2 }), {
    costPerTurnBps: 2,
    slippageBps: 5,
    impactK: 0,
    impactLookback: 20,
  });
  assert.throws(() => resolveCostOptions({ slippageBps: -1 }), RangeError);
});

Deno.test("portfolio env charges cost and slippage once, at the next bar's open (known answer)", () => {
  const env = makePortfolioEnv(prices, zeroFeatures(prices), base);
  const r0 = env.reset({ start: 0 });
  assert.equal(r0.info.netWorth, 10_000);
  assert.equal(r0.info.cost, 0);
  assert.equal(r0.info.slippage, 0);

  // Decided at close 0, filled at open 1: 5000/101 units of A, -5000/49 of B.
  // Traded notional 10,000 → cost 10 (10 bps), slippage 5 (5 bps); cash 10,000 - 15.
  const r1 = env.step(LONG_SHORT);
  const nw1 = 9985 + (5000 / 101) * 102 - (5000 / 49) * 48;
  assert.equal(r1.info.t, 1);
  close(r1.info.cost!, 10);
  close(r1.info.slippage!, 5);
  close(r1.info.turnover!, 1);
  close(r1.info.netWorth, nw1);
  close(r1.info.weights[0], (5000 / 101) * 102 / nw1);
  close(r1.info.weights[1], -(5000 / 49) * 48 / nw1);
  close(r1.reward, Math.log(nw1 / 10_000));
  assert.deepEqual([...r1.info.targetWeights!], [0.5, -0.5]);

  // Going flat at open 2: sell A at 103, cover B at 47; costs 15 bps of that notional.
  const r2 = env.step(FLAT);
  const notional2 = (5000 / 101) * 103 + (5000 / 49) * 47;
  const wealth2 = 9985 + (5000 / 101) * 103 - (5000 / 49) * 47;
  close(r2.info.cost!, notional2 * 0.001);
  close(r2.info.slippage!, notional2 * 0.0005);
  close(r2.info.netWorth, wealth2 - notional2 * 0.0015);
  assert.deepEqual([...r2.info.weights], [0, 0]);

  // Holding flat costs nothing more.
  const r3 = env.step(FLAT);
  assert.equal(r3.info.cost, 0);
  assert.equal(r3.info.slippage, 0);
  assert.equal(r3.info.netWorth, r2.info.netWorth);
  assert.equal(r3.truncated, true);
  assert.equal(r3.info.stopReason, "end_of_data");
});

Deno.test("portfolio env net worth differs from a cost-free run by exactly the charged costs", () => {
  const paid = makePortfolioEnv(prices, zeroFeatures(prices), base);
  const free = makePortfolioEnv(prices, zeroFeatures(prices), {
    ...base,
    costPerTurnBps: 0,
    slippageBps: 0,
  });
  paid.reset({ start: 0 });
  free.reset({ start: 0 });
  const a = paid.step(LONG_SHORT), b = free.step(LONG_SHORT);
  assert.equal(b.info.cost, 0);
  close(b.info.netWorth - a.info.netWorth, 15);
});

Deno.test("portfolio env with executeAt close fills at the next bar's close (known answer)", () => {
  const env = makePortfolioEnv(prices, zeroFeatures(prices), { ...base, executeAt: "close" });
  env.reset({ start: 0 });
  // Filled at close 1 (A 102, B 48): marked at the fill prices, so net worth is 10,000 - 15.
  const r1 = env.step(LONG_SHORT);
  close(r1.info.netWorth, 9985);
  close(r1.info.cost!, 10);
  close(r1.info.slippage!, 5);
  // Flat at close 2 (A 104, B 46).
  const r2 = env.step(FLAT);
  const notional2 = (5000 / 102) * 104 + (5000 / 48) * 46;
  close(r2.info.netWorth, 9985 + (5000 / 102) * 104 - (5000 / 48) * 46 - notional2 * 0.0015);
});

Deno.test("portfolio env cannot trade an instrument without a bar at t+1", () => {
  const gap = handPanel(["A", "B"], {
    open: [[100, 50], [101, NaN], [103, 47]],
    close: [[100, 50], [102, NaN], [104, 46]],
  });
  const env = makePortfolioEnv(gap, zeroFeatures(gap), base);
  env.reset({ start: 0 });
  const r1 = env.step(new Float32Array([2, 2])); // targets [0.5, 0.5]; B has no bar 1
  close(r1.info.cost!, 5);
  close(r1.info.slippage!, 2.5);
  close(r1.info.netWorth, 10_000 - 5000 - 7.5 + (5000 / 101) * 102);
  assert.equal(r1.info.weights[1], 0);
  // At bar 2 B trades again: target 0.5 of wealth at open 2.
  const r2 = env.step(new Float32Array([2, 2]));
  assert.ok(r2.info.weights[1] > 0.45);
});

Deno.test("trailingImpactInputs() uses only bars up to t (known answer)", () => {
  const p = handPanel(["A"], {
    open: [[100], [110], [99], [100]],
    close: [[100], [110], [99], [100]],
    volume: [[1000], [1000], [1000], [1000]],
  });
  const m = prepareMarket(p, 3);
  // Returns at bars 1, 2: +0.1, -0.1 → sample std sqrt(0.02); ADV = mean(100k, 110k, 99k).
  close(m.sigma[2], Math.sqrt(0.02));
  close(m.adv[2], 103_000);
  assert.ok(Number.isNaN(m.sigma[1])); // one return only
  const direct = trailingImpactInputs(m.returns, m.close, p.volume, 1, 3);
  assert.deepEqual(direct.sigma, m.sigma);
});

Deno.test("portfolio env charges square-root impact from the decision bar's σ and ADV", () => {
  const p = handPanel(["A"], {
    open: [[100], [110], [99], [100], [101]],
    close: [[100], [110], [99], [100], [101]],
    volume: [[1000], [1000], [1000], [1000], [1000]],
  });
  const env = makePortfolioEnv(p, zeroFeatures(p), {
    ...base,
    impactK: 0.5,
    impactLookback: 3,
    slippageBps: 0,
  });
  env.reset({ start: 2 });
  const r = env.step(new Float32Array([2])); // all in A at open 3 (100): Q = 10,000
  const impact = 10_000 * 0.5 * Math.sqrt(0.02) * Math.sqrt(10_000 / 103_000);
  close(r.info.impact!, impact);
  close(r.info.slippage!, impact);
  close(r.info.cost!, 10);
  // 100 units bought at 100 and marked at close 3 = 100: only the charges are lost.
  close(r.info.netWorth, 10_000 - 10 - impact);
});
