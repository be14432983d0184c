/**
 * Tiny vectorised environments with a planted, learnable signal, for PPO tests
 * (no market data, no portfolio env).
 *
 * The signal: each step draws the next "return" `r = ±scale` per asset with equal
 * odds; the observation shows `sign(r)` (the future return, deliberately leaked) plus
 * one pure-noise feature per asset. The reward is `position · r` summed over assets,
 * where the position is the clipped action (continuous) or `choice - 1` ∈ {-1, 0, 1}
 * (discrete: short / flat / long). A random policy earns 0 in expectation; the best
 * policy earns `assets · scale` per step.
 *
 * @module
 */
import { Rng } from "@lib/util/rng.ts";
import type { Space, StepInfo, VecEnv, VecStepResult } from "@lib/env/types.ts";

/** Options of {@linkcode SignalVecEnv}. */
export interface SignalEnvOptions {
  numEnvs?: number;
  /** Assets (action dimensions / heads). Default 1. */
  assets?: number;
  /** Steps per episode, then `truncated`. Default 16. */
  episodeLength?: number;
  /** Size of each return. Default 1. */
  scale?: number;
  /** `"box"` for continuous actions in [-1, 1], `"multi_discrete"` for short/flat/long per asset. */
  actions?: "box" | "multi_discrete";
  /** Episodes end `terminated` (instead of `truncated`) when the running return falls below this. Default -Infinity. */
  terminateBelow?: number;
  /**
   * The portfolio env's per-asset layout: the `2 · assets` features (asset-major:
   * signal, noise) are followed by one "weight" per asset (its last clipped
   * position), so a per-asset policy with `assetFeatures: 2` reads each asset's row.
   * Default false.
   */
  weights?: boolean;
  /** Box actions get one more (cash) component, ignored by the reward. Default false. */
  cashAction?: boolean;
}

/** A vector of envs with the planted signal described in the module doc. */
export class SignalVecEnv implements VecEnv {
  readonly numEnvs: number;
  readonly observationSpace: Space;
  readonly actionSpace: Space;
  readonly assets: number;
  readonly obsDim: number;
  #len: number;
  #scale: number;
  #discrete: boolean;
  #terminateBelow: number;
  #weights: boolean;
  #actDim: number;
  #rng = new Rng(0);
  #next: Float64Array; // the upcoming return per env × asset
  #t: Int32Array;
  #ret: Float64Array;
  #obs: Float32Array;
  /** Every reward handed out, in order (to compare runs). */
  readonly rewardLog: number[] = [];

  constructor(options: SignalEnvOptions = {}) {
    this.numEnvs = options.numEnvs ?? 4;
    this.assets = options.assets ?? 1;
    this.#len = options.episodeLength ?? 16;
    this.#scale = options.scale ?? 1;
    this.#discrete = options.actions === "multi_discrete";
    this.#terminateBelow = options.terminateBelow ?? -Infinity;
    this.#weights = options.weights ?? false;
    this.obsDim = (this.#weights ? 3 : 2) * this.assets;
    this.#actDim = this.assets + (options.cashAction && !this.#discrete ? 1 : 0);
    this.observationSpace = {
      kind: "box",
      shape: [this.obsDim],
      low: new Float32Array(this.obsDim).fill(-Infinity),
      high: new Float32Array(this.obsDim).fill(Infinity),
    };
    this.actionSpace = this.#discrete
      ? { kind: "multi_discrete", nvec: new Array(this.assets).fill(3) }
      : {
        kind: "box",
        shape: [this.#actDim],
        low: new Float32Array(this.#actDim).fill(-1),
        high: new Float32Array(this.#actDim).fill(1),
      };
    this.#next = new Float64Array(this.numEnvs * this.assets);
    this.#t = new Int32Array(this.numEnvs);
    this.#ret = new Float64Array(this.numEnvs);
    this.#obs = new Float32Array(this.numEnvs * this.obsDim);
  }

  reset(seed?: number): Float32Array {
    if (seed !== undefined) this.#rng = new Rng(seed);
    for (let e = 0; e < this.numEnvs; e++) this.#start(e);
    return this.#obs.slice();
  }

  step(actions: Float32Array): VecStepResult {
    const A = this.assets, E = this.numEnvs;
    const rewards = new Float32Array(E);
    const terminated = new Uint8Array(E);
    const truncated = new Uint8Array(E);
    const finalObservations: (Float32Array | null)[] = new Array(E).fill(null);
    const infos: StepInfo[] = [];
    for (let e = 0; e < E; e++) {
      let r = 0;
      for (let a = 0; a < A; a++) {
        const raw = actions[e * this.#actDim + a];
        const pos = this.#discrete ? raw - 1 : Math.max(-1, Math.min(1, raw));
        r += pos * this.#next[e * A + a];
        if (this.#weights) this.#obs[e * this.obsDim + 2 * A + a] = pos;
      }
      rewards[e] = r;
      this.rewardLog.push(rewards[e]);
      this.#t[e] += 1;
      this.#ret[e] += r;
      this.#draw(e);
      const t = this.#t[e];
      infos.push({ t, timestamp: t, netWorth: 1 + this.#ret[e], weights: new Float64Array(A) });
      if (this.#ret[e] < this.#terminateBelow) terminated[e] = 1;
      else if (t >= this.#len) truncated[e] = 1;
      if (terminated[e] || truncated[e]) {
        finalObservations[e] = this.#obs.slice(e * this.obsDim, (e + 1) * this.obsDim);
        this.#start(e);
      }
    }
    return {
      observations: this.#obs.slice(),
      rewards,
      terminated,
      truncated,
      finalObservations,
      infos,
    };
  }

  #start(e: number): void {
    this.#t[e] = 0;
    this.#ret[e] = 0;
    if (this.#weights) {
      this.#obs.fill(0, e * this.obsDim + 2 * this.assets, (e + 1) * this.obsDim);
    }
    this.#draw(e);
  }

  #draw(e: number): void {
    const A = this.assets;
    for (let a = 0; a < A; a++) {
      const s = this.#rng.uniform() < 0.5 ? -1 : 1;
      this.#next[e * A + a] = s * this.#scale;
      this.#obs[e * this.obsDim + 2 * a] = s;
      this.#obs[e * this.obsDim + 2 * a + 1] = this.#rng.normal();
    }
  }
}
