import assert from "node:assert/strict";
import pl from "nodejs-polars";
import type { BarColumns } from "@lib/data/panel.ts";
import {
  combineSignals,
  computeFeatures,
  generateMeanReversionSignals,
  generateMomentumSignals,
  SIGNAL_FEATURES,
  type SignalFrame,
} from "@lib/features/mod.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

function bars(symbol: string, closes: number[]): BarColumns {
  return {
    instrument: closes.map(() => symbol),
    timestamp: closes.map((_, k) => T0 + k * DAY),
    open: closes,
    high: closes.map((c) => c * 1.01),
    low: closes.map((c) => c * 0.99),
    close: closes,
    volume: closes.map(() => 1000),
  };
}

function scores(s: SignalFrame, symbol = "A"): number[] {
  return s.filter(pl.col("instrument").eq(pl.lit(symbol))).getColumn("score").toArray() as number[];
}

const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} ≠ ${b}`);

Deno.test("generateMomentumSignals() scores a steady uptrend near +1 and a downtrend near −1", () => {
  // 1% a day with a ±0.1% wiggle: mom_20 ≈ 0.22 against vol_20 ≈ 0.002 → t ≈ 24.
  const up = Array.from({ length: 60 }, (_, k) => 100 * 1.01 ** k * (1 + 0.001 * (-1) ** k));
  const down = Array.from({ length: 60 }, (_, k) => 100 * 0.99 ** k * (1 + 0.001 * (-1) ** k));
  const f = computeFeatures({
    instrument: [...bars("A", up).instrument, ...bars("B", down).instrument],
    timestamp: [...bars("A", up).timestamp, ...bars("B", down).timestamp],
    open: [...up, ...down],
    high: [...up, ...down],
    low: [...up, ...down],
    close: [...up, ...down],
    volume: [...up, ...down].map(() => 1),
  }, { names: [...SIGNAL_FEATURES.momentum] });
  const s = generateMomentumSignals(f);
  assert.equal(scores(s, "A").length, 60 - 20, "one score per bar after the 20-bar warm-up");
  assert.ok(scores(s, "A").every((x) => x > 0.99), `uptrend: ${scores(s, "A").slice(0, 3)}`);
  assert.ok(scores(s, "B").every((x) => x < -0.99), `downtrend: ${scores(s, "B").slice(0, 3)}`);
});

Deno.test("generateMomentumSignals() is tanh(mom/(vol·√h)), the sign when vol is 0, with its inputs in meta_json", () => {
  const f = pl.DataFrame({
    instrument: ["A", "B", "C"],
    timestamp: [new Date(T0), new Date(T0), new Date(T0)],
    mom_20: [0.1, -0.05, 0.02],
    vol_20: [0.01, 0.01, 0],
  });
  const s = generateMomentumSignals(f);
  // 0.1 / (0.01·√20) = √5; −0.05 / (0.01·√20) = −√5/2.
  near(scores(s, "A")[0], Math.tanh(Math.sqrt(5)), "A");
  near(scores(s, "B")[0], Math.tanh(-Math.sqrt(5) / 2), "B");
  assert.equal(scores(s, "C")[0], 1);
  const meta = JSON.parse(s.getColumn("meta_json").toArray()[0] as string);
  assert.deepEqual(meta.range, [-1, 1]);
  assert.equal(meta.mom_20, 0.1);
  assert.equal(meta.vol_20, 0.01);
  assert.match(meta.rule, /tanh/);
  assert.throws(() => generateMomentumSignals(f, { horizon: 60 }), /mom_60/);
});

Deno.test("generateMeanReversionSignals() scores a spike negative and its revert slightly positive", () => {
  // Flat at 100 for 25 bars, a spike to 120, back to 100.
  const closes = [...Array(25).fill(100), 120, 100];
  const s = generateMeanReversionSignals(
    computeFeatures(bars("A", closes), { names: ["zscore_20"] }),
  );
  // Flat windows have std 0: zscore_20 is null there, so no score.
  assert.equal(s.height, 2);
  // Spike window: 19×100 + 120 → mean 101, sample var (19·1 + 19²)/19 = 20 → z = 19/√20.
  near(scores(s)[0], -Math.tanh(19 / Math.sqrt(20) / 2), "spike");
  // Revert window: 18×100 + 120 + 100 → mean 101, var 20 → z = −1/√20.
  near(scores(s)[1], Math.tanh(1 / Math.sqrt(20) / 2), "revert");
  assert.ok(scores(s)[0] < -0.9 && scores(s)[1] > 0);
  assert.equal(
    JSON.parse(s.getColumn("meta_json").toArray()[0] as string).zscore_20,
    19 / Math.sqrt(20),
  );
});

function frame(name: string, values: number[]): SignalFrame {
  return pl.DataFrame({
    instrument: ["A", "B", "C"],
    timestamp: [new Date(T0), new Date(T0), new Date(T0)],
    signal_name: [name, name, name],
    score: values,
    meta_json: ["{}", "{}", "{}"],
  });
}

Deno.test("combineSignals() weights raw scores: Σ w·s / Σ|w|", () => {
  const c = combineSignals([frame("a", [0.1, 0.5, 0.3]), frame("b", [-1, -1, 1])], {
    weights: { a: 2, b: 1 },
  });
  assert.deepEqual(c.columns, ["instrument", "timestamp", "signal_name", "score", "meta_json"]);
  near(scores(c, "A")[0], (0.2 - 1) / 3, "A");
  near(scores(c, "B")[0], (1 - 1) / 3, "B");
  near(scores(c, "C")[0], (0.6 + 1) / 3, "C");
  const meta = JSON.parse(c.getColumn("meta_json").toArray()[0] as string);
  assert.deepEqual(meta.weights, { a: 2, b: 1 });
  assert.equal(meta.inputs.b, -1);
});

Deno.test("combineSignals() rank-averages: 2·(rank − ½)/n − 1 per date, ties averaged", () => {
  // a: 0.1, 0.5, 0.3 → ranks 1, 3, 2 → −2/3, 2/3, 0; b: −1, −1, 1 → ranks 1.5, 1.5, 3 → −1/3, −1/3, 2/3.
  const c = combineSignals([frame("a", [0.1, 0.5, 0.3]), frame("b", [-1, -1, 1])], {
    method: "rank",
  });
  near(scores(c, "A")[0], -0.5, "A");
  near(scores(c, "B")[0], 1 / 6, "B");
  near(scores(c, "C")[0], 1 / 3, "C");
  assert.throws(() => combineSignals([frame("a", [0, 0, 0])], { weights: { a: 0 } }), RangeError);
  assert.throws(
    () => combineSignals([frame("a", [0, 0, 0])], { weights: { z: 1 } }),
    /no such signal/,
  );
});
