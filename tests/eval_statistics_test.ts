import assert from "node:assert/strict";
import {
  describeComparison,
  normalCdf,
  probabilisticSharpeRatio,
  psrFromMoments,
  quantileSorted,
  sharpeDifferenceCI,
  sharpeRatio,
} from "@lib/eval/mod.ts";
import { Rng } from "@lib/util/rng.ts";

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

function noise(seed: number, n: number, scale: number, drift = 0): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => drift + scale * rng.normal());
}

Deno.test("normalCdf() matches tabulated values", () => {
  assert.equal(normalCdf(0), 0.5);
  close(normalCdf(1.959963984540054), 0.975, 1e-12);
  close(normalCdf(-1), 0.15865525393145707, 1e-12);
  close(normalCdf(3), 0.9986501019683699, 1e-12);
  assert.equal(normalCdf(-40), 0);
});

Deno.test("psrFromMoments() is Φ((SR − SR*)·√(n−1) / √(1 − γ3·SR + (γ4−1)/4·SR²))", () => {
  // SR 0.1, n 101, normal: z = 0.1·10 / √1.005 = 0.997512…; Φ(z) ≈ Φ(1) − φ(1)·0.002488 ≈ 0.840742
  close(
    psrFromMoments({ sharpe: 0.1, benchmarkSharpe: 0, n: 101, skewness: 0, kurtosis: 3 }),
    0.840742,
    1e-5,
  );
  close(
    psrFromMoments({ sharpe: 0.1, benchmarkSharpe: 0, n: 101, skewness: 0, kurtosis: 3 }),
    normalCdf(1 / Math.sqrt(1.005)),
  );
  // Negative skew and fat tails widen the Sharpe's error: lower confidence.
  const fat = psrFromMoments({
    sharpe: 0.1,
    benchmarkSharpe: 0,
    n: 101,
    skewness: -2,
    kurtosis: 10,
  });
  close(fat, normalCdf(1 / Math.sqrt(1 + 0.2 + 0.0225)));
  assert.ok(fat < 0.84);
});

Deno.test("probabilisticSharpeRatio() is 0.5 when the threshold equals the series' own Sharpe", () => {
  const r = noise(1, 500, 0.01, 0.0005);
  const sr = sharpeRatio(r, { periodsPerYear: 252 });
  close(probabilisticSharpeRatio(r, { periodsPerYear: 252, benchmarkSharpe: sr }), 0.5, 1e-12);
});

Deno.test("probabilisticSharpeRatio() is near 1 for a strong series and near 0 against a far higher threshold", () => {
  const r = noise(2, 1000, 0.01, 0.002); // per-period SR ≈ 0.2, √999·0.2 ≈ 6σ
  assert.ok(probabilisticSharpeRatio(r, { periodsPerYear: 252 }) > 0.999);
  assert.ok(probabilisticSharpeRatio(r, { periodsPerYear: 252, benchmarkSharpe: 10 }) < 0.001);
});

Deno.test("quantileSorted() interpolates linearly", () => {
  assert.equal(quantileSorted(Float64Array.of(1, 2, 3, 4), 0.5), 2.5);
  assert.equal(quantileSorted([1, 2, 3, 4], 0), 1);
  assert.equal(quantileSorted([1, 2, 3, 4], 1), 4);
});

Deno.test("sharpeDifferenceCI() of identical series is exactly [0, 0] and not significant", () => {
  const r = noise(3, 300, 0.01);
  const ci = sharpeDifferenceCI(r, r, { periodsPerYear: 252, resamples: 200 });
  assert.equal(ci.estimate, 0);
  assert.ok(ci.lower <= 0 && ci.upper >= 0);
  assert.equal(ci.significant, false);
  assert.equal(ci.pValue, 1);
});

Deno.test("sharpeDifferenceCI() excludes 0 for a strongly dominating series (both schemes)", () => {
  const b = noise(4, 500, 0.01);
  const s = b.map((x) => x + 0.004);
  for (const method of ["stationary", "circular"] as const) {
    const ci = sharpeDifferenceCI(s, b, { periodsPerYear: 252, resamples: 500, method, seed: 9 });
    assert.ok(ci.lower > 0, `${method}: lower ${ci.lower}`);
    assert.ok(ci.estimate > ci.lower && ci.estimate < ci.upper);
    assert.equal(ci.significant, true);
    assert.ok(ci.pValue < 0.01);
    assert.equal(ci.blockLength, 8); // round(500^(1/3)) = round(7.94)
  }
});

Deno.test("sharpeDifferenceCI() is reproducible from its seed and changes with it", () => {
  const b = noise(5, 200, 0.01);
  const s = noise(6, 200, 0.01, 0.0005);
  const a1 = sharpeDifferenceCI(s, b, { periodsPerYear: 252, resamples: 300, seed: 1 });
  const a2 = sharpeDifferenceCI(s, b, { periodsPerYear: 252, resamples: 300, seed: 1 });
  const a3 = sharpeDifferenceCI(s, b, { periodsPerYear: 252, resamples: 300, seed: 2 });
  assert.deepEqual(a1, a2);
  assert.notEqual(a1.lower, a3.lower);
});

Deno.test("sharpeDifferenceCI() rejects mismatched lengths and bad options", () => {
  assert.throws(
    () => sharpeDifferenceCI([1, 2, 3], [1, 2], { periodsPerYear: 1 }),
    /align them first/,
  );
  assert.throws(
    () => sharpeDifferenceCI([1, 2, 3], [1, 2, 3], { periodsPerYear: 1, confidence: 1 }),
    /confidence/,
  );
  assert.throws(
    () => sharpeDifferenceCI([1, 2, 3], [1, 2, 3], { periodsPerYear: 1, blockLength: 9 }),
    /blockLength/,
  );
});

Deno.test("describeComparison() says whether a difference is distinguishable from luck", () => {
  const base = {
    confidence: 0.95,
    pValue: 0.5,
    resamples: 10,
    blockLength: 1,
    method: "stationary" as const,
    seed: 0,
  };
  const luck = describeComparison({
    ...base,
    estimate: 0.31,
    lower: -0.2,
    upper: 0.8,
    significant: false,
  }, 0.73);
  assert.match(
    luck,
    /0\.31 above the benchmark's \(95 % CI \[−0\.20, \+0\.80\], which includes 0\)/,
  );
  assert.match(luck, /not distinguishable from luck at 95 %/);
  assert.match(luck, /73 % chance/);
  const win = describeComparison({
    ...base,
    estimate: 1,
    lower: 0.5,
    upper: 1.5,
    significant: true,
  });
  assert.match(win, /a win distinguishable from luck at 95 %/);
  const loss = describeComparison(
    { ...base, estimate: -1, lower: -1.5, upper: -0.5, significant: true },
    undefined,
    {
      strategy: "PPO",
      benchmark: "buy & hold",
    },
  );
  assert.match(
    loss,
    /^PPO's Sharpe ratio is 1\.00 below buy & hold's .*buy & hold is better, and not by luck/,
  );
});
