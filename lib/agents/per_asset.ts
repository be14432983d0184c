/**
 * The per-asset topology's plumbing, shared by every backend (see
 * {@linkcode PerAssetTopology}): observation → one row per (observation, asset),
 * per-row network outputs → the portfolio-level action mean and value, and the
 * portfolio-level loss gradient (from `ppoLoss`) → per-row output gradients.
 * Backends run their usual MLP over the `n · N` rows in between.
 *
 * @module
 */
import type { Minibatch, PerAssetTopology, PolicyConfig, UpdateStats } from "./policy.ts";
import { type PpoHeadOutputs, ppoLoss, type PpoLossConfig } from "./ppo_loss.ts";

/**
 * The per-asset topology of a config, or null for the portfolio-level MLP.
 * @param config A policy config.
 * @returns Its {@linkcode PerAssetTopology}, or null.
 * @example
 * ```ts
 * if (perAssetTopology(config)) console.log("shared-weight per-asset policy");
 * ```
 */
export function perAssetTopology(config: PolicyConfig): PerAssetTopology | null {
  return config.topology?.kind === "per-asset" ? config.topology : null;
}

/**
 * The number of assets in an observation of `obsLen` values.
 * @param t The topology.
 * @param obsLen Values in one observation (`N · assetFeatures + N`).
 * @param where Prefix of the error message.
 * @returns N ≥ 1.
 * @throws {TypeError} When `obsLen` is not a positive multiple of `assetFeatures + 1`.
 * @example
 * ```ts
 * assetCount({ kind: "per-asset", assetFeatures: 4, cashScore: false }, 15); // 3
 * ```
 */
export function assetCount(
  t: PerAssetTopology,
  obsLen: number,
  where = "per-asset policy",
): number {
  const d = t.assetFeatures + 1;
  const N = obsLen / d;
  if (!(Number.isInteger(N) && N >= 1)) {
    throw new TypeError(
      `${where}: an observation of ${obsLen} values is not N assets × (${t.assetFeatures} features + 1 weight)`,
    );
  }
  return N;
}

/**
 * Observation values and action components per observation for a policy config,
 * given the env's observation length (the per-asset topology adapts to N).
 * @param config The policy config.
 * @param obsLen The env's observation length.
 * @param where Prefix of error messages.
 * @returns `obsDim` (= `obsLen`) and `actDim` (Gaussian dims or categorical heads).
 * @throws {TypeError} When the policy cannot take observations of that length.
 * @example
 * ```ts
 * const { actDim } = policyDims(backend.config, env.obsDim);
 * ```
 */
export function policyDims(
  config: PolicyConfig,
  obsLen: number,
  where = "policy",
): { obsDim: number; actDim: number; assets: number | null } {
  const t = perAssetTopology(config);
  if (t) {
    const N = assetCount(t, obsLen, where);
    return { obsDim: obsLen, actDim: N + (t.cashScore ? 1 : 0), assets: N };
  }
  if (obsLen !== config.obsDim) {
    throw new TypeError(
      `${where}: env observations have ${obsLen} values but the policy expects ${config.obsDim}`,
    );
  }
  const actDim = config.action.kind === "gaussian" ? config.action.dim : config.action.nvec.length;
  return { obsDim: obsLen, actDim, assets: null };
}

/**
 * Writes observation `b`'s asset `i` row `[features of asset i, weight i]` to
 * `dest[offset + (b·N + i)·stride …]` for every `b < n`, `i < N` (columns past
 * `assetFeatures + 1` are left as they are).
 * @param obs `n` observations of `N · (assetFeatures + 1)` values.
 * @param n Observations.
 * @param N Assets.
 * @param assetFeatures Features per asset.
 * @param dest Destination.
 * @param offset First index in `dest`.
 * @param stride Row stride in `dest` (≥ `assetFeatures + 1`).
 * @example
 * ```ts
 * gatherAssetRows(obs, 2, 3, 4, rows, 0, 5); // rows: 6 × 5
 * ```
 */
export function gatherAssetRows(
  obs: Float32Array,
  n: number,
  N: number,
  assetFeatures: number,
  dest: Float32Array,
  offset: number,
  stride: number,
): void {
  const F = assetFeatures, len = N * (F + 1);
  for (let b = 0; b < n; b++) {
    const o = b * len;
    for (let i = 0; i < N; i++) {
      const r = offset + (b * N + i) * stride;
      dest.set(obs.subarray(o + i * F, o + (i + 1) * F), r);
      dest[r + F] = obs[o + N * F + i];
    }
  }
}

/**
 * Portfolio-level head outputs from per-row outputs: the action mean
 * (`n × (N + cash)`: asset i's score, then the mean over assets of the second actor
 * output when `cashScore`) and the value (mean over assets of the critic output).
 * @param t The topology.
 * @param n Observations.
 * @param N Assets.
 * @param actor Per-row actor outputs; row r at `r · actorStride`.
 * @param actorStride Row stride of `actor`.
 * @param critic Per-row critic outputs; row r's value at `r · criticStride`.
 * @param criticStride Row stride of `critic`.
 * @returns `mean` (`n × D`, D = N + cash) and `values` (`n`).
 * @example
 * ```ts
 * const { mean, values } = perAssetHead(t, n, N, out, 2, out.subarray(1), 2);
 * ```
 */
export function perAssetHead(
  t: PerAssetTopology,
  n: number,
  N: number,
  actor: Float32Array,
  actorStride: number,
  critic: Float32Array,
  criticStride: number,
): { mean: Float32Array; values: Float32Array } {
  const D = N + (t.cashScore ? 1 : 0);
  const mean = new Float32Array(n * D);
  const values = new Float32Array(n);
  for (let b = 0; b < n; b++) {
    let cash = 0, v = 0;
    for (let i = 0; i < N; i++) {
      const r = b * N + i;
      mean[b * D + i] = actor[r * actorStride];
      if (t.cashScore) cash += actor[r * actorStride + 1];
      v += critic[r * criticStride];
    }
    if (t.cashScore) mean[b * D + N] = cash / N;
    values[b] = v / N;
  }
  return { mean, values };
}

/**
 * The chain rule through {@linkcode perAssetHead}: `∂L/∂score_i` goes to row i's
 * first actor output, `∂L/∂cash / N` and `∂L/∂V / N` to every row's second actor
 * output and critic output.
 * @param t The topology.
 * @param n Observations.
 * @param N Assets.
 * @param dMean `n × D` gradient of the action mean.
 * @param dValues `n` gradient of the value.
 * @param dActor Per-row actor gradient (written).
 * @param actorStride Its row stride.
 * @param dCritic Per-row critic gradient (written).
 * @param criticStride Its row stride.
 * @example
 * ```ts
 * scatterPerAssetGradients(t, n, N, g.dActor, g.dValues, dOut, 2, dOut.subarray(1), 2);
 * ```
 */
export function scatterPerAssetGradients(
  t: PerAssetTopology,
  n: number,
  N: number,
  dMean: Float32Array,
  dValues: Float32Array,
  dActor: Float32Array,
  actorStride: number,
  dCritic: Float32Array,
  criticStride: number,
): void {
  const D = N + (t.cashScore ? 1 : 0);
  for (let b = 0; b < n; b++) {
    const dc = t.cashScore ? dMean[b * D + N] / N : 0;
    const dv = dValues[b] / N;
    for (let i = 0; i < N; i++) {
      const r = b * N + i;
      dActor[r * actorStride] = dMean[b * D + i];
      if (t.cashScore) dActor[r * actorStride + 1] = dc;
      dCritic[r * criticStride] = dv;
    }
  }
}

/**
 * The portfolio-level log-std (`D = N + cash` values) from the shared scalars
 * (`[asset]` or `[asset, cash]`).
 * @param t The topology.
 * @param N Assets.
 * @param shared The shared log-std values.
 * @returns `D` log-std values.
 * @example
 * ```ts
 * expandLogStd(t, 3, new Float32Array([-0.5])); // [-0.5, -0.5, -0.5]
 * ```
 */
export function expandLogStd(t: PerAssetTopology, N: number, shared: Float32Array): Float32Array {
  const out = new Float32Array(N + (t.cashScore ? 1 : 0)).fill(shared[0]);
  if (t.cashScore) out[N] = shared[1];
  return out;
}

/**
 * Sums a portfolio-level log-std gradient back onto the shared scalars.
 * @param t The topology.
 * @param N Assets.
 * @param dLogStd `D` gradient values.
 * @param out The shared gradient (1 or 2 values, written).
 * @example
 * ```ts
 * foldLogStdGradient(t, 3, g.dLogStd, sharedGrad);
 * ```
 */
export function foldLogStdGradient(
  t: PerAssetTopology,
  N: number,
  dLogStd: Float32Array,
  out: Float32Array,
): void {
  let s = 0;
  for (let i = 0; i < N; i++) s += dLogStd[i];
  out[0] = s;
  if (t.cashScore) out[1] = dLogStd[N];
}

/**
 * The PPO loss of a network's head and its gradient into the network's own per-row
 * output-gradient buffers, for either topology: an MLP's head gradient is written in
 * place; a per-asset head's (one row per observation × asset) goes through
 * {@linkcode scatterPerAssetGradients} and {@linkcode foldLogStdGradient}. Both
 * backends call this, so the two topologies are wired to the one loss once.
 * @param t The per-asset topology, or null for an MLP.
 * @param action The portfolio-level action of the head.
 * @param head The head outputs (portfolio-level, see {@linkcode perAssetHead}).
 * @param batch The minibatch.
 * @param loss Loss coefficients.
 * @param out The network's gradient buffers: `n` observations of `N` assets (per-asset
 *   rows are `n·N`), actor and value gradients with their row strides, and the network's
 *   own log-std gradient (`D` values for an MLP, the shared 1 or 2 for per-asset).
 * @returns The loss diagnostics.
 * @example
 * ```ts
 * const stats = headLossInto(pa, action, head, batch, loss, {
 *   n, N, dActor, actorStride: W, dValues: dActor.subarray(width), valueStride: W, dLogStd,
 * });
 * ```
 */
export function headLossInto(
  t: PerAssetTopology | null,
  action: PolicyConfig["action"],
  head: PpoHeadOutputs,
  batch: Minibatch,
  loss: PpoLossConfig,
  out: {
    n: number;
    N: number;
    dActor: Float32Array;
    actorStride: number;
    dValues: Float32Array;
    valueStride: number;
    dLogStd: Float32Array;
  },
): UpdateStats {
  if (!t) {
    return ppoLoss(action, head, batch, loss, {
      dActor: out.dActor,
      actorStride: out.actorStride,
      dLogStd: out.dLogStd,
      dValues: out.dValues,
      valueStride: out.valueStride,
    }).stats;
  }
  const r = ppoLoss(action, head, batch, loss);
  scatterPerAssetGradients(
    t,
    out.n,
    out.N,
    r.grads.dActor,
    r.grads.dValues,
    out.dActor,
    out.actorStride,
    out.dValues,
    out.valueStride,
  );
  foldLogStdGradient(t, out.N, r.grads.dLogStd, out.dLogStd);
  return r.stats;
}
