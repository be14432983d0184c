/**
 * The baselines beside buy & hold (lib/eval/baselines.ts): known answers for inverse
 * volatility, the band of equal weight rebalanced, the signal tilt; the combined
 * signal computed in memory equals the project's signal path and has no look-ahead;
 * cash; runBaselines; the comparison against every baseline; seed distributions;
 * the survivorship statement.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import {
  type MarketData,
  MarketSimulator,
  prepareMarket,
  resolveCostOptions,
} from "@lib/env/mod.ts";
import {
  BASELINE_KEYS,
  cashRule,
  combinedSignalScores,
  compareWithBaselines,
  equalWeightBuyAndHold,
  equalWeightRule,
  inverseVolatilityRule,
  medianIndex,
  runBaselines,
  runWeightRule,
  scoreTiltRule,
  seedDistribution,
  survivorshipStatement,
  type WeightRule,
} from "@lib/eval/mod.ts";
import { computeFeatures, computeSignals, SIGNAL_FEATURES } from "@lib/features/mod.ts";
import { handPanel, perturbAfter, syntheticPrices } from "./support/env_panels.ts";

/** A rule's targets at bar t (the rules here read only t and the market). */
function decide(rule: WeightRule, t: number, market: MarketData): number[] {
  const sim = new MarketSimulator(market, {
    executeAt: "open",
    costs: resolveCostOptions(),
    initialCash: 1,
  });
  return Array.from(rule({ t, step: 0, state: sim.reset(t), market }) ?? []);
}

const NO_COSTS = { costPerTurnBps: 0, slippageBps: 0 } as const;
const near = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

Deno.test("inverseVolatilityRule() weights two series of known volatility 2/3 and 1/3, from returns ≤ t only", () => {
  // A alternates +1 % / −1 %, B +2 % / −2 %: σ_B = 2 σ_A exactly in the ratio.
  const a = [100], b = [100];
  for (let t = 1; t < 10; t++) {
    a.push(a[t - 1] * (t % 2 ? 1.01 : 0.99));
    b.push(b[t - 1] * (t % 2 ? 1.02 : 0.98));
  }
  const close = a.map((x, t) => [x, b[t]]);
  const panel = handPanel(["A", "B"], { open: close, close });
  const market = prepareMarket(panel, 20);
  const rule = inverseVolatilityRule({ window: 4, minReturns: 2 });
  const w = decide(rule, 8, market);
  // σ over the last 4 returns: each ±a with mean ~0 → ratio 1/σ_A : 1/σ_B = 2 : 1
  near(w[0], 2 / 3, 1e-3);
  near(w[1], 1 / 3, 1e-3);
  near(w[0] + w[1], 1);
  // Changing bars after t does not change the decision at t.
  const later = prepareMarket(perturbAfter(panel, 8, 3), 20);
  const w2 = decide(rule, 8, later);
  assert.deepEqual(w2, w);
  // Too few returns (t = 1 has one): equal weight over the priced instruments.
  assert.deepEqual([...decide(rule, 1, market)], [0.5, 0.5]);
  assert.throws(() => inverseVolatilityRule({ window: 1 }), /window = 1 must be an integer ≥ 2/);
});

Deno.test("equal weight rebalanced with a band trades only once a weight drifts past the band", () => {
  // A: 10 → 11 → 12 → 20 → 20, B flat at 10; each bar opens at the previous close.
  const closes = [[10, 10], [11, 10], [12, 10], [20, 10], [20, 10]];
  const opens = closes.map((_, t) => closes[Math.max(0, t - 1)]);
  const market = prepareMarket(handPanel(["A", "B"], { open: opens, close: closes }), 20);
  const banded = runWeightRule(market, equalWeightRule(), NO_COSTS, {
    instruments: ["A", "B"],
    rebalancing: { band: 0.1 },
  });
  // Bought at bar 1; wA 0.524 (bar 1) and 0.545 (bar 2) stay inside the band; 0.667 at bar 3
  // is past it, so the bar-4 fill trades both back to 0.5: 0.25 + 0.25 of a net worth of 1.5.
  assert.deepEqual([...banded.traded].map((x) => Math.round(x * 1e9) / 1e9), [
    0,
    1,
    0,
    0,
    0.333333333,
  ]);
  near(banded.equity[4], 1.5);
  near(banded.weights[4][0], 0.5);
  // Without a band it rebalances every bar.
  const every = runWeightRule(market, equalWeightRule(), NO_COSTS, { instruments: ["A", "B"] });
  assert.ok(every.traded[2] > 0 && every.traded[3] > 0);
  // Rebalancing every 3 bars: decisions 0 and 3 trade, 1 and 2 hold.
  const periodic = runWeightRule(market, equalWeightRule(), NO_COSTS, {
    instruments: ["A", "B"],
    rebalancing: { rebalanceEvery: 3 },
  });
  assert.deepEqual([...periodic.traded].map((x) => x > 0), [false, true, false, false, true]);
});

Deno.test("scoreTiltRule() tilts equal weight by 1 + tilt·score, long only, NaN as 0", () => {
  const close = [[10, 10, 10], [10, 10, 10], [10, 10, 10]];
  const market = prepareMarket(handPanel(["A", "B", "C"], { open: close, close }), 20);
  const scores = Float64Array.from([0.5, -0.5, NaN, 2, -1, 0, 0, 0, 0]);
  const w0 = decide(scoreTiltRule(scores), 0, market);
  assert.deepEqual(w0, [1.5 / 3, 0.5 / 3, 1 / 3]);
  const w1 = decide(scoreTiltRule(scores, { tilt: 0.5 }), 1, market);
  // clipped 2 → 1: masses 1.5, 0.5, 1
  assert.deepEqual(w1, [1.5 / 3, 0.5 / 3, 1 / 3]);
  assert.throws(() => scoreTiltRule(scores, { tilt: 1.5 }), /tilt = 1.5 must be in \[0, 1\]/);
});

Deno.test("combinedSignalScores() equals the project's combined signal and has no look-ahead", () => {
  const panel = syntheticPrices(3, 80, 5);
  const n = 3;
  const scores = combinedSignalScores(panel);
  // The same signal through the stored-signal path (features frame → computeSignals).
  const rows = panel.timestamps.length * n;
  const bars = {
    instrument: Array.from({ length: rows }, (_, k) => panel.instruments[k % n]),
    timestamp: Array.from({ length: rows }, (_, k) => panel.timestamps[Math.floor(k / n)]),
    open: Array.from(panel.open),
    high: Array.from(panel.high),
    low: Array.from(panel.low),
    close: Array.from(panel.close),
    volume: Array.from(panel.volume),
  };
  const frame = computeFeatures(bars, {
    names: [...SIGNAL_FEATURES.momentum, ...SIGNAL_FEATURES.mean_reversion],
  });
  const combined = computeSignals(frame).filter(pl.col("signal_name").eq(pl.lit("combined")));
  const inst = combined.getColumn("instrument").toArray() as string[];
  const score = combined.getColumn("score").toArray() as number[];
  const ts = combined.getColumn("timestamp").cast(pl.Int64).cast(pl.Float64).toArray() as number[];
  assert.ok(combined.height > 100);
  for (let r = 0; r < combined.height; r++) {
    const t = panel.timestamps.indexOf(ts[r]);
    near(scores[t * n + panel.instruments.indexOf(inst[r])], score[r], 1e-12);
  }
  const defined = [...scores].filter(Number.isFinite);
  assert.equal(defined.length, combined.height);
  assert.ok(defined.every((s) => s >= -1 && s <= 1));
  assert.ok([...scores.slice(0, 19 * n)].every(Number.isNaN), "warm-up: no score");
  // Perturbing bars after t leaves every score at or before t unchanged.
  const t = 50;
  const after = combinedSignalScores(perturbAfter(panel, t, 9));
  assert.deepEqual([...after.slice(0, (t + 1) * n)], [...scores.slice(0, (t + 1) * n)]);
  assert.notDeepEqual([...after.slice((t + 1) * n)], [...scores.slice((t + 1) * n)]);
});

Deno.test("cashRule() never trades: flat equity, no costs", () => {
  const panel = syntheticPrices(2, 10, 1);
  const c = runWeightRule(prepareMarket(panel, 20), cashRule(), {}, {
    instruments: panel.instruments,
  });
  assert.ok([...c.equity].every((v) => v === 1));
  assert.ok([...c.costs, ...c.traded].every((v) => v === 0));
});

Deno.test("runBaselines() runs every baseline on the same bars and costs; buy & hold is equalWeightBuyAndHold", () => {
  const panel = syntheticPrices(3, 200, 2);
  const from = panel.timestamps[130], to = panel.timestamps[199];
  const all = runBaselines(panel, { from, to, initialCash: 1e6, rebalancing: { band: 0.02 } });
  assert.deepEqual(all.map((b) => b.key), [...BASELINE_KEYS]);
  for (const b of all) {
    assert.equal(b.curve.timestamps[0], from);
    assert.equal(b.curve.timestamps.at(-1), to);
    assert.equal(b.curve.equity[0], 1e6);
  }
  const bh = equalWeightBuyAndHold(panel, { from, to, initialCash: 1e6 });
  assert.deepEqual([...all[0].curve.equity], [...bh.equity]);
  assert.ok(all[1].curve.costs.reduce((a, b) => a + b, 0) > 0, "rebalancing pays costs");
  assert.match(all[1].description, /band 0.02/);
  assert.ok([...all[4].curve.equity].every((v) => v === 1e6));
  assert.throws(() => runBaselines(panel, { from: to, to }), /fewer than 2 bars/);
});

Deno.test("compareWithBaselines() names the best baseline by Sharpe and gives the verdict against it", () => {
  const panel = syntheticPrices(3, 300, 4);
  const from = panel.timestamps[130], to = panel.timestamps[299];
  const baselines = runBaselines(panel, { from, to, costs: NO_COSTS });
  const strategy = baselines[4].curve; // cash as the "strategy"
  const r = compareWithBaselines(
    { ...strategy, name: "Cash strategy" },
    baselines.map((b) => ({ key: b.key, curve: b.curve })),
    { seed: 1 },
  );
  assert.equal(r.baselines.length, 5);
  const sharpes = r.baselines.map((b) => b.comparison.benchmark.sharpe);
  assert.equal(r.best.comparison.benchmark.sharpe, Math.max(...sharpes));
  assert.match(r.verdict, new RegExp(`best baseline, ${r.best.name.replace(/[()]/g, ".")}`));
  assert.match(r.verdict, /of 5 baselines/);
  assert.throws(() => compareWithBaselines(strategy, []), /no baseline/);
});

Deno.test("seedDistribution() and medianIndex(): known quartiles; the lower middle for an even count", () => {
  const d = seedDistribution([0.2, 0.5, 0.9, 1.1, 1.4]);
  near(d.median, 0.9);
  near(d.q1, 0.5);
  near(d.q3, 1.1);
  near(d.iqr, 0.6);
  assert.equal(d.min, 0.2);
  assert.equal(medianIndex([0.9, 0.2, 1.4, 0.5]), 3);
  assert.equal(medianIndex([0.9, 0.2, 1.4]), 0);
  assert.ok(Number.isNaN(seedDistribution([NaN]).median));
});

Deno.test("survivorshipStatement(): survivors when every instrument trades to the data's end, else the ones that stopped", () => {
  const range = { start: "2015-01-02", end: "2019-12-31" };
  const s = survivorshipStatement([
    { instrument: "A", first: "2005-01-03", last: "2021-04-20" },
    { instrument: "B", first: "2008-01-03", last: "2021-04-16" },
  ], range);
  assert.equal(s.fixedAt, "data-end");
  assert.equal(s.survivors, true);
  assert.match(s.statement, /chosen as of the data's end \(survivors\)/);
  assert.match(s.statement, /after the evaluated range ends \(2019-12-31\)/);
  assert.match(s.statement, /fair one/);
  const d = survivorshipStatement([
    { instrument: "A", first: "2005-01-03", last: "2021-04-20" },
    { instrument: "C", first: "2005-01-03", last: "2012-06-01" },
  ], range);
  assert.equal(d.fixedAt, "unknown");
  assert.deepEqual(d.stopped, [{ instrument: "C", last: "2012-06-01" }]);
  assert.match(
    d.statement,
    /1 of 2 instruments have no bars after their last date, before the data's end 2021-04-20/,
  );
});
