import assert from "node:assert/strict";
import { panelFromBars } from "@lib/data/panel.ts";
import {
  alignToTimestamps,
  alphaBeta,
  cashBenchmark,
  equalWeightBuyAndHold,
  informationRatio,
  singleInstrumentBenchmark,
} from "@lib/eval/mod.ts";

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

Deno.test("equalWeightBuyAndHold() charges commission once on the initial buy and holds", () => {
  const bh = equalWeightBuyAndHold(panel(), { initialCash: 1000, commission: 0.01 });
  // C has no close on day 1: left out. Spend 1000/1.01 split equally over A and B.
  assert.deepEqual(bh.instruments, ["A", "B"]);
  assert.deepEqual(bh.timestamps, [D1, D2, D3]);
  const per = 1000 / 1.01 / 2;
  close(bh.equity[0], 1000);
  close(bh.equity[1], per * (11 / 10 + 18 / 20));
  // B is missing on day 3: its last close (18) carries.
  close(bh.equity[2], per * (12 / 10 + 18 / 20));
  close(bh.costs[0], (1000 / 1.01) * 0.01);
  assert.equal(bh.costs[1], 0);
  close(bh.weights[0][0], 0.5);
  close(bh.weights[2][0], 1.2 / 2.1); // weights drift with prices
  close(bh.traded[0], 1 / 1.01); // the one trade: 1000/1.01 of 1000 invested
  assert.deepEqual([...bh.traded.subarray(1)], [0, 0]);
});

Deno.test("equalWeightBuyAndHold() pays slippage as a worse fill price", () => {
  const bh = equalWeightBuyAndHold(panel(), { initialCash: 1000, slippage: 0.01 });
  close(bh.equity[1], (500 / 1.01) * (1.1 + 0.9));
  close(bh.slippage[0], (500 / 1.01) * 0.01 * 2);
  assert.equal(bh.costs[0], 0);
});

Deno.test("equalWeightBuyAndHold() honours from/to and rejects an empty range or unknown symbols", () => {
  const bh = equalWeightBuyAndHold(panel(), { from: D2 });
  assert.deepEqual(bh.instruments, ["A", "B", "C"]); // C listed by day 2
  assert.deepEqual(bh.timestamps, [D2, D3]);
  assert.throws(() => equalWeightBuyAndHold(panel(), { from: D3 + 1 }), /No bars between/);
  assert.throws(
    () => equalWeightBuyAndHold(panel(), { instruments: ["ZZZ"] }),
    /ZZZ is not in the price panel/,
  );
});

Deno.test("singleInstrumentBenchmark() is buy & hold of that instrument", () => {
  const a = singleInstrumentBenchmark(panel(), "A");
  assert.equal(a.name, "Buy & hold A");
  assert.deepEqual([...a.equity].map((x) => Math.round(x * 1e9) / 1e9), [1, 1.1, 1.2]);
  assert.throws(
    () => singleInstrumentBenchmark(panel(), "C"),
    /No instrument has a close at the first bar/,
  );
});

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
