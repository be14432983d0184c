import assert from "node:assert/strict";
import {
  type ActionContext,
  AllocationAction,
  benchmarkWeights,
  flatDim,
  LongShortAllocationAction,
  makePortfolioEnv,
  MarketSimulator,
  prepareMarket,
  resolveCostOptions,
  VolatilityTargetedAction,
} from "@lib/env/mod.ts";
import { Rng } from "@lib/util/rng.ts";
import { handPanel, syntheticPrices, zeroFeatures } from "./support/env_panels.ts";
import { equalWeightBuyAndHold } from "@lib/eval/mod.ts";

/** These tests check the equal-weight-rebalanced base; the buy-and-hold base has its own. */
const EQUAL_WEIGHT_BASE = { allocation: { base: "equal-weight" as const } };

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);

function ctx(weights: number[], available?: number[]): ActionContext {
  return {
    numInstruments: weights.length,
    weights: Float64Array.from(weights),
    pastReturns: new Float64Array(0),
    available: available === undefined ? undefined : Uint8Array.from(available),
  };
}

Deno.test("benchmarkWeights() is equal weight over available instruments with the cash share", () => {
  assert.deepEqual([...benchmarkWeights(ctx([0, 0, 0, 0]))], [0.25, 0.25, 0.25, 0.25]);
  assert.deepEqual([...benchmarkWeights(ctx([0, 0, 0, 0]), 0.2)], [0.2, 0.2, 0.2, 0.2]);
  // B has no price: it keeps its 0.2; A and C split the remaining 0.8.
  assert.deepEqual([...benchmarkWeights(ctx([0.5, 0.2, 0.1], [1, 0, 1]))], [0.4, 0.2, 0.4]);
  assert.throws(() => benchmarkWeights(ctx([0, 0]), 1), RangeError);
});

Deno.test("AllocationAction: an all-zero action reproduces the base weights bit for bit", () => {
  const rng = new Rng(3);
  for (const n of [1, 3, 8, 41]) {
    for (const cashShare of [0, 0.1, 0.25, 0.6]) {
      const scheme = new AllocationAction(n, { cashShare });
      assert.equal(scheme.space.kind, "box");
      assert.equal(flatDim(scheme.space), n + 1);
      const held = Array.from({ length: n }, () => rng.uniform() / n);
      const c = ctx(held);
      assert.deepEqual(
        [...scheme.targetWeights(new Float32Array(n + 1), c)],
        [...benchmarkWeights(c, cashShare)],
        `N = ${n}, cashShare = ${cashShare}`,
      );
    }
  }
  const ls = new LongShortAllocationAction(41, { cashShare: 0.1 });
  const c41 = ctx(new Array(41).fill(0));
  assert.deepEqual([...ls.targetWeights(new Float32Array(42), c41)], [
    ...benchmarkWeights(c41, 0.1),
  ]);
});

Deno.test("AllocationAction is softmax(s + log b) over assets and cash when cashShare ≥ cashReach", () => {
  const scheme = new AllocationAction(2, { cashShare: 0.5, cashReach: 0.5 });
  const w = scheme.targetWeights(new Float32Array([1, 0, -0.5]), ctx([0, 0]));
  // b = [0.25, 0.25, 0.5]: masses [0.25e, 0.25, 0.5e^-0.5].
  const m = [0.25 * Math.E, 0.25, 0.5 * Math.exp(-0.5)];
  const z = m[0] + m[1] + m[2];
  close(w[0], m[0] / z);
  close(w[1], m[1] / z);
  // Scores are clipped to [-1, 1]; scoreScale multiplies them.
  assert.deepEqual(
    [...scheme.targetWeights(new Float32Array([7, 0, -0.5]), ctx([0, 0]))],
    [...w],
  );
  const sharp = new AllocationAction(2, { cashShare: 0.5, scoreScale: 2 });
  const ws = sharp.targetWeights(new Float32Array([0.5, 0, 0]), ctx([0, 0]));
  close(ws[0] / ws[1], Math.E);
});

Deno.test("AllocationAction with no cash share moves to cash only on a positive cash score", () => {
  const scheme = new AllocationAction(4);
  const c = ctx([0, 0, 0, 0]);
  const toCash = scheme.targetWeights(new Float32Array([0, 0, 0, 0, 1]), c);
  const cashMass = 0.5 * (Math.E - 1); // ρ = cashReach = 0.5
  for (const w of toCash) close(w, 0.25 / (1 + cashMass));
  close(1 - toCash.reduce((s, w) => s + w, 0), cashMass / (1 + cashMass)); // ≈ 0.462
  // A negative cash score cannot go below 0 cash: the base weights again.
  const neg = scheme.targetWeights(new Float32Array([0, 0, 0, 0, -1]), c);
  for (const w of neg) close(w, 0.25);
  // Tilts stay long-only and fully invested without a cash score.
  const tilt = scheme.targetWeights(new Float32Array([1, -1, 0.3, 0, 0]), c);
  assert.ok(tilt.every((w) => w > 0));
  close(tilt.reduce((s, w) => s + w, 0), 1);
  assert.ok(tilt[0] > tilt[2] && tilt[2] > tilt[3] && tilt[3] > tilt[1]);
  assert.throws(() => scheme.targetWeights(new Float32Array(4), c), TypeError);
  assert.throws(() => new AllocationAction(4, { cashShare: -0.1 }), RangeError);
  assert.throws(() => new AllocationAction(4, { scoreScale: 0 }), RangeError);
});

Deno.test("AllocationAction leaves an instrument without a price at its weight", () => {
  const scheme = new AllocationAction(3);
  const w = scheme.targetWeights(new Float32Array([1, 1, 0, 0]), ctx([0.1, 0.3, 0.2], [0, 1, 1]));
  assert.equal(w[0], 0.1);
  // The other two split 0.9 by softmax of [1, 0].
  close(w[1], 0.9 * Math.E / (Math.E + 1));
  close(w[2], 0.9 / (Math.E + 1));
  const none = scheme.targetWeights(new Float32Array([1, 1, 1, 0]), ctx([0.1, 0, 0], [0, 0, 0]));
  assert.deepEqual([...none], [0.1, 0, 0]);
});

Deno.test("LongShortAllocationAction is base + tilt, gross capped (known answer)", () => {
  const scheme = new LongShortAllocationAction(4); // tilt 2, cap 1.5
  const c = ctx([0, 0, 0, 0]);
  // w_i = 0.25 + 2·a_i/4: [0.75, -0.25, 0.25, 0.25], gross 1.5: at the cap, unchanged.
  assert.deepEqual([...scheme.targetWeights(new Float32Array([1, -1, 0, 0, 0]), c)], [
    0.75,
    -0.25,
    0.25,
    0.25,
  ]);
  // [0.75, 0.75, 0.25, 0.25] has gross 2 → scaled by 1.5 / 2.
  assert.deepEqual([...scheme.targetWeights(new Float32Array([1, 1, 0, 0, 0]), c)], [
    0.5625,
    0.5625,
    0.1875,
    0.1875,
  ]);
  // Cash score 1 drops the benchmark leg: only the (dollar-neutral here) tilts remain.
  assert.deepEqual([...scheme.targetWeights(new Float32Array([0.5, -0.5, 0, 0, 1]), c)], [
    0.25,
    -0.25,
    0,
    0,
  ]);
  assert.throws(() => new LongShortAllocationAction(4, { maxGross: 0.9 }), RangeError);
});

Deno.test("VolatilityTargetedAction: small random scores give small gross at N = 8 and N = 41", () => {
  const rng = new Rng(11);
  const gross: number[] = [];
  for (const n of [8, 41]) {
    const scheme = new VolatilityTargetedAction(n);
    // Untrained policy means: mean |a| ≈ 0.09 (normal with σ ≈ 0.11).
    const a = Float32Array.from({ length: n }, () => 0.11 * rng.normal());
    const oldConviction = Math.min(1, a.reduce((s, x) => s + Math.abs(x), 0));
    // No history: the direction is not rescaled, so gross = conviction = RMS score.
    const c = {
      numInstruments: n,
      weights: new Float64Array(n),
      pastReturns: new Float64Array(20 * n).fill(NaN),
    };
    const g = scheme.targetWeights(a, c).reduce((s, w) => s + Math.abs(w), 0);
    close(g, Math.sqrt(a.reduce((s, x) => s + x * x, 0) / n), 1e-9);
    assert.ok(g < 0.2, `N = ${n}: gross ${g}`);
    assert.ok(oldConviction > 3 * g, `N = ${n}: min(1, Σ|a|) = ${oldConviction} vs ${g}`);
    gross.push(g);
  }
  assert.ok(Math.abs(gross[0] - gross[1]) < 0.06, `gross ${gross} should not grow with N`);
});

Deno.test("portfolio env: the zero allocation reproduces an equal-weight rebalance with the same band", () => {
  const n = 4, band = 0.01;
  const prices = syntheticPrices(n, 120, 5);
  const costs = { costPerTurnBps: 10, slippageBps: 5 };
  const env = makePortfolioEnv(prices, zeroFeatures(prices), {
    action: "allocation",
    actionOptions: EQUAL_WEIGHT_BASE,
    band,
    ...costs,
  });
  // The reference: the simulator alone, target 1/N, band rule written out here.
  const sim = new MarketSimulator(prepareMarket(prices), {
    executeAt: "open",
    costs: resolveCostOptions(costs),
    initialCash: 1_000_000,
  });
  let ref = sim.reset(10);
  env.reset({ start: 10 });
  let held = 0, traded = 0;
  for (let k = 0; !env.done; k++) {
    const hold = new Uint8Array(n);
    const target = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      hold[i] = Math.abs(1 / n - ref.weights[i]) < band ? 1 : 0;
      target[i] = hold[i] ? ref.weights[i] : 1 / n;
      if (hold[i]) held++;
      else traded++;
    }
    const r = env.step(new Float32Array(n + 1));
    ref = sim.step(target, hold).state;
    if (k === 0) assert.deepEqual([...r.info.targetWeights!], [0.25, 0.25, 0.25, 0.25]);
    assert.deepEqual([...r.info.targetWeights!], [...target], `step ${k}: targets`);
    assert.deepEqual([...r.info.weights], [...ref.weights], `step ${k}: weights`);
    assert.equal(r.info.netWorth, ref.netWorth, `step ${k}: net worth`);
    assert.equal(r.info.cost, ref.cost);
    assert.equal(r.info.slippage, ref.slippage);
  }
  assert.ok(held > 0 && traded > n, `the band held ${held} and traded ${traded} positions`);
});

Deno.test("portfolio env: the allocation scheme equal-weights only instruments already listed", () => {
  // B is listed from bar 2: until then the zero action holds A (and no cash).
  const prices = handPanel(["A", "B"], {
    open: [[100, NaN], [100, NaN], [101, 50], [102, 51], [103, 52]],
    close: [[100, NaN], [100, NaN], [101, 50], [102, 51], [103, 52]],
  });
  const env = makePortfolioEnv(prices, zeroFeatures(prices), {
    action: "allocation",
    actionOptions: EQUAL_WEIGHT_BASE,
  });
  env.reset({ start: 0 });
  const first = env.step(new Float32Array(3));
  assert.deepEqual([...first.info.targetWeights!], [1, 0]);
  env.step(new Float32Array(3)); // decided at bar 1: B still unlisted
  const third = env.step(new Float32Array(3)); // decided at bar 2: B has a close
  assert.deepEqual([...third.info.targetWeights!], [0.5, 0.5]);
});

Deno.test("portfolio env: the zero allocation (buy-and-hold base, default) with a band is equal-weight buy & hold, trade for trade", () => {
  const n = 5, band = 0.01, start = 10;
  const prices = syntheticPrices(n, 150, 11);
  const costs = { costPerTurnBps: 10, slippageBps: 5 };
  const env = makePortfolioEnv(prices, zeroFeatures(prices), {
    action: "allocation",
    band,
    ...costs,
  });
  const bh = equalWeightBuyAndHold(prices, {
    costs: env.costs,
    initialCash: 1_000_000,
    from: prices.timestamps[start],
  });
  env.reset({ start });
  let tradedAfterFirst = 0;
  for (let k = 0; !env.done; k++) {
    const r = env.step(new Float32Array(n + 1));
    if (k > 0) tradedAfterFirst += (r.info.cost ?? 0) + (r.info.slippage ?? 0);
    close(r.info.netWorth, bh.equity[k + 1], 1e-9 * bh.equity[k + 1]);
  }
  assert.equal(tradedAfterFirst, 0, "after the first buy the zero policy trades nothing");
});

Deno.test("allocation scheme: the buy-and-hold base follows growth since the first fill; equal weight without it", () => {
  const scheme = new AllocationAction(3);
  const context = {
    numInstruments: 3,
    weights: new Float64Array(3),
    pastReturns: new Float64Array(0),
    growth: Float64Array.from([2, 1, NaN]), // the third had no fill price: B&H holds none
  };
  const w = scheme.targetWeights(new Float32Array(4), context);
  assert.deepEqual([...w], [2 / 3, 1 / 3, 0]);
  const ew = scheme.targetWeights(new Float32Array(4), { ...context, growth: undefined });
  assert.deepEqual([...ew], [1 / 3, 1 / 3, 1 / 3]);
  // A tilt is taken from the benchmark, not from the holdings: the same scores give the
  // same targets whatever is held.
  const tilt = Float32Array.from([0.5, 0, 0, 0]);
  const a = scheme.targetWeights(tilt, context);
  const b = scheme.targetWeights(tilt, { ...context, weights: Float64Array.from([0.1, 0.8, 0.1]) });
  assert.deepEqual([...a], [...b]);
  assert.ok(a[0] > 2 / 3);
});
