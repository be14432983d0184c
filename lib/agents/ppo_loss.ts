/**
 * The PPO loss, written once for every backend: the clipped surrogate, the
 * (optionally clipped) value loss, the entropy bonus and per-minibatch advantage
 * normalisation, as a pure function of the network's head outputs (Gaussian mean
 * and log-std, or categorical logits, and the value) that also returns
 * `∂loss/∂(head outputs)`. A backend runs its network forward, calls
 * {@linkcode ppoLoss}, and backpropagates the head gradient through its own MLP
 * (the kernel in WebAssembly, tfjs with explicit matmuls); the global-norm clip
 * scale is {@linkcode gradClipScale}.
 *
 * Loss = `mean(max(−A·r, −A·clip(r, 1±clipCoef)))`
 *      `− entCoef · H + vfCoef · ½·mean((V − R)²)` (or SB3's clipped value loss with `vfClip`),
 * where `r = exp(log π(a) − log π_old(a))` and `A` is normalised within the
 * minibatch when `normAdvantages` (ddof = 1, +1e-8; skipped for one row).
 *
 * Numerics: float64 arithmetic on float32 inputs; gradients are written as float32.
 *
 * @module
 */
import type { Minibatch, PolicyConfig, UpdateStats } from "./policy.ts";

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * The loss terms' coefficients (the `PpoConfig` fields of the same names). Backends
 * receive them with every {@linkcode PolicyBackend.update} call, so the one home of
 * these values is `PpoConfig`.
 */
export interface PpoLossConfig {
  /** PPO ratio clip. Default 0.2. */
  clipCoef: number;
  /** Value-loss coefficient. Default 0.5. */
  vfCoef: number;
  /** Entropy coefficient. Default 0. */
  entCoef: number;
  /** Global gradient-norm clip (applied by the backend, see {@linkcode gradClipScale}). Default 0.5. */
  maxGradNorm: number;
  /**
   * Clip the value loss SB3-style around the rollout's values (`clip_range_vf`):
   * `max((V-R)², (V_old + clip(V-V_old, ±vfClip) - R)²)`. Needs `Minibatch.oldValues`.
   * null: unclipped value loss (CleanRL bench, SB3 default).
   */
  vfClip: number | null;
  /** Normalise advantages within each minibatch (ddof=1 std, +1e-8). Default true. */
  normAdvantages: boolean;
}

/** CleanRL / SB3 defaults of {@linkcode PpoLossConfig}. */
export const DEFAULT_PPO_LOSS: Readonly<PpoLossConfig> = Object.freeze({
  clipCoef: 0.2,
  vfCoef: 0.5,
  entCoef: 0,
  maxGradNorm: 0.5,
  vfClip: null,
  normAdvantages: true,
});

/** The names of {@linkcode PpoLossConfig}'s fields. */
export const PPO_LOSS_KEYS = [
  "clipCoef",
  "vfCoef",
  "entCoef",
  "maxGradNorm",
  "vfClip",
  "normAdvantages",
] as const;

/**
 * Checks a {@linkcode PpoLossConfig}'s ranges, naming the bad field.
 * @param c The coefficients.
 * @param where Prefix of the error message, e.g. `"PpoConfig"`.
 * @returns `c`
 * @example
 * ```ts
 * validatePpoLoss({ ...DEFAULT_PPO_LOSS, clipCoef: 0.1 });
 * ```
 */
export function validatePpoLoss<T extends PpoLossConfig>(c: T, where = "PpoLossConfig"): T {
  if (!(c.clipCoef > 0)) throw new RangeError(`${where}.clipCoef must be > 0, got ${c.clipCoef}`);
  for (const k of ["vfCoef", "entCoef"] as const) {
    if (!(Number.isFinite(c[k]) && c[k] >= 0)) {
      throw new RangeError(`${where}.${k} must be a finite number ≥ 0, got ${c[k]}`);
    }
  }
  if (!(c.maxGradNorm > 0)) {
    throw new RangeError(`${where}.maxGradNorm must be > 0, got ${c.maxGradNorm}`);
  }
  if (c.vfClip !== null && !(c.vfClip > 0)) {
    throw new RangeError(`${where}.vfClip must be > 0 or null, got ${c.vfClip}`);
  }
  if (typeof c.normAdvantages !== "boolean") {
    throw new TypeError(`${where}.normAdvantages must be a boolean, got ${c.normAdvantages}`);
  }
  return c;
}

/**
 * The network's head outputs for one minibatch of `batch.size` rows. Row `i` of the
 * actor output starts at `i · actorStride`, row `i`'s value sits at `values[i · valueStride]`
 * (so a backend can pass views of its own buffers without copying).
 */
export interface PpoHeadOutputs {
  /** Gaussian: `dim` action means per row; categorical: `sum(nvec)` logits per row, heads in order. */
  actor: Float32Array;
  /** Default: the row width (`dim` or `sum(nvec)`). */
  actorStride?: number;
  /** Gaussian only: log standard deviation per action dimension (`dim` values). */
  logStd?: Float32Array;
  values: Float32Array;
  /** Default 1. */
  valueStride?: number;
}

/** Where {@linkcode ppoLoss} writes `∂loss/∂(head outputs)`, laid out as {@linkcode PpoHeadOutputs}. */
export interface PpoHeadGradients {
  /** Same layout as `PpoHeadOutputs.actor` (only the row's real columns are written). */
  dActor: Float32Array;
  actorStride?: number;
  /** Gaussian: `dim` values (∂loss/∂logσ, entropy bonus included). */
  dLogStd: Float32Array;
  dValues: Float32Array;
  valueStride?: number;
}

/** What {@linkcode ppoLoss} returns. */
export interface PpoLossResult {
  /** The total loss `policyLoss − entCoef·entropy + vfCoef·valueLoss`. */
  loss: number;
  /** Diagnostics (policy loss, ½-scaled value loss, mean entropy, approx-KL, clip fraction). */
  stats: UpdateStats;
  /** The head gradients (the `out` argument, or freshly allocated compact arrays). */
  grads: PpoHeadGradients;
}

/**
 * The PPO loss of one minibatch and its gradient with respect to the head outputs.
 *
 * @param action The action distribution (`PolicyConfig.action`; for the per-asset
 *   topology, the Gaussian of the whole portfolio action, `dim = N (+1)`).
 * @param head The network's outputs for `batch`.
 * @param batch The minibatch (actions, old log-probs, advantages, returns, old values).
 * @param cfg The loss coefficients.
 * @param out Where to write the gradients; default: new compact arrays.
 * @returns Loss, diagnostics and gradients.
 * @throws {TypeError} When `vfClip` is set and the minibatch has no `oldValues`.
 * @throws {RangeError} For a categorical action outside its head's choices.
 * @example
 * ```ts
 * const { stats, grads } = ppoLoss({ kind: "gaussian", dim: 2 }, {
 *   actor: means, logStd, values,
 * }, batch, DEFAULT_PPO_LOSS);
 * ```
 */
export function ppoLoss(
  action: PolicyConfig["action"],
  head: PpoHeadOutputs,
  batch: Minibatch,
  cfg: PpoLossConfig,
  out?: PpoHeadGradients,
): PpoLossResult {
  const n = batch.size;
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new RangeError(`ppoLoss(): minibatch size must be a positive integer; got ${n}`);
  }
  const vfClip = cfg.vfClip ?? null;
  if (vfClip !== null && !(batch.oldValues && batch.oldValues.length >= n)) {
    throw new TypeError("ppoLoss(): vfClip is set but the minibatch has no oldValues");
  }
  const width = action.kind === "gaussian" ? action.dim : action.nvec.reduce((s, k) => s + k, 0);
  const grads = out ?? {
    dActor: new Float32Array(n * width),
    dLogStd: new Float32Array(action.kind === "gaussian" ? action.dim : 0),
    dValues: new Float32Array(n),
  };
  const acc = { pg: 0, vl: 0, kl: 0, clipped: 0 };
  const adv = normalisedAdvantages(batch.advantages, n, cfg.normAdvantages);
  const entropy = action.kind === "gaussian"
    ? gaussianPolicyGrad(action.dim, head, batch, adv, cfg, grads, acc)
    : categoricalPolicyGrad(action.nvec, head, batch, adv, cfg, grads, acc);
  const vs = head.valueStride ?? 1, gvs = grads.valueStride ?? 1;
  const { returns, oldValues } = batch;
  for (let i = 0; i < n; i++) {
    const v = head.values[i * vs];
    let dv = v - returns[i];
    let err = dv * dv;
    if (vfClip !== null) {
      // SB3 clip_range_vf: max((V − R)², (V_old + clip(V − V_old, ±vfClip) − R)²)
      const vOld = oldValues![i];
      const inside = Math.abs(v - vOld) <= vfClip;
      const dc = vOld + Math.min(vfClip, Math.max(-vfClip, v - vOld)) - returns[i];
      if (dc * dc > err) {
        err = dc * dc;
        dv = inside ? dc : 0;
      }
    }
    acc.vl += err;
    grads.dValues[i * gvs] = (cfg.vfCoef * dv) / n;
  }
  const stats: UpdateStats = {
    policyLoss: acc.pg / n,
    valueLoss: (0.5 * acc.vl) / n,
    entropy,
    approxKl: acc.kl / n,
    clipFraction: acc.clipped / n,
  };
  return {
    loss: stats.policyLoss - cfg.entCoef * entropy + cfg.vfCoef * stats.valueLoss,
    stats,
    grads,
  };
}

/**
 * The global-norm clip factor (PyTorch's `clip_grad_norm_`): `min(1, max / (norm + 1e-6))`.
 * @param norm The gradient's L2 norm.
 * @param maxGradNorm `PpoLossConfig.maxGradNorm`.
 * @returns The factor to multiply every gradient by.
 * @example
 * ```ts
 * gradClipScale(2, 0.5); // ≈ 0.25
 * ```
 */
export function gradClipScale(norm: number, maxGradNorm: number): number {
  return Math.min(1, maxGradNorm / (norm + 1e-6));
}

interface Acc {
  pg: number;
  vl: number;
  kl: number;
  clipped: number;
}

/**
 * Adds row `i`'s clipped surrogate to `acc` and returns `∂loss/∂log π(a)` (already / n):
 * the unclipped branch carries the gradient when it is the max (ties, i.e. a ratio
 * inside the clip range, give the same −A either way).
 */
function surrogate(logRatio: number, adv: number, clip: number, n: number, acc: Acc): number {
  const ratio = Math.exp(logRatio);
  const clippedRatio = Math.min(1 + clip, Math.max(1 - clip, ratio));
  const l1 = -adv * ratio, l2 = -adv * clippedRatio;
  acc.pg += Math.max(l1, l2);
  acc.kl += ratio - 1 - logRatio;
  if (Math.abs(ratio - 1) > clip) acc.clipped++;
  const dRatio = l1 >= l2 ? -adv : 0;
  return (dRatio * ratio) / n;
}

/** Diagonal Gaussian, state-independent log-std; returns the (per-row) entropy. */
function gaussianPolicyGrad(
  a: number,
  head: PpoHeadOutputs,
  batch: Minibatch,
  adv: Float64Array,
  cfg: PpoLossConfig,
  grads: PpoHeadGradients,
  acc: Acc,
): number {
  const logStd = head.logStd;
  if (!logStd || logStd.length < a) {
    throw new TypeError(`ppoLoss(): a Gaussian head needs ${a} log-std values`);
  }
  const n = batch.size, as = head.actorStride ?? a, gs = grads.actorStride ?? a;
  const mean = head.actor, dMean = grads.dActor, actions = batch.actions;
  let logStdSum = 0;
  const std = new Float64Array(a), invVar = new Float64Array(a), dLogStd = new Float64Array(a);
  for (let j = 0; j < a; j++) {
    logStdSum += logStd[j];
    std[j] = Math.exp(logStd[j]);
    invVar[j] = Math.exp(-2 * logStd[j]);
  }
  const constant = logStdSum + 0.5 * a * LOG_2PI;
  for (let i = 0; i < n; i++) {
    let lp = 0;
    for (let j = 0; j < a; j++) {
      const z = (actions[i * a + j] - mean[i * as + j]) / std[j];
      lp -= 0.5 * z * z;
    }
    lp -= constant;
    const dLp = surrogate(lp - batch.oldLogProbs[i], adv[i], cfg.clipCoef, n, acc);
    for (let j = 0; j < a; j++) {
      const diff = actions[i * a + j] - mean[i * as + j];
      // ∂lp/∂μ = (a − μ)/σ², ∂lp/∂logσ = (a − μ)²/σ² − 1
      dMean[i * gs + j] = dLp * diff * invVar[j];
      dLogStd[j] += dLp * (diff * diff * invVar[j] - 1);
    }
  }
  // H = Σ logσ + a(½ + ½ log 2π), so −entCoef·∂H/∂logσ_j = −entCoef
  for (let j = 0; j < a; j++) grads.dLogStd[j] = dLogStd[j] - cfg.entCoef;
  return a * (0.5 + 0.5 * LOG_2PI) + logStdSum;
}

/**
 * Independent categorical heads (logits side by side): `∂log p/∂l_c = 1[c = a] − p_c`
 * and `∂H/∂l_c = −p_c (log p_c + H_head)`; returns the mean entropy.
 */
function categoricalPolicyGrad(
  nvec: readonly number[],
  head: PpoHeadOutputs,
  batch: Minibatch,
  adv: Float64Array,
  cfg: PpoLossConfig,
  grads: PpoHeadGradients,
  acc: Acc,
): number {
  const n = batch.size, H = nvec.length;
  const width = nvec.reduce((s, k) => s + k, 0);
  const as = head.actorStride ?? width, gs = grads.actorStride ?? width;
  const logits = head.actor, dOut = grads.dActor;
  const logp = new Float64Array(width);
  const headEnt = new Float64Array(H);
  let entSum = 0;
  for (let i = 0; i < n; i++) {
    let lp = 0, o = 0;
    for (let h = 0; h < H; h++) {
      const k = nvec[h], base = i * as + o;
      const lse = logSumExp(logits, base, k);
      const a = batch.actions[i * H + h];
      if (!(Number.isInteger(a) && a >= 0 && a < k)) {
        throw new RangeError(
          `ppoLoss(): minibatch row ${i} head ${h} has action ${a}, outside 0…${k - 1}`,
        );
      }
      let he = 0;
      for (let c = 0; c < k; c++) {
        logp[o + c] = logits[base + c] - lse;
        he -= Math.exp(logp[o + c]) * logp[o + c];
      }
      headEnt[h] = he;
      entSum += he;
      lp += logp[o + a];
      o += k;
    }
    const g = surrogate(lp - batch.oldLogProbs[i], adv[i], cfg.clipCoef, n, acc);
    const e = cfg.entCoef / n;
    o = 0;
    for (let h = 0; h < H; h++) {
      const k = nvec[h], a = batch.actions[i * H + h];
      for (let c = 0; c < k; c++) {
        const p = Math.exp(logp[o + c]);
        dOut[i * gs + o + c] = g * ((c === a ? 1 : 0) - p) + e * p * (logp[o + c] + headEnt[h]);
      }
      o += k;
    }
  }
  return entSum / n;
}

/**
 * `log Σ exp(x[offset … offset+k))`, max-shifted.
 * @param x Values.
 * @param offset First index.
 * @param k Count.
 * @returns The log-sum-exp.
 * @example
 * ```ts
 * logSumExp(new Float32Array([0, 0]), 0, 2); // log 2
 * ```
 */
export function logSumExp(x: Float32Array, offset: number, k: number): number {
  let mx = -Infinity;
  for (let c = 0; c < k; c++) mx = Math.max(mx, x[offset + c]);
  let s = 0;
  for (let c = 0; c < k; c++) s += Math.exp(x[offset + c] - mx);
  return mx + Math.log(s);
}

/** `(A − mean) · 1/(std_ddof1 + 1e−8)` as CleanRL (unchanged when off or for one row). */
function normalisedAdvantages(a: Float32Array, n: number, normalise: boolean): Float64Array {
  const out = Float64Array.from(a.subarray(0, n));
  if (!normalise || n < 2) return out;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += out[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (out[i] - mean) ** 2;
  const scale = 1 / (Math.sqrt(ss / (n - 1)) + 1e-8);
  for (let i = 0; i < n; i++) out[i] = (out[i] - mean) * scale;
  return out;
}
