import assert from "node:assert/strict";
import {
  applyTransactionCosts,
  costOptionsFrom,
  DEFAULT_COSTS,
  describeCosts,
  FEE_MODELS,
  IBKR_FIXED,
  ibkrFixedCommission,
  makePortfolioEnv,
  MarketSimulator,
  prepareMarket,
  resolveCostOptions,
  slippageCost,
  stepCosts,
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
    feeModel: "bps",
    costPerTurnBps: 2,
    slippageBps: 5,
    impactK: 0,
    impactLookback: 20,
  });
  assert.throws(() => resolveCostOptions({ slippageBps: -1 }), RangeError);
  assert.throws(
    // @ts-expect-error: not a fee model
    () => resolveCostOptions({ feeModel: "ibkr-tiered" }),
    /feeModel = "ibkr-tiered": use one of bps, ibkr-fixed/,
  );
  assert.deepEqual(FEE_MODELS, ["bps", "ibkr-fixed"]);
  assert.equal(DEFAULT_COSTS.feeModel, "bps");
});

Deno.test("ibkrFixedCommission(): USD 0.005/share, min USD 1.00, max 1 % of trade value (known answers)", () => {
  assert.deepEqual({ ...IBKR_FIXED }, {
    perShare: 0.005,
    minPerOrder: 1,
    maxFractionOfValue: 0.01,
  });
  close(ibkrFixedCommission(100, 50), 1); // 0.50 → the USD 1.00 minimum
  close(ibkrFixedCommission(10_000, 20), 50); // 10,000 × 0.005
  close(ibkrFixedCommission(1_000, 0.3), 3); // 5.00 capped at 1 % of USD 300
  close(ibkrFixedCommission(-1_000, 0.3), 3); // a sale costs the same
  // IB's own examples on its commissions page (Fixed, United States).
  close(ibkrFixedCommission(100, 25), 1);
  close(ibkrFixedCommission(1_000, 25), 5);
  close(ibkrFixedCommission(1_000, 0.25), 2.5);
  assert.equal(ibkrFixedCommission(0, 50), 0); // no order, no fee
});

Deno.test("stepCosts(): bps on summed notional; ibkr-fixed one order per traded instrument", () => {
  const orders = {
    notional: [5_000, -200_000, 0, 300],
    units: [100, -10_000, 0, 1_000],
    sigma: [0.02, 0.02, 0.02, NaN],
    adv: [1e6, 1e6, 1e6, 1e6],
  };
  const bps = stepCosts(orders, resolveCostOptions({ costPerTurnBps: 10, slippageBps: 5 }));
  close(bps.notional, 205_300);
  close(bps.commission, 205.3);
  close(bps.slippage, 102.65);
  assert.equal(bps.impact, 0);
  assert.equal(bps.orders, 3);
  const ib = stepCosts(
    orders,
    resolveCostOptions({ feeModel: "ibkr-fixed", costPerTurnBps: 10, slippageBps: 5, impactK: 1 }),
  );
  close(ib.commission, 1 + 50 + 3); // min, per share, 1 % cap; costPerTurnBps unused
  const impact = 5_000 * 0.02 * Math.sqrt(5_000 / 1e6) + 200_000 * 0.02 * Math.sqrt(0.2);
  close(ib.impact, impact); // no σ for the last order: no impact there
  close(ib.slippage, 102.65 + impact);
  assert.throws(() => stepCosts({ ...orders, units: [1] }, DEFAULT_COSTS), /one per instrument/);
});

Deno.test("costOptionsFrom() reads cost fields from JSON and names a bad one", () => {
  assert.deepEqual(
    costOptionsFrom({ costPerTurnBps: 10, slippageBps: 5, window: 1, feeModel: "ibkr-fixed" }, "x"),
    { costPerTurnBps: 10, slippageBps: 5, feeModel: "ibkr-fixed" },
  );
  assert.deepEqual(costOptionsFrom(undefined, "x"), {});
  assert.throws(
    () => costOptionsFrom({ slippageBps: "5" }, "episode 3 config"),
    /episode 3 config: slippageBps must be a number, got "5"/,
  );
  assert.throws(() => costOptionsFrom({ feeModel: "flat" }, "cfg"), /cfg: feeModel must be one of/);
  assert.throws(() => costOptionsFrom([1], "cfg"), /cfg: cost settings must be an object/);
});

Deno.test("describeCosts() names the fee model and its figures", () => {
  assert.equal(describeCosts(DEFAULT_COSTS), "commission 10 bps, slippage 5 bps");
  assert.equal(
    describeCosts(resolveCostOptions({ feeModel: "ibkr-fixed", slippageBps: 0, impactK: 0.5 })),
    "IBKR fixed commission (USD 0.005/share, min USD 1, max 1 % of trade value), slippage 0 bps, impact k 0.5",
  );
});

Deno.test("simulator under ibkr-fixed charges one order per instrument traded, from the traded shares", () => {
  // A at 50, B at 0.30 (a penny stock): 10,000 cash, targets 0.5 / 0.5 at open 1.
  const p = handPanel(["A", "B"], {
    open: [[50, 0.3], [50, 0.3], [50, 0.3]],
    close: [[50, 0.3], [50, 0.3], [50, 0.3]],
  });
  const sim = new MarketSimulator(prepareMarket(p), {
    executeAt: "open",
    costs: resolveCostOptions({ feeModel: "ibkr-fixed", slippageBps: 0 }),
    initialCash: 10_000,
  });
  sim.reset(0);
  const { execution, state } = sim.step([0.5, 0.5]);
  // A: 100 shares → USD 1.00 minimum; B: 16,666.7 shares → 83.33 capped at 1 % of 5,000 = 50.
  close(execution.units[0], 100);
  close(execution.units[1], 5_000 / 0.3);
  close(execution.cost, 1 + 50);
  close(state.netWorth, 10_000 - 51);
  // Holding (no order) costs nothing; step(null) keeps every unit.
  const held = sim.step(null);
  assert.equal(held.execution.cost, 0);
  assert.deepEqual([...held.execution.units], [0, 0]);
  close(held.state.netWorth, 10_000 - 51);
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
