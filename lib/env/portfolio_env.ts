/**
 * The multi-asset portfolio environment: N instruments plus cash on a
 * {@linkcode PricePanel}, observing a {@linkcode FeaturePanel}.
 *
 * One step, decided at the close of bar `t`:
 * 1. the action scheme maps the action to target weights, given the weights held
 *    and the returns of bars `≤ t`; the friction rules (`band`, `rebalanceEvery`,
 *    `partialAdjustment`, off by default; `friction.ts`) then decide what trades;
 * 2. the {@linkcode MarketSimulator} executes them at bar `t+1` (open by default),
 *    charges commission and slippage there, once, and marks at the close of `t+1`;
 * 3. the reward scheme scores `(state at t, state at t+1)`; stoppers may terminate;
 * 4. the observation at `t+1` is returned.
 *
 * Execution details (see `simulator.ts`): an instrument without a bar (no valid
 * price) at `t+1` cannot trade and keeps its units; positions are marked at the last
 * known close; costs and slippage are taken from cash; shorts are negative units.
 *
 * Observation (`Float32Array`, length `N·window·F + N`): for each instrument `i` in
 * panel order, the `window` most recent bars oldest first, each with the F features;
 * then the N current weights. NaN policy: a feature that is NaN (an instrument without
 * a bar, or not yet listed) is observed as 0. Starts inside the warm-up (bars before
 * `features.warmup + window - 1`) are refused with a `RangeError`, so warm-up NaNs are
 * never observed unless `allowWarmupStart` is set.
 *
 * Episode: `reset({ seed, start })` starts all in cash at the close of `start`
 * (seeded uniform random start when absent). The start RNG is seeded once, at the first
 * reset (Gymnasium): with that reset's `seed`, else with `options.seed`; later resets
 * without a seed continue the same stream, and `reset({ seed })` starts a new one. It ends with `terminated` when a stopper
 * fires (`"drawdown"`, `"bankrupt"`), or `truncated` at the last bar of the range
 * (`"end_of_data"`) or after `maxSteps` steps (`"max_steps"`). Stepping after that
 * throws until the next reset.
 *
 * @module
 */
import type { PricePanel } from "../data/panel.ts";
import { assertAligned, type FeaturePanel } from "../features/feature_panel.ts";
import { Rng } from "../util/rng.ts";
import type { ActionScheme } from "./actions.ts";
import { type FeeModel, resolveCostOptions, type ResolvedCostOptions } from "./costs.ts";
import {
  applyFriction,
  isFrictionless,
  type ResolvedFriction,
  resolveFriction,
} from "./friction.ts";
import {
  type ActionName,
  type ActionOptions,
  ACTIONS,
  type RewardName,
  type RewardOptions,
  REWARDS,
} from "./registry.ts";
import type { RewardScheme } from "./rewards.ts";
import {
  type ExecuteAt,
  type MarketData,
  MarketSimulator,
  type PortfolioState,
  prepareMarket,
} from "./simulator.ts";
import { box, flatDim } from "./spaces.ts";
import { BankruptcyStopper, DrawdownStopper, type Stopper } from "./stoppers.ts";
import type { BoxSpace, Env, Space, StepInfo, StepResult } from "./types.ts";

/** Options of {@linkcode makePortfolioEnv} and {@linkcode makePortfolioVecEnv}; all optional. */
export interface PortfolioEnvOptions {
  /** Action scheme, by name or instance. Default `"vol-target"`. */
  action?: ActionName | ActionScheme;
  /** Options for a named action scheme. Default `{}` (each scheme's defaults). */
  actionOptions?: ActionOptions;
  /** Reward scheme, by name or a factory returning a fresh scheme. Default `"risk-aware"`. */
  reward?: RewardName | (() => RewardScheme);
  /** Options for a named reward scheme. Default `{}`. */
  rewardOptions?: RewardOptions;
  /** Bars of features per instrument in an observation. Default 1. */
  window?: number;
  /** Fill the order decided at t at bar t+1's `"open"` or `"close"`. Default `"open"`. */
  executeAt?: ExecuteAt;
  /** How commission is charged (`"bps"` or `"ibkr-fixed"`, see `costs.ts`). Default `"bps"`. */
  feeModel?: FeeModel;
  /** Commission, bps of traded notional (fee model `"bps"`). Default 10. */
  costPerTurnBps?: number;
  /** Fixed slippage, bps of traded notional. Default 5. */
  slippageBps?: number;
  /** Square-root impact coefficient k (0 = off). Default 0. */
  impactK?: number;
  /** Bars of history for impact's σ and ADV. Default 20. */
  impactLookback?: number;
  /** Cash at reset (impact depends on absolute size). Default 1,000,000. */
  initialCash?: number;
  /** Truncate after this many steps (`"max_steps"`). Default: none (run to the end of the range). */
  maxSteps?: number;
  /** Terminate at this drawdown from the episode's peak (`"drawdown"`). Default: off. */
  drawdownStop?: number;
  /** More stoppers (bankruptcy is always on). Default `[]`. */
  stoppers?: Stopper[];
  /** Seed of the random starts when the first `reset()` gives none (see the module documentation). Default 0. */
  seed?: number;
  /**
   * Bar indices the env may use, inclusive: episodes start at or after `start` and
   * end at `end` at the latest (e.g. a training slice). Default: the whole panel.
   */
  range?: { start?: number; end?: number };
  /** Allow starts inside the warm-up (NaN features observed as 0). Default false. */
  allowWarmupStart?: boolean;
  /**
   * Rebalance band (see `friction.ts`): an instrument whose `|target - current| < band`
   * is not traded (keeps its units). Default 0 (off).
   */
  band?: number;
  /** Trade only at decisions `0, k, 2k, …` of an episode, hold in between. Default 1. */
  rebalanceEvery?: number;
  /** Move a traded instrument `η · (target - current)` of the way, η in (0, 1]. Default 1. */
  partialAdjustment?: number;
}

/** The bars an episode may start at. */
export interface StartRange {
  /** Earliest start (after warm-up and the observation window). */
  earliest: number;
  /** Latest start a random reset picks (so that `maxSteps` fit when possible). */
  latestRandom: number;
  /** Last bar of the range: an episode reaching it is truncated. */
  last: number;
}

/** A portfolio env; see the module documentation. */
export class PortfolioEnv implements Env<Float32Array, Float32Array> {
  readonly observationSpace: BoxSpace;
  readonly actionSpace: Space;
  /** The action scheme in use. */
  readonly actionScheme: ActionScheme;
  /** The reward scheme in use (this env's own instance). */
  readonly rewardScheme: RewardScheme;
  /** Instrument symbols, observation order. */
  readonly instruments: readonly string[];
  /** Feature names, observation order within a bar. */
  readonly featureNames: readonly string[];
  /** Bars of features per instrument. */
  readonly window: number;
  /** Valid starts. */
  readonly startRange: StartRange;
  /** The cost settings its simulator charges (pass them to a benchmark for the same costs). */
  readonly costs: Readonly<ResolvedCostOptions>;
  readonly #market: MarketData;
  readonly #features: FeaturePanel;
  readonly #sim: MarketSimulator;
  readonly #stoppers: Stopper[];
  readonly #maxSteps: number | undefined;
  readonly #executeAt: ExecuteAt;
  readonly #n: number;
  readonly #f: number;
  readonly #actDim: number;
  readonly #friction: ResolvedFriction;
  /** Created at the first reset, the one seeding. */
  #rng: Rng | null = null;
  readonly #seed: number;
  #state: PortfolioState | null = null;
  /** The bar the current episode started at (its first decision). */
  #episodeStart = 0;
  #done = true;

  /**
   * Prefer {@linkcode makePortfolioEnv}; this constructor lets K envs share one
   * {@linkcode MarketData}.
   * @param market From `prepareMarket(prices, impactLookback)`.
   * @param features Aligned with the prices.
   * @param options See {@linkcode PortfolioEnvOptions}.
   */
  constructor(market: MarketData, features: FeaturePanel, options: PortfolioEnvOptions = {}) {
    const n = market.n;
    if (features.instruments.length !== n || features.timestamps.length !== market.length) {
      throw new TypeError(
        `Feature panel is ${features.timestamps.length}×${features.instruments.length}, prices are ${market.length}×${n}`,
      );
    }
    this.#market = market;
    this.#features = features;
    this.#n = n;
    this.#f = features.names.length;
    this.instruments = features.instruments;
    this.featureNames = features.names;
    this.window = options.window ?? 1;
    if (!Number.isInteger(this.window) || this.window < 1) {
      throw new RangeError(`window = ${options.window} must be a positive integer`);
    }
    const action = options.action ?? "vol-target";
    this.actionScheme = typeof action === "string"
      ? ACTIONS[action](n, options.actionOptions)
      : action;
    const reward = options.reward ?? "risk-aware";
    this.rewardScheme = typeof reward === "string"
      ? REWARDS[reward](options.rewardOptions)
      : reward();
    this.actionSpace = this.actionScheme.space;
    this.#actDim = flatDim(this.actionSpace);
    this.observationSpace = box([n * this.window * this.#f + n]);
    this.costs = Object.freeze(resolveCostOptions({
      feeModel: options.feeModel,
      costPerTurnBps: options.costPerTurnBps,
      slippageBps: options.slippageBps,
      impactK: options.impactK,
      impactLookback: options.impactLookback,
    }));
    this.#executeAt = options.executeAt ?? "open";
    this.#sim = new MarketSimulator(market, {
      executeAt: this.#executeAt,
      costs: this.costs,
      initialCash: options.initialCash ?? 1_000_000,
    });
    if (
      options.executeAt !== undefined && options.executeAt !== "open" &&
      options.executeAt !== "close"
    ) {
      throw new RangeError(`executeAt = ${options.executeAt}: use "open" or "close"`);
    }
    this.#friction = resolveFriction({
      band: options.band,
      rebalanceEvery: options.rebalanceEvery,
      partialAdjustment: options.partialAdjustment,
    });
    this.#stoppers = [new BankruptcyStopper()];
    if (options.drawdownStop !== undefined) {
      this.#stoppers.push(new DrawdownStopper(options.drawdownStop));
    }
    this.#stoppers.push(...(options.stoppers ?? []));
    this.#maxSteps = options.maxSteps;
    if (
      this.#maxSteps !== undefined && !(Number.isInteger(this.#maxSteps) && this.#maxSteps >= 1)
    ) {
      throw new RangeError(`maxSteps = ${this.#maxSteps} must be a positive integer`);
    }
    const rangeStart = options.range?.start ?? 0;
    const last = options.range?.end ?? market.length - 1;
    if (
      !(Number.isInteger(rangeStart) && Number.isInteger(last) && rangeStart >= 0 &&
        last < market.length)
    ) {
      throw new RangeError(
        `range [${rangeStart}, ${last}] must be bar indices within [0, ${market.length - 1}]`,
      );
    }
    const earliest = options.allowWarmupStart
      ? rangeStart
      : Math.max(rangeStart, features.warmup + this.window - 1);
    if (earliest > last - 1) {
      throw new RangeError(
        `No valid start: the earliest start after warm-up ${features.warmup} and window ${this.window} is bar ${earliest}, ` +
          `but the range ends at bar ${last} and an episode needs at least one more bar`,
      );
    }
    const latestRandom = this.#maxSteps === undefined
      ? last - 1
      : Math.max(earliest, last - this.#maxSteps);
    this.startRange = { earliest, latestRandom, last };
    this.#seed = options.seed ?? 0;
  }

  /** When the order decided at bar t is filled: the next bar's open or close. */
  get executeAt(): ExecuteAt {
    return this.#executeAt;
  }

  /** Number of instruments N. */
  get numInstruments(): number {
    return this.#n;
  }

  /** The portfolio state at the current bar (a copy). @throws {Error} Before reset. */
  get state(): PortfolioState {
    if (this.#state === null) throw new Error("PortfolioEnv.state read before reset()");
    return { ...this.#state, weights: this.#state.weights.slice() };
  }

  /** Whether the current episode has ended (or none started). */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Starts an episode all in cash at the close of `start`.
   * @param options `seed` seeds the start RNG (a new stream; absent: the first reset uses
   *   `options.seed`, later ones continue); `start` fixes the bar (else random in
   *   `[startRange.earliest, startRange.latestRandom]`).
   * @returns The first observation and an info with zero costs.
   * @throws {RangeError} When `start` is outside `[earliest, last - 1]` (e.g. in the warm-up).
   * @example
   * ```ts
   * const { observation } = env.reset({ seed: 1 });
   * ```
   */
  reset(
    options: { seed?: number; start?: number } = {},
  ): { observation: Float32Array; info: StepInfo } {
    if (options.seed !== undefined) this.#rng = new Rng(options.seed);
    const rng = this.#rng ??= new Rng(this.#seed);
    const { earliest, latestRandom, last } = this.startRange;
    let start: number;
    if (options.start === undefined) start = rng.integer(earliest, latestRandom);
    else {
      start = options.start;
      if (!Number.isInteger(start) || start < earliest || start > last - 1) {
        throw new RangeError(
          `reset({ start: ${start} }): start must be a bar in [${earliest}, ${last - 1}] ` +
            `(after warm-up and window, leaving one bar to trade)`,
        );
      }
    }
    const state = this.#sim.reset(start);
    this.#episodeStart = start;
    this.rewardScheme.reset(state);
    this.#state = state;
    this.#done = false;
    return {
      observation: this.#observe(state),
      info: {
        t: state.t,
        timestamp: this.#market.timestamps[state.t],
        netWorth: state.netWorth,
        weights: state.weights.slice(),
        cost: 0,
        slippage: 0,
        impact: 0,
        turnover: 0,
        rewardTerms: {},
      },
    };
  }

  /**
   * Decides at the current close, executes at the next bar, returns the next observation.
   * @param action A member of `actionSpace` (continuous actions are clipped by the scheme).
   * @returns Observation, reward, `terminated`, `truncated`, info with costs and reward terms.
   * @throws {Error} When the episode has ended (or never started).
   * @throws {TypeError} When the action has the wrong length.
   * @example
   * ```ts
   * const { reward, info } = env.step(new Float32Array([0.5, -0.5]));
   * ```
   */
  step(action: Float32Array): StepResult<Float32Array> {
    if (this.#done || this.#state === null) {
      throw new Error("PortfolioEnv.step() called after the episode ended: call reset() first");
    }
    if (action.length !== this.#actDim) {
      throw new TypeError(
        `PortfolioEnv.step(): action has ${action.length} entries, expected ${this.#actDim}`,
      );
    }
    const prev = this.#state;
    const { targetWeights, hold } = this.#decide(action, prev, this.#episodeStart);
    const { state } = this.#sim.step(targetWeights, hold);
    const { reward, terms } = this.rewardScheme.reward(prev, state);
    this.#state = state;
    let stopReason: string | undefined;
    for (const s of this.#stoppers) {
      if (s.shouldStop(state)) {
        stopReason = s.reason;
        break;
      }
    }
    const terminated = stopReason !== undefined;
    let truncated = false;
    if (!terminated) {
      if (state.t >= this.startRange.last) {
        truncated = true;
        stopReason = "end_of_data";
      } else if (this.#maxSteps !== undefined && state.steps >= this.#maxSteps) {
        truncated = true;
        stopReason = "max_steps";
      }
    }
    this.#done = terminated || truncated;
    const info: StepInfo = {
      t: state.t,
      timestamp: this.#market.timestamps[state.t],
      netWorth: state.netWorth,
      weights: state.weights.slice(),
      cost: state.cost,
      slippage: state.slippage,
      impact: state.impact,
      turnover: state.turnover,
      rewardTerms: terms,
      targetWeights,
    };
    if (stopReason !== undefined) info.stopReason = stopReason;
    return { observation: this.#observe(state), reward, terminated, truncated, info };
  }

  /**
   * The observation at the close of bar `t` for a book held outside this env's simulator
   * (the trading cycle: a broker's positions marked at that close), built exactly as
   * `step()` builds it.
   * @param t Bar index of the decision.
   * @param weights Weights held at the close of `t`, one per instrument.
   * @returns The observation.
   * @throws {RangeError} When `t` is not a bar of the panel or `weights` has the wrong length.
   * @example
   * ```ts
   * const obs = env.observeAt(t, new Float64Array(env.numInstruments)); // all cash
   * ```
   */
  observeAt(t: number, weights: ArrayLike<number>): Float32Array {
    this.#checkBook(t, weights, "observeAt");
    return this.#observe({ t, weights: Float64Array.from(weights) });
  }

  /**
   * What `step()` would send to the simulator for a book held outside it: the action
   * scheme's target weights, then the friction rules (band, rebalancing period, partial
   * adjustment). The trading cycle turns the result into orders.
   * @param action A member of `actionSpace`.
   * @param book The decision bar `t`, the weights held at its close, the decision's index
   *   in the run (`steps`, for `rebalanceEvery`) and the run's first decision bar.
   * @returns The scheme's `proposed` weights, the `targetWeights` to trade to and `hold`
   *   (1: do not trade that instrument; absent when frictionless).
   * @throws {RangeError} When `t` is not a bar of the panel or `weights` has the wrong length.
   * @example
   * ```ts
   * const d = env.decideAt(action, { t, weights, steps: 0, episodeStart: t });
   * d.targetWeights; d.hold;
   * ```
   */
  decideAt(
    action: Float32Array,
    book: { t: number; weights: ArrayLike<number>; steps: number; episodeStart: number },
  ): { proposed: Float64Array; targetWeights: Float64Array; hold?: Uint8Array } {
    this.#checkBook(book.t, book.weights, "decideAt");
    if (action.length !== this.#actDim) {
      throw new TypeError(
        `PortfolioEnv.decideAt(): action has ${action.length} entries, expected ${this.#actDim}`,
      );
    }
    return this.#decide(action, {
      t: book.t,
      weights: Float64Array.from(book.weights),
      steps: book.steps,
    }, book.episodeStart);
  }

  #checkBook(t: number, weights: ArrayLike<number>, where: string): void {
    if (!Number.isInteger(t) || t < 0 || t >= this.#market.length) {
      throw new RangeError(
        `PortfolioEnv.${where}(): bar ${t} is not in [0, ${this.#market.length - 1}]`,
      );
    }
    if (weights.length !== this.#n) {
      throw new RangeError(
        `PortfolioEnv.${where}(): ${weights.length} weights for ${this.#n} instruments`,
      );
    }
  }

  /** Scheme, then friction (held instruments keep their units; the simulator charges costs). */
  #decide(
    action: Float32Array,
    prev: { t: number; weights: Float64Array; steps: number },
    episodeStart: number,
  ): { proposed: Float64Array; targetWeights: Float64Array; hold?: Uint8Array } {
    const proposed = this.actionScheme.targetWeights(action, {
      numInstruments: this.#n,
      weights: prev.weights.slice(),
      pastReturns: this.#pastReturns(prev.t, this.actionScheme.lookback),
      available: this.#available(prev.t),
      growth: this.#growth(prev.t, episodeStart),
    });
    if (isFrictionless(this.#friction)) return { proposed, targetWeights: proposed };
    const f = applyFriction(proposed, prev.weights, prev.steps, this.#friction);
    return { proposed, targetWeights: f.weights, hold: f.hold };
  }

  #observe(state: { t: number; weights: Float64Array }): Float32Array {
    const n = this.#n, f = this.#f, w = this.window;
    const obs = new Float32Array(n * w * f + n);
    const values = this.#features.values;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < w; k++) {
        const t = state.t - w + 1 + k;
        if (t < 0) continue; // before the data: observed as 0 like any NaN
        const src = (t * n + i) * f;
        const dst = (i * w + k) * f;
        for (let j = 0; j < f; j++) {
          const v = values[src + j];
          obs[dst + j] = Number.isNaN(v) ? 0 : v;
        }
      }
    }
    obs.set(state.weights, n * w * f);
    return obs;
  }

  /** `close(t) / fill price at the episode's first fill` (see `ActionContext.growth`). */
  #growth(t: number, s: number): Float64Array {
    const n = this.#n, m = this.#market;
    const out = new Float64Array(n);
    if (t <= s) {
      for (let i = 0; i < n; i++) out[i] = Number.isNaN(m.close[t * n + i]) ? NaN : 1;
      return out;
    }
    const fill = this.#executeAt === "open" ? m.open : m.close;
    for (let i = 0; i < n; i++) out[i] = m.mark[t * n + i] / fill[(s + 1) * n + i];
    return out;
  }

  #available(t: number): Uint8Array {
    const n = this.#n, close = this.#market.close;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Number.isNaN(close[t * n + i]) ? 0 : 1;
    return out;
  }

  #pastReturns(t: number, lookback: number): Float64Array {
    const n = this.#n;
    const out = new Float64Array(lookback * n).fill(NaN);
    for (let k = 0; k < lookback; k++) {
      const u = t - lookback + 1 + k;
      if (u < 0) continue;
      out.set(this.#market.returns.subarray(u * n, u * n + n), k * n);
    }
    return out;
  }
}

/**
 * Builds a single portfolio env. For an evaluation pass over the whole out-of-sample
 * slice, leave `maxSteps` unset and call `reset({ start })`: the episode runs
 * deterministically from `start` to `range.end` (then `truncated`, `"end_of_data"`).
 * @param prices Bars (instruments × calendar).
 * @param features Features aligned with `prices` (same instruments and calendar).
 * @param options See {@linkcode PortfolioEnvOptions}; every field has a default.
 * @returns The env.
 * @throws {TypeError} When the panels are not aligned.
 * @throws {RangeError} On an invalid option, or when no start is possible.
 * @example
 * ```ts
 * const env = makePortfolioEnv(prices, features, { action: "discrete", reward: "dsr", maxSteps: 252 });
 * let { observation } = env.reset({ seed: 7 });
 * const r = env.step(sample(env.actionSpace, new Rng(1)));
 * ```
 */
export function makePortfolioEnv(
  prices: PricePanel,
  features: FeaturePanel,
  options: PortfolioEnvOptions = {},
): PortfolioEnv {
  assertAligned(prices, features);
  return new PortfolioEnv(prepareMarket(prices, options.impactLookback ?? 20), features, options);
}
