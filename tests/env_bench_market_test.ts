/**
 * The benchmark market and env of SPEC.md section 1 on small hand-computed cases.
 */
import assert from "node:assert/strict";
import {
  BENCH_MARKET,
  benchFeatures,
  type BenchMarket,
  BenchVecEnv,
  makeBenchMarket,
} from "../tasks/bench/_market.ts";

/** 2 assets: asset 0 closes at 100 + t, asset 1 at 100·1.01ᵗ. */
function handMarket(days: number): BenchMarket {
  const c = new Float64Array(days * 2);
  for (let t = 0; t < days; t++) {
    c[2 * t] = 100 + t;
    c[2 * t + 1] = 100 * 1.01 ** t;
  }
  const { features, returns } = benchFeatures(c, 2);
  return { assets: 2, days, close: c, returns, features };
}

const near = (a: number, b: number, tol = 1e-6) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`);

Deno.test("benchFeatures() computes the SPEC's 8 features per asset from closes up to day t", () => {
  const m = handMarket(30);
  const f = (t: number, asset: number, k: number) => m.features[(t * 2 + asset) * 8 + k];
  // asset 0 at t = 20: close 120; closes 101..120 are 20 consecutive integers
  near(f(20, 0, 0), 120 / 119 - 1);
  near(f(20, 0, 1), 120 / 115 - 1);
  near(f(20, 0, 2), 120 / 100 - 1);
  near(f(20, 0, 5), (120 - 110.5) / Math.sqrt(35)); // std(ddof=1) of 20 consecutive integers = √35
  // vol_5 of returns 1/115 .. 1/119 (sample std)
  const r = [115, 116, 117, 118, 119].map((d) => 1 / d);
  const mean = r.reduce((a, b) => a + b) / 5;
  near(f(20, 0, 3), Math.sqrt(r.reduce((s, x) => s + (x - mean) ** 2, 0) / 4), 1e-5);
  // asset 1 grows 1 % a day: constant returns, zero volatility
  near(f(25, 1, 0), 0.01);
  near(f(25, 1, 1), 1.01 ** 5 - 1);
  near(f(25, 1, 2), 1.01 ** 20 - 1);
  assert.ok(Math.abs(f(25, 1, 3)) < 1e-7 && Math.abs(f(25, 1, 4)) < 1e-7);
  // padding and warm-up are zero
  assert.equal(f(25, 0, 6), 0);
  assert.equal(f(25, 1, 7), 0);
  assert.ok(m.features.subarray(0, 20 * 16).every((v) => v === 0));
  assert.equal(m.returns[0], 0);
  near(m.returns[2 * 10 + 1], 0.01);
});

Deno.test("benchFeatures() at day t does not change when later closes change (no look-ahead)", () => {
  const a = handMarket(40);
  const c = a.close.slice();
  for (let i = 31 * 2; i < c.length; i++) c[i] *= 1.5;
  const b = benchFeatures(c, 2);
  assert.deepEqual(b.features.subarray(0, 31 * 16), a.features.subarray(0, 31 * 16));
  assert.notDeepEqual(b.features.subarray(31 * 16), a.features.subarray(31 * 16));
});

Deno.test("BenchVecEnv.step() clips, scales to gross ≤ 1, earns w·r(t+1) and pays 5 bp on turnover", () => {
  const m = handMarket(300);
  const env = new BenchVecEnv(m, { numEnvs: 1, seed: 3 });
  const obs0 = env.reset();
  const t0 = env.currentDays[0];
  assert.ok(t0 >= 20 && t0 <= 300 - 1 - 252);
  assert.equal(obs0.length, 2 * 8 + 2);
  assert.deepEqual(obs0.subarray(0, 16), m.features.subarray(t0 * 16, t0 * 16 + 16));
  assert.deepEqual(Array.from(obs0.subarray(16)), [0, 0]);

  // [2, -0.5] → clip [1, -0.5] → gross 1.5 → w = [2/3, -1/3]
  const s1 = env.step(Float32Array.from([2, -0.5]));
  const r0 = 1 / (100 + t0), r1 = 0.01; // returns of day t0 + 1
  near(s1.rewards[0], (2 / 3) * r0 - (1 / 3) * r1 - 0.0005 * 1, 1e-6);
  assert.equal(env.currentDays[0], t0 + 1);
  assert.deepEqual(
    s1.observations.subarray(0, 16),
    m.features.subarray((t0 + 1) * 16, (t0 + 2) * 16),
  );
  near(s1.observations[16], 2 / 3);
  near(s1.observations[17], -1 / 3);
  assert.equal(s1.truncated[0], 0);

  // [0.25, 0.25]: gross 0.5 stays; turnover |0.25 − 2/3| + |0.25 + 1/3| = 1
  const s2 = env.step(Float32Array.from([0.25, 0.25]));
  near(s2.rewards[0], 0.25 * (1 / (101 + t0)) + 0.25 * 0.01 - 0.0005 * 1, 1e-6);
  near(s2.infos[0].turnover!, 1, 1e-12);
});

Deno.test("BenchVecEnv ends an episode after 252 steps: truncated, final observation kept, next episode's first observation returned", () => {
  const m = handMarket(300);
  const env = new BenchVecEnv(m, { numEnvs: 2, seed: 9 });
  env.reset();
  const start = env.currentDays;
  let sum = 0;
  let last;
  for (let k = 0; k < 252; k++) {
    last = env.step(Float32Array.from([0.5, 0.1, -0.2, 0.3]));
    sum += last.rewards[0];
    if (k < 251) assert.deepEqual(Array.from(last.truncated), [0, 0]);
  }
  assert.deepEqual(Array.from(last!.truncated), [1, 1]);
  assert.deepEqual(Array.from(last!.terminated), [0, 0]);
  const fin = last!.finalObservations[0]!;
  assert.deepEqual(
    fin.subarray(0, 16),
    m.features.subarray((start[0] + 252) * 16, (start[0] + 253) * 16),
  );
  near(fin[16], 0.5);
  // the returned observation is the new episode's first: weights back to zero
  assert.deepEqual(Array.from(last!.observations.subarray(16, 18)), [0, 0]);
  assert.equal(env.finishedReturns.length, 2);
  near(env.finishedReturns[0], sum, 1e-5); // rewards are float32, the episode return float64
  const again = env.currentDays;
  assert.ok(again.every((t) => t >= 20 && t <= 300 - 1 - 252));
});

Deno.test("makeBenchMarket() draws the SPEC's correlated GBM: 100 at day 0, σ ≈ 0.015, pairwise ρ ≈ 0.3, seeded", () => {
  const m = makeBenchMarket(1);
  assert.equal(m.close.length, BENCH_MARKET.days * BENCH_MARKET.assets);
  assert.equal(m.features.length, BENCH_MARKET.days * 80);
  assert.ok(m.close.subarray(0, 10).every((v) => v === 100));
  assert.ok(m.features.every(Number.isFinite));
  const A = 10, T = BENCH_MARKET.days;
  const lr = (t: number, i: number) => Math.log(m.close[t * A + i] / m.close[(t - 1) * A + i]);
  const stats = (i: number) => {
    let s = 0, ss = 0;
    for (let t = 1; t < T; t++) s += lr(t, i);
    const mu = s / (T - 1);
    for (let t = 1; t < T; t++) ss += (lr(t, i) - mu) ** 2;
    return { mu, sd: Math.sqrt(ss / (T - 2)) };
  };
  let rho = 0, pairs = 0;
  for (let i = 0; i < A; i++) {
    const si = stats(i);
    assert.ok(Math.abs(si.sd - 0.015) < 0.001, `asset ${i} sd ${si.sd}`);
    for (let j = i + 1; j < A; j++) {
      const sj = stats(j);
      let c = 0;
      for (let t = 1; t < T; t++) c += (lr(t, i) - si.mu) * (lr(t, j) - sj.mu);
      rho += c / (T - 2) / (si.sd * sj.sd);
      pairs++;
    }
  }
  assert.ok(Math.abs(rho / pairs - 0.3) < 0.03, `mean correlation ${rho / pairs}`);
  assert.deepEqual(makeBenchMarket(1).close, m.close);
  assert.notDeepEqual(makeBenchMarket(2).close, m.close);
});
