/**
 * A hand-written PPO network backend: separate actor and critic tanh MLPs with a
 * Gaussian head and a state-independent log-std, forward + backward + global-norm
 * clip + Adam in one WebAssembly module (f32x4 SIMD, `_kernel_wat.ts`), with the
 * PPO loss of `ppo_loss.ts` (shared with the tfjs backend) in JavaScript doubles
 * on views of the kernel's output buffers. Both topologies of {@linkcode PolicyConfig}
 * run here: the portfolio-level MLP, and the per-asset shared-weight network
 * (`n · N` rows of `assetFeatures + 1` values through the same MLP kernel). It exists because tfjs's per-operation overhead dominates
 * at this network size (batch 64, 90 → 64 → 64 → 10): the arithmetic is small,
 * the number of operations is what costs.
 *
 * Numerics: every matrix product, tanh and Adam step is IEEE float32 (products
 * accumulate in float32 in a fixed order; no fused multiply-add), the loss head
 * is float64 rounded to float32 where it feeds the kernel. Results are
 * bit-identical for the same seed on every machine.
 *
 * @module
 */
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
import { gradClipScale, type PpoHeadOutputs, type PpoLossConfig } from "./ppo_loss.ts";
import {
  assetCount,
  expandLogStd,
  gatherAssetRows,
  headLossInto,
  perAssetHead,
  perAssetTopology,
} from "./per_asset.ts";
import { KERNEL_WASM_BASE64 } from "./_kernel_wasm.ts";
import { MM_ROWS } from "./_kernel_wat.ts";
import { orthogonalKernel } from "./_tf_init.ts";

interface KernelExports {
  mem: WebAssembly.Memory;
  mm(a: number, b: number, c: number, m: number, k: number, n: number, bias: number): void;
  mmTn(a: number, b: number, c: number, m: number, k: number, n: number): void;
  tanh(p: number, n: number): void;
  tanhGrad(d: number, h: number, n: number): void;
  colSum(src: number, dst: number, m: number, n: number): void;
  transpose(src: number, dst: number, r: number, c: number): void;
  sumSq(g: number, n: number): number;
  adam(
    p: number,
    g: number,
    m: number,
    v: number,
    n: number,
    gs: number,
    b1: number,
    b2: number,
    step: number,
    sbc2: number,
    eps: number,
  ): void;
}

let compiled: WebAssembly.Module | null = null;

function kernelModule(): WebAssembly.Module {
  if (!compiled) {
    const bin = atob(KERNEL_WASM_BASE64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

const pad4 = (n: number): number => (n + 3) & ~3;
const LOG_2PI = Math.log(2 * Math.PI);
const BETA1 = 0.9;
const BETA2 = 0.999;

/** One dense layer: offsets (in floats) into the parameter region and work area. */
interface Layer {
  /** Real and padded fan-in / fan-out. */
  inReal: number;
  outReal: number;
  inDim: number;
  outDim: number;
  /** `Wᵀ` (`inDim × outDim`, tfjs's kernel layout) and bias, relative to a parameter-shaped region. */
  w: number;
  b: number;
  /** Absolute float offsets, set by `#layoutWork`: `W` (`outDim × inDim`), activations, deltas. */
  wT: number;
  y: number;
  dy: number;
}

interface Net {
  name: "actor" | "critic";
  layers: Layer[];
}

/**
 * The kernel backend. Besides {@linkcode PolicyBackend} it offers
 * {@linkcode KernelPolicy.gradients} (the raw loss gradient, for tests).
 * Parameters, gradients, Adam moments and work buffers live in one WebAssembly
 * memory; every dimension is padded to a multiple of 4 with zeros that stay zero.
 *
 * @example
 * ```ts
 * const policy = new KernelPolicy(config); // or createKernelPolicy(config)
 * const { actions } = policy.act(obs, 8, new Rng(1));
 * ```
 */
export class KernelPolicy implements PolicyBackend {
  readonly name = "kernel";
  readonly config: PolicyConfig;
  readonly #k: KernelExports;
  /** Per-asset topology, or null for the portfolio-level MLP. */
  readonly #pa: PerAssetTopology | null;
  /** Network input width: `obsDim`, or `assetFeatures + 1` per asset. */
  readonly #inDim: number;
  /** Actor outputs per row (MLP: action dims; per-asset: 1, or 2 with the cash score) = log-std count. */
  readonly #actDim: number;
  readonly #actOut: number;
  readonly #obsPad: number;
  readonly #actor: Net;
  readonly #critic: Net;
  /** Floats in each parameter-shaped region (params, grads, Adam m, Adam v). */
  readonly #nParams: number;
  readonly #logStd: number;
  /** Region bases (floats). */
  readonly #P = 0;
  readonly #G: number;
  readonly #M: number;
  readonly #V: number;
  #x = 0;
  #rowsCap = 0;
  #f32!: Float32Array;
  #t = 0;
  #disposed = false;
  readonly #std: Float64Array;

  /**
   * @param config Network and optimiser settings; Gaussian actions only.
   */
  constructor(config: PolicyConfig) {
    if (config.action.kind !== "gaussian") {
      throw new TypeError(
        `createKernelPolicy(): ${config.action.kind} actions are not supported by the kernel backend; use tfjs`,
      );
    }
    for (const [k, v] of [["obsDim", config.obsDim], ["action.dim", config.action.dim]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`createKernelPolicy(): ${k} must be a positive integer; got ${v}`);
      }
    }
    if (!config.hidden.length || config.hidden.some((h) => !Number.isInteger(h) || h < 1)) {
      throw new RangeError(
        `createKernelPolicy(): hidden must be positive integers; got [${config.hidden.join(", ")}]`,
      );
    }
    this.config = config;
    this.#pa = perAssetTopology(config);
    if (this.#pa && !(Number.isInteger(this.#pa.assetFeatures) && this.#pa.assetFeatures >= 1)) {
      throw new RangeError(
        `createKernelPolicy(): topology.assetFeatures must be a positive integer; got ${this.#pa.assetFeatures}`,
      );
    }
    this.#inDim = this.#pa ? this.#pa.assetFeatures + 1 : config.obsDim;
    this.#actDim = this.#pa ? (this.#pa.cashScore ? 2 : 1) : config.action.dim;
    this.#actOut = pad4(this.#actDim);
    this.#obsPad = pad4(this.#inDim);
    this.#std = new Float64Array(this.#actDim);
    let off = 0;
    const makeNet = (name: "actor" | "critic", outReal: number): Net => {
      const dims = [this.#inDim, ...config.hidden, outReal];
      const layers: Layer[] = [];
      for (let l = 0; l + 1 < dims.length; l++) {
        const inDim = pad4(dims[l]), outDim = pad4(dims[l + 1]);
        const w = off;
        off += inDim * outDim;
        const b = off;
        off += outDim;
        layers.push({
          inReal: dims[l],
          outReal: dims[l + 1],
          inDim,
          outDim,
          w,
          b,
          wT: 0,
          y: 0,
          dy: 0,
        });
      }
      return { name, layers };
    };
    this.#actor = makeNet("actor", this.#actDim);
    this.#critic = makeNet("critic", 1);
    this.#logStd = off;
    off += this.#actOut;
    this.#nParams = off;
    this.#G = off;
    this.#M = 2 * off;
    this.#V = 3 * off;
    const instance = new WebAssembly.Instance(kernelModule(), {});
    this.#k = instance.exports as unknown as KernelExports;
    this.#layoutWork(MM_ROWS * 16);
    this.#initWeights();
  }

  /** Places the per-row work buffers after the four parameter regions, for `rows` rows. */
  #layoutWork(rows: number): void {
    let off = 4 * this.#nParams;
    for (const net of [this.#actor, this.#critic]) {
      for (const l of net.layers) {
        l.wT = off;
        off += l.inDim * l.outDim;
      }
    }
    this.#x = off;
    off += rows * this.#obsPad;
    for (const net of [this.#actor, this.#critic]) {
      for (const l of net.layers) {
        l.y = off;
        off += rows * l.outDim;
        l.dy = off;
        off += rows * l.outDim;
      }
    }
    const bytes = off * 4;
    const mem = this.#k.mem;
    if (bytes > mem.buffer.byteLength) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
    this.#f32 = new Float32Array(mem.buffer);
    this.#rowsCap = rows;
    this.#refreshTransposed();
  }

  #ensureRows(rows: number): void {
    if (rows > this.#rowsCap) this.#layoutWork(Math.max(rows, 2 * this.#rowsCap));
  }

  #initWeights(): void {
    const rng = new Rng(this.config.seed);
    const f = this.#f32;
    f.fill(0, 0, 4 * this.#nParams);
    // same stream and order as the tfjs backend: actor layers, then critic layers
    for (const [net, outGain] of [[this.#actor, 0.01], [this.#critic, 1]] as const) {
      net.layers.forEach((l, i) => {
        const gain = i === net.layers.length - 1 ? outGain : Math.SQRT2;
        const w = orthogonalKernel(l.inReal, l.outReal, gain, rng); // [in × out]
        for (let j = 0; j < l.inReal; j++) {
          f.set(w.subarray(j * l.outReal, (j + 1) * l.outReal), this.#P + l.w + j * l.outDim);
        }
      });
    }
    f.fill(this.config.logStdInit, this.#logStd, this.#logStd + this.#actDim);
    this.#t = 0;
    this.#refreshTransposed();
  }

  /** `W` (`out × in`) copies of every layer after the first, for the input deltas. */
  #refreshTransposed(): void {
    for (const net of [this.#actor, this.#critic]) {
      for (let i = 1; i < net.layers.length; i++) {
        const l = net.layers[i];
        this.#k.transpose(4 * (this.#P + l.w), 4 * l.wT, l.inDim, l.outDim);
      }
    }
  }

  /**
   * Loads `n` observations as network input rows (MLP: one per observation;
   * per-asset: `n · N`, asset-major within each observation), zero-padded.
   * @returns Padded row count, real row count and N (1 for the MLP).
   */
  #loadObs(obs: Float32Array, n: number): { rows: number; real: number; N: number } {
    const pa = this.#pa;
    const N = pa ? assetCount(pa, n > 0 ? obs.length / n : 0, "KernelPolicy") : 1;
    const real = n * N;
    const rows = Math.ceil(real / MM_ROWS) * MM_ROWS;
    this.#ensureRows(rows);
    const d = this.#inDim, dp = this.#obsPad, f = this.#f32, x = this.#x;
    if (pa) {
      gatherAssetRows(obs, n, N, pa.assetFeatures, f, x, dp);
      if (dp !== d) { for (let r = 0; r < real; r++) f.fill(0, x + r * dp + d, x + (r + 1) * dp); }
    } else {
      if (obs.length < n * d) {
        throw new TypeError(
          `KernelPolicy: expected ${n}×${d} observation values; got ${obs.length}`,
        );
      }
      if (dp === d) f.set(obs.subarray(0, n * d), x);
      else {
        for (let i = 0; i < n; i++) {
          f.set(obs.subarray(i * d, (i + 1) * d), x + i * dp);
          f.fill(0, x + i * dp + d, x + (i + 1) * dp);
        }
      }
    }
    f.fill(0, x + real * dp, x + rows * dp);
    return { rows, real, N };
  }

  /**
   * The portfolio-level head after a forward pass: action means (row stride),
   * log-std per action component and values (row stride).
   */
  #head(n: number, N: number): PpoHeadOutputs & { dim: number } {
    const f = this.#f32, ao = this.#actOut;
    const outA = this.#actor.layers[this.#actor.layers.length - 1];
    const outC = this.#critic.layers[this.#critic.layers.length - 1];
    const logStd = f.subarray(this.#P + this.#logStd, this.#P + this.#logStd + this.#actDim);
    const pa = this.#pa;
    if (!pa) {
      return {
        dim: this.#actDim,
        actor: f.subarray(outA.y),
        actorStride: ao,
        logStd,
        values: f.subarray(outC.y),
        valueStride: outC.outDim,
      };
    }
    const { mean, values } = perAssetHead(
      pa,
      n,
      N,
      f.subarray(outA.y),
      ao,
      f.subarray(outC.y),
      outC.outDim,
    );
    const dim = N + (pa.cashScore ? 1 : 0);
    return { dim, actor: mean, actorStride: dim, logStd: expandLogStd(pa, N, logStd), values };
  }

  #forward(net: Net, rows: number): void {
    const k = this.#k;
    let input = this.#x;
    const last = net.layers.length - 1;
    net.layers.forEach((l, i) => {
      k.mm(4 * input, 4 * (this.#P + l.w), 4 * l.y, rows, l.inDim, l.outDim, 4 * (this.#P + l.b));
      if (i < last) k.tanh(4 * l.y, rows * l.outDim);
      input = l.y;
    });
  }

  /** Gradients into the G region, from the deltas already in the last layer's `dy`. */
  #backward(net: Net, rows: number): void {
    const k = this.#k;
    for (let i = net.layers.length - 1; i >= 0; i--) {
      const l = net.layers[i];
      const input = i === 0 ? this.#x : net.layers[i - 1].y;
      k.mmTn(4 * input, 4 * l.dy, 4 * (this.#G + l.w), rows, l.inDim, l.outDim);
      k.colSum(4 * l.dy, 4 * (this.#G + l.b), rows, l.outDim);
      if (i > 0) {
        const prev = net.layers[i - 1];
        k.mm(4 * l.dy, 4 * l.wT, 4 * prev.dy, rows, l.outDim, l.inDim, 0);
        k.tanhGrad(4 * prev.dy, 4 * prev.y, rows * l.inDim);
      }
    }
  }

  /**
   * Samples (or, with `deterministic`, takes the mean of) Gaussian actions.
   * Noise is drawn row by row, dimension by dimension, from `rng.normal()`.
   * @param obs `n × obsDim` observations.
   * @param n Number of rows.
   * @param rng Noise source.
   * @param options `deterministic` returns the mean action.
   * @returns Actions (unclipped), their log-probabilities and the critic's values.
   */
  act(
    obs: Float32Array,
    n: number,
    rng: Rng,
    options: { deterministic?: boolean } = {},
  ): ActResult {
    this.#alive();
    const { rows, N } = this.#loadObs(obs, n);
    this.#forward(this.#actor, rows);
    this.#forward(this.#critic, rows);
    const head = this.#head(n, N);
    const a = head.dim, ms = head.actorStride!, vs = head.valueStride ?? 1;
    const mean = head.actor, logStd = head.logStd!;
    const actions = new Float32Array(n * a);
    const logProbs = new Float32Array(n);
    const values = new Float32Array(n);
    const std = a === this.#actDim ? this.#std : new Float64Array(a);
    let logStdSum = 0;
    for (let j = 0; j < a; j++) {
      logStdSum += logStd[j];
      std[j] = Math.exp(logStd[j]);
    }
    for (let i = 0; i < n; i++) {
      let lp = 0;
      for (let j = 0; j < a; j++) {
        const mu = mean[i * ms + j];
        const sd = std[j];
        const act = Math.fround(options.deterministic ? mu : mu + sd * rng.normal());
        actions[i * a + j] = act;
        const z = (act - mu) / sd;
        lp -= 0.5 * z * z;
      }
      logProbs[i] = lp - logStdSum - 0.5 * a * LOG_2PI;
      values[i] = head.values[i * vs];
    }
    return { actions, logProbs, values };
  }

  /**
   * Critic values.
   * @param obs `n × obsDim` observations.
   * @param n Number of rows.
   * @returns `n` values.
   */
  values(obs: Float32Array, n: number): Float32Array {
    this.#alive();
    const { rows, N } = this.#loadObs(obs, n);
    this.#forward(this.#critic, rows);
    const l = this.#critic.layers[this.#critic.layers.length - 1];
    const out = new Float32Array(n);
    const f = this.#f32;
    for (let b = 0; b < n; b++) {
      if (N === 1) out[b] = f[l.y + b * l.outDim];
      else {
        let v = 0;
        for (let i = 0; i < N; i++) v += f[l.y + (b * N + i) * l.outDim];
        out[b] = v / N;
      }
    }
    return out;
  }

  /**
   * Forward, the shared PPO loss (`ppoLoss`) and backward: leaves the loss gradient
   * in the G region.
   */
  #lossAndGradients(batch: Minibatch, loss: PpoLossConfig): UpdateStats {
    const n = batch.size;
    if (!(n >= 1)) {
      throw new RangeError(`KernelPolicy.update(): minibatch size must be ≥ 1; got ${n}`);
    }
    const { rows, N } = this.#loadObs(batch.obs, n);
    this.#forward(this.#actor, rows);
    this.#forward(this.#critic, rows);
    const f = this.#f32, ao = this.#actOut;
    const outA = this.#actor.layers[this.#actor.layers.length - 1];
    const outC = this.#critic.layers[this.#critic.layers.length - 1];
    const gLogStd = this.#G + this.#logStd;
    f.fill(0, gLogStd, gLogStd + ao);
    f.fill(0, outA.dy, outA.dy + rows * ao);
    f.fill(0, outC.dy, outC.dy + rows * outC.outDim);
    const head = this.#head(n, N);
    const action = { kind: "gaussian" as const, dim: head.dim };
    const stats = headLossInto(this.#pa, action, head, batch, loss, {
      n,
      N,
      dActor: f.subarray(outA.dy),
      actorStride: ao,
      dValues: f.subarray(outC.dy),
      valueStride: outC.outDim,
      dLogStd: f.subarray(gLogStd, gLogStd + this.#actDim),
    });
    this.#backward(this.#actor, rows);
    this.#backward(this.#critic, rows);
    return stats;
  }

  /**
   * One PPO-loss step: gradients, global-norm clip to `loss.maxGradNorm`
   * (PyTorch's `clip_grad_norm_`, +1e-6), then Adam (β 0.9/0.999).
   * @param batch The minibatch.
   * @param lr Learning rate.
   * @param loss The loss coefficients (`PpoConfig`'s).
   * @returns Loss diagnostics (before the step).
   */
  update(batch: Minibatch, lr: number, loss: PpoLossConfig): UpdateStats {
    this.#alive();
    const stats = this.#lossAndGradients(batch, loss);
    const k = this.#k;
    const norm = Math.sqrt(k.sumSq(4 * this.#G, this.#nParams));
    const gs = gradClipScale(norm, loss.maxGradNorm);
    this.#t++;
    const step = lr / (1 - BETA1 ** this.#t);
    const sbc2 = Math.sqrt(1 - BETA2 ** this.#t);
    k.adam(
      4 * this.#P,
      4 * this.#G,
      4 * this.#M,
      4 * this.#V,
      this.#nParams,
      gs,
      BETA1,
      BETA2,
      step,
      sbc2,
      this.config.adamEps,
    );
    this.#refreshTransposed();
    return stats;
  }

  /**
   * The unclipped gradient of the PPO loss for `batch`, without changing anything
   * (for tests against an autodiff reference and the backend contract).
   * @param batch The minibatch.
   * @param loss The loss coefficients.
   * @returns The loss diagnostics and the gradients, named and shaped as
   *   {@linkcode KernelPolicy.exportWeights}.
   * @example
   * ```ts
   * const { gradients } = policy.gradients(batch, ppoConfig()); // gradients[0].name === "actor/0/kernel"
   * ```
   */
  gradients(
    batch: Minibatch,
    loss: PpoLossConfig,
  ): { stats: UpdateStats; gradients: NamedWeight[] } {
    this.#alive();
    const stats = this.#lossAndGradients(batch, loss);
    return { stats, gradients: this.#read(this.#G) };
  }

  #read(base: number): NamedWeight[] {
    const f = this.#f32;
    const out: NamedWeight[] = [];
    for (const net of [this.#actor, this.#critic]) {
      net.layers.forEach((l, i) => {
        const w = new Float32Array(l.inReal * l.outReal);
        for (let r = 0; r < l.inReal; r++) {
          for (let o = 0; o < l.outReal; o++) {
            w[r * l.outReal + o] = f[base + l.w + r * l.outDim + o];
          }
        }
        const name = `${net.name}/${i === net.layers.length - 1 ? "out" : i}`;
        out.push({
          name: `${name}/kernel`,
          shape: [l.inReal, l.outReal],
          values: w,
        });
        out.push({
          name: `${name}/bias`,
          shape: [l.outReal],
          values: f.slice(base + l.b, base + l.b + l.outReal),
        });
      });
    }
    out.push({
      name: "actor/logStd",
      shape: [this.#actDim],
      values: f.slice(base + this.#logStd, base + this.#logStd + this.#actDim),
    });
    return out;
  }

  /**
   * @returns Every parameter, named and shaped as the tfjs backend's (so weights move
   *   between the two): `{actor,critic}/<i>/{kernel,bias}` for hidden layer i,
   *   `{actor,critic}/out/{kernel,bias}`, kernels `[in, out]`, and `actor/logStd`.
   */
  exportWeights(): NamedWeight[] {
    this.#alive();
    return this.#read(this.#P);
  }

  /**
   * Restores parameters (the Adam state is reset).
   * @param weights As returned by {@linkcode KernelPolicy.exportWeights}.
   */
  importWeights(weights: NamedWeight[]): void {
    this.#alive();
    const expected = this.#read(this.#P);
    const byName = new Map(weights.map((w) => [w.name, w]));
    for (const e of expected) {
      const w = byName.get(e.name);
      if (!w) throw new TypeError(`KernelPolicy.importWeights(): missing weight "${e.name}"`);
      if (w.values.length !== e.values.length || w.shape.join("x") !== e.shape.join("x")) {
        throw new TypeError(
          `KernelPolicy.importWeights(): "${e.name}" has shape [${w.shape}] but the network needs [${e.shape}]`,
        );
      }
    }
    const f = this.#f32;
    f.fill(0, this.#M, this.#M + 2 * this.#nParams);
    this.#t = 0;
    for (const net of [this.#actor, this.#critic]) {
      net.layers.forEach((l, i) => {
        const name = `${net.name}/${i === net.layers.length - 1 ? "out" : i}`;
        const w = byName.get(`${name}/kernel`)!.values;
        for (let r = 0; r < l.inReal; r++) {
          for (let o = 0; o < l.outReal; o++) {
            f[this.#P + l.w + r * l.outDim + o] = w[r * l.outReal + o];
          }
        }
        f.set(byName.get(`${name}/bias`)!.values, this.#P + l.b);
      });
    }
    f.set(byName.get("actor/logStd")!.values, this.#P + this.#logStd);
    this.#refreshTransposed();
  }

  /** Drops this backend's view of its WebAssembly memory (freed with the object); unusable afterwards. */
  dispose(): void {
    this.#disposed = true;
    this.#f32 = new Float32Array(0);
  }

  #alive(): void {
    if (this.#disposed) throw new TypeError("KernelPolicy: used after dispose()");
  }
}

/**
 * Creates the WebAssembly kernel backend (Gaussian actions only).
 * @param config Network and optimiser settings (see {@linkcode PolicyConfig}).
 * @returns A {@linkcode KernelPolicy}, usable wherever a {@linkcode PolicyBackend} is.
 * @example
 * ```ts
 * const backend = createKernelPolicy(policyConfigForSpaces(env.observationSpace, env.actionSpace));
 * const summary = await trainPpo(env, backend, { totalTimesteps: 20480, nSteps: 256 });
 * ```
 */
export function createKernelPolicy(config: PolicyConfig): KernelPolicy {
  return new KernelPolicy(config);
}
