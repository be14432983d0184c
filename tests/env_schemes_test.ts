import assert from "node:assert/strict";
import {
  ACTION_NAMES,
  ACTIONS,
  BankruptcyStopper,
  differentialSharpe,
  DifferentialSharpeReward,
  DrawdownStopper,
  LogReturnReward,
  makePortfolioEnv,
  parseActionName,
  parseRewardName,
  type PortfolioState,
  portfolioVolatility,
  POSITIONS,
  REWARD_NAMES,
  REWARDS,
  RiskAwareReward,
  SimpleDiscreteAction,
  VolatilityTargetedAction,
} from "@lib/env/mod.ts";
import { handPanel, zeroFeatures } from "./support/env_panels.ts";

const close = (a: number, b: number, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);

function state(netWorth: number, extra: Partial<PortfolioState> = {}): PortfolioState {
  return {
    t: 0,
    steps: 0,
    netWorth,
    peakNetWorth: netWorth,
    initialNetWorth: 100,
    cash: netWorth,
    weights: new Float64Array(1),
    cost: 0,
    slippage: 0,
    impact: 0,
    turnover: 0,
    ...extra,
  };
}

const ctx = (pastReturns: number[], n: number) => ({
  numInstruments: n,
  weights: new Float64Array(n),
  pastReturns: Float64Array.from(pastReturns),
});

Deno.test("VolatilityTargetedAction scales weights to the target volatility (known answer)", () => {
  const scheme = new VolatilityTargetedAction(2, {
    lookback: 4,
    targetVol: 0.1,
    periodsPerYear: 252,
  });
  assert.deepEqual(scheme.space.kind, "box");
  // A alternates ±1%, B flat: portfolio [1, 0] has per-bar σ = sqrt(4e-4 / 3).
  const past = ctx([0.01, 0, -0.01, 0, 0.01, 0, -0.01, 0], 2);
  const w = scheme.targetWeights(new Float32Array([1, 0]), past);
  // Conviction is the RMS score, 1/√2 here.
  close(w[0], (0.1 / Math.sqrt(252)) / Math.sqrt(4e-4 / 3) / Math.SQRT2); // ≈ 0.3857
  assert.equal(w[1], 0);
  // Scores are clipped to [-1, 1] and divided by max(1, Σ|a|) before scaling.
  const w2 = scheme.targetWeights(new Float32Array([5, 0]), past);
  close(w2[0], w[0]);
});

Deno.test("VolatilityTargetedAction takes risk in proportion to conviction below full scores", () => {
  const scheme = new VolatilityTargetedAction(2, { lookback: 4, targetVol: 0.1 });
  const past = ctx([0.01, 0, -0.01, 0, 0.01, 0, -0.01, 0], 2);
  const full = (0.1 / Math.sqrt(252)) / Math.sqrt(4e-4 / 3); // ≈ 0.5455, every |a_i| = 1
  // RMS score 0.5/√2: that fraction of the full-conviction weight, not the target vol.
  close(scheme.targetWeights(new Float32Array([0.5, 0]), past)[0], 0.5 / Math.SQRT2 * full);
  // A near-zero score stays a near-zero position.
  close(scheme.targetWeights(new Float32Array([0.01, 0]), past)[0], 0.01 / Math.SQRT2 * full);
  assert.deepEqual([...scheme.targetWeights(new Float32Array([0, 0]), past)], [0, 0]);
});

Deno.test("VolatilityTargetedAction applies the per-asset cap, then the gross cap", () => {
  const past = ctx([0.01, 0.01, -0.01, -0.01, 0.01, 0.01, -0.01, -0.01], 2);
  const capped = new VolatilityTargetedAction(2, { lookback: 4, maxWeight: 0.2 });
  // Raw [0.5, 0.5], σ_p = 0.0115 → scale 0.5455 → 0.2728 each → capped at 0.2.
  assert.deepEqual([...capped.targetWeights(new Float32Array([1, 1]), past)], [0.2, 0.2]);
  const levered = new VolatilityTargetedAction(2, {
    lookback: 4,
    targetVol: 0.5,
    maxWeight: 1,
    maxGross: 1.5,
  });
  // Scale 2.73 → [1.36, 1.36] → per-asset cap [1, 1] → gross 2 > 1.5 → [0.75, 0.75].
  assert.deepEqual([...levered.targetWeights(new Float32Array([1, 1]), past)], [0.75, 0.75]);
});

Deno.test("VolatilityTargetedAction leaves weights unscaled without enough history", () => {
  const scheme = new VolatilityTargetedAction(2, { lookback: 4 });
  const w = scheme.targetWeights(new Float32Array([0.5, -0.25]), ctx(new Array(8).fill(NaN), 2));
  const rms = Math.sqrt((0.25 + 0.0625) / 2); // conviction × direction [2/3, -1/3]
  close(w[0], rms * 2 / 3);
  close(w[1], -rms / 3);
});

Deno.test("portfolioVolatility() is the sample std of the weighted returns", () => {
  close(
    portfolioVolatility(new Float64Array([1]), new Float64Array([0.01, -0.01]), 1),
    Math.sqrt(2e-4),
  );
  assert.equal(portfolioVolatility(new Float64Array([1]), new Float64Array([0.01]), 1), 0);
});

Deno.test("SimpleDiscreteAction maps short/flat/long to equal weights over active assets", () => {
  const scheme = new SimpleDiscreteAction(3);
  assert.deepEqual(POSITIONS, ["short", "flat", "long"]);
  assert.deepEqual(scheme.space, { kind: "multi_discrete", nvec: [3, 3, 3] });
  assert.deepEqual([...scheme.targetWeights(new Float32Array([2, 0, 1]))], [0.5, -0.5, 0]);
  assert.deepEqual([...scheme.targetWeights(new Float32Array([2, 2, 2]))], [1 / 3, 1 / 3, 1 / 3]);
  assert.deepEqual([...scheme.targetWeights(new Float32Array([1, 1, 1]))], [0, 0, 0]);
  assert.deepEqual([
    ...new SimpleDiscreteAction(2, { gross: 2 }).targetWeights(new Float32Array([0, 2])),
  ], [-1, 1]);
  assert.throws(() => scheme.targetWeights(new Float32Array([3, 0, 1])), RangeError);
  assert.throws(() => scheme.targetWeights(new Float32Array([0.5, 0, 1])), RangeError);
});

Deno.test("DifferentialSharpeReward follows Moody & Saffell's recursion (known answer, η = 0.5)", () => {
  // The raw recursion: no prior, no floor, no bound.
  const dsr = new DifferentialSharpeReward({ eta: 0.5, priorVol: 0, minVol: 0, bound: Infinity });
  dsr.reset(state(100));
  // Returns 1 %, 2 %, -1 %.
  const s0 = state(100), s1 = state(101), s2 = state(101 * 1.02), s3 = state(101 * 1.02 * 0.99);
  const d1 = dsr.reward(s0, s1);
  assert.equal(d1.reward, 0); // A = B = 0: no variance yet
  close(d1.terms.meanA, 0.005);
  close(d1.terms.secondMomentB, 5e-5);
  // A=0.005, B=5e-5, R=0.02: (5e-5·0.015 - ½·0.005·3.5e-4) / (2.5e-5)^1.5 = -1
  close(dsr.reward(s1, s2).reward, -1, 1e-6);
  // A=0.0125, B=2.25e-4, R=-0.01
  close(dsr.reward(s2, s3).reward, -4.28125e-6 / 6.875e-5 ** 1.5, 1e-6);
  dsr.reset(state(100));
  assert.equal(dsr.reward(s0, s1).reward, 0);
  close(differentialSharpe(0.01, 0.0002, 0.02), 1);
});

Deno.test("RiskAwareReward is net return minus volatility and drawdown penalties (known answer)", () => {
  const scheme = new RiskAwareReward({ volPenalty: 0.1, drawdownPenalty: 0.1, window: 20 });
  scheme.reset(state(100));
  const s1 = state(101, { cost: 0.3, slippage: 0.2, peakNetWorth: 102 });
  const r1 = scheme.reward(state(100, { peakNetWorth: 102 }), s1);
  close(r1.terms.costs, -0.005);
  close(r1.terms.grossReturn, 0.015);
  assert.equal(r1.terms.volPenalty, 0); // one return: no std yet
  close(r1.terms.drawdownPenalty, 0.1 * (1 - 101 / 102));
  close(r1.reward, 0.01 - 0.1 * (1 / 102));
  const s2 = state(99.99, { peakNetWorth: 102 });
  const r2 = scheme.reward(s1, s2);
  close(r2.terms.volPenalty, 0.1 * Math.sqrt(2e-4)); // std of [+1 %, -1 %]
  close(r2.reward, -0.01 - 0.1 * Math.sqrt(2e-4) - 0.1 * (1 - 99.99 / 102));
});

Deno.test("LogReturnReward is the log of the net-worth ratio, finite on bankruptcy", () => {
  const r = new LogReturnReward();
  close(r.reward(state(100), state(110)).reward, Math.log(1.1));
  assert.ok(Number.isFinite(r.reward(state(100), state(-5)).reward));
});

Deno.test("DrawdownStopper fires at the threshold; BankruptcyStopper at net worth ≤ 0", () => {
  const s = new DrawdownStopper(0.2);
  assert.equal(s.shouldStop(state(81, { peakNetWorth: 100 })), false);
  assert.equal(s.shouldStop(state(80, { peakNetWorth: 100 })), true);
  assert.throws(() => new DrawdownStopper(0), RangeError);
  assert.equal(new BankruptcyStopper().shouldStop(state(0)), true);
});

Deno.test("portfolio env terminates with stopReason drawdown when the stopper fires", () => {
  const crash = handPanel(["A"], {
    open: [[100], [100], [70], [70]],
    close: [[100], [70], [70], [70]],
  });
  const opts = { action: "discrete" as const, initialCash: 10_000 };
  const stopped = makePortfolioEnv(crash, zeroFeatures(crash), { ...opts, drawdownStop: 0.2 });
  stopped.reset({ start: 0 });
  const r = stopped.step(new Float32Array([2]));
  assert.equal(r.terminated, true);
  assert.equal(r.truncated, false);
  assert.equal(r.info.stopReason, "drawdown");
  assert.throws(() => stopped.step(new Float32Array([1])), /after the episode ended/);
  const free = makePortfolioEnv(crash, zeroFeatures(crash), opts);
  free.reset({ start: 0 });
  const f = free.step(new Float32Array([2]));
  assert.equal(f.terminated, false);
  assert.equal(f.info.stopReason, undefined);
});

Deno.test("ACTIONS and REWARDS registries build every named scheme", () => {
  assert.deepEqual(ACTION_NAMES, ["vol-target", "discrete", "allocation", "allocation-ls"]);
  assert.deepEqual(REWARD_NAMES, ["risk-aware", "log-return", "dsr", "log-return-scaled"]);
  for (const name of ACTION_NAMES) assert.equal(ACTIONS[name](2).name, name);
  for (const name of REWARD_NAMES) assert.equal(REWARDS[name]().name, name);
  assert.equal(parseActionName("discrete"), "discrete");
  assert.throws(() => parseRewardName("sharpe"), /risk-aware, log-return, dsr/);
});

Deno.test("portfolio env terminates with stopReason bankrupt when net worth reaches 0", () => {
  const squeeze = handPanel(["A", "B"], {
    open: [[100, 100], [100, 100], [100, 100]],
    close: [[100, 100], [100, 400], [100, 400]],
  });
  const env = makePortfolioEnv(squeeze, zeroFeatures(squeeze), {
    action: "discrete",
    reward: "log-return",
    initialCash: 10_000,
  });
  env.reset({ start: 0 });
  // Short B with all the gross (weight -1): B quadruples, losing 3× net worth.
  const r = env.step(new Float32Array([1, 0]));
  assert.ok(r.info.netWorth < 0);
  assert.equal(r.terminated, true);
  assert.equal(r.info.stopReason, "bankrupt");
  assert.ok(Number.isFinite(r.reward));
});
