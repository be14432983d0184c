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
 * per entry of `nvec` (discrete), their logits side by side.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../util/rng.ts";
import type {
  ActResult,
  Minibatch,
  NamedWeight,
  PolicyBackend,
  PolicyConfig,
  UpdateStats,
} from "./policy.ts";
import { orthogonalKernel } from "./_tf_init.ts";

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
  /** Gaussian: action dims; categorical: number of heads. */
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
    this.#gaussian = a.kind === "gaussian";
    this.#actDim = a.kind === "gaussian" ? a.dim : a.nvec.length;
    this.#nvec = a.kind === "gaussian" ? [] : [...a.nvec];
    this.#width = a.kind === "gaussian" ? a.dim : a.nvec.reduce((s, n) => s + n, 0);
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
      const fanIn = k === 0 ? config.obsDim : 2 * this.#hidden[k - 1];
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
      ? range(0, this.config.obsDim)
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

  #outputs(obs: Float32Array, n: number): Float32Array {
    this.#checkAlive();
    const d = this.config.obsDim;
    if (obs.length < n * d) {
      throw new TypeError(
        `${this.name}: ${n} observations need ${n * d} values, got ${obs.length}`,
      );
    }
    const x = obs.length === n * d ? obs : obs.subarray(0, n * d);
    return tf.tidy(() => this.#forward(tf.tensor2d(x, [n, d])).out.dataSync() as Float32Array);
  }

  act(
    obs: Float32Array,
    n: number,
    rng: Rng,
    options: { deterministic?: boolean } = {},
  ): ActResult {
    const out = this.#outputs(obs, n);
    const W = this.#width + 1, D = this.#actDim;
    const actions = new Float32Array(n * D);
    const logProbs = new Float32Array(n);
    const values = new Float32Array(n);
    const det = options.deterministic === true;
    for (let b = 0; b < n; b++) values[b] = out[b * W + W - 1];
    if (this.#gaussian) {
      const logStd = this.#logStd;
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
    const out = this.#outputs(obs, n);
    const W = this.#width + 1;
    const values = new Float32Array(n);
    for (let b = 0; b < n; b++) values[b] = out[b * W + W - 1];
    return values;
  }

  update(batch: Minibatch, lr: number): UpdateStats {
    this.#checkAlive();
    const cfg = this.config, B = batch.size, d = cfg.obsDim, L = this.#hidden.length;
    if (batch.obs.length < B * d) {
      throw new TypeError(
        `${this.name}.update: minibatch of ${B} needs ${B * d} observation values`,
      );
    }
    const vfClip = cfg.vfClip ?? null;
    if (vfClip !== null && !batch.oldValues) {
      throw new TypeError(
        `${this.name}.update: config.vfClip is set but the minibatch has no oldValues`,
      );
    }
    const adv = normalizedAdvantages(batch.advantages, B, cfg.normAdvantages);
    const x = batch.obs.subarray(0, B * d);
    const xT = new Float32Array(B * d); // the first layer's input, transposed in JS for dW0
    for (let i = 0; i < B; i++) for (let j = 0; j < d; j++) xT[j * B + i] = x[i * d + j];
    this.#step += 1;
    const bc1 = 1 - BETA1 ** this.#step, bc2 = 1 - BETA2 ** this.#step;
    let stats!: UpdateStats;

    tf.tidy(() => {
      const { acts, out } = this.#forward(tf.tensor2d(x, [B, d]));
      const loss = this.#gaussian
        ? gaussianLossGrad(out.dataSync() as Float32Array, batch, adv, this.#logStd, cfg, vfClip)
        : categoricalLossGrad(out.dataSync() as Float32Array, batch, adv, this.#nvec, cfg, vfClip);
      stats = loss.stats;

      // Backward through the MLP: dZ_k → dW_k = a_kᵀ dZ_k, db_k = Σ_rows dZ_k,
      // dZ_{k−1} = (dZ_k W_kᵀ) ⊙ (1 − a_k²).
      const grads: tf.Tensor[] = new Array(this.#views.length);
      let dz: tf.Tensor2D = tf.tensor2d(loss.dOut, [B, this.#width + 1]);
      for (let k = L; k >= 0; k--) {
        const aT = k === 0 ? tf.tensor2d(xT, [d, B]) : tf.transpose(acts[k - 1]);
        grads[2 * k] = tf.reshape(tf.matMul(aT, dz), [-1]);
        grads[2 * k + 1] = tf.sum(dz, 0);
        if (k > 0) {
          const dh = tf.matMul(dz, tf.transpose(this.#views[2 * k] as tf.Tensor2D));
          dz = tf.mul(dh, tf.sub(1, tf.square(acts[k - 1])));
        }
      }
      const g = this.#grad;
      grads.forEach((t, i) => g.set(t.dataSync() as Float32Array, this.#specs[i].offset));
      if (this.#gaussian) g.set(loss.dLogStd, this.#specs[this.#specs.length - 1].offset);
    });

    // Mask the zero blocks, clip the global norm (torch: coef = max / (norm + 1e−6), at
    // most 1), then one fused Adam pass (torch's formula) over the flat vector.
    const g = this.#grad, mask = this.#gradMask, theta = this.#theta, m = this.#m, v = this.#v;
    const P = theta.length;
    let sq = 0;
    for (let i = 0; i < P; i++) {
      if (mask[i] === 0) g[i] = 0;
      sq += g[i] * g[i];
    }
    const coef = Math.min(cfg.maxGradNorm / (Math.sqrt(sq) + 1e-6), 1);
    const stepSize = lr / bc1, invSqrtBc2 = 1 / Math.sqrt(bc2), eps = cfg.adamEps;
    for (let i = 0; i < P; i++) {
      const gi = g[i] * coef;
      m[i] = BETA1 * m[i] + (1 - BETA1) * gi;
      v[i] = BETA2 * v[i] + (1 - BETA2) * gi * gi;
      theta[i] -= stepSize * (m[i] / (Math.sqrt(v[i]) * invSqrtBc2 + eps));
    }
    this.#refreshViews();
    return stats;
  }

  exportWeights(): NamedWeight[] {
    this.#checkAlive();
    const theta = this.#theta;
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
        values: Float32Array.from(this.#logStd),
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

/** The minibatch loss's gradient with respect to the network outputs, plus diagnostics. */
interface LossGrad {
  /** `B × (width + 1)`: ∂loss/∂(actor outputs, value). */
  dOut: Float32Array;
  /** ∂loss/∂logStd (Gaussian). */
  dLogStd: Float32Array;
  stats: UpdateStats;
}

/**
 * PPO loss `mean(−min(r·A, clip(r)·A) + vf·½(V−R)² − ent·H)` for a diagonal Gaussian.
 * With `z = (a − μ)/σ`: `∂log p/∂μ = z/σ`, `∂log p/∂log σ = z² − 1`; the surrogate's
 * gradient w.r.t. `log p` is `−A·r` where the unclipped branch is the minimum, else 0.
 */
function gaussianLossGrad(
  out: Float32Array,
  batch: Minibatch,
  adv: Float64Array,
  logStd: Float32Array,
  cfg: PolicyConfig,
  vfClip: number | null,
): LossGrad {
  const B = batch.size, D = logStd.length, W = D + 1;
  const dOut = new Float32Array(B * W);
  const dLogStd = new Float64Array(D);
  const invStd = Float64Array.from(logStd, (s) => Math.exp(-s));
  let logStdSum = 0;
  for (let d = 0; d < D; d++) logStdSum += logStd[d];
  const acc = newAccumulator();
  const z = new Float64Array(D);
  for (let i = 0; i < B; i++) {
    let sq = 0;
    for (let d = 0; d < D; d++) {
      z[d] = (batch.actions[i * D + d] - out[i * W + d]) * invStd[d];
      sq += z[d] * z[d];
    }
    const logp = -0.5 * sq - logStdSum - 0.5 * D * LOG_2PI;
    const g = surrogateGrad(logp - batch.oldLogProbs[i], adv[i], cfg.clipCoef, acc) / B;
    for (let d = 0; d < D; d++) {
      dOut[i * W + d] = g * z[d] * invStd[d];
      dLogStd[d] += g * (z[d] * z[d] - 1);
    }
    dOut[i * W + D] = valueGrad(out[i * W + D], batch, i, cfg, vfClip, acc) / B;
  }
  const entropy = logStdSum + 0.5 * D * (1 + LOG_2PI);
  for (let d = 0; d < D; d++) dLogStd[d] -= cfg.entCoef; // −ent·∂H/∂logσ_d, H = Σ logσ + const
  acc.entropy = entropy * B;
  return { dOut, dLogStd: Float32Array.from(dLogStd), stats: finish(acc, B) };
}

/**
 * The same loss for independent categorical heads (logits side by side):
 * `∂log p/∂l_c = 1[c = a] − p_c` and `∂H/∂l_c = −p_c (log p_c + H_head)`.
 */
function categoricalLossGrad(
  out: Float32Array,
  batch: Minibatch,
  adv: Float64Array,
  nvec: number[],
  cfg: PolicyConfig,
  vfClip: number | null,
): LossGrad {
  const B = batch.size, H = nvec.length;
  const width = nvec.reduce((s, n) => s + n, 0), W = width + 1;
  const dOut = new Float32Array(B * W);
  const acc = newAccumulator();
  const logp = new Float64Array(width);
  for (let i = 0; i < B; i++) {
    let lp = 0, ent = 0, o = 0;
    const headEnt = new Float64Array(H);
    for (let h = 0; h < H; h++) {
      const k = nvec[h], base = i * W + o;
      const lse = logSumExp(out, base, k);
      const a = batch.actions[i * H + h];
      if (!(Number.isInteger(a) && a >= 0 && a < k)) {
        throw new RangeError(
          `update: minibatch row ${i} head ${h} has action ${a}, outside 0…${k - 1}`,
        );
      }
      let he = 0;
      for (let c = 0; c < k; c++) {
        logp[o + c] = out[base + c] - lse;
        he -= Math.exp(logp[o + c]) * logp[o + c];
      }
      headEnt[h] = he;
      ent += he;
      lp += logp[o + a];
      o += k;
    }
    acc.entropy += ent;
    const g = surrogateGrad(lp - batch.oldLogProbs[i], adv[i], cfg.clipCoef, acc) / B;
    const e = cfg.entCoef / B;
    o = 0;
    for (let h = 0; h < H; h++) {
      const k = nvec[h], a = batch.actions[i * H + h];
      for (let c = 0; c < k; c++) {
        const p = Math.exp(logp[o + c]);
        dOut[i * W + o + c] = g * ((c === a ? 1 : 0) - p) + e * p * (logp[o + c] + headEnt[h]);
      }
      o += k;
    }
    dOut[i * W + width] = valueGrad(out[i * W + width], batch, i, cfg, vfClip, acc) / B;
  }
  return { dOut, dLogStd: new Float32Array(0), stats: finish(acc, B) };
}

interface Accumulator {
  pg: number;
  vl: number;
  entropy: number;
  kl: number;
  clipped: number;
}

function newAccumulator(): Accumulator {
  return { pg: 0, vl: 0, entropy: 0, kl: 0, clipped: 0 };
}

function finish(a: Accumulator, B: number): UpdateStats {
  return {
    policyLoss: a.pg / B,
    valueLoss: a.vl / B,
    entropy: a.entropy / B,
    approxKl: a.kl / B,
    clipFraction: a.clipped / B,
  };
}

/** Adds sample `i`'s clipped-surrogate loss to `acc`; returns ∂(−min(rA, clip(r)A))/∂log p. */
function surrogateGrad(logRatio: number, a: number, clip: number, acc: Accumulator): number {
  const r = Math.exp(logRatio);
  const rc = r < 1 - clip ? 1 - clip : r > 1 + clip ? 1 + clip : r;
  const unclipped = r * a, clipped = rc * a;
  acc.pg += -Math.min(unclipped, clipped);
  acc.kl += r - 1 - logRatio;
  if (Math.abs(r - 1) > clip) acc.clipped += 1;
  // The minimum takes the unclipped branch (gradient −A·r) unless the clipped one is strictly smaller.
  return unclipped <= clipped ? -a * r : 0;
}

/** Adds sample `i`'s value loss `½(V−R)²` (or the clipped variant) to `acc`; returns vf·∂/∂V. */
function valueGrad(
  value: number,
  batch: Minibatch,
  i: number,
  cfg: PolicyConfig,
  vfClip: number | null,
  acc: Accumulator,
): number {
  const err = value - batch.returns[i];
  if (vfClip === null) {
    acc.vl += 0.5 * err * err;
    return cfg.vfCoef * err;
  }
  const old = batch.oldValues![i];
  const delta = value - old;
  const dc = delta < -vfClip ? -vfClip : delta > vfClip ? vfClip : delta;
  const errC = old + dc - batch.returns[i];
  if (err * err >= errC * errC) {
    acc.vl += 0.5 * err * err;
    return cfg.vfCoef * err;
  }
  acc.vl += 0.5 * errC * errC;
  return Math.abs(delta) < vfClip ? cfg.vfCoef * errC : 0;
}

function logSumExp(x: Float32Array, offset: number, k: number): number {
  let mx = -Infinity;
  for (let c = 0; c < k; c++) mx = Math.max(mx, x[offset + c]);
  let s = 0;
  for (let c = 0; c < k; c++) s += Math.exp(x[offset + c] - mx);
  return mx + Math.log(s);
}

/** `(A − mean) / (std_ddof1 + 1e−8)` as CleanRL (unchanged when off or B = 1). */
function normalizedAdvantages(a: Float32Array, B: number, normalize: boolean): Float64Array {
  const out = Float64Array.from(a.subarray(0, B));
  if (!normalize || B < 2) return out;
  let mean = 0;
  for (let i = 0; i < B; i++) mean += out[i];
  mean /= B;
  let ss = 0;
  for (let i = 0; i < B; i++) ss += (out[i] - mean) ** 2;
  const std = Math.sqrt(ss / (B - 1));
  for (let i = 0; i < B; i++) out[i] = (out[i] - mean) / (std + 1e-8);
  return out;
}

function validate(c: PolicyConfig): void {
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
