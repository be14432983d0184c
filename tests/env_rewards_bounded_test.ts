import assert from "node:assert/strict";
import { join } from "node:path";
import { readCsvFile } from "@lib/data/csv.ts";
import { panelFromBars } from "@lib/data/panel.ts";
import {
  DifferentialSharpeReward,
  makePortfolioEnv,
  type PortfolioState,
  ScaledLogReturnReward,
} from "@lib/env/mod.ts";
import { SHARED_DATA, SHARED_DATA_SKIP_REASON } from "./support/csv_fixtures.ts";
import { zeroFeatures } from "./support/env_panels.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);

function state(netWorth: number, peakNetWorth = netWorth): PortfolioState {
  return {
    t: 0,
    steps: 0,
    netWorth,
    peakNetWorth,
    initialNetWorth: 100,
    cash: netWorth,
    weights: new Float64Array(1),
    cost: 0,
    slippage: 0,
    impact: 0,
    turnover: 0,
  };
}

Deno.test("DifferentialSharpeReward starts from its prior: the first return is a z-score (known answer)", () => {
  const dsr = new DifferentialSharpeReward(); // η 0.01, σ₀ 0.01, bound 3
  dsr.reset(state(100));
  const r1 = dsr.reward(state(100), state(102));
  // A_0 = 0, B_0 = 1e-4: D_1 = B_0·R / B_0^1.5 = 0.02 / 0.01 = 2.
  close(r1.terms.rawDsr, 2);
  close(r1.reward, 3 * Math.tanh(2 / 3));
  // Warm-up rate 1/2: the prior counts as one observation.
  close(r1.terms.meanA, 0.01);
  close(r1.terms.secondMomentB, (1e-4 + 4e-4) / 2);
  // Without warm-up the rate is η from the first return.
  const plain = new DifferentialSharpeReward({ warmup: false });
  plain.reset(state(100));
  close(plain.reward(state(100), state(102)).terms.meanA, 0.01 * 0.02);
  // A shock far outside the moments is bounded by the tanh.
  const shock = dsr.reward(state(102), state(102 * 0.5));
  assert.ok(
    shock.terms.rawDsr < -20 && shock.reward >= -3,
    `${shock.terms.rawDsr} → ${shock.reward}`,
  );
  assert.throws(() => new DifferentialSharpeReward({ bound: 0 }), RangeError);
  assert.throws(() => new DifferentialSharpeReward({ priorVol: -1 }), RangeError);
});

Deno.test("ScaledLogReturnReward is 100 × the log return, with optional penalties (known answer)", () => {
  const plain = new ScaledLogReturnReward();
  plain.reset(state(100));
  const r = plain.reward(state(100), state(101));
  close(r.reward, 100 * Math.log(1.01));
  assert.deepEqual([r.terms.volPenalty, r.terms.drawdownPenalty], [0, 0]);

  const pen = new ScaledLogReturnReward({ volPenalty: 0.1, drawdownPenalty: 0.5, window: 2 });
  pen.reset(state(100));
  const x1 = 100 * Math.log(1.01);
  const s1 = pen.reward(state(100), state(101));
  close(s1.terms.volPenalty, 0.1 * x1 * x1); // no past: deviation from 0
  assert.equal(s1.terms.drawdownPenalty, 0); // at the peak
  // Fall to 99 from a peak of 101: drawdown deepens from 0 to 2/101.
  const x2 = 100 * Math.log(99 / 101);
  const s2 = pen.reward(state(101), state(99, 101));
  close(s2.terms.volPenalty, 0.1 * (x2 - x1) ** 2);
  close(s2.terms.drawdownPenalty, 0.5 * 100 * (2 / 101));
  close(s2.reward, x2 - 0.1 * (x2 - x1) ** 2 - 0.5 * 100 * (2 / 101));
  // A recovery inside the drawdown is not charged for the drawdown.
  const s3 = pen.reward(state(99, 101), state(100, 101));
  assert.equal(s3.terms.drawdownPenalty, 0);
  assert.throws(() => new ScaledLogReturnReward({ scale: 0 }), RangeError);
});

Deno.test({
  name:
    "dsr reward stays bounded on AAPL's daily series (2000–2021), where the raw recursion explodes",
  ignore: !SHARED_DATA,
  async fn() {
    const path = join(SHARED_DATA!, "daily_sp41", "DA-AAPL-T-2021-04-21.csv");
    const { bars } = await readCsvFile(path, { adjust: true, start: "2000-01-01" });
    const prices = panelFromBars(bars, "1 day");
    assert.ok(prices.timestamps.length > 5000, `${prices.timestamps.length} bars`);
    // The zero allocation holds AAPL all the way (the benchmark of a one-name universe).
    const env = makePortfolioEnv(prices, zeroFeatures(prices), {
      action: "allocation",
      reward: "dsr",
    });
    env.reset({ start: 0 });
    const raw = new DifferentialSharpeReward({
      priorVol: 0,
      minVol: 0,
      bound: Infinity,
      warmup: false,
    });
    const rewards: number[] = [], states = [env.state];
    while (!env.done) {
      rewards.push(env.step(new Float32Array(2)).reward);
      states.push(env.state);
    }
    assert.ok(rewards.every(Number.isFinite));
    const maxAbs = Math.max(...rewards.map(Math.abs));
    const meanAbs = rewards.reduce((s, x) => s + Math.abs(x), 0) / rewards.length;
    assert.ok(maxAbs <= 3, `max |reward| ${maxAbs}`);
    assert.ok(meanAbs < 1.5, `mean |reward| ${meanAbs}`);
    assert.ok(
      Math.abs(rewards[0]) < 3 && Math.abs(rewards[1]) < 3,
      `first rewards ${rewards.slice(0, 2)}`,
    );
    // The old start (A = B = 0, no floor, no bound) after one near-flat first step (a
    // policy starting in cash): D_2 ≈ 10·R_2/|R_1| explodes; the warmed-up scheme does not.
    const fixed = new DifferentialSharpeReward();
    const flat = [state(1e6), state(1e6 + 10)];
    raw.reset(flat[0]);
    fixed.reset(flat[0]);
    const rawPath = [raw.reward(flat[0], flat[1]).reward];
    const fixedPath = [fixed.reward(flat[0], flat[1]).reward];
    for (let k = 1; k < states.length; k++) {
      rawPath.push(raw.reward(states[k - 1], states[k]).reward);
      fixedPath.push(fixed.reward(states[k - 1], states[k]).reward);
    }
    const rawMax = Math.max(...rawPath.map(Math.abs));
    assert.ok(rawMax > 1000, `raw recursion max |D| ${rawMax}`);
    assert.ok(Math.max(...fixedPath.map(Math.abs)) <= 3);
  },
});

if (!SHARED_DATA) console.log(`skip: ${SHARED_DATA_SKIP_REASON}`);
