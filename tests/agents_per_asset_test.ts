/**
 * The per-asset, shared-weight policy (EIIE): its gradient against tfjs autodiff of
 * the per-asset loss, permutation equivariance, a universe of another size, PPO
 * learning a planted per-asset signal, determinism, the config helper, and the
 * loading of policy configs saved before the loss coefficients moved to PpoConfig.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import {
  createKernelPolicy,
  createTfjsPolicy,
  DEFAULT_POLICY_OPTIONS,
  DEFAULT_PPO_LOSS,
  initTf,
  legacyPpoLoss,
  type Minibatch,
  type NamedWeight,
  ObsNormalizer,
  parsePolicyConfig,
  type PolicyBackend,
  type PolicyConfig,
  policyConfigForSpaces,
  policyDims,
  ppoConfig,
  type PpoLossConfig,
  trainPpo,
} from "@lib/agents/mod.ts";
import { Rng } from "@lib/util/rng.ts";
import { SignalVecEnv } from "./support/toy_envs.ts";
import { contractBatch, contractWeights } from "./support/policy_contract.ts";

await initTf("cpu");

const F = 4;

function perAsset(cashScore: boolean, N = 3, seed = 3): PolicyConfig {
  return {
    ...DEFAULT_POLICY_OPTIONS,
    obsDim: N * (F + 1),
    action: { kind: "gaussian", dim: N + (cashScore ? 1 : 0) },
    hidden: [8, 6],
    seed,
    logStdInit: -0.5,
    topology: { kind: "per-asset", assetFeatures: F, cashScore },
  };
}

const BACKENDS: [string, (c: PolicyConfig) => PolicyBackend][] = [
  ["kernel", createKernelPolicy],
  ["tfjs-cpu", createTfjsPolicy],
];

/** The per-asset PPO loss in tfjs autodiff, as a function of the exported weights. */
function autodiffGradients(
  weights: NamedWeight[],
  batch: Minibatch,
  N: number,
  cash: boolean,
  c: PpoLossConfig,
): Map<string, Float32Array> {
  const B = batch.size, D = N + (cash ? 1 : 0);
  const rows = new Float32Array(B * N * (F + 1));
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      const o = b * N * (F + 1), r = (b * N + i) * (F + 1);
      for (let j = 0; j < F; j++) rows[r + j] = batch.obs[o + i * F + j];
      rows[r + F] = batch.obs[o + N * F + i];
    }
  }
  const out = new Map<string, Float32Array>();
  tf.tidy(() => {
    const vars = weights.map((w) => tf.tensor(w.values, w.shape, "float32"));
    const idx = new Map(weights.map((w, i) => [w.name, i]));
    const x = tf.tensor2d(rows, [B * N, F + 1]);
    const mlp = (ts: tf.Tensor[], net: string, layers: number): tf.Tensor2D => {
      let h: tf.Tensor2D = x;
      for (let i = 0; i < layers; i++) {
        const name = `${net}/${i === layers - 1 ? "out" : i}`;
        h = h.matMul(ts[idx.get(`${name}/kernel`)!] as tf.Tensor2D)
          .add(ts[idx.get(`${name}/bias`)!]) as tf.Tensor2D;
        if (i < layers - 1) h = h.tanh();
      }
      return h;
    };
    const act = tf.tensor2d(batch.actions, [B, D]);
    let adv = tf.tensor1d(batch.advantages);
    if (c.normAdvantages) {
      const m = adv.mean();
      const sd = adv.sub(m).square().sum().div(B - 1).sqrt();
      adv = adv.sub(m).div(sd.add(1e-8));
    }
    const loss = (...ts: tf.Tensor[]): tf.Scalar => {
      const a = mlp(ts, "actor", 3);
      const scores = a.slice([0, 0], [B * N, 1]).reshape([B, N]);
      const mean = cash
        ? tf.concat([scores, a.slice([0, 1], [B * N, 1]).reshape([B, N]).mean(1, true)], 1)
        : scores;
      const value = mlp(ts, "critic", 3).reshape([B, N]).mean(1);
      const shared = ts[idx.get("actor/logStd")!];
      const logStd = cash
        ? tf.concat([tf.tile(shared.slice([0], [1]), [N]), shared.slice([1], [1])])
        : tf.tile(shared, [N]);
      const lp = act.sub(mean).div(logStd.exp()).square().mul(-0.5).sub(logStd)
        .sub(0.5 * Math.log(2 * Math.PI)).sum(1);
      const ratio = lp.sub(tf.tensor1d(batch.oldLogProbs)).exp();
      const pg = tf.maximum(
        adv.neg().mul(ratio),
        adv.neg().mul(ratio.clipByValue(1 - c.clipCoef, 1 + c.clipCoef)),
      ).mean();
      const entropy = logStd.add(0.5 + 0.5 * Math.log(2 * Math.PI)).sum();
      const v = value.sub(tf.tensor1d(batch.returns)).square().mean().mul(0.5);
      return pg.sub(entropy.mul(c.entCoef)).add(v.mul(c.vfCoef)) as tf.Scalar;
    };
    const grads = tf.grads(loss)(vars);
    weights.forEach((w, i) => out.set(w.name, grads[i].dataSync() as Float32Array));
  });
  return out;
}

for (const cash of [false, true]) {
  for (const [name, make] of BACKENDS) {
    Deno.test(`per-asset [${name}${cash ? ", cash score" : ""}] gradient matches tfjs autodiff of the per-asset PPO loss`, () => {
      const N = 3, cfg = perAsset(cash, N);
      const loss = { ...DEFAULT_PPO_LOSS, entCoef: 0.01 };
      const p = make(cfg);
      p.importWeights(contractWeights(p));
      const batch = contractBatch(
        p,
        {
          label: "",
          config: cfg,
          loss,
          assets: N,
        },
        11,
        8,
      );
      const { gradients } = p.gradients(batch, loss);
      const ref = autodiffGradients(p.exportWeights(), batch, N, cash, loss);
      for (const g of gradients) {
        const r = ref.get(g.name)!;
        const scale = r.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        assert.ok(scale > 0, `${g.name} has gradient`);
        g.values.forEach((x, i) =>
          assert.ok(
            Math.abs(x - r[i]) <= 1e-6 + 1e-4 * scale,
            `${g.name}[${i}] ${x} vs autodiff ${r[i]}`,
          )
        );
      }
      p.dispose();
    });

    Deno.test(`per-asset [${name}${cash ? ", cash score" : ""}] is permutation-equivariant: shuffled assets → shuffled means, same value and cash score`, () => {
      const N = 5, p = make(perAsset(cash, 3));
      p.importWeights(contractWeights(p));
      const rng = new Rng(2);
      const n = 4, len = N * (F + 1);
      const obs = new Float32Array(n * len).map(() => rng.normal());
      const perm = [3, 0, 4, 1, 2]; // new asset k is old asset perm[k]
      const shuffled = new Float32Array(obs.length);
      for (let b = 0; b < n; b++) {
        for (let k = 0; k < N; k++) {
          const from = perm[k];
          for (let j = 0; j < F; j++) {
            shuffled[b * len + k * F + j] = obs[b * len + from * F + j];
          }
          shuffled[b * len + N * F + k] = obs[b * len + N * F + from];
        }
      }
      const a = p.act(obs, n, new Rng(1), { deterministic: true });
      const s = p.act(shuffled, n, new Rng(1), { deterministic: true });
      const D = N + (cash ? 1 : 0);
      assert.equal(a.actions.length, n * D);
      for (let b = 0; b < n; b++) {
        for (let k = 0; k < N; k++) {
          assert.equal(s.actions[b * D + k], a.actions[b * D + perm[k]], `row ${b} asset ${k}`);
        }
        if (cash) assert.ok(Math.abs(s.actions[b * D + N] - a.actions[b * D + N]) < 1e-6);
        assert.ok(Math.abs(s.values[b] - a.values[b]) < 1e-6, `value of row ${b}`);
        assert.ok(Math.abs(s.logProbs[b] - a.logProbs[b]) < 1e-5);
      }
      // distinct assets get distinct scores (the network is not constant)
      assert.notEqual(a.actions[0], a.actions[1]);
      p.dispose();
    });
  }
}

Deno.test("per-asset: a model built for 3 assets acts on 7 and on 1; its weights do not depend on N", () => {
  const cfg = perAsset(true, 3);
  const p = createKernelPolicy(cfg);
  const shapes = p.exportWeights().map((w) => `${w.name}:${w.shape}`);
  assert.ok(shapes.includes("actor/0/kernel:5,8"), shapes.join(" "));
  assert.ok(shapes.includes("actor/out/kernel:6,2"));
  assert.ok(shapes.includes("actor/logStd:2"));
  const rng = new Rng(1);
  for (const N of [7, 1]) {
    const obs = new Float32Array(2 * N * (F + 1)).map(() => rng.normal());
    const out = p.act(obs, 2, new Rng(3));
    assert.equal(out.actions.length, 2 * (N + 1));
    assert.equal(out.values.length, 2);
    assert.deepEqual(p.values(obs, 2), out.values);
    const tfjs = createTfjsPolicy(cfg);
    tfjs.importWeights(p.exportWeights());
    const a = p.act(obs, 2, new Rng(3), { deterministic: true });
    const b = tfjs.act(obs, 2, new Rng(3), { deterministic: true });
    a.actions.forEach((x, i) => assert.ok(Math.abs(x - b.actions[i]) < 1e-6));
    tfjs.dispose();
  }
  assert.throws(
    () => p.act(new Float32Array(2 * 11), 2, new Rng(1)),
    /11 values is not N assets × \(4 features \+ 1 weight\)/,
  );
  assert.deepEqual(policyDims(cfg, 7 * 5), { obsDim: 35, actDim: 8, assets: 7 });
});

Deno.test("per-asset: trainPpo learns the planted per-asset signal (and the policy then runs on a larger universe)", async () => {
  const env = new SignalVecEnv({ numEnvs: 4, assets: 3, weights: true, cashAction: true });
  env.reset(1);
  const cfg = policyConfigForSpaces(env.observationSpace, env.actionSpace, {
    topology: "per-asset",
    assetFeatures: 2,
    seed: 2,
    hidden: [16, 16],
  });
  assert.deepEqual(cfg.topology, { kind: "per-asset", assetFeatures: 2, cashScore: true });
  const backend = createKernelPolicy(cfg);
  const summary = await trainPpo(env, backend, { totalTimesteps: 8192, nSteps: 128, seed: 2 });
  // best: 3 per step × 16 steps = 48; random: 0
  const last = summary.history.slice(-4).map((h) => h.meanEpisodeReturn);
  const mean = last.reduce((a, b) => a + b, 0) / last.length;
  assert.ok(mean > 24, `late mean episode return ${mean} (best 48, random 0)`);
  // the same network on 6 assets: deterministic positions follow the signal
  const big = new SignalVecEnv({ numEnvs: 2, assets: 6, weights: true, cashAction: true });
  const obs = big.reset(9);
  const act = backend.act(obs, 2, new Rng(1), { deterministic: true });
  let right = 0;
  for (let e = 0; e < 2; e++) {
    for (let a = 0; a < 6; a++) {
      if (Math.sign(act.actions[e * 7 + a]) === obs[e * 18 + 2 * a]) right++;
    }
  }
  assert.ok(right >= 11, `${right} of 12 positions follow the signal on the 6-asset universe`);
  backend.dispose();
});

Deno.test("per-asset: same seed → byte-identical weights, actions and rewards through trainPpo; another seed differs", async () => {
  const run = async (seed: number) => {
    const env = new SignalVecEnv({ numEnvs: 2, assets: 4, weights: true });
    const cfg = policyConfigForSpaces(env.observationSpace, env.actionSpace, {
      topology: "per-asset",
      assetFeatures: 2,
      seed,
    });
    const backend = createKernelPolicy(cfg);
    await trainPpo(env, backend, { totalTimesteps: 512, nSteps: 64, batchSize: 32, seed });
    const bytes = new Uint8Array(
      Float32Array.from(backend.exportWeights().flatMap((w) => Array.from(w.values))).buffer,
    );
    backend.dispose();
    return { bytes, rewards: env.rewardLog };
  };
  const a = await run(4), b = await run(4), c = await run(5);
  assert.deepEqual(a.bytes, b.bytes);
  assert.deepEqual(a.rewards, b.rewards);
  assert.notDeepEqual(a.bytes, c.bytes);
});

Deno.test("policyConfigForSpaces() per-asset: infers the cash score, rejects layouts that do not fit", () => {
  const box = (n: number) => ({
    kind: "box" as const,
    shape: [n],
    low: new Float32Array(n).fill(-1),
    high: new Float32Array(n).fill(1),
  });
  const noCash = policyConfigForSpaces(box(15), box(3), {
    topology: "per-asset",
    assetFeatures: 4,
  });
  assert.deepEqual(noCash.topology, { kind: "per-asset", assetFeatures: 4, cashScore: false });
  assert.equal(policyConfigForSpaces(box(15), box(3)).topology, undefined);
  assert.throws(
    () => policyConfigForSpaces(box(15), box(3), { topology: "per-asset" }),
    /needs assetFeatures/,
  );
  assert.throws(
    () => policyConfigForSpaces(box(16), box(3), { topology: "per-asset", assetFeatures: 4 }),
    /16 values is not N assets/,
  );
  assert.throws(
    () =>
      policyConfigForSpaces(box(15), box(4), {
        topology: "per-asset",
        assetFeatures: 4,
        cashScore: false,
      }),
    /needs 3 action values; the action space has 4/,
  );
  assert.throws(
    () =>
      policyConfigForSpaces(box(15), { kind: "discrete", n: 3 }, {
        topology: "per-asset",
        assetFeatures: 4,
      }),
    /box \(continuous\) action space/,
  );
  assert.throws(
    () => createTfjsPolicy({ ...noCash, action: { kind: "categorical", nvec: [3] } }),
    /per-asset topology needs continuous/,
  );
});

Deno.test("a policy config saved before the loss moved to PpoConfig still parses and loads; its coefficients are readable", () => {
  const old = {
    obsDim: 6,
    action: { kind: "gaussian", dim: 2 },
    hidden: [4],
    logStdInit: 0,
    seed: 5,
    adamEps: 1e-5,
    maxGradNorm: 0.5,
    clipCoef: 0.2,
    vfCoef: 0.5,
    entCoef: 0,
    normAdvantages: true,
    vfClip: null,
  };
  const parsed = parsePolicyConfig(JSON.parse(JSON.stringify(old)), "model.json config.policy");
  assert.deepEqual(parsed, {
    obsDim: 6,
    action: { kind: "gaussian", dim: 2 },
    hidden: [4],
    logStdInit: 0,
    seed: 5,
    adamEps: 1e-5,
  });
  assert.deepEqual(legacyPpoLoss(old), {
    clipCoef: 0.2,
    vfCoef: 0.5,
    entCoef: 0,
    maxGradNorm: 0.5,
    vfClip: null,
    normAdvantages: true,
  });
  assert.deepEqual(legacyPpoLoss(parsed), {});
  // the raw old object (as model_io passes it) builds both backends
  const k = createKernelPolicy(old as PolicyConfig), t = createTfjsPolicy(old as PolicyConfig);
  t.importWeights(k.exportWeights());
  t.dispose();
  assert.deepEqual(ppoConfig(legacyPpoLoss(old)).clipCoef, 0.2);
  assert.throws(
    () => parsePolicyConfig({ ...old, hidden: [4, 0] }, "model.json config.policy"),
    /model\.json config\.policy\.hidden\[1\] must be a positive integer/,
  );
  assert.throws(
    () => parsePolicyConfig({ ...old, topology: { kind: "per-asset", cashScore: true } }),
    /topology\.assetFeatures must be a positive integer/,
  );
  const pa = perAsset(true);
  assert.deepEqual(parsePolicyConfig(JSON.parse(JSON.stringify(pa))), pa);
});

Deno.test("ppoConfig() carries the loss coefficients with their defaults and names a bad one", () => {
  const c = ppoConfig();
  assert.equal(c.clipCoef, 0.2);
  assert.equal(c.vfCoef, 0.5);
  assert.equal(c.entCoef, 0);
  assert.equal(c.maxGradNorm, 0.5);
  assert.equal(c.vfClip, null);
  assert.equal(c.normAdvantages, true);
  assert.throws(() => ppoConfig({ clipCoef: 0 }), /PpoConfig\.clipCoef must be > 0/);
  assert.throws(() => ppoConfig({ entCoef: -1 }), /PpoConfig\.entCoef/);
  assert.throws(() => ppoConfig({ vfClip: -0.1 }), /PpoConfig\.vfClip/);
});

Deno.test("ObsNormalizer with assetFeatures shares statistics across assets: any N, permutation-equivariant; trainPpo uses it for per-asset policies", async () => {
  const norm = new ObsNormalizer(3, { assetFeatures: 2 });
  // 2 observations × 2 assets: features (a0f0 a0f1 a1f0 a1f1) then weights (w0 w1)
  norm.update(Float32Array.of(1, 10, 3, 30, 0.5, -0.5, 5, 50, 7, 70, 0.25, 0.75), 2);
  [4, 40, 0.25].forEach((m, j) => assert.ok(Math.abs(norm.mean[j] - m) < 1e-3, `mean[${j}]`));
  assert.ok(norm.count > 4 && norm.count < 4.001, `four asset rows, count ${norm.count}`);
  const one = norm.normalize(Float32Array.of(4, 40, 0.25), 1); // N = 1
  one.forEach((z) => assert.ok(Math.abs(z) < 1e-3));
  const obs = Float32Array.of(1, 2, 3, 4, 5, 6, 0.1, 0.2, 0.3); // N = 3
  const shuffled = Float32Array.of(5, 6, 1, 2, 3, 4, 0.3, 0.1, 0.2);
  const a = norm.normalize(obs, 1), s = norm.normalize(shuffled, 1);
  assert.deepEqual([s[0], s[1], s[6]], [a[4], a[5], a[8]]);
  assert.throws(() => norm.normalize(new Float32Array(4), 1), /not N assets/);
  const again = ObsNormalizer.fromJSON(JSON.parse(JSON.stringify(norm)));
  assert.equal(again.assetFeatures, 2);
  assert.deepEqual(again.normalize(obs, 1), a);

  const env = new SignalVecEnv({ numEnvs: 2, assets: 3, weights: true });
  const backend = createKernelPolicy(
    policyConfigForSpaces(env.observationSpace, env.actionSpace, {
      topology: "per-asset",
      assetFeatures: 2,
    }),
  );
  const summary = await trainPpo(env, backend, {
    totalTimesteps: 128,
    nSteps: 64,
    nEpochs: 1,
    normalizeObs: true,
  });
  assert.equal(summary.obsNormalizer?.dim, 3);
  assert.equal(summary.obsNormalizer?.assetFeatures, 2);
  backend.dispose();
});
