/**
 * The tfjs PPO backend on the wasm backend: initial weights, gradients against
 * finite differences of an independent float64 reference loss, gradient clipping,
 * tensor leaks, bit-reproducible training, and learning a planted signal
 * (tests/support/toy_envs.ts) for continuous and discrete actions.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  createTfjsPolicy,
  DEFAULT_POLICY_OPTIONS,
  DEFAULT_PPO_LOSS,
  initTf,
  policyConfigForSpaces,
  trainPpo,
} from "@lib/agents/mod.ts";
import type {
  Minibatch,
  NamedWeight,
  PolicyBackend,
  PolicyConfig,
  PpoLossConfig,
} from "@lib/agents/mod.ts";
import { Rng } from "@lib/util/rng.ts";
import { SignalVecEnv } from "./support/toy_envs.ts";

await initTf("wasm");

const LOG_2PI = Math.log(2 * Math.PI);

/** A network config plus the loss coefficients (passed to update). */
type TestConfig = PolicyConfig & PpoLossConfig;

function smallConfig(
  action: PolicyConfig["action"],
  extra: Partial<TestConfig> = {},
): TestConfig {
  return {
    ...DEFAULT_POLICY_OPTIONS,
    ...DEFAULT_PPO_LOSS,
    obsDim: 3,
    hidden: [4, 5],
    action,
    seed: 11,
    entCoef: 0.01,
    ...extra,
  };
}

type Params = Map<string, Float64Array>;

function toParams(weights: NamedWeight[]): Params {
  return new Map(weights.map((w) => [w.name, Float64Array.from(w.values)]));
}

/** Plain float64 MLP: tanh hidden layers then a linear head. */
function mlp(p: Params, net: "actor" | "critic", hidden: readonly number[], x: number[]): number[] {
  let h = x;
  const layers = [...hidden.map((_, i) => String(i)), "out"];
  for (const [li, layer] of layers.entries()) {
    const k = p.get(`${net}/${layer}/kernel`)!, b = p.get(`${net}/${layer}/bias`)!;
    const out = b.length;
    const z = Array.from(b);
    for (let i = 0; i < h.length; i++) for (let j = 0; j < out; j++) z[j] += h[i] * k[i * out + j];
    h = li < hidden.length ? z.map(Math.tanh) : z;
  }
  return h;
}

/** log π(a|s) and entropy from the reference actor. */
function refLogpEntropy(
  p: Params,
  cfg: TestConfig,
  obs: number[],
  action: number[],
): [number, number] {
  const out = mlp(p, "actor", cfg.hidden, obs);
  if (cfg.action.kind === "gaussian") {
    const ls = p.get("actor/logStd")!;
    let lp = 0, ent = 0;
    for (let d = 0; d < ls.length; d++) {
      const z = (action[d] - out[d]) / Math.exp(ls[d]);
      lp += -0.5 * z * z - ls[d] - 0.5 * LOG_2PI;
      ent += ls[d] + 0.5 * (1 + LOG_2PI);
    }
    return [lp, ent];
  }
  let lp = 0, ent = 0, o = 0;
  cfg.action.nvec.forEach((k, h) => {
    const logits = out.slice(o, o + k);
    const mx = Math.max(...logits);
    const lse = mx + Math.log(logits.reduce((s, l) => s + Math.exp(l - mx), 0));
    lp += logits[action[h]] - lse;
    for (const l of logits) ent -= Math.exp(l - lse) * (l - lse);
    o += k;
  });
  return [lp, ent];
}

/** CleanRL's minibatch loss, written independently of the backend. */
function refLoss(p: Params, cfg: TestConfig, mb: Minibatch): number {
  const B = mb.size, A = cfg.action.kind === "gaussian" ? cfg.action.dim : cfg.action.nvec.length;
  const adv = Array.from(mb.advantages);
  const mean = adv.reduce((s, a) => s + a, 0) / B;
  const std = Math.sqrt(adv.reduce((s, a) => s + (a - mean) ** 2, 0) / (B - 1));
  let pg = 0, vl = 0, ent = 0;
  for (let i = 0; i < B; i++) {
    const obs = Array.from(mb.obs.subarray(i * cfg.obsDim, (i + 1) * cfg.obsDim));
    const [lp, h] = refLogpEntropy(
      p,
      cfg,
      obs,
      Array.from(mb.actions.subarray(i * A, (i + 1) * A)),
    );
    const r = Math.exp(lp - mb.oldLogProbs[i]);
    const a = (adv[i] - mean) / (std + 1e-8);
    pg += Math.max(-a * r, -a * Math.min(Math.max(r, 1 - cfg.clipCoef), 1 + cfg.clipCoef));
    const v = mlp(p, "critic", cfg.hidden, obs)[0];
    let e2 = (v - mb.returns[i]) ** 2;
    if (cfg.vfClip) {
      const old = mb.oldValues![i];
      const vc = old + Math.min(Math.max(v - old, -cfg.vfClip), cfg.vfClip);
      e2 = Math.max(e2, (vc - mb.returns[i]) ** 2);
    }
    vl += 0.5 * e2;
    ent += h;
  }
  return pg / B - cfg.entCoef * (ent / B) + cfg.vfCoef * (vl / B);
}

/** A minibatch whose ratios sit inside and outside the clip range (away from the kinks). */
function gradMinibatch(backend: PolicyBackend, cfg: TestConfig, seed: number): Minibatch {
  const rng = new Rng(seed),
    B = 6,
    A = cfg.action.kind === "gaussian" ? cfg.action.dim : cfg.action.nvec.length;
  const obs = Float32Array.from({ length: B * cfg.obsDim }, () => rng.normal());
  const actions = cfg.action.kind === "gaussian"
    ? Float32Array.from({ length: B * A }, () => rng.normal())
    : Float32Array.from(
      { length: B * A },
      (_, j) => rng.integer(0, (cfg.action as { nvec: readonly number[] }).nvec[j % A] - 1),
    );
  const p = toParams(backend.exportWeights());
  const offsets = [0.5, -0.5, 0.05, -0.05, 0.3, -0.13];
  const oldLogProbs = Float32Array.from({ length: B }, (_, i) => {
    const o = Array.from(obs.subarray(i * cfg.obsDim, (i + 1) * cfg.obsDim));
    return refLogpEntropy(p, cfg, o, Array.from(actions.subarray(i * A, (i + 1) * A)))[0] +
      offsets[i];
  });
  const values = backend.values(obs, B);
  return {
    size: B,
    obs,
    actions,
    oldLogProbs,
    advantages: Float32Array.from({ length: B }, () => rng.normal()),
    returns: Float32Array.from({ length: B }, () => rng.normal()),
    oldValues: Float32Array.from(values, (v, i) => v + [0.3, -0.3, 0.01, -0.01, 0.2, -0.05][i]),
  };
}

/**
 * With lr = adamEps = 1e4 and no clipping, Adam's first step moves each parameter by
 * exactly g / (1 + |g|/1e4), so the gradient can be read back from the weights.
 */
function checkGradients(action: PolicyConfig["action"], extra: Partial<TestConfig> = {}): void {
  const cfg = smallConfig(action, { adamEps: 1e4, maxGradNorm: 1e9, ...extra });
  const backend = createTfjsPolicy(cfg);
  const mb = gradMinibatch(backend, cfg, 5);
  const before = toParams(backend.exportWeights());
  backend.update(mb, 1e4, cfg);
  const after = toParams(backend.exportWeights());
  backend.dispose();
  let checked = 0;
  for (const [name, values] of before) {
    for (let j = 0; j < values.length; j++) {
      const h = 1e-6;
      const plus = new Map(before), minus = new Map(before);
      plus.set(name, Float64Array.from(values, (x, k) => k === j ? x + h : x));
      minus.set(name, Float64Array.from(values, (x, k) => k === j ? x - h : x));
      const fd = (refLoss(plus, cfg, mb) - refLoss(minus, cfg, mb)) / (2 * h);
      const delta = values[j] - after.get(name)![j];
      const g = delta * (1 + Math.abs(delta) / 1e4);
      assert.ok(
        Math.abs(g - fd) <= 2e-5 + 2e-3 * Math.abs(fd),
        `${name}[${j}]: backend gradient ${g} vs finite difference ${fd}`,
      );
      checked++;
    }
  }
  assert.ok(checked > 80);
}

Deno.test("createTfjsPolicy() starts orthogonal (gain √2 hidden, 0.01 actor, 1 critic), zero biases, seeded", () => {
  const cfg = smallConfig({ kind: "gaussian", dim: 2 }, { logStdInit: -0.5 });
  const a = createTfjsPolicy(cfg),
    b = createTfjsPolicy(cfg),
    c = createTfjsPolicy({ ...cfg, seed: 12 });
  const wa = a.exportWeights(), wb = b.exportWeights(), wc = c.exportWeights();
  assert.deepEqual(wa.map((w) => `${w.name}:${w.shape}`), [
    "actor/0/kernel:3,4",
    "actor/0/bias:4",
    "actor/1/kernel:4,5",
    "actor/1/bias:5",
    "actor/out/kernel:5,2",
    "actor/out/bias:2",
    "critic/0/kernel:3,4",
    "critic/0/bias:4",
    "critic/1/kernel:4,5",
    "critic/1/bias:5",
    "critic/out/kernel:5,1",
    "critic/out/bias:1",
    "actor/logStd:2",
  ]);
  const gains: Record<string, number> = { "0": 2, "1": 2, out: 0 };
  for (const w of wa) {
    if (w.name.endsWith("/bias")) assert.ok(w.values.every((x) => x === 0), w.name);
    if (w.name === "actor/logStd") assert.deepEqual(Array.from(w.values), [-0.5, -0.5]);
    if (!w.name.endsWith("/kernel")) continue;
    const [rows, cols] = w.shape, layer = w.name.split("/")[1];
    const g2 = layer === "out" ? (w.name.startsWith("actor") ? 1e-4 : 1) : gains[layer];
    // The smaller side is orthonormal (× gain): K Kᵀ when rows ≤ cols, else Kᵀ K.
    const n = Math.min(rows, cols);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let dot = 0;
        if (rows <= cols) {
          for (let k = 0; k < cols; k++) dot += w.values[i * cols + k] * w.values[j * cols + k];
        } else {for (let k = 0; k < rows; k++) {
            dot += w.values[k * cols + i] * w.values[k * cols + j];
          }}
        assert.ok(
          Math.abs(dot - (i === j ? g2 : 0)) < 1e-5 * Math.max(1, g2),
          `${w.name} (${i},${j}) = ${dot}`,
        );
      }
    }
  }
  assert.deepEqual(wa, wb, "same seed, same weights");
  assert.notDeepEqual(wa[0].values, wc[0].values, "another seed, other weights");
  [a, b, c].forEach((p) => p.dispose());
});

Deno.test("TfjsPolicy.update() gradient matches finite differences (Gaussian, entropy bonus)", () => {
  checkGradients({ kind: "gaussian", dim: 2 });
});

Deno.test("TfjsPolicy.update() gradient matches finite differences (Gaussian, clipped value loss)", () => {
  checkGradients({ kind: "gaussian", dim: 2 }, { vfClip: 0.1 });
});

Deno.test("TfjsPolicy.update() gradient matches finite differences (categorical heads 3 and 2)", () => {
  checkGradients({ kind: "categorical", nvec: [3, 2] });
});

Deno.test("TfjsPolicy.update() clips the global gradient norm to maxGradNorm", () => {
  const cfg = smallConfig({ kind: "gaussian", dim: 2 }, { adamEps: 1e4, maxGradNorm: 1e-3 });
  const backend = createTfjsPolicy(cfg);
  const mb = gradMinibatch(backend, cfg, 6);
  const before = backend.exportWeights();
  backend.update(mb, 1e4, cfg);
  const after = backend.exportWeights();
  backend.dispose();
  let sq = 0;
  before.forEach((w, i) => w.values.forEach((x, j) => sq += (x - after[i].values[j]) ** 2));
  // Each step is g_c/(1 + |g_c|/1e4) with |g_c| ≤ 1e-3, so the step's norm is the clipped norm.
  assert.ok(Math.abs(Math.sqrt(sq) - 1e-3) < 2e-6, `step norm ${Math.sqrt(sq)}`);
});

Deno.test("TfjsPolicy act/values agree with the exported actor and critic after training steps", () => {
  for (
    const action of [{ kind: "gaussian", dim: 2 }, { kind: "categorical", nvec: [3, 2] }] as const
  ) {
    const cfg = smallConfig(action);
    const backend = createTfjsPolicy(cfg);
    for (let s = 0; s < 5; s++) backend.update(gradMinibatch(backend, cfg, 20 + s), 1e-2, cfg);
    const rng = new Rng(3);
    const obs = Float32Array.from({ length: 4 * 3 }, () => rng.normal());
    const p = toParams(backend.exportWeights());
    const values = backend.values(obs, 4);
    const act = backend.act(obs, 4, rng, { deterministic: true });
    for (let i = 0; i < 4; i++) {
      const o = Array.from(obs.subarray(i * 3, i * 3 + 3));
      assert.ok(Math.abs(values[i] - mlp(p, "critic", cfg.hidden, o)[0]) < 1e-5);
      const out = mlp(p, "actor", cfg.hidden, o);
      if (action.kind === "gaussian") {
        assert.ok(
          Math.abs(act.actions[i * 2] - out[0]) < 1e-5 &&
            Math.abs(act.actions[i * 2 + 1] - out[1]) < 1e-5,
        );
      } else {
        const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
        assert.deepEqual([act.actions[i * 2], act.actions[i * 2 + 1]], [
          argmax(out.slice(0, 3)),
          argmax(out.slice(3)),
        ]);
      }
      const [lp] = refLogpEntropy(p, cfg, o, Array.from(act.actions.subarray(i * 2, i * 2 + 2)));
      assert.ok(Math.abs(act.logProbs[i] - lp) < 1e-4, `logProb ${act.logProbs[i]} vs ${lp}`);
    }
    // importWeights() into a differently seeded network reproduces it.
    const copy = createTfjsPolicy({ ...cfg, seed: 99 });
    copy.importWeights(backend.exportWeights());
    assert.deepEqual(copy.values(obs, 4), values);
    assert.deepEqual(copy.exportWeights(), backend.exportWeights());
    copy.dispose();
    backend.dispose();
  }
});

Deno.test("TfjsPolicy leaves tf.memory().numTensors flat across acts and updates", async () => {
  const env = new SignalVecEnv({ numEnvs: 2, assets: 2 });
  const cfg = policyConfigForSpaces(env.observationSpace, env.actionSpace, {
    seed: 1,
    hidden: [16],
  });
  const backend = createTfjsPolicy(cfg);
  await trainPpo(env, backend, { totalTimesteps: 64, nSteps: 32, batchSize: 16, nEpochs: 1 });
  const baseline = tf.memory().numTensors;
  await trainPpo(env, backend, {
    totalTimesteps: 256,
    nSteps: 32,
    batchSize: 16,
    nEpochs: 2,
    normalizeObs: true,
  });
  backend.exportWeights();
  assert.equal(tf.memory().numTensors, baseline);
  backend.dispose();
  assert.ok(tf.memory().numTensors < baseline);
});

/** Trains on the planted-signal env and records everything a run produces. */
async function recordedRun(seed: number) {
  const env = new SignalVecEnv({ numEnvs: 2, assets: 2 });
  const backend = createTfjsPolicy(
    policyConfigForSpaces(env.observationSpace, env.actionSpace, { seed }),
  );
  const actions: number[] = [];
  const summary = await trainPpo(env, backend, {
    totalTimesteps: 256,
    nSteps: 64,
    batchSize: 32,
    nEpochs: 2,
    seed,
  }, {
    onStep: (a) => {
      actions.push(...a);
    },
  });
  const weights = backend.exportWeights();
  backend.dispose();
  return { actions, rewards: env.rewardLog, weights, returns: summary.episodeReturns };
}

Deno.test("trainPpo() with tfjs: same seed → byte-identical weights, actions and returns", async () => {
  const a = await recordedRun(4), b = await recordedRun(4), c = await recordedRun(5);
  assert.deepEqual(a.actions, b.actions);
  assert.deepEqual(a.rewards, b.rewards);
  assert.deepEqual(a.returns, b.returns);
  assert.equal(a.weights.length, b.weights.length);
  a.weights.forEach((w, i) => {
    assert.equal(w.name, b.weights[i].name);
    assert.deepEqual(
      new Uint8Array(w.values.buffer.slice(0)),
      new Uint8Array(b.weights[i].values.buffer.slice(0)),
    );
  });
  assert.notDeepEqual(a.actions, c.actions, "another seed, another run");
});

/** Mean episode return of `policy` (or uniformly random actions) over `episodes` episodes. */
function evaluate(
  env: SignalVecEnv,
  policy: PolicyBackend | "random",
  episodes: number,
  seed: number,
): number {
  const rng = new Rng(seed);
  let obs = env.reset(seed);
  const total: number[] = [];
  let ret = 0;
  while (total.length < episodes) {
    let action: Float32Array;
    if (policy === "random") {
      action = env.actionSpace.kind === "box"
        ? Float32Array.from({ length: env.assets }, () => rng.uniform() * 2 - 1)
        : Float32Array.from({ length: env.assets }, () => rng.integer(0, 2));
    } else action = policy.act(obs, 1, rng, { deterministic: true }).actions;
    const res = env.step(action);
    ret += res.rewards[0];
    if (res.truncated[0] || res.terminated[0]) {
      total.push(ret);
      ret = 0;
    }
    obs = res.observations;
  }
  return total.reduce((s, r) => s + r, 0) / total.length;
}

// Planted signal (tests/support/toy_envs.ts): the observation shows sign(next return) of
// each asset, the reward is position · next return (±1 per asset per step), episodes of
// 16 steps. Best possible return per episode: 16 per asset; a random policy earns 0.
for (const actions of ["box", "multi_discrete"] as const) {
  Deno.test(`trainPpo() with tfjs learns the planted signal (${actions} actions) and beats a random policy`, async () => {
    const env = new SignalVecEnv({ numEnvs: 4, assets: 1, actions });
    const backend = createTfjsPolicy(
      policyConfigForSpaces(env.observationSpace, env.actionSpace, { seed: 2 }),
    );
    await trainPpo(env, backend, { totalTimesteps: 4096, nSteps: 128, seed: 2 });
    const evalEnv = new SignalVecEnv({ numEnvs: 1, assets: 1, actions });
    const trained = evaluate(evalEnv, backend, 20, 77);
    const random = evaluate(evalEnv, "random", 20, 77);
    backend.dispose();
    assert.ok(trained > 12, `trained policy earns ${trained} of at most 16`);
    assert.ok(random < 4, `random policy earns ${random}`);
  });
}

/** Whether the project opted in to tfjs-node (then the error path below cannot be exercised). */
function hasTfjsNode(): boolean {
  try {
    import.meta.resolve("@tensorflow/tfjs-node");
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "initTf() explains how to opt in to the native backend and rejects unknown names",
  ignore: hasTfjsNode(),
}, async () => {
  await assert.rejects(() => initTf("tensorflow"), /npm:@tensorflow\/tfjs-node.*deno\.json/s);
  // @ts-expect-error: an unknown name from an untyped caller (CLI string)
  await assert.rejects(() => initTf("webgpu"), RangeError);
  assert.equal(await initTf("wasm"), "wasm");
});
