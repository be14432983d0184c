import assert from "node:assert/strict";
import {
  deflatedSharpeRatio,
  expectedMaxSharpe,
  normalCdf,
  normalQuantile,
  psrFromMoments,
} from "@lib/eval/mod.ts";

Deno.test("normalQuantile() inverts normalCdf() in the centre and both tails", () => {
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959963984540054) < 1e-12);
  assert.ok(Math.abs(normalQuantile(0.01) + 2.3263478740408408) < 1e-12);
  assert.equal(normalQuantile(0.5), 0);
  for (const p of [1e-10, 0.001, 0.02, 0.3, 0.7, 0.99, 1 - 1e-9]) {
    assert.ok(Math.abs(normalCdf(normalQuantile(p)) - p) < 1e-12 * Math.max(1, p / 1e-3), `p ${p}`);
  }
  assert.equal(normalQuantile(0), -Infinity);
  assert.equal(normalQuantile(1), Infinity);
  assert.ok(Number.isNaN(normalQuantile(1.5)));
});

Deno.test("expectedMaxSharpe() is 0 for one trial and grows with the number of trials", () => {
  assert.equal(expectedMaxSharpe(1, 0.5), 0);
  // By hand: √0.002 · (0.42278·Φ⁻¹(0.99) + 0.57722·Φ⁻¹(1 − 1/(100e))) = 0.044721 · 2.53062 = 0.113172.
  assert.ok(Math.abs(expectedMaxSharpe(100, 0.5 / 250) - 0.113172) < 1e-6);
  assert.ok(expectedMaxSharpe(1000, 1) > expectedMaxSharpe(10, 1));
  assert.throws(() => expectedMaxSharpe(0, 1), RangeError);
  assert.throws(() => expectedMaxSharpe(3, -1), RangeError);
});

Deno.test("deflatedSharpeRatio() reproduces Bailey & López de Prado (2014)'s example: DSR 0.9004", () => {
  // Section 5 of the paper: an annual SR of 2.5 over T = 1250 daily returns, skewness −3,
  // kurtosis 10, chosen from N = 100 trials with V[SR] = 1/2 (annualised): SR₀ ≈ 0.1132 a day
  // and DSR ≈ 0.9004.
  const r = deflatedSharpeRatio({
    sharpe: 2.5 / Math.sqrt(250),
    n: 1250,
    skewness: -3,
    kurtosis: 10,
    trials: 100,
    trialsVariance: 0.5 / 250,
  });
  assert.ok(Math.abs(r.expectedMaxSharpe - 0.1132) < 1e-4, `SR₀ ${r.expectedMaxSharpe}`);
  assert.ok(Math.abs(r.dsr - 0.9004) < 5e-4, `DSR ${r.dsr}`);
  assert.equal(r.trials, 100);
});

Deno.test("deflatedSharpeRatio() with one trial is the PSR against 0", () => {
  const m = { sharpe: 0.1, n: 101, skewness: 0, kurtosis: 3 };
  assert.equal(
    deflatedSharpeRatio({ ...m, trials: 1, trialsVariance: 0.3 }).dsr,
    psrFromMoments({ ...m, benchmarkSharpe: 0 }),
  );
});
