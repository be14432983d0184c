/**
 * The PPO actor-critic in `@tensorflow/tfjs` (any tfjs backend; call `initTf()` from
 * `tf_backend.ts` first).
 *
 * Two separate tanh MLPs (actor and critic), evaluated together as one wider MLP
 * whose weights are block-diagonal: layer 0 is `[obs, 2H]` (actor columns, then
 * critic columns), deeper layers are `[2H, 2H]` with zero off-diagonal blocks, and the
 * output layer `[2H, out + 1]` feeds the actor head from the actor half and the value
 * (last column) from the critic half. The zero blocks never change: their gradient is
 * masked. So a forward pass is three plain 2-D matmuls, whatever the batch.
 *
 * Why not tfjs autodiff: on the wasm backend the transposed matmuls that autodiff
 * emits for the backward pass are ~5× slower than plain ones, and a PPO step written
 * op by op costs ~225 kernels, each with fixed overhead. Here the loss and its
 * gradient with respect to the network's outputs (a `B × (out+1)` matrix) are
 * computed in plain JavaScript after one `dataSync`, and the backward pass through
 * the MLP is written out with explicit transposes (26 kernels per minibatch in all).
 * The parameters live in one flat `Float32Array` (the master copy, float32 as in
 * PyTorch); gradient masking, the global-norm clip and Adam (PyTorch's formula, eps
 * 1e-5) are one fused loop over it, after which the weights are re-uploaded as tensors.
 * Gradients are checked against finite differences in tests/agents_tfjs_test.ts.
 *
 * Heads: a Gaussian with state-independent log-std (continuous), or one categorical
 * per entry of `nvec` (discrete), their logits side by side. The loss and its head
 * gradient come from `ppo_loss.ts`, shared with the kernel backend.
 *
 * The per-asset topology (`PolicyConfig.topology`, Gaussian only) runs the same MLP
 * over `n · N` rows of `assetFeatures + 1` values (the observation reshaped in JS),
 * then averages the cash score and the value over assets (`per_asset.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng.ts";
import type {
  ActResult,
  Minibatch,
  NamedWeight,
  PerAssetTopology,
  PolicyBackend,
  PolicyConfig,
  UpdateStats,
} from "./policy.ts";
import { orthogonalKernel } from "./_tf_init.ts";
import { gradClipScale, logSumExp, type PpoHeadOutputs, type PpoLossConfig } from "./ppo_loss.ts";
import {
  assetCount,
  expandLogStd,
  gatherAssetRows,
  headLossInto,
  perAssetHead,
  perAssetTopology,
} from "./per_asset.ts";

const LOG_2PI = Math.log(2 * Math.PI);
const BETA1 = 0.9;
const BETA2 = 0.999;

/**
 * Builds the tfjs actor-critic for `config`, with seeded orthogonal weights
 * (gain √2 hidden, 0.01 actor head, 1 critic head, zero biases, log-std `logStdInit`).
 *
 * Weight names (export/import): `actor/<i>/kernel` `[in, out]`, `actor/<i>/bias` `[out]`
 * for hidden layer `i`, `actor/out/kernel` `[H, outDim]`, `actor/out/bias`,
 * `actor/logStd` `[dim]` (Gaussian only), and the same under `critic/` with
 * `critic/out/kernel` `[H, 1]`. A categorical head's `outDim` is `sum(nvec)`, heads in order.
 *
 * @param config Network and loss settings (see `policyConfigForSpaces`).
 * @returns A {@linkcode PolicyBackend} named `tfjs-<tfjs backend>`.
 * @example
 * ```ts
 * await initTf("wasm");
 * const backend = createTfjsPolicy(policyConfigForSpaces(env.observationSpace, env.actionSpace));
 * ```
 */
export function createTfjsPolicy(config: PolicyConfig): PolicyBackend {
  return new TfjsPolicy(config);
}

/** Where one parameter tensor sits in the flat vector. */
interface ParamSpec {
  shape: number[];
  offset: number;
  size: number;
}

class TfjsPolicy implements PolicyBackend {
  readonly name: string;
  readonly config: PolicyConfig;
  #gaussian: boolean;
  /** Per-asset topology, or null. */
  #pa: PerAssetTopology | null;
  /** Network input width (obsDim, or assetFeatures + 1 per asset). */
  #inDim: number;
  /** Gaussian: action dims (per-asset: log-std count, 1 or 2); categorical: number of heads. */
  #actDim: number;
  /** Actor output columns (gaussian: dim; categorical: sum(nvec)). */
  #width: number;
  #nvec: number[];
  /** Input width of each weight layer: obsDim, 2·hidden… */
  #hidden: number[];
  #specs: ParamSpec[]; // W0, b0, W1, b1, …, WL, bL, [logStd]
  #numParams: number;
  /** All parameters, the master copy (float32 as in PyTorch); tensors are views for tfjs. */
  #theta: Float32Array;
  #m: Float32Array;
  #v: Float32Array;
  /** 1 where a parameter exists, 0 in the zero blocks between actor and critic. */
  #gradMask: Uint8Array;
  #grad: Float32Array;
  #views: tf.Tensor[] = [];
  #logStd: Float32Array;
  #step = 0;
  #disposed = false;

  constructor(config: PolicyConfig) {
    validate(config);
    this.config = config;
    this.name = `tfjs-${tf.getBackend()}`;
    const a = config.action;
    const pa = perAssetTopology(config);
    this.#pa = pa;
    this.#inDim = pa ? pa.assetFeatures + 1 : config.obsDim;
    this.#gaussian = a.kind === "gaussian";
    this.#actDim = pa ? (pa.cashScore ? 2 : 1) : a.kind === "gaussian" ? a.dim : a.nvec.length;
    this.#nvec = a.kind === "gaussian" ? [] : [...a.nvec];
    this.#width = pa
      ? this.#actDim
      : a.kind === "gaussian"
      ? a.dim
      : a.nvec.reduce((s, n) => s + n, 0);
    this.#hidden = [...config.hidden];

    // Flat layout and initial values.
    const L = this.#hidden.length; // weight layers: 0 … L (L = output)
    const specs: ParamSpec[] = [];
    let offset = 0;
    const add = (shape: number[]) => {
      const size = shape.reduce((x, y) => x * y, 1);
      specs.push({ shape, offset, size });
      offset += size;
    };
    for (let k = 0; k <= L; k++) {
      const fanIn = k === 0 ? this.#inDim : 2 * this.#hidden[k - 1];
      const fanOut = k === L ? this.#width + 1 : 2 * this.#hidden[k];
      add([fanIn, fanOut]);
      add([fanOut]);
    }
    if (this.#gaussian) add([this.#actDim]);
    this.#specs = specs;
    this.#numParams = offset;

    const theta = new Float32Array(offset);
    const mask = new Uint8Array(offset);
    const rng = new Rng(config.seed);
    for (const net of [0, 1]) {
      for (let k = 0; k <= L; k++) {
        const { rows, cols } = this.#block(k, net);
        const gain = k < L ? Math.SQRT2 : net === 0 ? 0.01 : 1;
        const w = orthogonalKernel(rows.length, cols.length, gain, rng);
        const spec = specs[2 * k], fanOut = spec.shape[1];
        rows.forEach((r, i) =>
          cols.forEach((c, j) => {
            theta[spec.offset + r * fanOut + c] = w[i * cols.length + j];
            mask[spec.offset + r * fanOut + c] = 1;
          })
        );
        mask.fill(1, specs[2 * k + 1].offset, specs[2 * k + 1].offset + specs[2 * k + 1].size);
      }
    }
    if (this.#gaussian) {
      const s = specs[specs.length - 1];
      theta.fill(config.logStdInit, s.offset, s.offset + s.size);
      mask.fill(1, s.offset, s.offset + s.size);
    }
    this.#theta = theta;
    this.#m = new Float32Array(offset);
    this.#v = new Float32Array(offset);
    this.#grad = new Float32Array(offset);
    this.#gradMask = mask;
    this.#logStd = this.#gaussian
      ? theta.slice(specs[specs.length - 1].offset)
      : new Float32Array(0);
    this.#refreshViews();
  }

  /** Rows and columns of weight layer `k` that belong to network `net` (0 actor, 1 critic). */
  #block(k: number, net: number): { rows: number[]; cols: number[] } {
    const L = this.#hidden.length;
    const rows = k === 0
      ? range(0, this.#inDim)
      : range(net * this.#hidden[k - 1], (net + 1) * this.#hidden[k - 1]);
    const cols = k < L
      ? range(net * this.#hidden[k], (net + 1) * this.#hidden[k])
      : net === 0
      ? range(0, this.#width)
      : [this.#width];
    return { rows, cols };
  }

  /** Uploads the parameters to tfjs (one tensor per weight and bias; the log-std stays in JS). */
  #refreshViews(): void {
    tf.dispose(this.#views);
    const n = this.#gaussian ? this.#specs.length - 1 : this.#specs.length;
    this.#views = this.#specs.slice(0, n).map((s) =>
      tf.tensor(this.#theta.subarray(s.offset, s.offset + s.size), s.shape)
    );
    if (this.#gaussian) this.#logStd = this.#theta.slice(this.#specs[n].offset);
  }

  /** Hidden activations (for the backward pass) and the output `[n, width + 1]`. */
  #forward(x: tf.Tensor2D): { acts: tf.Tensor2D[]; out: tf.Tensor2D } {
    const L = this.#hidden.length;
    const acts: tf.Tensor2D[] = [];
    let h = x;
    for (let k = 0; k <= L; k++) {
      const z = tf.add(
        tf.matMul(h, this.#views[2 * k] as tf.Tensor2D),
        this.#views[2 * k + 1],
      ) as tf.Tensor2D;
      if (k < L) {
        h = tf.tanh(z);
        acts.push(h);
      } else h = z;
    }
    return { acts, out: h };
  }

  /** Network input rows for `n` observations (per-asset: `n · N` rows, asset-major). */
  #inputRows(obs: Float32Array, n: number): { x: Float32Array; rows: number; N: number } {
    this.#checkAlive();
    const pa = this.#pa, d = this.#inDim;
    if (pa) {
      const N = assetCount(pa, n > 0 ? obs.length / n : 0, this.name);
      const x = new Float32Array(n * N * d);
      gatherAssetRows(obs, n, N, pa.assetFeatures, x, 0, d);
      return { x, rows: n * N, N };
    }
    if (obs.length < n * d) {
      throw new TypeError(
        `${this.name}: ${n} observations need ${n * d} values, got ${obs.length}`,
      );
    }
    return { x: obs.length === n * d ? obs : obs.subarray(0, n * d), rows: n, N: 1 };
  }

  #outputs(obs: Float32Array, n: number): { out: Float32Array; N: number } {
    const { x, rows, N } = this.#inputRows(obs, n);
    const out = tf.tidy(() =>
      this.#forward(tf.tensor2d(x, [rows, this.#inDim])).out.dataSync() as Float32Array
    );
    return { out, N };
  }

  /** The portfolio-level head outputs (action means or logits, log-std, values) of `n` observations. */
  #head(out: Float32Array, n: number, N: number): PpoHeadOutputs & { dim: number } {
    const W = this.#width + 1, values = out.subarray(this.#width), pa = this.#pa;
    if (!pa) {
      return {
        dim: this.#actDim,
        actor: out,
        actorStride: W,
        logStd: this.#gaussian ? this.#logStd : undefined,
        values,
        valueStride: W,
      };
    }
    const head = perAssetHead(pa, n, N, out, W, values, W);
    const dim = N + (pa.cashScore ? 1 : 0);
    return {
      dim,
      actor: head.mean,
      actorStride: dim,
      logStd: expandLogStd(pa, N, this.#logStd),
      values: head.values,
    };
  }

  act(
    obs: Float32Array,
    n: number,
    rng: Rng,
    options: { deterministic?: boolean } = {},
  ): ActResult {
    const { out: raw, N } = this.#outputs(obs, n);
    const head = this.#head(raw, n, N);
    const out = head.actor, W = head.actorStride!, D = head.dim, vs = head.valueStride ?? 1;
    const actions = new Float32Array(n * D);
    const logProbs = new Float32Array(n);
    const values = new Float32Array(n);
    const det = options.deterministic === true;
    for (let b = 0; b < n; b++) values[b] = head.values[b * vs];
    if (this.#gaussian) {
      const logStd = head.logStd!;
      let constant = 0;
      for (let d = 0; d < D; d++) constant += -logStd[d] - 0.5 * LOG_2PI;
      for (let b = 0; b < n; b++) {
        let sq = 0;
        for (let d = 0; d < D; d++) {
          const eps = det ? 0 : rng.normal();
          actions[b * D + d] = out[b * W + d] + Math.exp(logStd[d]) * eps;
          sq += eps * eps;
        }
        // log N(μ + σε; μ, σ) = Σ −ε²/2 − log σ − log(2π)/2
        logProbs[b] = -0.5 * sq + constant;
      }
    } else {
      for (let b = 0; b < n; b++) {
        let lp = 0, o = b * W;
        for (let h = 0; h < D; h++) {
          const k = this.#nvec[h];
          const lse = logSumExp(out, o, k);
          let choice = 0;
          if (det) {
            for (let c = 1; c < k; c++) if (out[o + c] > out[o + choice]) choice = c;
          } else {
            let u = rng.uniform();
            choice = k - 1;
            for (let c = 0; c < k; c++) {
              u -= Math.exp(out[o + c] - lse);
              if (u < 0) {
                choice = c;
                break;
              }
            }
          }
          actions[b * D + h] = choice;
          lp += out[o + choice] - lse;
          o += k;
        }
        logProbs[b] = lp;
      }
    }
    return { actions, logProbs, values };
  }

  values(obs: Float32Array, n: number): Float32Array {
    const { out, N } = this.#outputs(obs, n);
    const head = this.#head(out, n, N), vs = head.valueStride ?? 1;
    const values = new Float32Array(n);
    for (let b = 0; b < n; b++) values[b] = head.values[b * vs];
    return values;
  }

  /** Forward, the shared PPO loss, backward: the masked gradient into `#grad`. */
  #lossAndGradients(batch: Minibatch, loss: PpoLossConfig): UpdateStats {
    const B = batch.size, L = this.#hidden.length, d = this.#inDim, W = this.#width + 1;
    if (!(Number.isInteger(B) && B >= 1)) {
      throw new RangeError(`${this.name}.update: minibatch size must be ≥ 1; got ${B}`);
    }
    const { x, rows, N } = this.#inputRows(batch.obs, B);
    const xT = new Float32Array(rows * d); // the first layer's input, transposed in JS for dW0
    for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) xT[j * rows + i] = x[i * d + j];
    let stats!: UpdateStats;
    tf.tidy(() => {
      const { acts, out } = this.#forward(tf.tensor2d(x, [rows, d]));
      const head = this.#head(out.dataSync() as Float32Array, B, N);
      const action: PolicyConfig["action"] = this.#gaussian
        ? { kind: "gaussian", dim: head.dim }
        : { kind: "categorical", nvec: this.#nvec };
      const dOut = new Float32Array(rows * W);
      const dLogStd = new Float32Array(this.#gaussian ? this.#actDim : 0);
      stats = headLossInto(this.#pa, action, head, batch, loss, {
        n: B,
        N,
        dActor: dOut,
        actorStride: W,
        dValues: dOut.subarray(this.#width),
        valueStride: W,
        dLogStd,
      });

      // Backward through the MLP: dZ_k → dW_k = a_kᵀ dZ_k, db_k = Σ_rows dZ_k,
      // dZ_{k−1} = (dZ_k W_kᵀ) ⊙ (1 − a_k²).
      const grads: tf.Tensor[] = new Array(this.#views.length);
      let dz: tf.Tensor2D = tf.tensor2d(dOut, [rows, W]);
      for (let k = L; k >= 0; k--) {
        const aT = k === 0 ? tf.tensor2d(xT, [d, rows]) : tf.transpose(acts[k - 1]);
        grads[2 * k] = tf.reshape(tf.matMul(aT, dz), [-1]);
        grads[2 * k + 1] = tf.sum(dz, 0);
        if (k > 0) {
          const dh = tf.matMul(dz, tf.transpose(this.#views[2 * k] as tf.Tensor2D));
          dz = tf.mul(dh, tf.sub(1, tf.square(acts[k - 1])));
        }
      }
      const g = this.#grad;
      grads.forEach((t, i) => g.set(t.dataSync() as Float32Array, this.#specs[i].offset));
      if (this.#gaussian) g.set(dLogStd, this.#specs[this.#specs.length - 1].offset);
    });
    const g = this.#grad, mask = this.#gradMask;
    for (let i = 0; i < g.length; i++) if (mask[i] === 0) g[i] = 0;
    return stats;
  }

  update(batch: Minibatch, lr: number, loss: PpoLossConfig): UpdateStats {
    const stats = this.#lossAndGradients(batch, loss);
    this.#step += 1;
    const bc1 = 1 - BETA1 ** this.#step, bc2 = 1 - BETA2 ** this.#step;
    // Clip the global norm (torch: coef = max / (norm + 1e−6), at most 1), then one
    // fused Adam pass (torch's formula) over the flat vector.
    const g = this.#grad, theta = this.#theta, m = this.#m, v = this.#v;
    const P = theta.length;
    let sq = 0;
    for (let i = 0; i < P; i++) sq += g[i] * g[i];
    const coef = gradClipScale(Math.sqrt(sq), loss.maxGradNorm);
    const stepSize = lr / bc1, invSqrtBc2 = 1 / Math.sqrt(bc2), eps = this.config.adamEps;
    for (let i = 0; i < P; i++) {
      const gi = g[i] * coef;
      m[i] = BETA1 * m[i] + (1 - BETA1) * gi;
      v[i] = BETA2 * v[i] + (1 - BETA2) * gi * gi;
      theta[i] -= stepSize * (m[i] / (Math.sqrt(v[i]) * invSqrtBc2 + eps));
    }
    this.#refreshViews();
    return stats;
  }

  gradients(
    batch: Minibatch,
    loss: PpoLossConfig,
  ): { stats: UpdateStats; gradients: NamedWeight[] } {
    const stats = this.#lossAndGradients(batch, loss);
    return { stats, gradients: this.#read(this.#grad, this.#grad.slice(this.#logStdOffset())) };
  }

  #logStdOffset(): number {
    return this.#gaussian ? this.#specs[this.#specs.length - 1].offset : this.#numParams;
  }

  exportWeights(): NamedWeight[] {
    this.#checkAlive();
    return this.#read(this.#theta, this.#logStd);
  }

  /** Actor and critic tensors of a parameter-shaped vector, in export order. */
  #read(theta: Float32Array, logStd: Float32Array): NamedWeight[] {
    const L = this.#hidden.length;
    const out: NamedWeight[] = [];
    for (const net of [0, 1]) {
      const prefix = net === 0 ? "actor" : "critic";
      for (let k = 0; k <= L; k++) {
        const { rows, cols } = this.#block(k, net);
        const ws = this.#specs[2 * k], bs = this.#specs[2 * k + 1], fanOut = ws.shape[1];
        const kernel = new Float32Array(rows.length * cols.length);
        rows.forEach((r, i) =>
          cols.forEach((c, j) => kernel[i * cols.length + j] = theta[ws.offset + r * fanOut + c])
        );
        const bias = Float32Array.from(cols, (c) => theta[bs.offset + c]);
        const name = `${prefix}/${k < L ? k : "out"}`;
        out.push({ name: `${name}/kernel`, shape: [rows.length, cols.length], values: kernel });
        out.push({ name: `${name}/bias`, shape: [cols.length], values: bias });
      }
    }
    if (this.#gaussian) {
      out.push({
        name: "actor/logStd",
        shape: [this.#actDim],
        values: Float32Array.from(logStd),
      });
    }
    return out;
  }

  importWeights(weights: NamedWeight[]): void {
    this.#checkAlive();
    const byName = new Map(weights.map((w) => [w.name, w]));
    const get = (name: string, shape: number[]): Float32Array => {
      const w = byName.get(name);
      if (!w) throw new TypeError(`importWeights: missing weight "${name}"`);
      if (w.shape.length !== shape.length || w.shape.some((x, i) => x !== shape[i])) {
        throw new TypeError(
          `importWeights: "${name}" has shape [${w.shape}] but this network needs [${shape}]`,
        );
      }
      return w.values;
    };
    const theta = new Float32Array(this.#numParams);
    const L = this.#hidden.length;
    for (const net of [0, 1]) {
      const prefix = net === 0 ? "actor" : "critic";
      for (let k = 0; k <= L; k++) {
        const { rows, cols } = this.#block(k, net);
        const ws = this.#specs[2 * k], bs = this.#specs[2 * k + 1], fanOut = ws.shape[1];
        const name = `${prefix}/${k < L ? k : "out"}`;
        const kv = get(`${name}/kernel`, [rows.length, cols.length]);
        const bv = get(`${name}/bias`, [cols.length]);
        rows.forEach((r, i) =>
          cols.forEach((c, j) => theta[ws.offset + r * fanOut + c] = kv[i * cols.length + j])
        );
        cols.forEach((c, j) => theta[bs.offset + c] = bv[j]);
      }
    }
    if (this.#gaussian) {
      theta.set(get("actor/logStd", [this.#actDim]), this.#specs[this.#specs.length - 1].offset);
    }
    this.#theta.set(theta);
    this.#refreshViews();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tf.dispose(this.#views);
    this.#views = [];
  }

  #checkAlive(): void {
    if (this.#disposed) throw new Error(`${this.name} policy was disposed`);
  }
}

function validate(c: PolicyConfig): void {
  const pa = perAssetTopology(c);
  if (pa && c.action.kind !== "gaussian") {
    throw new TypeError(
      "createTfjsPolicy(): the per-asset topology needs continuous (Gaussian) actions",
    );
  }
  if (pa && !(Number.isInteger(pa.assetFeatures) && pa.assetFeatures >= 1)) {
    throw new RangeError(
      `PolicyConfig.topology.assetFeatures must be a positive integer, got ${pa.assetFeatures}`,
    );
  }
  if (!Number.isInteger(c.obsDim) || c.obsDim < 1) {
    throw new RangeError(`PolicyConfig.obsDim must be a positive integer, got ${c.obsDim}`);
  }
  if (c.hidden.length < 1 || c.hidden.some((h) => !Number.isInteger(h) || h < 1)) {
    throw new RangeError(
      `PolicyConfig.hidden needs at least one positive layer size, got [${c.hidden}]`,
    );
  }
  if (c.action.kind === "gaussian" && !(Number.isInteger(c.action.dim) && c.action.dim >= 1)) {
    throw new RangeError(`PolicyConfig.action.dim must be a positive integer, got ${c.action.dim}`);
  }
  if (
    c.action.kind === "categorical" &&
    (c.action.nvec.length < 1 || c.action.nvec.some((n) => !(n >= 1)))
  ) {
    throw new RangeError(
      `PolicyConfig.action.nvec must list choice counts ≥ 1, got [${c.action.nvec}]`,
    );
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
