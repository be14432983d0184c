/**
 * The PPO actor-critic in `@tensorflow/tfjs` (any tfjs backend; call `initTf()` from
 * `tf_backend.ts` first).
 *
 * Separate actor and critic MLPs (tanh), but evaluated together: layer `i` of both
 * is one `[2, in, out]` weight and one batched matmul (the observation is broadcast
 * to both), so a forward pass costs as many ops as one network. The critic's head
 * shares the `[2, H, out]` output weight, using column 0 (its other columns stay 0:
 * they get no gradient). Gradients are flattened into one vector for the global-norm
 * clip and a single fused Adam step (PyTorch's Adam, eps 1e-5), instead of per-variable
 * optimiser ops. Advantage normalisation, sampling, log-probabilities at acting time
 * and all diagnostics run in plain JavaScript on small arrays, so the tfjs graph
 * carries only what needs a gradient.
 *
 * Heads: a Gaussian with state-independent log-std (continuous), or one categorical
 * per entry of `nvec` (discrete; heads are padded to the largest `n` and the padding
 * masked with −1e9 logits so one log-softmax covers every head).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Rng } from "../util/rng.ts";
import { Rng as SeededRng } from "../util/rng.ts";
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
const MASKED_LOGIT = -1e9;

/**
 * Builds the tfjs actor-critic for `config`, with seeded orthogonal weights
 * (gain √2 hidden, 0.01 actor head, 1 critic head, zero biases).
 *
 * Weight names (export/import): `actor/<i>/kernel` `[in, out]`, `actor/<i>/bias`,
 * `actor/out/kernel` `[H, outDim]`, `actor/out/bias`, `actor/logStd` `[dim]` (Gaussian),
 * the same under `critic/` with `critic/out/kernel` `[H, 1]`. A categorical head's
 * `outDim` is `sum(nvec)`, heads in order.
 *
 * @param config Network and loss settings (all fields required; see `policyConfigForSpaces`).
 * @returns A {@linkcode PolicyBackend} named `tfjs-<tf backend>`.
 * @example
 * ```ts
 * await initTf("wasm");
 * const backend = createTfjsPolicy(policyConfigForSpaces(env.observationSpace, env.actionSpace));
 * ```
 */
export function createTfjsPolicy(config: PolicyConfig): PolicyBackend {
  return new TfjsPolicy(config);
}

/** Layout of the actor head. */
interface Head {
  kind: "gaussian" | "categorical";
  /** Gaussian: action dims; categorical: number of heads. */
  actDim: number;
  /** Columns of the shared output weight (gaussian: dim; categorical: heads · nmax). */
  width: number;
  /** Categorical: size of each head, and the padded size. */
  nvec: number[];
  nmax: number;
}

class TfjsPolicy implements PolicyBackend {
  readonly name: string;
  readonly config: PolicyConfig;
  #head: Head;
  #sizes: number[]; // obsDim, hidden…
  #kernels: tf.Variable[] = []; // layer i: [2, in, out]
  #biases: tf.Variable[] = []; // layer i: [2, 1, out]
  #logStd: tf.Variable | null = null; // [1, dim]
  #vars: tf.Variable[];
  #numParams: number;
  #m: tf.Tensor;
  #v: tf.Tensor;
  #step = 0;
  #mask: tf.Tensor | null = null; // categorical padding mask [1, heads, nmax]
  #logStdCache: Float32Array | null = null;
  #disposed = false;

  constructor(config: PolicyConfig) {
    validate(config);
    this.config = config;
    this.name = `tfjs-${tf.getBackend()}`;
    const a = config.action;
    if (a.kind === "gaussian") {
      this.#head = { kind: "gaussian", actDim: a.dim, width: a.dim, nvec: [], nmax: 0 };
    } else {
      const nmax = Math.max(...a.nvec);
      this.#head = {
        kind: "categorical",
        actDim: a.nvec.length,
        width: a.nvec.length * nmax,
        nvec: [...a.nvec],
        nmax,
      };
    }
    this.#sizes = [config.obsDim, ...config.hidden];
    const rng = new SeededRng(config.seed);
    const init = initialWeights(config, this.#head, rng);
    const L = this.#sizes.length; // hidden layers + output
    for (let i = 0; i < L; i++) {
      const fanIn = this.#sizes[i];
      const fanOut = i < L - 1 ? this.#sizes[i + 1] : this.#head.width;
      this.#kernels.push(tf.variable(tf.tensor3d(init.kernels[i], [2, fanIn, fanOut])));
      this.#biases.push(tf.variable(tf.zeros([2, 1, fanOut])));
    }
    if (this.#head.kind === "gaussian") {
      this.#logStd = tf.variable(tf.fill([1, this.#head.actDim], config.logStdInit));
    } else {
      const mask = new Float32Array(this.#head.width);
      this.#head.nvec.forEach((n, h) =>
        mask.fill(MASKED_LOGIT, h * this.#head.nmax + n, (h + 1) * this.#head.nmax)
      );
      this.#mask = tf.tensor3d(mask, [1, this.#head.actDim, this.#head.nmax]);
    }
    this.#vars = [...this.#kernels, ...this.#biases, ...(this.#logStd ? [this.#logStd] : [])];
    this.#numParams = this.#vars.reduce((s, v) => s + v.size, 0);
    this.#m = tf.zeros([this.#numParams]);
    this.#v = tf.zeros([this.#numParams]);
  }

  /** Both networks: `[2, n, width]` (0 = actor output, 1 = critic in column 0). */
  #forward(obs: tf.Tensor2D): tf.Tensor3D {
    let h: tf.Tensor3D = tf.reshape(obs, [1, obs.shape[0], obs.shape[1]]);
    const L = this.#kernels.length;
    for (let i = 0; i < L; i++) {
      const z = tf.add(tf.matMul(h, this.#kernels[i]), this.#biases[i]) as tf.Tensor3D;
      h = i < L - 1 ? tf.tanh(z) : z;
    }
    return h;
  }

  #forwardData(obs: Float32Array, n: number): Float32Array {
    this.#checkAlive();
    const x = obs.length === n * this.config.obsDim ? obs : obs.subarray(0, n * this.config.obsDim);
    return tf.tidy(() =>
      this.#forward(tf.tensor2d(x, [n, this.config.obsDim])).dataSync() as Float32Array
    );
  }

  act(
    obs: Float32Array,
    n: number,
    rng: Rng,
    options: { deterministic?: boolean } = {},
  ): ActResult {
    const out = this.#forwardData(obs, n);
    const head = this.#head, W = head.width, D = head.actDim;
    const actions = new Float32Array(n * D);
    const logProbs = new Float32Array(n);
    const values = new Float32Array(n);
    const det = options.deterministic === true;
    for (let b = 0; b < n; b++) values[b] = out[n * W + b * W];
    if (head.kind === "gaussian") {
      const logStd = this.#readLogStd();
      let constant = 0;
      for (let d = 0; d < D; d++) constant += -logStd[d] - 0.5 * LOG_2PI;
      for (let b = 0; b < n; b++) {
        let sq = 0;
        for (let d = 0; d < D; d++) {
          const eps = det ? 0 : rng.normal();
          actions[b * D + d] = out[b * W + d] + Math.exp(logStd[d]) * eps;
          sq += eps * eps;
        }
        // log N(a; μ, σ) with a = μ + σ·ε is −ε²/2 − log σ − log(2π)/2 per dimension.
        logProbs[b] = -0.5 * sq + constant;
      }
    } else {
      const nmax = head.nmax;
      for (let b = 0; b < n; b++) {
        let lp = 0;
        for (let h = 0; h < D; h++) {
          const o = b * W + h * nmax, k = head.nvec[h];
          let mx = -Infinity;
          for (let c = 0; c < k; c++) mx = Math.max(mx, out[o + c]);
          let sum = 0;
          for (let c = 0; c < k; c++) sum += Math.exp(out[o + c] - mx);
          const lse = mx + Math.log(sum);
          let choice = 0;
          if (det) {
            for (let c = 1; c < k; c++) if (out[o + c] > out[o + choice]) choice = c;
          } else {
            let u = rng.uniform() * sum;
            choice = k - 1;
            for (let c = 0; c < k; c++) {
              u -= Math.exp(out[o + c] - mx);
              if (u < 0) {
                choice = c;
                break;
              }
            }
          }
          actions[b * D + h] = choice;
          lp += out[o + choice] - lse;
        }
        logProbs[b] = lp;
      }
    }
    return { actions, logProbs, values };
  }

  values(obs: Float32Array, n: number): Float32Array {
    const out = this.#forwardData(obs, n);
    const W = this.#head.width;
    const values = new Float32Array(n);
    for (let b = 0; b < n; b++) values[b] = out[n * W + b * W];
    return values;
  }

  update(batch: Minibatch, lr: number): UpdateStats {
    this.#checkAlive();
    const cfg = this.config, head = this.#head, B = batch.size, D = head.actDim, W = head.width;
    const adv = normalizedAdvantages(batch.advantages, B, cfg.normAdvantages);
    const vfClip = cfg.vfClip ?? null;
    if (vfClip !== null && !batch.oldValues) {
      throw new TypeError(
        "TfjsPolicy.update: config.vfClip is set but the minibatch has no oldValues",
      );
    }
    this.#step += 1;
    const bc1 = 1 - BETA1 ** this.#step, bc2 = 1 - BETA2 ** this.#step;

    const side = tf.tidy(() => {
      const obs = tf.tensor2d(batch.obs.subarray(0, B * cfg.obsDim), [B, cfg.obsDim]);
      const oldLogp = tf.tensor1d(batch.oldLogProbs.subarray(0, B));
      const advT = tf.tensor1d(adv);
      const ret = tf.tensor1d(batch.returns.subarray(0, B));
      const actIn = head.kind === "gaussian"
        ? tf.tensor2d(batch.actions.subarray(0, B * D), [B, D])
        : tf.tensor3d(oneHot(batch.actions, B, head), [B, D, head.nmax]);
      const oldV = vfClip !== null ? tf.tensor1d(batch.oldValues!.subarray(0, B)) : null;
      let sideOut: tf.Tensor | null = null;

      const { grads } = tf.variableGrads(() => {
        const out = this.#forward(obs);
        const [actorOut, criticOut] = tf.split(out, 2, 0);
        const value = tf.reshape(tf.slice(criticOut, [0, 0, 0], [1, B, 1]), [B]);
        let logp: tf.Tensor1D, entropy: tf.Tensor;
        if (head.kind === "gaussian") {
          const mean = tf.reshape(actorOut, [B, W]);
          const logStd = this.#logStd!;
          const z = tf.mul(tf.sub(actIn, mean), tf.exp(tf.neg(logStd)));
          // Σ_d [−z²/2 − logσ_d − log(2π)/2]
          logp = tf.sub(
            tf.mul(tf.sum(tf.square(z), 1), -0.5),
            tf.add(tf.sum(logStd), 0.5 * D * LOG_2PI),
          );
          entropy = tf.add(tf.sum(logStd), D * 0.5 * (1 + LOG_2PI)); // same for every sample
        } else {
          const logits = tf.add(tf.reshape(actorOut, [B, D, head.nmax]), this.#mask!);
          const logSm = tf.logSoftmax(logits);
          logp = tf.sum(tf.mul(logSm, actIn), [1, 2]);
          entropy = tf.neg(tf.sum(tf.mul(tf.exp(logSm), logSm), [1, 2])); // per sample
        }
        const logRatio = tf.sub(logp, oldLogp);
        const ratio = tf.exp(logRatio);
        const surrogate = tf.minimum(
          tf.mul(ratio, advT),
          tf.mul(tf.clipByValue(ratio, 1 - cfg.clipCoef, 1 + cfg.clipCoef), advT),
        );
        let vErr: tf.Tensor = tf.square(tf.sub(value, ret));
        if (oldV) {
          const vClipped = tf.add(oldV, tf.clipByValue(tf.sub(value, oldV), -vfClip!, vfClip!));
          vErr = tf.maximum(vErr, tf.square(tf.sub(vClipped, ret)));
        }
        // loss = −mean(surrogate) + vf·½·mean(vErr) − ent·mean(entropy), one mean.
        let perSample = tf.sub(tf.mul(vErr, 0.5 * cfg.vfCoef), surrogate);
        if (cfg.entCoef !== 0) perSample = tf.sub(perSample, tf.mul(entropy, cfg.entCoef));
        sideOut = tf.keep(
          tf.concat([logRatio, value, tf.reshape(tf.mul(tf.onesLike(logRatio), entropy), [B])]),
        );
        return tf.mean(perSample) as tf.Scalar;
      }, this.#vars);

      // Global-norm clip (torch: coef = max/(norm+1e-6), capped at 1) and one fused Adam step.
      const g = tf.concat(this.#vars.map((v) => tf.reshape(grads[v.name], [-1])));
      const norm = tf.sqrt(tf.sum(tf.square(g)));
      const coef = tf.minimum(tf.div(cfg.maxGradNorm, tf.add(norm, 1e-6)), 1);
      const gc = tf.mul(g, coef);
      const m = tf.add(tf.mul(this.#m, BETA1), tf.mul(gc, 1 - BETA1));
      const v = tf.add(tf.mul(this.#v, BETA2), tf.mul(tf.square(gc), 1 - BETA2));
      const denom = tf.add(tf.mul(tf.sqrt(v), 1 / Math.sqrt(bc2)), cfg.adamEps);
      const theta = tf.concat(this.#vars.map((x) => tf.reshape(x, [-1])));
      const next = tf.sub(theta, tf.mul(tf.div(m, denom), lr / bc1));
      const parts = tf.split(next, this.#vars.map((x) => x.size));
      this.#vars.forEach((x, i) => x.assign(tf.reshape(parts[i], x.shape)));
      tf.dispose([this.#m, this.#v]);
      this.#m = tf.keep(m);
      this.#v = tf.keep(v);
      return sideOut!;
    });
    this.#logStdCache = null;
    const s = side.dataSync() as Float32Array;
    side.dispose();
    return minibatchStats(s, B, adv, batch.returns, cfg.clipCoef, W);
  }

  exportWeights(): NamedWeight[] {
    this.#checkAlive();
    const out: NamedWeight[] = [];
    const L = this.#kernels.length;
    for (let net = 0; net < 2; net++) {
      const prefix = net === 0 ? "actor" : "critic";
      for (let i = 0; i < L; i++) {
        const k = this.#kernels[i], [, fanIn, fanOut] = k.shape as [number, number, number];
        const kd = k.dataSync() as Float32Array, bd = this.#biases[i].dataSync() as Float32Array;
        const isOut = i === L - 1;
        const cols = isOut ? (net === 0 ? this.#realColumns() : [0]) : range(fanOut);
        const kernel = new Float32Array(fanIn * cols.length);
        const bias = new Float32Array(cols.length);
        for (let r = 0; r < fanIn; r++) {
          cols.forEach((c, j) =>
            kernel[r * cols.length + j] = kd[net * fanIn * fanOut + r * fanOut + c]
          );
        }
        cols.forEach((c, j) => bias[j] = bd[net * fanOut + c]);
        const name = `${prefix}/${isOut ? "out" : i}`;
        out.push({ name: `${name}/kernel`, shape: [fanIn, cols.length], values: kernel });
        out.push({ name: `${name}/bias`, shape: [cols.length], values: bias });
      }
    }
    if (this.#logStd) {
      out.push({
        name: "actor/logStd",
        shape: [this.#head.actDim],
        values: Float32Array.from(this.#readLogStd()),
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
      if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
        throw new TypeError(
          `importWeights: "${name}" has shape [${w.shape}] but this network needs [${shape}]`,
        );
      }
      return w.values;
    };
    const L = this.#kernels.length;
    for (let i = 0; i < L; i++) {
      const [, fanIn, fanOut] = this.#kernels[i].shape as [number, number, number];
      const kernel = new Float32Array(2 * fanIn * fanOut);
      const bias = new Float32Array(2 * fanOut);
      for (let net = 0; net < 2; net++) {
        const isOut = i === L - 1;
        const cols = isOut ? (net === 0 ? this.#realColumns() : [0]) : range(fanOut);
        const name = `${net === 0 ? "actor" : "critic"}/${isOut ? "out" : i}`;
        const kv = get(`${name}/kernel`, [fanIn, cols.length]);
        const bv = get(`${name}/bias`, [cols.length]);
        for (let r = 0; r < fanIn; r++) {
          cols.forEach((c, j) =>
            kernel[net * fanIn * fanOut + r * fanOut + c] = kv[r * cols.length + j]
          );
        }
        cols.forEach((c, j) => bias[net * fanOut + c] = bv[j]);
      }
      tf.tidy(() => {
        this.#kernels[i].assign(tf.tensor3d(kernel, [2, fanIn, fanOut]));
        this.#biases[i].assign(tf.tensor3d(bias, [2, 1, fanOut]));
      });
    }
    if (this.#logStd) {
      const ls = get("actor/logStd", [this.#head.actDim]);
      tf.tidy(() => this.#logStd!.assign(tf.tensor2d(ls, [1, ls.length])));
    }
    this.#logStdCache = null;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    tf.dispose([...this.#vars, this.#m, this.#v, ...(this.#mask ? [this.#mask] : [])]);
  }

  /** Columns of the padded actor head that hold real outputs. */
  #realColumns(): number[] {
    const h = this.#head;
    if (h.kind === "gaussian") return range(h.width);
    return h.nvec.flatMap((n, i) => range(n).map((c) => i * h.nmax + c));
  }

  #readLogStd(): Float32Array {
    if (!this.#logStdCache) this.#logStdCache = this.#logStd!.dataSync() as Float32Array;
    return this.#logStdCache;
  }

  #checkAlive(): void {
    if (this.#disposed) throw new Error(`${this.name} policy was disposed`);
  }
}

function validate(c: PolicyConfig): void {
  if (!Number.isInteger(c.obsDim) || c.obsDim < 1) {
    throw new RangeError(`PolicyConfig.obsDim must be ≥ 1, got ${c.obsDim}`);
  }
  if (c.hidden.length < 1 || c.hidden.some((h) => !Number.isInteger(h) || h < 1)) {
    throw new RangeError(
      `PolicyConfig.hidden needs at least one positive layer size, got [${c.hidden}]`,
    );
  }
  if (c.action.kind === "gaussian" && !(Number.isInteger(c.action.dim) && c.action.dim >= 1)) {
    throw new RangeError(`PolicyConfig.action.dim must be ≥ 1, got ${c.action.dim}`);
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

/**
 * Initial kernels `[2, in, out]` per layer: actor then critic, each layer drawn in
 * order actor-0, actor-1, …, actor-out, critic-0, …, critic-out from one seeded stream.
 */
function initialWeights(config: PolicyConfig, head: Head, rng: Rng): { kernels: Float32Array[] } {
  const sizes = [config.obsDim, ...config.hidden];
  const L = sizes.length;
  const realOut = head.kind === "gaussian" ? head.width : head.nvec.reduce((a, b) => a + b, 0);
  const kernels = Array.from({ length: L }, (_, i) => {
    const fanOut = i < L - 1 ? sizes[i + 1] : head.width;
    return new Float32Array(2 * sizes[i] * fanOut);
  });
  for (let net = 0; net < 2; net++) {
    for (let i = 0; i < L; i++) {
      const fanIn = sizes[i], isOut = i === L - 1;
      const fanOut = isOut ? head.width : sizes[i + 1];
      const trueOut = isOut ? (net === 0 ? realOut : 1) : fanOut;
      const gain = isOut ? (net === 0 ? 0.01 : 1) : Math.SQRT2;
      const w = orthogonalKernel(fanIn, trueOut, gain, rng);
      // Place the real columns (categorical heads are padded to nmax each).
      const cols = isOut && net === 0 && head.kind === "categorical"
        ? head.nvec.flatMap((n, h) => range(n).map((c) => h * head.nmax + c))
        : range(trueOut);
      const dst = kernels[i], base = net * fanIn * fanOut;
      for (let r = 0; r < fanIn; r++) {
        cols.forEach((c, j) => dst[base + r * fanOut + c] = w[r * trueOut + j]);
      }
    }
  }
  return { kernels };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** `(A − mean) / (std_ddof1 + 1e-8)` as in CleanRL (unchanged when `normalize` is false or B = 1). */
function normalizedAdvantages(a: Float32Array, B: number, normalize: boolean): Float32Array {
  const out = Float32Array.from(a.subarray(0, B));
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

function oneHot(actions: Float32Array, B: number, head: Head): Float32Array {
  const D = head.actDim, nmax = head.nmax;
  const out = new Float32Array(B * D * nmax);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < D; h++) {
      const c = actions[b * D + h];
      if (!(Number.isInteger(c) && c >= 0 && c < head.nvec[h])) {
        throw new RangeError(
          `update: minibatch row ${b} head ${h} has action ${c}, outside 0…${head.nvec[h] - 1}`,
        );
      }
      out[(b * D + h) * nmax + c] = 1;
    }
  }
  return out;
}

/** Diagnostics from `[logRatio(B), value(B), entropy(B)]`, as CleanRL / SB3 log them. */
function minibatchStats(
  s: Float32Array,
  B: number,
  adv: Float32Array,
  returns: Float32Array,
  clip: number,
  _width: number,
): UpdateStats {
  let pg = 0, vl = 0, ent = 0, kl = 0, clipped = 0;
  for (let i = 0; i < B; i++) {
    const lr = s[i], r = Math.exp(lr);
    pg += -Math.min(r * adv[i], Math.min(Math.max(r, 1 - clip), 1 + clip) * adv[i]);
    const e = s[B + i] - returns[i];
    vl += e * e;
    ent += s[2 * B + i];
    kl += r - 1 - lr;
    if (Math.abs(r - 1) > clip) clipped++;
  }
  return {
    policyLoss: pg / B,
    valueLoss: (0.5 * vl) / B,
    entropy: ent / B,
    approxKl: kl / B,
    clipFraction: clipped / B,
  };
}
