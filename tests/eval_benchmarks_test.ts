import assert from "node:assert/strict";
import { panelFromBars } from "@lib/data/panel.ts";
import { DEFAULT_COSTS, FEE_MODELS, makePortfolioEnv, prepareMarket } from "@lib/env/mod.ts";
import {
  alignToTimestamps,
  alphaBeta,
  cashBenchmark,
  equalWeightBuyAndHold,
  informationRatio,
  runWeightRule,
  singleInstrumentBenchmark,
  type WeightRule,
} from "@lib/eval/mod.ts";
import { Rng } from "@lib/util/rng.ts";
import { syntheticPrices, zeroFeatures } from "./support/env_panels.ts";

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);
const D1 = Date.UTC(2024, 0, 2), D2 = Date.UTC(2024, 0, 3), D3 = Date.UTC(2024, 0, 4);

/** A: 10 → 11 → 12; B: 20 → 18 → (missing); C: listed from day 2 only. */
function panel() {
  const rows: [string, number, number][] = [
    ["A", D1, 10],
    ["A", D2, 11],
    ["A", D3, 12],
    ["B", D1, 20],
    ["B", D2, 18],
    ["C", D2, 5],
    ["C", D3, 6],
  ];
  return panelFromBars({
    instrument: rows.map((r) => r[0]),
    timestamp: rows.map((r) => r[1]),
    open: rows.map((r) => r[2]),
    high: rows.map((r) => r[2]),
    low: rows.map((r) => r[2]),
    close: rows.map((r) => r[2]),
    volume: rows.map(() => 1000),
  }, "1 day");
}

const NO_COSTS = { costPerTurnBps: 0, slippageBps: 0 } as const;

Deno.test("equalWeightBuyAndHold() decides at the first close, fills at the next open through the simulator, pays commission once and holds", () => {
  const bh = equalWeightBuyAndHold(panel(), {
    initialCash: 1000,
    costs: { costPerTurnBps: 100, slippageBps: 0 },
  });
  // C has no close on day 1: left out. A and B fill at the day-2 open (11, 18), 500 each.
  assert.deepEqual(bh.instruments, ["A", "B"]);
  assert.deepEqual(bh.timestamps, [D1, D2, D3]);
  close(bh.equity[0], 1000);
  // 1 % commission on 1,000 of notional is taken from cash after the buy (targets before costs).
  close(bh.equity[1], 1000 - 10);
  // B is missing on day 3: its last close (18) carries.
  close(bh.equity[2], -10 + (500 / 11) * 12 + 500);
  assert.deepEqual([...bh.costs], [0, 10, 0]);
  assert.deepEqual([...bh.slippage], [0, 0, 0]);
  close(bh.traded[1], 1); // the one trade, at day 2
  assert.deepEqual([bh.traded[0], bh.traded[2]], [0, 0]);
  assert.deepEqual([...bh.weights[0]], [0.5, 0.5]); // decided at day 1's close
  const v2 = (500 / 11) * 12 + 500 - 10;
  close(bh.weights[2][0], (500 / 11) * 12 / v2); // weights drift with prices
});

Deno.test("equalWeightBuyAndHold() pays slippage bps of the traded notional, as the env does", () => {
  const bh = equalWeightBuyAndHold(panel(), {
    initialCash: 1000,
    costs: { costPerTurnBps: 0, slippageBps: 100 },
  });
  close(bh.slippage[1], 10);
  assert.equal(bh.costs[1], 0);
  close(bh.equity[1], 990);
});

Deno.test("equalWeightBuyAndHold() honours from/to and rejects too short a range or unknown symbols", () => {
  const bh = equalWeightBuyAndHold(panel(), { from: D2, costs: NO_COSTS });
  assert.deepEqual(bh.instruments, ["A", "B", "C"]); // C listed by day 2
  assert.deepEqual(bh.timestamps, [D2, D3]);
  // B has no bar on day 3, so its third cannot fill and stays in cash.
  close(bh.weights[1][1], 0);
  close(bh.equity[1], 1 / 3 + (1 / 3) * (12 / 12) + (1 / 3) * (6 / 6));
  assert.throws(() => equalWeightBuyAndHold(panel(), { from: D3 + 1 }), /No bars between/);
  assert.throws(() => equalWeightBuyAndHold(panel(), { from: D3 }), /Only one bar/);
  assert.throws(
    () => equalWeightBuyAndHold(panel(), { instruments: ["ZZZ"] }),
    /ZZZ is not in the price panel/,
  );
});

Deno.test("equalWeightBuyAndHold() defaults to the env's default costs", () => {
  const bh = equalWeightBuyAndHold(panel(), { initialCash: 1000 });
  close(bh.costs[1], 1000 * DEFAULT_COSTS.costPerTurnBps / 1e4);
  close(bh.slippage[1], 1000 * DEFAULT_COSTS.slippageBps / 1e4);
});

Deno.test("singleInstrumentBenchmark() is buy & hold of that instrument", () => {
  const a = singleInstrumentBenchmark(panel(), "A", { costs: NO_COSTS });
  assert.equal(a.name, "Buy & hold A");
  // Bought at the day-2 open (11): flat to day 2's close, then 12/11.
  assert.deepEqual([...a.equity].map((x) => Math.round(x * 1e9) / 1e9), [
    1,
    1,
    Math.round((12 / 11) * 1e9) / 1e9,
  ]);
  const atClose = singleInstrumentBenchmark(panel(), "A", { costs: NO_COSTS, executeAt: "close" });
  close(atClose.equity[2], 12 / 11); // same here: the opens equal the closes
  assert.throws(
    () => singleInstrumentBenchmark(panel(), "C"),
    /No instrument has a close at or before the first bar/,
  );
});

Deno.test("runWeightRule() executes a rule per bar through the simulator; friction sees the targets first", () => {
  const p = panel();
  const market = prepareMarket(p, 20);
  const seen: number[] = [];
  const rebalanced: WeightRule = ({ t, market: m }) => {
    seen.push(t);
    // Equal weight of the instruments priced at t (known at the decision).
    const w = new Float64Array(m.n);
    const live = [...w.keys()].filter((i) => !Number.isNaN(m.mark[t * m.n + i]));
    for (const i of live) w[i] = 1 / live.length;
    return w;
  };
  const curve = runWeightRule(market, rebalanced, NO_COSTS, {
    instruments: p.instruments,
    initialCash: 1000,
    name: "Equal weight, rebalanced",
  });
  assert.deepEqual(seen, [0, 1]);
  assert.equal(curve.name, "Equal weight, rebalanced");
  assert.deepEqual(curve.instruments, ["A", "B", "C"]);
  assert.deepEqual([...curve.weights[0]], [0.5, 0.5, 0]);
  assert.equal(curve.weights.length, 3);
  // A friction that refuses every order leaves the run in cash.
  const frozen = runWeightRule(market, rebalanced, NO_COSTS, {
    instruments: p.instruments,
    friction: () => null,
  });
  assert.deepEqual([...frozen.equity], [1, 1, 1]);
  assert.deepEqual([...frozen.traded], [0, 0, 0]);
  assert.throws(
    () => runWeightRule(market, () => [1], NO_COSTS, { instruments: p.instruments }),
    /the rule gave 1 target weights at bar 0 for 3 instruments/,
  );
  assert.throws(
    () => runWeightRule(market, rebalanced, NO_COSTS, { instruments: ["A"] }),
    /1 instrument names for a market of 3/,
  );
  assert.throws(
    () =>
      runWeightRule(market, rebalanced, NO_COSTS, {
        instruments: p.instruments,
        range: { start: 2 },
      }),
    /has 1 bar\(s\)/,
  );
});

for (const feeModel of FEE_MODELS) {
  Deno.test(`same trades → same costs: policy env and benchmark runner charge identical commission, slippage and impact (${feeModel})`, () => {
    const prices = syntheticPrices(3, 60, 11);
    const envOptions = {
      action: "discrete" as const,
      reward: "log-return" as const,
      initialCash: 250_000,
      feeModel,
      costPerTurnBps: 7,
      slippageBps: 3,
      impactK: 0.4,
      impactLookback: 10,
    };
    const env = makePortfolioEnv(prices, zeroFeatures(prices), envOptions);
    // The policy path: scripted discrete actions (short/flat/long per instrument).
    const rng = new Rng(5);
    const start = 12;
    const r0 = env.reset({ start });
    const targets: Float64Array[] = [];
    const policy = { cost: [0], slippage: [0], impact: [0], netWorth: [r0.info.netWorth] };
    for (let k = 0; k < 40; k++) {
      const action = new Float32Array(3).map(() => rng.integer(0, 2));
      const r = env.step(action);
      targets.push(Float64Array.from(r.info.targetWeights!));
      policy.cost.push(r.info.cost!);
      policy.slippage.push(r.info.slippage!);
      policy.impact.push(r.info.impact!);
      policy.netWorth.push(r.info.netWorth);
    }
    // The benchmark path: a rule that replays the same target weights, with the env's costs.
    const bench = runWeightRule(
      prepareMarket(prices, env.costs.impactLookback),
      ({ step }) => targets[step],
      env.costs,
      { instruments: prices.instruments, initialCash: 250_000, range: { start, end: start + 40 } },
    );
    const sum = (x: ArrayLike<number>) => Array.from(x).reduce((a, b) => a + b, 0);
    const same = (a: number, b: number, what: string) =>
      assert.ok(
        Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)) && Math.abs(a - b) < 0.005,
        `${feeModel} ${what}: policy ${a} vs benchmark ${b}`,
      );
    assert.ok(sum(policy.cost) > 0 && sum(policy.impact) > 0, "the scripted trades pay costs");
    same(sum(policy.cost), sum(bench.costs), "commission");
    same(sum(policy.slippage), sum(bench.slippage), "slippage");
    same(sum(policy.impact), sum(bench.impact!), "impact");
    // Per step too: the same code charges them, so they agree exactly.
    assert.deepEqual(policy.cost, [...bench.costs]);
    assert.deepEqual(policy.slippage, [...bench.slippage]);
    assert.deepEqual(policy.impact, [...bench.impact!]);
    assert.deepEqual(policy.netWorth, [...bench.equity]);
  });
}

Deno.test("cashBenchmark() compounds the risk-free rate per period, flat at 0 %", () => {
  const c = cashBenchmark([D1, D2, D3], { riskFreeRate: 0.21, periodsPerYear: 2 });
  [1, 1.1, 1.21].forEach((v, i) => close(c.equity[i], v));
  assert.deepEqual([...cashBenchmark([D1, D2]).equity], [1, 1]);
});

Deno.test("alphaBeta() recovers r_s = 0.001 + 2 r_b", () => {
  const b = [0.01, -0.01, 0.005, 0.02];
  const s = b.map((x) => 0.001 + 2 * x);
  const ab = alphaBeta(s, b, { periodsPerYear: 252 });
  close(ab.beta, 2);
  close(ab.alphaPerPeriod, 0.001);
  close(ab.alpha, 0.252);
  close(ab.rSquared, 1);
});

Deno.test("alphaBeta() gives both annualisations: arithmetic a·252 and empyrical's compounded (1 + a)^252 − 1", () => {
  const b = [0.01, -0.01, 0.005, 0.02];
  const ab = alphaBeta(b.map((x) => 0.001 + 2 * x), b, { periodsPerYear: 252 });
  close(ab.alpha, 0.252);
  // empyrical.alpha: (1 + mean(r_s − β·r_b)) ** 252 − 1 = 1.001^252 − 1 = 0.286434…
  close(ab.alphaCompounded, 1.001 ** 252 - 1);
  close(ab.alphaCompounded, 0.286434, 1e-6);
});

Deno.test("alphaBeta() rejects series of different lengths", () => {
  assert.throws(
    () => alphaBeta([0.1, 0.2], [0.1], { periodsPerYear: 1 }),
    /strategy has 2 returns, benchmark 1/,
  );
});

Deno.test("informationRatio() of active returns [2 %, 0, 1 %] quarterly is 2", () => {
  const ir = informationRatio([0.03, 0.01, 0.02], [0.01, 0.01, 0.01], 4);
  close(ir.informationRatio, 2);
  close(ir.trackingError, 0.02);
  close(ir.activeReturn, 0.04);
  assert.equal(informationRatio([0.01, 0.02], [0.01, 0.02], 252).informationRatio, 0);
});

Deno.test("alignToTimestamps() reads the last value at or before each time", () => {
  assert.deepEqual([
    ...alignToTimestamps({ timestamps: [0, 10, 20], equity: [1, 2, 3] }, [10, 15, 25]),
  ], [2, 2, 3]);
  assert.throws(
    () => alignToTimestamps({ timestamps: [10], equity: [1] }, [5]),
    /before the curve starts/,
  );
});
