/**
 * The synthetic market and vectorised portfolio env of `../shared/bench/SPEC.md`
 * section 1 (the PyTorch reference `ppo_ref.py`), so that `deno task bench ppo`
 * does exactly the same work as the reference. Not a trading env for research:
 * it has no slippage model, no cash accounting and no look-ahead guard beyond
 * "features at day t use closes ≤ t"; use the portfolio env for real data.
 *
 * Random numbers come from {@linkcode Rng} (sfc32), not numpy's PCG64: the same
 * distributions, sizes and definitions, not the same draws (SPEC: "same work").
 *
 * The SPEC's proportional cost on turnover (0.0005 = 5 bps) is charged by the
 * project's one cost model (`applyTransactionCosts` of `lib/env/costs.ts`, fee model
 * `"bps"`, no slippage), on turnover as a fraction of net worth.
 *
 * A benchmark harness private to `tasks/bench/` (not env API): `tasks/bench/ppo.ts`
 * runs it, and the tests of the harness and of the env checker import it.
 *
 * @module
 */
import { Rng } from "@lib/util/rng.ts";
import {
  applyTransactionCosts,
  type BoxSpace,
  resolveCostOptions,
  type StepInfo,
  type VecEnv,
  type VecStepResult,
} from "@lib/env/mod.ts";

/** Constants of SPEC section 1. */
export const BENCH_MARKET = {
  /** Number of assets. */
  assets: 10,
  /** Number of daily closes. */
  days: 2520,
  /** Daily drift of the GBM. */
  mu: 0.0003,
  /** Daily volatility of the GBM. */
  sigma: 0.015,
  /** Pairwise correlation of the daily shocks. */
  corr: 0.3,
  /** Features per asset (6 defined + 2 zero padding). */
  featuresPerAsset: 8,
  /** First day with every feature defined. */
  warmup: 20,
  /** Steps per episode. */
  episodeLength: 252,
  /** Proportional cost on turnover, in basis points (SPEC: 0.0005). */
  costBps: 5,
} as const;

/** The SPEC's costs in the cost model's terms: 5 bps commission on turnover, nothing else. */
export const BENCH_COSTS = Object.freeze(
  resolveCostOptions({ costPerTurnBps: BENCH_MARKET.costBps, slippageBps: 0, impactK: 0 }),
);

/** A generated price history with its features, all time-major. */
export interface BenchMarket {
  assets: number;
  days: number;
  /** `days × assets` closes, `close[t * assets + i]`; every asset starts at 100. */
  close: Float64Array;
  /** `days × assets` daily returns `P_t/P_{t-1} - 1` (0 on day 0). */
  returns: Float64Array;
  /** `days × (assets·8)` features, asset-major within a day; zero before the warm-up. */
  features: Float32Array;
}

/** Options of {@linkcode makeBenchMarket}; defaults are SPEC section 1. */
export interface BenchMarketOptions {
  /** Default 10. */
  assets?: number;
  /** Default 2520. */
  days?: number;
}

/**
 * Lower Cholesky factor of an `n × n` row-major symmetric positive-definite matrix.
 * @param a The matrix.
 * @param n Its size.
 * @returns `L` with `L·Lᵀ = a`, row-major.
 */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(s > 0)) {
          throw new RangeError(`cholesky(): matrix is not positive definite at row ${i}`);
        }
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j];
    }
  }
  return l;
}

/** Mean and sample std (ddof=1, two-pass like numpy) of `x[from..to)` with stride. */
function meanStd(x: Float64Array, from: number, count: number, stride: number): [number, number] {
  let m = 0;
  for (let k = 0; k < count; k++) m += x[from + k * stride];
  m /= count;
  let ss = 0;
  for (let k = 0; k < count; k++) {
    const d = x[from + k * stride] - m;
    ss += d * d;
  }
  return [m, Math.sqrt(ss / (count - 1))];
}

/**
 * Computes the SPEC's 8 features per asset from closes (`days × assets`):
 * return_1, return_5, return_20, vol_5, vol_20 (sample std of daily returns),
 * the 20-day z-score of the close, and two zero paddings. Day t uses closes ≤ t
 * only; days before the warm-up (20) are zero.
 *
 * @param close `days × assets` closes, time-major.
 * @param assets Number of assets.
 * @returns `features` (`days × assets·8`, float32) and `returns` (`days × assets`).
 * @example
 * ```ts
 * const { features } = benchFeatures(market.close, 10);
 * ```
 */
export function benchFeatures(
  close: Float64Array,
  assets: number,
): { features: Float32Array; returns: Float64Array } {
  const days = close.length / assets;
  const { warmup, featuresPerAsset: nf } = BENCH_MARKET;
  if (!Number.isInteger(days) || days <= warmup) {
    throw new RangeError(
      `benchFeatures(): need more than ${warmup} days of ${assets} assets; got ${close.length} closes`,
    );
  }
  const returns = new Float64Array(days * assets);
  for (let t = 1; t < days; t++) {
    for (let i = 0; i < assets; i++) {
      returns[t * assets + i] = close[t * assets + i] / close[(t - 1) * assets + i] - 1;
    }
  }
  const features = new Float32Array(days * assets * nf);
  for (let t = warmup; t < days; t++) {
    for (let i = 0; i < assets; i++) {
      const c = close[t * assets + i];
      const o = (t * assets + i) * nf;
      features[o] = returns[t * assets + i];
      features[o + 1] = c / close[(t - 5) * assets + i] - 1;
      features[o + 2] = c / close[(t - 20) * assets + i] - 1;
      features[o + 3] = meanStd(returns, (t - 4) * assets + i, 5, assets)[1];
      features[o + 4] = meanStd(returns, (t - 19) * assets + i, 20, assets)[1];
      const [m, s] = meanStd(close, (t - 19) * assets + i, 20, assets);
      features[o + 5] = (c - m) / s;
      // o + 6, o + 7: zero padding
    }
  }
  return { features, returns };
}

/**
 * Generates the SPEC's correlated-GBM market (10 assets × 2520 days, mu 0.0003,
 * sigma 0.015, pairwise shock correlation 0.3 through a Cholesky factor, closes
 * from 100) and its features.
 *
 * @param seed Seed of the data generator (the env's starts come from the run's seed streams).
 * @param options Smaller markets for tests.
 * @returns Closes, returns and features.
 * @example
 * ```ts
 * const market = makeBenchMarket(1);
 * market.features.length; // 2520 * 80
 * ```
 */
export function makeBenchMarket(seed: number, options: BenchMarketOptions = {}): BenchMarket {
  const assets = options.assets ?? BENCH_MARKET.assets;
  const days = options.days ?? BENCH_MARKET.days;
  const { mu, sigma, corr } = BENCH_MARKET;
  const c = new Float64Array(assets * assets).fill(corr);
  for (let i = 0; i < assets; i++) c[i * assets + i] = 1;
  const l = cholesky(c, assets);
  const rng = new Rng(seed);
  const close = new Float64Array(days * assets);
  const z = new Float64Array(assets);
  const logP = new Float64Array(assets);
  close.fill(100, 0, assets);
  for (let t = 1; t < days; t++) {
    for (let k = 0; k < assets; k++) z[k] = rng.normal();
    for (let i = 0; i < assets; i++) {
      let zi = 0;
      for (let k = 0; k <= i; k++) zi += l[i * assets + k] * z[k];
      logP[i] += mu - 0.5 * sigma * sigma + sigma * zi;
      close[t * assets + i] = 100 * Math.exp(logP[i]);
    }
  }
  const { features, returns } = benchFeatures(close, assets);
  return { assets, days, close, returns, features };
}

/** Options of {@linkcode BenchVecEnv}. */
export interface BenchVecEnvOptions {
  /** Number of envs. Default 8. */
  numEnvs?: number;
  /**
   * Seed of the start-day draws until `reset(seed)` re-seeds them (`trainPpo` does, with
   * `deriveSeed(seed, "envStarts")`). Default 1000.
   */
  seed?: number;
}

/**
 * SPEC section 1's vectorised env: `numEnvs` portfolios on one price history,
 * each with its own clock. Observation = the 80 features of day t + the 10
 * current weights. Step: clip the action to [-1, 1], `w = a / max(1, Σ|a|)`,
 * reward `Σ w·r_{t+1} − 5 bps·Σ|w − w_prev|` (the cost model's commission on turnover), t ← t+1. Episodes last 252 steps
 * from a start day uniform in `[20, T−1−252]`; a finished env reports
 * `truncated = 1`, its final observation in `finalObservations`, and the first
 * observation of its next episode in `observations`. The SPEC (CleanRL) treats
 * that time limit as terminal for GAE.
 *
 * `info.netWorth` is `Π(1 + reward)` over the episode, `info.timestamp` is day t
 * counted in days from the epoch (synthetic calendar).
 *
 * @example
 * ```ts
 * const market = makeBenchMarket(1);
 * const env = new BenchVecEnv(market, { seed: 1001 });
 * let obs = env.reset();
 * const r = env.step(new Float32Array(8 * 10));
 * ```
 */
export class BenchVecEnv implements VecEnv {
  readonly numEnvs: number;
  readonly observationSpace: BoxSpace;
  readonly actionSpace: BoxSpace;
  /** Undiscounted returns of finished episodes, in the order they finished. */
  readonly finishedReturns: number[] = [];
  readonly #m: BenchMarket;
  readonly #obsDim: number;
  #rng: Rng;
  readonly #t: Int32Array;
  readonly #k: Int32Array;
  readonly #w: Float64Array;
  readonly #epRet: Float64Array;
  readonly #worth: Float64Array;

  /**
   * @param market From {@linkcode makeBenchMarket}.
   * @param options Number of envs and seed.
   */
  constructor(market: BenchMarket, options: BenchVecEnvOptions = {}) {
    this.#m = market;
    this.numEnvs = options.numEnvs ?? 8;
    const a = market.assets;
    this.#obsDim = a * BENCH_MARKET.featuresPerAsset + a;
    if (market.days - 1 - BENCH_MARKET.episodeLength < BENCH_MARKET.warmup) {
      throw new RangeError(
        `BenchVecEnv: ${market.days} days are too few for ${BENCH_MARKET.episodeLength}-step episodes after a ${BENCH_MARKET.warmup}-day warm-up`,
      );
    }
    this.observationSpace = {
      kind: "box",
      shape: [this.#obsDim],
      low: new Float32Array(this.#obsDim).fill(-Infinity),
      high: new Float32Array(this.#obsDim).fill(Infinity),
    };
    this.actionSpace = {
      kind: "box",
      shape: [a],
      low: new Float32Array(a).fill(-1),
      high: new Float32Array(a).fill(1),
    };
    this.#rng = new Rng(options.seed ?? 1000);
    this.#t = new Int32Array(this.numEnvs);
    this.#k = new Int32Array(this.numEnvs);
    this.#w = new Float64Array(this.numEnvs * a);
    this.#epRet = new Float64Array(this.numEnvs);
    this.#worth = new Float64Array(this.numEnvs);
  }

  /** Current day index of each env (read-only view for tests and logging). */
  get currentDays(): Int32Array {
    return this.#t.slice();
  }

  #start(e: number): void {
    const lastStart = this.#m.days - 1 - BENCH_MARKET.episodeLength;
    this.#t[e] = this.#rng.integer(BENCH_MARKET.warmup, lastStart);
    this.#k[e] = 0;
    this.#w.fill(0, e * this.#m.assets, (e + 1) * this.#m.assets);
    this.#epRet[e] = 0;
    this.#worth[e] = 1;
  }

  #writeObs(e: number, out: Float32Array, at: number): void {
    const a = this.#m.assets;
    const nf = a * BENCH_MARKET.featuresPerAsset;
    out.set(this.#m.features.subarray(this.#t[e] * nf, (this.#t[e] + 1) * nf), at);
    for (let i = 0; i < a; i++) out[at + nf + i] = this.#w[e * a + i];
  }

  /**
   * Starts every env (start days drawn in env order).
   * @param seed Re-seeds the start-day generator when given.
   * @returns `numEnvs × 90` observations.
   */
  reset(seed?: number): Float32Array {
    if (seed !== undefined) this.#rng = new Rng(seed);
    this.finishedReturns.length = 0;
    const obs = new Float32Array(this.numEnvs * this.#obsDim);
    for (let e = 0; e < this.numEnvs; e++) {
      this.#start(e);
      this.#writeObs(e, obs, e * this.#obsDim);
    }
    return obs;
  }

  /**
   * Advances every env one day.
   * @param actions `numEnvs × assets` raw (unclipped) actions.
   * @returns Observations, rewards, and `truncated = 1` for envs whose episode ended.
   */
  step(actions: Float32Array): VecStepResult {
    const a = this.#m.assets;
    const n = this.numEnvs;
    if (actions.length !== n * a) {
      throw new TypeError(
        `BenchVecEnv.step(): expected ${n}×${a} = ${n * a} actions; got ${actions.length}`,
      );
    }
    const rets = this.#m.returns;
    const obs = new Float32Array(n * this.#obsDim);
    const rewards = new Float32Array(n);
    const terminated = new Uint8Array(n);
    const truncated = new Uint8Array(n);
    const finalObservations: (Float32Array | null)[] = new Array(n).fill(null);
    const infos: StepInfo[] = new Array(n);
    const w = new Float64Array(a);
    for (let e = 0; e < n; e++) {
      let gross = 0;
      for (let i = 0; i < a; i++) {
        const x = Math.min(1, Math.max(-1, actions[e * a + i]));
        w[i] = x;
        gross += Math.abs(x);
      }
      const scale = 1 / Math.max(1, gross);
      const r0 = (this.#t[e] + 1) * a;
      let gain = 0;
      let turnover = 0;
      for (let i = 0; i < a; i++) {
        const wi = w[i] * scale;
        w[i] = wi;
        gain += wi * rets[r0 + i];
        turnover += Math.abs(wi - this.#w[e * a + i]);
        this.#w[e * a + i] = wi;
      }
      const cost = applyTransactionCosts(turnover, BENCH_COSTS.costPerTurnBps);
      const reward = gain - cost;
      this.#t[e]++;
      this.#k[e]++;
      this.#epRet[e] += reward;
      this.#worth[e] *= 1 + reward;
      rewards[e] = reward;
      infos[e] = {
        t: this.#t[e],
        timestamp: this.#t[e] * 86_400_000,
        netWorth: this.#worth[e],
        weights: w.slice(),
        cost,
        turnover,
        rewardTerms: { return: gain, cost: -cost },
      };
      if (this.#k[e] >= BENCH_MARKET.episodeLength) {
        truncated[e] = 1;
        const fin = new Float32Array(this.#obsDim);
        this.#writeObs(e, fin, 0);
        finalObservations[e] = fin;
        infos[e].stopReason = "max_steps";
        this.finishedReturns.push(this.#epRet[e]);
        this.#start(e);
      }
      this.#writeObs(e, obs, e * this.#obsDim);
    }
    return { observations: obs, rewards, terminated, truncated, finalObservations, infos };
  }
}
