/**
 * PPO algorithm tests that need no network: GAE known answers, truncation
 * bootstrap vs termination, the observation normaliser, config checks and hooks.
 * A scripted backend records what `trainPpo` hands to `update`.
 */
import assert from "node:assert/strict";
import {
  computeGae,
  DEFAULT_PPO_CONFIG,
  explainedVariance,
  ObsNormalizer,
  policyConfigForSpaces,
  ppoConfig,
  trainPpo,
} from "@lib/agents/mod.ts";
import type { Minibatch, PolicyBackend, PolicyConfig } from "@lib/agents/mod.ts";
import type { Space, StepInfo, VecEnv, VecStepResult } from "@lib/env/types.ts";
import { SignalVecEnv } from "./support/toy_envs.ts";

const box = (n: number): Space => ({
  kind: "box",
  shape: [n],
  low: new Float32Array(n).fill(-Infinity),
  high: new Float32Array(n).fill(Infinity),
});

/**
 * One env, episodes of two steps, reward 1 per step. Observation `[10·k, globalStep]`
 * with k = 1, 2 the step within the episode; the final observation of an episode is
 * `[30, …]`. The second step ends `terminated` or `truncated` as asked.
 */
class ScriptedEnv implements VecEnv {
  readonly numEnvs = 1;
  readonly observationSpace = box(2);
  readonly actionSpace = box(1);
  #k = 1;
  #t = 0;
  constructor(readonly ending: "terminated" | "truncated") {}
  reset(): Float32Array {
    this.#k = 1;
    this.#t = 0;
    return Float32Array.of(10, 0);
  }
  step(_actions: Float32Array): VecStepResult {
    this.#t += 1;
    this.#k += 1;
    const info: StepInfo = {
      t: this.#t,
      timestamp: this.#t,
      netWorth: 1,
      weights: new Float64Array(1),
    };
    const ended = this.#k > 2;
    const finalObs = ended ? Float32Array.of(30, this.#t) : null;
    if (ended) this.#k = 1;
    return {
      observations: Float32Array.of(10 * this.#k, this.#t),
      rewards: Float32Array.of(1),
      terminated: Uint8Array.of(ended && this.ending === "terminated" ? 1 : 0),
      truncated: Uint8Array.of(ended && this.ending === "truncated" ? 1 : 0),
      finalObservations: [finalObs],
      infos: [info],
    };
  }
}

/** A backend whose value is `obs[0] / 10`, that acts 0 and records every minibatch. */
function recordingBackend(
  config: PolicyConfig,
  approxKl = 0,
): PolicyBackend & { batches: Minibatch[]; lrs: number[] } {
  const batches: Minibatch[] = [];
  const lrs: number[] = [];
  const d = config.obsDim;
  const values = (obs: Float32Array, n: number) =>
    Float32Array.from({ length: n }, (_, i) => obs[i * d] / 10);
  return {
    name: "recording",
    config,
    batches,
    lrs,
    act: (obs, n) => ({
      actions: new Float32Array(n),
      logProbs: new Float32Array(n),
      values: values(obs, n),
    }),
    values,
    update(b, lr) {
      lrs.push(lr);
      batches.push({
        size: b.size,
        obs: b.obs.slice(0, b.size * d),
        actions: b.actions.slice(0, b.size),
        oldLogProbs: b.oldLogProbs.slice(0, b.size),
        advantages: b.advantages.slice(0, b.size),
        returns: b.returns.slice(0, b.size),
        oldValues: b.oldValues?.slice(0, b.size),
      });
      return { policyLoss: 0, valueLoss: 0, entropy: 0, approxKl, clipFraction: 0 };
    },
    gradients() {
      throw new Error("recordingBackend has no gradients");
    },
    exportWeights: () => [],
    importWeights() {},
    dispose() {},
  };
}

/** Runs one update of 3 steps (γ = λ = 0.5) and returns advantages/returns by global step. */
async function scriptedRun(ending: "terminated" | "truncated", cleanrlDones = false) {
  const env = new ScriptedEnv(ending);
  const backend = recordingBackend(policyConfigForSpaces(env.observationSpace, env.actionSpace));
  await trainPpo(env, backend, {
    totalTimesteps: 3,
    nSteps: 3,
    batchSize: 3,
    nEpochs: 1,
    gamma: 0.5,
    gaeLambda: 0.5,
    cleanrlDones,
  });
  const [mb] = backend.batches;
  const adv = [0, 0, 0], ret = [0, 0, 0];
  for (let i = 0; i < mb.size; i++) {
    const step = mb.obs[i * 2 + 1];
    adv[step] = mb.advantages[i];
    ret[step] = mb.returns[i];
  }
  return { adv, ret, batches: backend.batches };
}

Deno.test("computeGae() matches hand-computed advantages without episode ends", () => {
  // γ = λ = 0.5, rewards 1,2,3, values 0.5,1,1.5, bootstrap 2:
  // δ2 = 3 + 0.5·2 − 1.5 = 2.5 → A2 = 2.5
  // δ1 = 2 + 0.5·1.5 − 1 = 1.75 → A1 = 1.75 + 0.25·2.5 = 2.375
  // δ0 = 1 + 0.5·1 − 0.5 = 1 → A0 = 1 + 0.25·2.375 = 1.59375
  const adv = new Float32Array(3), ret = new Float32Array(3);
  computeGae(
    Float32Array.of(1, 2, 3),
    Float32Array.of(0.5, 1, 1.5),
    Uint8Array.of(0, 0, 0),
    Float32Array.of(2),
    1,
    0.5,
    0.5,
    adv,
    ret,
  );
  assert.deepEqual(Array.from(adv), [1.59375, 2.375, 2.5]);
  assert.deepEqual(Array.from(ret), [2.09375, 3.375, 4]);
});

Deno.test("computeGae() does not look past a step whose episode ended", () => {
  // done after step 1: δ1 = 2 − 1 = 1 → A1 = 1; A0 = 1 + 0.25·1 = 1.25; A2 unchanged.
  const adv = new Float32Array(3), ret = new Float32Array(3);
  computeGae(
    Float32Array.of(1, 2, 3),
    Float32Array.of(0.5, 1, 1.5),
    Uint8Array.of(0, 1, 0),
    Float32Array.of(2),
    1,
    0.5,
    0.5,
    adv,
    ret,
  );
  assert.deepEqual(Array.from(adv), [1.25, 1, 2.5]);
});

Deno.test("computeGae() keeps envs apart in a time-major rollout", () => {
  // Two envs interleaved [t][env]; env 1 is env 0's case shifted by +1 reward.
  const adv = new Float32Array(4), ret = new Float32Array(4);
  computeGae(
    Float32Array.of(1, 2, 1, 2),
    Float32Array.of(0, 0, 0, 0),
    Uint8Array.of(0, 0, 0, 0),
    Float32Array.of(0, 0),
    2,
    1,
    1,
    adv,
    ret,
  );
  assert.deepEqual(Array.from(adv), [2, 4, 1, 2]);
});

Deno.test("trainPpo() bootstraps a truncated episode with γ·V(final observation)", async () => {
  // Steps: obs 10 (V 1) r 1; obs 20 (V 2) r 1 truncated, final obs 30 (V 3) → r = 1 + 0.5·3 = 2.5;
  // obs 10 (V 1) r 1, next obs 20 → bootstrap V = 2.
  // A2 = 1 + 0.5·2 − 1 = 1; A1 = 2.5 − 2 = 0.5; A0 = (1 + 0.5·2 − 1) + 0.25·0.5 = 1.125.
  const { adv, ret } = await scriptedRun("truncated");
  assert.deepEqual(adv, [1.125, 0.5, 1]);
  assert.deepEqual(ret, [2.125, 2.5, 2]);
});

Deno.test("trainPpo() does not bootstrap a terminated episode", async () => {
  // A1 = 1 − 2 = −1; A0 = 1 + 0.25·(−1) = 0.75.
  const { adv, ret } = await scriptedRun("terminated");
  assert.deepEqual(adv, [0.75, -1, 1]);
  assert.deepEqual(ret, [1.75, 1, 2]);
});

Deno.test("trainPpo() treats truncation as terminal in cleanrlDones mode", async () => {
  const { adv } = await scriptedRun("truncated", true);
  assert.deepEqual(adv, [0.75, -1, 1]);
});

Deno.test("trainPpo() passes every rollout sample once per epoch, with the rollout's values", async () => {
  const env = new SignalVecEnv({ numEnvs: 3 });
  const backend = recordingBackend(policyConfigForSpaces(env.observationSpace, env.actionSpace));
  // 3 envs × 10 steps = 30 samples, minibatch 8 → 8, 8, 8, 6 per epoch.
  const summary = await trainPpo(env, backend, {
    totalTimesteps: 30,
    nSteps: 10,
    batchSize: 8,
    nEpochs: 2,
  });
  assert.equal(summary.updates, 1);
  assert.equal(summary.timesteps, 30);
  assert.deepEqual(backend.batches.map((b) => b.size), [8, 8, 8, 6, 8, 8, 8, 6]);
  const key = (b: Minibatch, i: number) => `${b.obs[i * 2]},${b.obs[i * 2 + 1]},${b.returns[i]}`;
  const epoch = (from: number) =>
    backend.batches.slice(from, from + 4).flatMap((b) =>
      Array.from({ length: b.size }, (_, i) => key(b, i))
    ).sort();
  assert.deepEqual(epoch(0), epoch(4));
  assert.notDeepEqual(
    backend.batches.slice(0, 4).map((b) => key(b, 0)),
    backend.batches.slice(4, 8).map((b) => key(b, 0)),
    "each epoch draws a fresh permutation",
  );
  for (const b of backend.batches) {
    for (let i = 0; i < b.size; i++) assert.equal(b.oldValues![i], Math.fround(b.obs[i * 2] / 10));
  }
});

Deno.test("trainPpo() reports episodes with their undiscounted return and honours an abort signal", async () => {
  const env = new SignalVecEnv({ numEnvs: 2, episodeLength: 4 });
  const backend = recordingBackend(policyConfigForSpaces(env.observationSpace, env.actionSpace));
  const returns: number[] = [];
  const summary = await trainPpo(env, backend, { totalTimesteps: 32, nSteps: 8, nEpochs: 1 }, {
    onEpisode: (e) => {
      assert.equal(e.length, 4);
      assert.equal(e.truncated, true);
      returns.push(e.return);
    },
  });
  // Actions are all 0 → every reward is 0; 2 envs × 16 steps / 4 = 8 episodes.
  assert.deepEqual(returns, new Array(8).fill(0));
  assert.deepEqual(summary.episodeReturns, returns);
  assert.equal(summary.finalMeanEpisodeReturn, 0);
  assert.equal(summary.history.length, 2);
  assert.equal(summary.history[1].timesteps, 32);

  const controller = new AbortController();
  const aborted = await trainPpo(env, backend, { totalTimesteps: 64, nSteps: 8 }, {
    signal: controller.signal,
    onUpdate: () => controller.abort(),
  });
  assert.equal(aborted.aborted, true);
  assert.equal(aborted.updates, 1);
});

Deno.test("ObsNormalizer.update() folds a batch into the running moments (Chan et al.)", () => {
  // Start: mean 0, var 1, count 1e-4. Batch [1, 3]: mean 2, population var 1, n 2.
  // mean = 2·2/2.0001; var = (1e-4 + 2 + 2²·1e-4·2/2.0001) / 2.0001
  const norm = new ObsNormalizer(1);
  norm.update(Float32Array.of(1, 3), 2);
  assert.ok(Math.abs(norm.mean[0] - 4 / 2.0001) < 1e-12);
  assert.ok(Math.abs(norm.var[0] - (2.0001 + (4 * 1e-4 * 2) / 2.0001) / 2.0001) < 1e-12);
  assert.equal(norm.count, 2.0001);
  const out = norm.normalize(Float32Array.of(1000), 1);
  assert.equal(out[0], 10, "clipped to ±10");
});

Deno.test("ObsNormalizer frozen for evaluation ignores updates; stats survive JSON", () => {
  const norm = new ObsNormalizer(2);
  norm.update(Float32Array.of(1, 2, 3, 4), 2);
  const saved = JSON.parse(JSON.stringify(norm));
  const again = ObsNormalizer.fromJSON(saved).freeze();
  again.update(Float32Array.of(100, 100), 1);
  assert.deepEqual(Array.from(again.mean), Array.from(norm.mean));
  assert.deepEqual(Array.from(again.var), Array.from(norm.var));
  assert.deepEqual(
    Array.from(again.normalize(Float32Array.of(2, 3), 1)),
    Array.from(norm.normalize(Float32Array.of(2, 3), 1)),
  );
});

Deno.test("trainPpo() with normalizeObs returns a frozen normaliser fitted on the rollouts", async () => {
  const env = new SignalVecEnv({ numEnvs: 2 });
  const backend = recordingBackend(policyConfigForSpaces(env.observationSpace, env.actionSpace));
  const summary = await trainPpo(env, backend, {
    totalTimesteps: 64,
    nSteps: 32,
    normalizeObs: true,
    nEpochs: 1,
  });
  const norm = summary.obsNormalizer!;
  assert.equal(norm.frozen, true);
  // reset (2 rows) + 32 steps × 2 envs of observations were folded in.
  assert.ok(Math.abs(norm.count - (66 + 1e-4)) < 1e-9);
  const before = JSON.stringify(norm);
  norm.update(Float32Array.of(5, 5, 5, 5), 2);
  assert.equal(JSON.stringify(norm), before);
  // The networks saw normalised observations: signs ±1 have mean ≈ 0, std ≈ 1.
  const seen = backend.batches.flatMap((b) =>
    Array.from({ length: b.size }, (_, i) => b.obs[i * 2])
  );
  assert.ok(
    seen.every((x) => Math.abs(Math.abs(x) - 1) < 0.5),
    "normalised sign feature stays near ±1",
  );
});

Deno.test("ppoConfig() has SB3 defaults and rejects bad values with the field name", () => {
  const c = ppoConfig();
  assert.deepEqual(
    [c.nSteps, c.batchSize, c.nEpochs, c.gamma, c.gaeLambda, c.learningRate],
    [2048, 64, 10, 0.99, 0.95, 3e-4],
  );
  assert.equal(DEFAULT_PPO_CONFIG.targetKl, null);
  assert.throws(() => ppoConfig({ nSteps: 0 }), /PpoConfig\.nSteps must be a positive integer/);
  assert.throws(() => ppoConfig({ gamma: 1.5 }), /PpoConfig\.gamma/);
  assert.throws(() => ppoConfig({ targetKl: 0 }), /targetKl/);
});

Deno.test("policyConfigForSpaces() picks a Gaussian head for a box and categorical heads for discrete", () => {
  const obs = box(6);
  const g = policyConfigForSpaces(obs, box(3));
  assert.deepEqual(g.action, { kind: "gaussian", dim: 3 });
  assert.equal(g.obsDim, 6);
  assert.deepEqual(g.hidden, [64, 64]);
  assert.deepEqual(policyConfigForSpaces(obs, { kind: "discrete", n: 4 }).action, {
    kind: "categorical",
    nvec: [4],
  });
  assert.deepEqual(
    policyConfigForSpaces(obs, { kind: "multi_discrete", nvec: [3, 3] }).action,
    { kind: "categorical", nvec: [3, 3] },
  );
  assert.throws(() => policyConfigForSpaces({ kind: "discrete", n: 2 }, box(1)), TypeError);
});

Deno.test("explainedVariance() is 1 for a perfect critic and 0 for a constant at the mean", () => {
  const y = Float32Array.of(1, 2, 3, 4);
  assert.equal(explainedVariance(y, y), 1);
  assert.equal(explainedVariance(Float32Array.of(2.5, 2.5, 2.5, 2.5), y), 0);
  assert.ok(Number.isNaN(explainedVariance(y, Float32Array.of(1, 1, 1, 1))));
});

Deno.test("trainPpo() rejects a policy whose observation size differs from the env's", async () => {
  const env = new SignalVecEnv({ numEnvs: 1 });
  const backend = recordingBackend(policyConfigForSpaces(box(5), env.actionSpace));
  await assert.rejects(
    () => trainPpo(env, backend, { totalTimesteps: 8, nSteps: 8 }),
    /2 values but the policy expects 5/,
  );
});

Deno.test("trainPpo() anneals the learning rate linearly per update when annealLr is set", async () => {
  const env = new SignalVecEnv({ numEnvs: 1 });
  const backend = recordingBackend(policyConfigForSpaces(env.observationSpace, env.actionSpace));
  const summary = await trainPpo(env, backend, {
    totalTimesteps: 32,
    nSteps: 8,
    batchSize: 8,
    nEpochs: 1,
    learningRate: 0.1,
    annealLr: true,
  });
  // 4 updates: lr · (1 − (u − 1)/4)
  const round = (xs: number[]) => xs.map((x) => Number(x.toFixed(12)));
  assert.deepEqual(round(backend.lrs), [0.1, 0.075, 0.05, 0.025]);
  assert.deepEqual(round(summary.history.map((h) => h.learningRate)), [0.1, 0.075, 0.05, 0.025]);
});

Deno.test("trainPpo() stops an update's epochs once the epoch's mean approx-KL exceeds targetKl", async () => {
  const env = new SignalVecEnv({ numEnvs: 1 });
  const config = { totalTimesteps: 16, nSteps: 16, batchSize: 8, nEpochs: 5 };
  const high = recordingBackend(policyConfigForSpaces(env.observationSpace, env.actionSpace), 0.05);
  const stopped = await trainPpo(env, high, { ...config, targetKl: 0.01 });
  assert.equal(stopped.history[0].epochs, 1);
  assert.equal(high.batches.length, 2);
  const low = recordingBackend(policyConfigForSpaces(env.observationSpace, env.actionSpace), 0.005);
  const full = await trainPpo(env, low, { ...config, targetKl: 0.01 });
  assert.equal(full.history[0].epochs, 5);
  assert.equal(low.batches.length, 10);
});
