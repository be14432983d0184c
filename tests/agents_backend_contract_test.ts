/**
 * The PolicyBackend contract (tests/support/policy_contract.ts) against every
 * backend: the WebAssembly kernel (Gaussian heads only), tfjs on its cpu backend
 * and tfjs on its wasm backend, for the MLP and per-asset topologies.
 */
import assert from "node:assert/strict";
import {
  createKernelPolicy,
  createTfjsPolicy,
  initTf,
  type PolicyBackend,
  type PolicyConfig,
} from "@lib/agents/mod.ts";
import {
  assertSameLossAndGradients,
  checkActContract,
  checkDeterminism,
  checkRoundTrip,
  CONTRACT_CASES,
  contractBatch,
  type ContractCase,
  contractWeights,
  lossAndGradients,
} from "./support/policy_contract.ts";

interface Backend {
  name: string;
  /** Makes this backend current (tfjs's global backend) and returns its factory. */
  ready(): Promise<(config: PolicyConfig) => PolicyBackend>;
  supports(c: ContractCase): boolean;
}

const BACKENDS: Backend[] = [
  {
    name: "kernel",
    ready: () => Promise.resolve(createKernelPolicy),
    supports: (c) => c.config.action.kind === "gaussian",
  },
  {
    name: "tfjs-cpu",
    ready: async () => (await initTf("cpu"), createTfjsPolicy),
    supports: () => true,
  },
  {
    name: "tfjs-wasm",
    ready: async () => (await initTf("wasm"), createTfjsPolicy),
    supports: () => true,
  },
];

/** Reference losses and gradients: the kernel for Gaussian heads, tfjs-cpu otherwise. */
async function reference(c: ContractCase) {
  const make = c.config.action.kind === "gaussian"
    ? createKernelPolicy
    : (await initTf("cpu"), createTfjsPolicy);
  const p = make(c.config);
  const weights = contractWeights(p);
  p.importWeights(weights);
  const batch = contractBatch(p, c, 13, 5);
  const result = lossAndGradients(p, weights, batch, c.loss);
  p.dispose();
  return { weights, batch, result };
}

for (const backend of BACKENDS) {
  for (const c of CONTRACT_CASES) {
    if (!backend.supports(c)) continue;
    Deno.test(`PolicyBackend contract [${backend.name}] ${c.label}: same weights + minibatch → same losses and gradients`, async () => {
      const ref = await reference(c);
      const make = await backend.ready();
      const p = make(c.config);
      try {
        const mine = lossAndGradients(p, ref.weights, ref.batch, c.loss);
        assertSameLossAndGradients(mine, ref.result, `${backend.name} ${c.label}`);
      } finally {
        p.dispose();
      }
    });
    Deno.test(`PolicyBackend contract [${backend.name}] ${c.label}: act() shapes, deterministic act, export/import round trip, same seed → same bytes`, async () => {
      const make = await backend.ready();
      const p = make(c.config);
      try {
        p.importWeights(contractWeights(p));
        checkActContract(p, c);
      } finally {
        p.dispose();
      }
      checkRoundTrip(make, c);
      checkDeterminism(make, c);
    });
  }
}

Deno.test("PolicyBackend contract: the kernel refuses categorical heads with a message naming tfjs", () => {
  const c = CONTRACT_CASES.find((x) => x.config.action.kind === "categorical")!;
  assert.throws(
    () => createKernelPolicy(c.config),
    /not supported by the kernel backend; use tfjs/,
  );
});
