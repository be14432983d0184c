import assert from "node:assert/strict";
import {
  makePortfolioEnv,
  makePortfolioVecEnv,
  type PortfolioEnv,
  type PortfolioEnvOptions,
  runEpisode,
  sample,
  type StepInfo,
} from "@lib/env/mod.ts";
import type { FeaturePanel } from "@lib/features/feature_panel.ts";
import { Rng } from "@lib/util/rng.ts";
import { causalFeatures, perturbAfter, syntheticPrices } from "./support/env_panels.ts";

const prices = syntheticPrices(3, 80, 1);
const features = causalFeatures(prices);

/** A deterministic policy of the observation only (so equal observations → equal actions). */
function policyFor(env: PortfolioEnv) {
  const n = env.numInstruments, per = env.window * env.featureNames.length;
  return (obs: Float32Array): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = obs[n * per + i];
      for (let j = 0; j < per; j++) s += obs[i * per + j] * (j + 1);
      a[i] = env.actionSpace.kind === "box" ? Math.tanh(40 * s) : s > 0.01 ? 2 : s < -0.01 ? 0 : 1;
    }
    return a;
  };
}

function perturbFeaturesAfter(f: FeaturePanel, t: number, seed: number): FeaturePanel {
  const rng = new Rng(seed);
  const values = f.values.slice();
  const per = f.instruments.length * f.names.length;
  for (let k = (t + 1) * per; k < values.length; k++) values[k] += rng.normal();
  return { ...f, values };
}

interface Seen {
  obs: Float32Array[];
  actions: Float32Array[];
  rewards: number[];
  infos: StepInfo[];
}

/** Runs from `start` while the observation's bar is ≤ `until`, then takes the action at `until`. */
function runUntil(
  env: PortfolioEnv,
  start: number,
  until: number,
): Seen & { nextTarget: Float64Array } {
  const policy = policyFor(env);
  const seen: Seen = { obs: [], actions: [], rewards: [], infos: [] };
  let { observation, info } = env.reset({ start });
  while (true) {
    seen.obs.push(observation);
    seen.infos.push(info);
    const a = policy(observation);
    seen.actions.push(a);
    const r = env.step(a);
    if (info.t === until) return { ...seen, nextTarget: r.info.targetWeights! };
    seen.rewards.push(r.reward);
    observation = r.observation;
    info = r.info;
  }
}

const comparable = (i: StepInfo) => ({
  ...i,
  weights: [...i.weights],
  targetWeights: [...(i.targetWeights ?? [])],
});

for (const action of ["vol-target", "discrete"] as const) {
  for (const executeAt of ["open", "close"] as const) {
    Deno.test(`portfolio env (${action}, ${executeAt}): nothing up to bar t depends on bars after t`, () => {
      const options: PortfolioEnvOptions = {
        action,
        executeAt,
        window: 3,
        impactK: 0.5,
        impactLookback: 5,
      };
      for (const t of [12, 30, 55]) {
        const a = runUntil(makePortfolioEnv(prices, features, options), 8, t);
        const p2 = perturbAfter(prices, t, 100 + t);
        const f2 = perturbFeaturesAfter(causalFeatures(p2), t, 200 + t);
        const b = runUntil(makePortfolioEnv(p2, f2, options), 8, t);
        assert.deepEqual(b.obs, a.obs, `observations up to ${t}`);
        assert.deepEqual(b.actions, a.actions, `actions up to and at ${t}`);
        assert.deepEqual(b.rewards, a.rewards, `rewards up to ${t}`);
        assert.deepEqual(b.infos.map(comparable), a.infos.map(comparable), `infos up to ${t}`);
        // The target weights decided at t (filled at t+1) use data ≤ t only.
        assert.deepEqual([...b.nextTarget], [...a.nextTarget]);
      }
    });
  }
}

Deno.test("portfolio env look-ahead check can fail: perturbing bar t itself changes the observation at t", () => {
  const t = 30;
  const a = runUntil(makePortfolioEnv(prices, features, {}), 8, t);
  const p2 = perturbAfter(prices, t - 1, 7);
  const b = runUntil(makePortfolioEnv(p2, causalFeatures(p2), {}), 8, t);
  assert.deepEqual(b.obs.slice(0, -1), a.obs.slice(0, -1));
  assert.notDeepEqual(b.obs.at(-1), a.obs.at(-1));
});

Deno.test("portfolio env is deterministic: same seed, same starts and trajectory", () => {
  const trajectory = (seed: number) => {
    const env = makePortfolioEnv(prices, features, { maxSteps: 15, impactK: 1 });
    const rng = new Rng(seed + 1);
    const out: number[] = [];
    for (let ep = 0; ep < 3; ep++) {
      const r = env.reset(ep === 0 ? { seed } : {});
      out.push(r.info.t, ...r.observation);
      let done = false;
      while (!done) {
        const s = env.step(sample(env.actionSpace, rng));
        out.push(s.reward, s.info.netWorth, ...s.observation);
        done = s.terminated || s.truncated;
      }
    }
    return out;
  };
  assert.deepEqual(trajectory(5), trajectory(5));
  assert.notDeepEqual(trajectory(5), trajectory(6));
});

Deno.test("makePortfolioVecEnv() equals K single envs stepped side by side, with auto-reset", () => {
  const options: PortfolioEnvOptions = { action: "discrete", reward: "dsr", maxSteps: 7, seed: 5 };
  const K = 3;
  const vec = makePortfolioVecEnv(prices, features, { ...options, numEnvs: K });
  const singles = Array.from(
    { length: K },
    (_, k) => makePortfolioEnv(prices, features, { ...options, seed: 5 + k }),
  );
  const obs = vec.reset(11);
  const single = singles.map((e, k) => e.reset({ seed: 11 + k }).observation);
  assert.deepEqual(obs, Float32Array.from(single.flatMap((o) => [...o])));
  assert.equal(new Set(vec.envs.map((e) => e.state.t)).size, K, "different start offsets");
  const rng = new Rng(3);
  let resets = 0;
  for (let step = 0; step < 20; step++) {
    const actions = Float32Array.from({ length: K * vec.actDim }, () => rng.integer(0, 2));
    const v = vec.step(actions);
    for (let k = 0; k < K; k++) {
      const r = singles[k].step(actions.slice(k * vec.actDim, (k + 1) * vec.actDim));
      assert.equal(v.rewards[k], Math.fround(r.reward));
      assert.equal(v.terminated[k], +r.terminated);
      assert.equal(v.truncated[k], +r.truncated);
      assert.deepEqual(v.infos[k], r.info);
      let next = r.observation;
      if (r.terminated || r.truncated) {
        assert.deepEqual(v.finalObservations[k], r.observation);
        next = singles[k].reset().observation;
        resets++;
      } else assert.equal(v.finalObservations[k], null);
      assert.deepEqual(v.observations.slice(k * vec.obsDim, (k + 1) * vec.obsDim), next);
    }
  }
  assert.ok(resets >= K, "every env auto-reset at least once");
});

Deno.test("portfolio env observation: window × features per instrument, NaN as 0, then weights", () => {
  const env = makePortfolioEnv(prices, features, { window: 2, allowWarmupStart: true });
  assert.deepEqual(env.observationSpace.shape, [3 * 2 * 2 + 3]);
  const { observation } = env.reset({ start: 1 });
  // Instrument 1, bar 0 (oldest in window): ret_1 is NaN at bar 0 → 0; bar 1: defined.
  const f = features.values, n = 3, F = 2;
  assert.equal(observation[(1 * 2 + 0) * F + 0], 0);
  assert.equal(observation[(1 * 2 + 1) * F + 0], f[(1 * n + 1) * F + 0]);
  assert.equal(observation[(1 * 2 + 1) * F + 1], 0); // ret_5 not defined at bar 1
  assert.deepEqual([...observation.slice(12)], [0, 0, 0]);
  const r = env.step(new Float32Array([1, 0, 0]));
  assert.deepEqual([...r.observation.slice(12)], [...r.info.weights].map(Math.fround));
});

Deno.test("portfolio env refuses starts in the warm-up and at the last bar", () => {
  const env = makePortfolioEnv(prices, features, { window: 3 });
  assert.deepEqual(env.startRange, { earliest: 7, latestRandom: 78, last: 79 });
  assert.throws(() => env.reset({ start: 6 }), /warm-up/);
  assert.throws(() => env.reset({ start: 79 }), RangeError);
  assert.throws(() => env.step(new Float32Array(3)), /call reset\(\) first/);
  for (let s = 0; s < 50; s++) {
    const t = env.reset({ seed: s }).info.t;
    assert.ok(t >= 7 && t <= 78);
  }
});

Deno.test("portfolio env truncates at end of data and after maxSteps", () => {
  const env = makePortfolioEnv(prices, features, { range: { start: 10, end: 40 }, maxSteps: 5 });
  assert.deepEqual(env.startRange, { earliest: 10, latestRandom: 35, last: 40 });
  env.reset({ start: 38 });
  assert.equal(env.step(new Float32Array(3)).truncated, false);
  const end = env.step(new Float32Array(3));
  assert.equal(end.truncated, true);
  assert.equal(end.terminated, false);
  assert.equal(end.info.stopReason, "end_of_data");
  env.reset({ start: 10 });
  let last;
  for (let i = 0; i < 5; i++) last = env.step(new Float32Array(3));
  assert.equal(last!.truncated, true);
  assert.equal(last!.info.stopReason, "max_steps");
});

Deno.test("runEpisode() makes a deterministic full pass from a start to the end of the range", () => {
  const env = makePortfolioEnv(prices, features, { range: { end: 60 } });
  const policy = policyFor(env);
  const a = runEpisode(env, policy, { start: 20 });
  const b = runEpisode(env, policy, { start: 20 });
  assert.equal(a.rewards.length, 40);
  assert.equal(a.netWorth.length, 41);
  assert.equal(a.equityTimestamps.at(-1), prices.timestamps[60]);
  assert.deepEqual(a.decisionTimestamps, a.equityTimestamps.slice(0, -1));
  assert.equal(a.stopReason, "end_of_data");
  assert.deepEqual(a, b);
});

Deno.test("portfolio env state changes only through step: returned arrays are copies", () => {
  const env = makePortfolioEnv(prices, features, { action: "discrete" });
  env.reset({ start: 20 });
  const r = env.step(new Float32Array([2, 0, 1]));
  const before = env.state;
  r.info.weights.fill(9);
  env.state.weights.fill(9);
  r.info.targetWeights!.fill(9);
  assert.deepEqual(env.state, before);
  const next = env.step(new Float32Array([2, 0, 1]));
  assert.ok(next.info.weights.every((w) => Math.abs(w) < 1));
});
