/**
 * The {@linkcode PolicyBackend} contract, run against every backend
 * (tests/agents_backend_contract_test.ts): for the same weights and the same
 * minibatch every backend gives the same losses and gradients (within
 * {@linkcode CONTRACT_TOLERANCE}) as the reference (the kernel for Gaussian heads,
 * tfjs-cpu for categorical ones); `act()` has the documented shapes; a
 * deterministic `act()` is the mean and repeatable; `exportWeights` /
 * `importWeights` round-trip exactly; the same seed gives byte-identical weights
 * after the same updates.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  DEFAULT_POLICY_OPTIONS,
  DEFAULT_PPO_LOSS,
  type Minibatch,
  type NamedWeight,
  type PolicyBackend,
  type PolicyConfig,
  type PpoLossConfig,
  type UpdateStats,
} from "@lib/agents/mod.ts";
import { Rng } from "@lib/util/rng.ts";

/**
 * Agreement required between backends: a loss statistic or a gradient entry `x`
 * matches the reference `r` when `|x − r| ≤ abs + rel · max(|r|, scale)`, where
 * `scale` is the largest |entry| of that weight's reference gradient (float32
 * products accumulated in different orders differ in the last bits of the
 * largest terms, not of each entry).
 */
export const CONTRACT_TOLERANCE = { abs: 1e-6, rel: 2e-4 } as const;

/** One network + loss setting the contract runs. */
export interface ContractCase {
  label: string;
  config: PolicyConfig;
  loss: PpoLossConfig;
  /** Assets in the test observations (per-asset topology; ignored otherwise). */
  assets?: number;
}

/** The contract's cases: padded MLP, entropy + clipped value loss, categorical, per-asset ± cash. */
export const CONTRACT_CASES: readonly ContractCase[] = [
  {
    label: "MLP 7→5→6→3 gaussian",
    config: base(7, { kind: "gaussian", dim: 3 }, [5, 6]),
    loss: { ...DEFAULT_PPO_LOSS },
  },
  {
    label: "MLP gaussian, entropy bonus + clipped value loss, no advantage normalisation",
    config: base(10, { kind: "gaussian", dim: 4 }, [8]),
    loss: { ...DEFAULT_PPO_LOSS, entCoef: 0.02, vfClip: 0.1, vfCoef: 0.7, normAdvantages: false },
  },
  {
    label: "MLP categorical heads 3 and 2",
    config: base(6, { kind: "categorical", nvec: [3, 2] }, [8, 8]),
    loss: { ...DEFAULT_PPO_LOSS, entCoef: 0.01 },
  },
  {
    label: "per-asset, 4 features, cash score, N = 3",
    config: {
      ...base(15, { kind: "gaussian", dim: 4 }, [8, 8]),
      topology: { kind: "per-asset", assetFeatures: 4, cashScore: true },
    },
    loss: { ...DEFAULT_PPO_LOSS, entCoef: 0.01 },
    assets: 3,
  },
  {
    label: "per-asset, 3 features, no cash score, N = 5",
    config: {
      ...base(20, { kind: "gaussian", dim: 5 }, [6]),
      topology: { kind: "per-asset", assetFeatures: 3, cashScore: false },
    },
    loss: { ...DEFAULT_PPO_LOSS, vfClip: 0.2 },
    assets: 5,
  },
];

function base(
  obsDim: number,
  action: PolicyConfig["action"],
  hidden: number[],
): PolicyConfig {
  return { ...DEFAULT_POLICY_OPTIONS, obsDim, action, hidden, seed: 3, logStdInit: -0.4 };
}

/** Observation length of a case (per-asset: `assets · (assetFeatures + 1)`). */
export function caseObsDim(c: ContractCase): number {
  const t = c.config.topology;
  return t?.kind === "per-asset" ? c.assets! * (t.assetFeatures + 1) : c.config.obsDim;
}

/** Action components per observation of a case. */
export function caseActDim(c: ContractCase): number {
  const t = c.config.topology;
  if (t?.kind === "per-asset") return c.assets! + (t.cashScore ? 1 : 0);
  return c.config.action.kind === "gaussian" ? c.config.action.dim : c.config.action.nvec.length;
}

/** Seeded weights away from the initialisation (so every layer carries gradient). */
export function contractWeights(backend: PolicyBackend, seed = 17): NamedWeight[] {
  const rng = new Rng(seed);
  return backend.exportWeights().map((w) => ({
    name: w.name,
    shape: [...w.shape],
    values: w.values.map((x) => Math.fround(x + 0.3 * rng.normal())),
  }));
}

/**
 * A minibatch of `size` rows drawn with `backend`'s own actions; old log-probs are
 * shifted ±0.4 so ratios fall on both sides of the clip range.
 */
export function contractBatch(
  backend: PolicyBackend,
  c: ContractCase,
  size: number,
  seed: number,
): Minibatch {
  const rng = new Rng(seed);
  const obs = new Float32Array(size * caseObsDim(c)).map(() => rng.normal());
  const out = backend.act(obs, size, rng);
  return {
    size,
    obs,
    actions: out.actions,
    oldLogProbs: out.logProbs.map((lp) => lp + 0.4 * (2 * rng.uniform() - 1)),
    advantages: new Float32Array(size).map(() => rng.normal()),
    returns: new Float32Array(size).map(() => 2 * rng.normal()),
    oldValues: out.values.map((v) => v + 0.3 * rng.normal()),
  };
}

/** Losses and gradients of `backend` at `weights` on `batch`. */
export function lossAndGradients(
  backend: PolicyBackend,
  weights: NamedWeight[],
  batch: Minibatch,
  loss: PpoLossConfig,
): { stats: UpdateStats; gradients: NamedWeight[] } {
  backend.importWeights(weights);
  return backend.gradients(batch, loss);
}

/** Asserts agreement within {@linkcode CONTRACT_TOLERANCE}, naming the first mismatch. */
export function assertSameLossAndGradients(
  actual: { stats: UpdateStats; gradients: NamedWeight[] },
  reference: { stats: UpdateStats; gradients: NamedWeight[] },
  what: string,
): void {
  const { abs, rel } = CONTRACT_TOLERANCE;
  for (const k of ["policyLoss", "valueLoss", "entropy", "approxKl", "clipFraction"] as const) {
    const a = actual.stats[k], r = reference.stats[k];
    assert.ok(
      Math.abs(a - r) <= abs + rel * Math.abs(r),
      `${what}: ${k} ${a} vs reference ${r}`,
    );
  }
  const ref = new Map(reference.gradients.map((g) => [g.name, g]));
  assert.equal(actual.gradients.length, reference.gradients.length, `${what}: gradient count`);
  for (const g of actual.gradients) {
    const r = ref.get(g.name);
    assert.ok(r, `${what}: unexpected gradient ${g.name}`);
    assert.deepEqual(g.shape, r.shape, `${what}: shape of ${g.name}`);
    const scale = r.values.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    assert.ok(scale > 0, `${what}: reference gradient of ${g.name} is all zero`);
    for (let i = 0; i < g.values.length; i++) {
      const err = Math.abs(g.values[i] - r.values[i]);
      if (!(err <= abs + rel * Math.max(Math.abs(r.values[i]), scale))) {
        assert.fail(
          `${what}: ${g.name}[${i}] = ${g.values[i]}, reference ${
            r.values[i]
          } (|Δ| ${err}, scale ${scale})`,
        );
      }
    }
  }
}

/** `act()` shapes, finite outputs, and a deterministic act that is repeatable and ignores the rng. */
export function checkActContract(backend: PolicyBackend, c: ContractCase): void {
  const n = 5, D = caseActDim(c);
  const rng = new Rng(9);
  const obs = new Float32Array(n * caseObsDim(c)).map(() => rng.normal());
  const out = backend.act(obs, n, new Rng(1));
  assert.equal(out.actions.length, n * D, "actions: n × action components");
  assert.equal(out.logProbs.length, n, "logProbs: n");
  assert.equal(out.values.length, n, "values: n");
  for (const x of [...out.actions, ...out.logProbs, ...out.values]) assert.ok(Number.isFinite(x));
  const d1 = backend.act(obs, n, new Rng(1), { deterministic: true });
  const d2 = backend.act(obs, n, new Rng(99), { deterministic: true });
  assert.deepEqual(d1, d2, "a deterministic act does not depend on the rng");
  assert.deepEqual(d1.values, backend.values(obs, n), "act() values = values()");
  const again = backend.act(obs, n, new Rng(1));
  assert.deepEqual(again, out, "the same rng gives the same sampled actions");
  if (c.config.action.kind === "categorical") {
    c.config.action.nvec.forEach((k, h) => {
      for (let i = 0; i < n; i++) {
        const a = out.actions[i * D + h];
        assert.ok(Number.isInteger(a) && a >= 0 && a < k, `head ${h} action ${a}`);
      }
    });
  }
}

/** Export → import into a differently seeded backend → identical weights and outputs. */
export function checkRoundTrip(
  make: (config: PolicyConfig) => PolicyBackend,
  c: ContractCase,
): void {
  const a = make(c.config), b = make({ ...c.config, seed: c.config.seed + 1 });
  try {
    const w = contractWeights(a);
    a.importWeights(w);
    assert.notDeepEqual(b.exportWeights(), a.exportWeights(), "the seeds must differ");
    b.importWeights(a.exportWeights());
    assert.deepEqual(b.exportWeights(), a.exportWeights());
    assert.deepEqual(a.exportWeights(), w, "exportWeights returns what importWeights took");
    const rng = new Rng(4);
    const obs = new Float32Array(3 * caseObsDim(c)).map(() => rng.normal());
    assert.deepEqual(
      b.act(obs, 3, new Rng(2), { deterministic: true }),
      a.act(obs, 3, new Rng(2), { deterministic: true }),
    );
    const missing = w.filter((x) => x.name !== w[0].name);
    assert.throws(() => b.importWeights(missing), /missing weight/);
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** Same seed + same updates → byte-identical weights. */
export function checkDeterminism(
  make: (config: PolicyConfig) => PolicyBackend,
  c: ContractCase,
): void {
  const run = () => {
    const p = make(c.config);
    for (let i = 0; i < 3; i++) p.update(contractBatch(p, c, 12, 40 + i), 1e-2, c.loss);
    const bytes = new Uint8Array(
      Float32Array.from(p.exportWeights().flatMap((w) => Array.from(w.values))).buffer,
    );
    p.dispose();
    return bytes;
  };
  assert.deepEqual(run(), run());
}
