/**
 * The WebAssembly kernel backend: its gradients against tfjs autodiff of the same
 * PPO loss, Adam's known answer, orthogonal init, determinism, weight round trip,
 * and the committed binary against its generator.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { createKernelPolicy, type KernelPolicy } from "@lib/agents/kernel_policy.ts";
import { createTfjsPolicy } from "@lib/agents/tfjs_policy.ts";
import type { Minibatch, NamedWeight, PolicyConfig, PpoLossConfig } from "@lib/agents/mod.ts";
import { Rng } from "@lib/util/mod.ts";
import { KERNEL_WASM_BASE64 } from "../lib/agents/_kernel_wasm.ts";
import { assembleKernel } from "../tools/build_kernel.ts";
import { runPpoBench } from "../tasks/bench/ppo.ts";

/** A network config plus the loss coefficients (passed to update / gradients). */
type TestConfig = PolicyConfig & PpoLossConfig;

function config(overrides: Partial<TestConfig> = {}): TestConfig {
  return {
    obsDim: 90,
    action: { kind: "gaussian", dim: 10 },
    hidden: [64, 64],
    logStdInit: 0,
    seed: 1,
    adamEps: 1e-5,
    maxGradNorm: 0.5,
    clipCoef: 0.2,
    vfCoef: 0.5,
    entCoef: 0,
    normAdvantages: true,
    vfClip: null,
    ...overrides,
  };
}

/** A minibatch whose old log-probs are the policy's own ± noise, so ratios fall on both sides of the clip range. */
function randomBatch(policy: KernelPolicy, size: number, seed: number, spread = 0.4): Minibatch {
  const rng = new Rng(seed);
  const c = policy.config;
  const obs = new Float32Array(size * c.obsDim).map(() => rng.normal());
  const out = policy.act(obs, size, rng);
  const oldLogProbs = out.logProbs.map((lp) => lp + spread * (rng.uniform() * 2 - 1));
  return {
    size,
    obs,
    actions: out.actions,
    oldLogProbs,
    advantages: new Float32Array(size).map(() => rng.normal()),
    returns: new Float32Array(size).map(() => 2 * rng.normal()),
    oldValues: out.values.map((v) => v + 0.5 * rng.normal()),
  };
}

/** The SPEC's PPO loss in tfjs (float32), as a function of the exported weights. */
function tfjsGradients(
  weights: NamedWeight[],
  batch: Minibatch,
  c: TestConfig,
): Map<string, Float32Array> {
  const dim = c.action.kind === "gaussian" ? c.action.dim : 0;
  const out = new Map<string, Float32Array>();
  tf.tidy(() => {
    const vars = weights.map((w) => tf.tensor(w.values, w.shape, "float32"));
    const byName = new Map(weights.map((w, i) => [w.name, i]));
    const x = tf.tensor2d(batch.obs, [batch.size, c.obsDim]);
    const act = tf.tensor2d(batch.actions, [batch.size, dim]);
    const oldLp = tf.tensor1d(batch.oldLogProbs);
    const ret = tf.tensor1d(batch.returns);
    let adv = tf.tensor1d(batch.advantages);
    if (c.normAdvantages) {
      const m = adv.mean();
      const sd = adv.sub(m).square().sum().div(batch.size - 1).sqrt();
      adv = adv.sub(m).div(sd.add(1e-8));
    }
    const layers = c.hidden.length + 1;
    const mlp = (ts: tf.Tensor[], net: string): tf.Tensor2D => {
      let h: tf.Tensor2D = x;
      for (let i = 0; i < layers; i++) {
        h = h.matMul(
          ts[byName.get(`${net}/${i === layers - 1 ? "out" : i}/kernel`)!] as tf.Tensor2D,
        )
          .add(ts[byName.get(`${net}/${i === layers - 1 ? "out" : i}/bias`)!]) as tf.Tensor2D;
        if (i < layers - 1) h = h.tanh();
      }
      return h;
    };
    const loss = (...ts: tf.Tensor[]): tf.Scalar => {
      const mean = mlp(ts, "actor");
      const value = mlp(ts, "critic").reshape([batch.size]);
      const logStd = ts[byName.get("actor/logStd")!];
      const std = logStd.exp();
      const lp = act.sub(mean).div(std).square().mul(-0.5).sub(logStd).sub(
        0.5 * Math.log(2 * Math.PI),
      )
        .sum(1);
      const ratio = lp.sub(oldLp).exp();
      const pg = tf.maximum(
        adv.neg().mul(ratio),
        adv.neg().mul(ratio.clipByValue(1 - c.clipCoef, 1 + c.clipCoef)),
      )
        .mean();
      const entropy = logStd.add(0.5 + 0.5 * Math.log(2 * Math.PI)).sum();
      let err = value.sub(ret).square();
      if (c.vfClip != null) {
        const oldV = tf.tensor1d(batch.oldValues!);
        const vc = oldV.add(value.sub(oldV).clipByValue(-c.vfClip, c.vfClip));
        err = tf.maximum(err, vc.sub(ret).square());
      }
      const v = err.mean().mul(0.5);
      return pg.sub(entropy.mul(c.entCoef)).add(v.mul(c.vfCoef)) as tf.Scalar;
    };
    const grads = tf.grads(loss)(vars);
    weights.forEach((w, i) => out.set(w.name, grads[i].dataSync() as Float32Array));
  });
  return out;
}

function assertClose(
  actual: Float32Array,
  expected: Float32Array,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * Math.max(1, Math.abs(expected[i])))) {
      assert.fail(`${what}[${i}]: kernel ${actual[i]} vs expected ${expected[i]} (|Δ| ${err})`);
    }
  }
}

await tf.setBackend("cpu");

for (
  const [label, c] of [
    ["SPEC network 90→64→64→10 / 1", config({ entCoef: 0.01, logStdInit: -0.5 })],
    [
      "padded network 7→5→6→3 / 1",
      config({ obsDim: 7, hidden: [5, 6], action: { kind: "gaussian", dim: 3 }, seed: 5 }),
    ],
    ["clipped value loss, vfClip 0.2", config({ vfClip: 0.2, seed: 8 })],
  ] as const
) {
  Deno.test(`KernelPolicy.gradients() matches tfjs autodiff of the full PPO loss to 1e-5 (${label})`, () => {
    const policy = createKernelPolicy(c);
    // move away from the initial weights so every layer carries gradient
    for (let i = 0; i < 5; i++) policy.update(randomBatch(policy, 64, 100 + i), 1e-2, c);
    const batch = randomBatch(policy, 64, 7);
    const mine = policy.gradients(batch, c).gradients;
    const ref = tfjsGradients(policy.exportWeights(), batch, c);
    let nonzero = 0;
    for (const g of mine) {
      assertClose(g.values, ref.get(g.name)!, 1e-5, g.name);
      if (g.values.some((v) => v !== 0)) nonzero++;
    }
    assert.equal(nonzero, mine.length, "every parameter has a non-zero gradient");
    policy.dispose();
  });
}

Deno.test("KernelPolicy.gradients() matches tfjs for a minibatch that is not a multiple of 4 rows", () => {
  const c = config({ seed: 3 });
  const policy = createKernelPolicy(c);
  const batch = randomBatch(policy, 13, 11);
  const mine = policy.gradients(batch, c).gradients;
  const ref = tfjsGradients(policy.exportWeights(), batch, c);
  for (const g of mine) assertClose(g.values, ref.get(g.name)!, 1e-5, g.name);
});

Deno.test("KernelPolicy.update() takes PyTorch's Adam steps after global-norm clipping (known answer)", () => {
  const c = config({
    obsDim: 6,
    hidden: [4],
    action: { kind: "gaussian", dim: 2 },
    maxGradNorm: 0.05,
  });
  const policy = createKernelPolicy(c);
  const batch = randomBatch(policy, 16, 21);
  const lr = 1e-3, eps = c.adamEps;
  const flat = (ws: NamedWeight[]) => Float64Array.from(ws.flatMap((w) => Array.from(w.values)));
  const clipScale = (g: Float64Array) => {
    const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    return Math.min(1, c.maxGradNorm / (norm + 1e-6));
  };
  const p0 = flat(policy.exportWeights());
  const g1 = flat(policy.gradients(batch, c).gradients);
  const s1 = clipScale(g1);
  assert.ok(s1 < 1, "the test must exercise clipping");
  policy.update(batch, lr, c);
  const p1 = flat(policy.exportWeights());
  // step 1: m = 0.1·g, v = 0.001·g², so Δp = −lr·g/(|g| + eps) for the clipped g
  for (let i = 0; i < p0.length; i++) {
    const g = s1 * g1[i];
    const expected = p0[i] - lr * g / (Math.abs(g) + eps);
    assert.ok(
      Math.abs(p1[i] - expected) <= 2e-7 * Math.max(1, Math.abs(expected)),
      `param ${i} after step 1`,
    );
  }
  const g2 = flat(policy.gradients(batch, c).gradients);
  const s2 = clipScale(g2);
  policy.update(batch, lr, c);
  const p2 = flat(policy.exportWeights());
  for (let i = 0; i < p0.length; i++) {
    const a = s1 * g1[i], b = s2 * g2[i];
    const m = 0.9 * 0.1 * a + 0.1 * b;
    const v = 0.999 * 0.001 * a * a + 0.001 * b * b;
    const expected = p1[i] -
      (lr / (1 - 0.9 ** 2)) * m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + eps);
    assert.ok(
      Math.abs(p2[i] - expected) <= 2e-7 * Math.max(1, Math.abs(expected)),
      `param ${i} after step 2`,
    );
  }
});

Deno.test("createKernelPolicy() initialises orthogonal weights (gain √2 hidden, 0.01 actor out, 1 critic out), zero biases", () => {
  const policy = createKernelPolicy(config({ logStdInit: -0.3 }));
  const w = new Map(policy.exportWeights().map((x) => [x.name, x]));
  const check = (name: string, gain: number) => {
    const { shape: [fanIn, fanOut], values } = w.get(name)!;
    // the smaller side is orthonormal: kernelᵀ·kernel (fanOut ≤ fanIn) or kernel·kernelᵀ
    const small = Math.min(fanIn, fanOut);
    for (let a = 0; a < small; a++) {
      for (let b = 0; b < small; b++) {
        let d = 0;
        if (fanOut <= fanIn) {
          for (let i = 0; i < fanIn; i++) d += values[i * fanOut + a] * values[i * fanOut + b];
        } else {for (let o = 0; o < fanOut; o++) {
            d += values[a * fanOut + o] * values[b * fanOut + o];
          }}
        assert.ok(
          Math.abs(d - (a === b ? gain * gain : 0)) < 1e-5 * Math.max(1, gain * gain),
          `${name} (${a},${b}) = ${d}`,
        );
      }
    }
  };
  check("actor/0/kernel", Math.SQRT2);
  check("actor/1/kernel", Math.SQRT2);
  check("actor/out/kernel", 0.01);
  check("critic/0/kernel", Math.SQRT2);
  check("critic/out/kernel", 1);
  for (const [name, x] of w) {
    if (name.endsWith("bias")) assert.ok(x.values.every((v) => v === 0), name);
  }
  assert.deepEqual(
    Array.from(w.get("actor/logStd")!.values),
    new Array(10).fill(Math.fround(-0.3)),
  );
});

Deno.test("createKernelPolicy() starts from the same weights, names and shapes as the tfjs backend", () => {
  const c = config({ seed: 12, logStdInit: -0.2 });
  const tfjs = createTfjsPolicy(c);
  const kernel = createKernelPolicy(c);
  assert.deepEqual(kernel.exportWeights(), tfjs.exportWeights());
  tfjs.dispose();
});

Deno.test("KernelPolicy with the same seed gives byte-identical weights after 40 updates; another seed differs", () => {
  const run = (seed: number) => {
    const c = config({ seed });
    const policy = createKernelPolicy(c);
    for (let i = 0; i < 40; i++) policy.update(randomBatch(policy, 64, 1000 + i), 3e-4, c);
    return new Uint8Array(
      Float32Array.from(policy.exportWeights().flatMap((w) => Array.from(w.values))).buffer,
    );
  };
  const a = run(4), b = run(4), other = run(5);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, other);
});

Deno.test("KernelPolicy.act() returns the mean action, its Normal log-prob and the critic value when deterministic", () => {
  const c = config({
    obsDim: 5,
    hidden: [8],
    action: { kind: "gaussian", dim: 2 },
    logStdInit: -1,
  });
  const policy = createKernelPolicy(c);
  const obs = Float32Array.from([0.1, -0.2, 0.3, 0.5, -1, 1, 2, 3, -4, 0.5]);
  const out = policy.act(obs, 2, new Rng(1), { deterministic: true });
  const w = new Map(policy.exportWeights().map((x) => [x.name, x.values]));
  for (let r = 0; r < 2; r++) {
    const forward = (net: string, outDim: number) => {
      const k0 = w.get(`${net}/0/kernel`)!, k1 = w.get(`${net}/out/kernel`)!;
      const h = Array.from({ length: 8 }, (_, j) => {
        let s = 0;
        for (let i = 0; i < 5; i++) s += obs[r * 5 + i] * k0[i * 8 + j];
        return Math.tanh(s);
      });
      return Array.from(
        { length: outDim },
        (_, o) => h.reduce((s, v, j) => s + v * k1[j * outDim + o], 0),
      );
    };
    const mean = forward("actor", 2);
    assert.ok(
      Math.abs(out.actions[2 * r] - mean[0]) < 1e-6 &&
        Math.abs(out.actions[2 * r + 1] - mean[1]) < 1e-6,
    );
    // at the mean: log N = −Σ(log σ + ½ log 2π) = 2·(1 − ½ log 2π)
    assert.ok(Math.abs(out.logProbs[r] - 2 * (1 - 0.5 * Math.log(2 * Math.PI))) < 1e-6);
    assert.ok(Math.abs(out.values[r] - forward("critic", 1)[0]) < 1e-5);
  }
  assert.deepEqual(policy.values(obs, 2), out.values);
});

Deno.test("KernelPolicy.importWeights() restores exported weights; a wrong shape is a TypeError", () => {
  const a = createKernelPolicy(config({ seed: 1 }));
  const b = createKernelPolicy(config({ seed: 2 }));
  b.importWeights(a.exportWeights());
  const obs = new Float32Array(3 * 90).map((_, i) => Math.sin(i));
  assert.deepEqual(b.values(obs, 3), a.values(obs, 3));
  const bad = a.exportWeights().map((w) =>
    w.name === "actor/logStd" ? { ...w, shape: [3], values: new Float32Array(3) } : w
  );
  assert.throws(
    () => b.importWeights(bad),
    (e) => e instanceof TypeError && /actor\/logStd/.test(e.message),
  );
});

Deno.test("createKernelPolicy() refuses categorical heads with a TypeError pointing at tfjs", () => {
  assert.throws(
    () => createKernelPolicy(config({ action: { kind: "categorical", nvec: [3, 3] } })),
    (e) =>
      e instanceof TypeError && /not supported by the kernel backend; use tfjs/.test(e.message),
  );
});

Deno.test("_kernel_wasm.ts is the wabt assembly of _kernel_wat.ts (run tools/build_kernel.ts after editing)", async () => {
  const bytes = await assembleKernel();
  const committed = Uint8Array.from(atob(KERNEL_WASM_BASE64), (ch) => ch.charCodeAt(0));
  assert.deepEqual(committed, bytes);
});

Deno.test("kernel tanh is within 1e-7 of Math.tanh from −12 to 12, odd, exactly 0 at 0 and ±1 far out", () => {
  const bytes = Uint8Array.from(atob(KERNEL_WASM_BASE64), (ch) => ch.charCodeAt(0));
  const k = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as {
    mem: WebAssembly.Memory;
    tanh(p: number, n: number): void;
  };
  const xs = Float32Array.from({ length: 24_000 }, (_, i) => -12 + i * 0.001);
  xs.set([0, -0, 0.625, -0.625, Math.fround(0.6249999), 1e-30, 30, -30, 9, -9, 1e-4, -1e-4], 0);
  k.mem.grow(1);
  new Float32Array(k.mem.buffer).set(xs);
  k.tanh(0, xs.length);
  const ys = new Float32Array(k.mem.buffer, 0, xs.length);
  let worst = 0;
  for (let i = 0; i < xs.length; i++) worst = Math.max(worst, Math.abs(ys[i] - Math.tanh(xs[i])));
  assert.ok(worst < 1e-7, `max |error| ${worst}`);
  assert.equal(ys[0], 0);
  assert.equal(ys[6], 1);
  assert.equal(ys[7], -1);
  assert.equal(ys[10], -ys[11]);
});

Deno.test("deno task bench ppo --steps 2048 prints the reference's JSON keys; the run is seeded (same return twice)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "bench", "ppo", "--steps", "2048", "--seed", "3"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) =>
    l.startsWith("{")
  );
  const line = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(line), [
    "impl",
    "steps",
    "seconds",
    "steps_per_sec",
    "final_mean_episode_return",
  ]);
  assert.equal(line.impl, "tensortrade-mvp-ppo-kernel");
  assert.equal(line.steps, 2048);
  assert.ok(line.seconds > 0 && line.steps_per_sec > 0);
  assert.equal(typeof line.final_mean_episode_return, "number"); // every env finished an episode
  const again = await runPpoBench(2048, 3, "kernel");
  assert.equal(again.line.final_mean_episode_return, line.final_mean_episode_return);
});
