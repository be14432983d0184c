/**
 * The one episode recorder: what a policy did step by step (decision bar, action,
 * target weights, reward and its terms, net worth, costs), and {@linkcode runEpisode},
 * a full pass of any observation → action function over an env.
 *
 * Training (one recorder per row of the vectorised env), evaluation (a deterministic
 * pass of a saved policy) and benchmark logging (a benchmark curve replayed bar by
 * bar) all build their {@linkcode EpisodeTrace} here; `lib/pipeline` turns a trace
 * into the store's episode log.
 *
 * @module
 */
import type { Env, Space, StepInfo } from "./types.ts";

/** Chooses an action from an observation (and the info that came with it). */
export type Policy = (observation: Float32Array, info: StepInfo) => Float32Array;

/** One episode, step by step. Per-step arrays have one entry per step, curves one more. */
export interface EpisodeTrace {
  instruments: string[];
  /** Labels of the action columns (the instruments when the action has one entry per instrument). */
  actionLabels: string[];
  /** Epoch ms of the bar whose close produced each decision. */
  decisionTimestamps: number[];
  /** Raw policy output, `steps × actionLabels.length`, row-major. */
  actions: number[];
  /** Target weights of each decision, `steps × N`, row-major. */
  targetWeights: number[];
  /** Weights held after each step's execution (for turnover and exposure). */
  heldWeights: Float64Array[];
  /** Epoch ms of the bar at which each step's reward and net worth were marked. */
  rewardTimestamps: number[];
  rewards: number[];
  /** Reward components by name, per step (empty objects when the env reports none). */
  rewardTerms: Record<string, number>[];
  /** Start point, then one per step. */
  equityTimestamps: number[];
  netWorth: number[];
  /** Commission paid per step, in currency. */
  costs: number[];
  /** Slippage paid per step, in currency. */
  slippage: number[];
  /** Traded notional / net worth per step. */
  stepTurnover: number[];
  /** Sum of per-step turnover. */
  turnover: number;
  /** Why it ended (`"end_of_data"`, `"drawdown"`, `"max_steps"` …); `"running"` until a step reports one. */
  stopReason: string;
}

/**
 * Builds an {@linkcode EpisodeTrace} from successive steps (used for a single env, for
 * one row of a vectorised env during training, and for a replayed benchmark curve).
 * @example
 * ```ts
 * const rec = new EpisodeRecorder(["AAPL", "SPX"], ["AAPL", "SPX"], { timestamp: t0, netWorth: 1e6 });
 * rec.record(t0, action, result.reward, result.info);
 * const trace = rec.finish();
 * ```
 */
export class EpisodeRecorder {
  #trace: EpisodeTrace;

  /**
   * @param instruments Weight columns.
   * @param actionLabels Action columns.
   * @param start Epoch ms and net worth at the start of the episode.
   */
  constructor(
    instruments: readonly string[],
    actionLabels: readonly string[],
    start: { timestamp: number; netWorth: number },
  ) {
    this.#trace = {
      instruments: [...instruments],
      actionLabels: [...actionLabels],
      decisionTimestamps: [],
      actions: [],
      targetWeights: [],
      heldWeights: [],
      rewardTimestamps: [],
      rewards: [],
      rewardTerms: [],
      equityTimestamps: [start.timestamp],
      netWorth: [start.netWorth],
      costs: [],
      slippage: [],
      stepTurnover: [],
      turnover: 0,
      stopReason: "running",
    };
  }

  /** Steps recorded so far. */
  get steps(): number {
    return this.#trace.rewards.length;
  }

  /**
   * Records one step.
   * @param decisionTimestamp Epoch ms of the bar the action was decided at.
   * @param action The action row (its first `actionLabels.length` entries are copied).
   * @param reward The step's reward.
   * @param info The step's info (target weights, weights, net worth, costs, reward terms).
   */
  record(
    decisionTimestamp: number,
    action: ArrayLike<number>,
    reward: number,
    info: StepInfo,
  ): void {
    const t = this.#trace;
    const n = t.instruments.length;
    t.decisionTimestamps.push(decisionTimestamp);
    for (let j = 0; j < t.actionLabels.length; j++) t.actions.push(action[j]);
    const target = info.targetWeights ?? info.weights;
    for (let i = 0; i < n; i++) t.targetWeights.push(target[i]);
    t.heldWeights.push(Float64Array.from(info.weights));
    t.rewardTimestamps.push(info.timestamp);
    t.rewards.push(reward);
    t.rewardTerms.push({ ...info.rewardTerms });
    t.equityTimestamps.push(info.timestamp);
    t.netWorth.push(info.netWorth);
    t.costs.push(info.cost ?? 0);
    t.slippage.push(info.slippage ?? 0);
    t.stepTurnover.push(info.turnover ?? 0);
    t.turnover += info.turnover ?? 0;
    if (info.stopReason) t.stopReason = info.stopReason;
  }

  /** @returns The trace (the recorder must not be used afterwards). */
  finish(): EpisodeTrace {
    return this.#trace;
  }
}

/**
 * Column labels for an action: the instruments when the action has one entry per
 * instrument, else `a0, a1, …`.
 * @param instruments The env's instruments.
 * @param actDim Length of one action.
 * @returns Labels.
 * @example
 * ```ts
 * actionLabelsFor(["AAPL", "SPX"], 2); // ["AAPL", "SPX"]
 * actionLabelsFor(["AAPL", "SPX"], 3); // ["a0", "a1", "a2"]
 * ```
 */
export function actionLabelsFor(instruments: readonly string[], actDim: number): string[] {
  return actDim === instruments.length
    ? [...instruments]
    : Array.from({ length: actDim }, (_, j) => `a${j}`);
}

/** Length of one action of `space` (a box's size, the heads of a multi-discrete space, 1 for discrete). */
function actionLength(space: Space): number {
  switch (space.kind) {
    case "box":
      return space.shape.reduce((a, b) => a * b, 1);
    case "multi_discrete":
      return space.nvec.length;
    case "discrete":
      return 1;
  }
}

/** Options of {@linkcode runEpisode}. */
export interface RunEpisodeOptions {
  /** A fixed first bar (a deterministic pass); the env's own choice by default. */
  start?: number;
  /** Seed passed to `reset`. */
  seed?: number;
  /** Guards against an env that never ends. Default 10,000,000. */
  maxSteps?: number;
}

/**
 * Resets the env and steps it with `policy` until the episode ends (terminated or
 * truncated), recording every step with an {@linkcode EpisodeRecorder}. Each action is
 * decided at the bar of the observation it came from and marked at the next.
 * @param env Any env reporting {@linkcode StepInfo}, with the instruments its weights refer to.
 * @param policy Observation → action.
 * @param options `start`, `seed` and `maxSteps`.
 * @returns The trace.
 * @throws {RangeError} When the episode exceeds `maxSteps`.
 * @example
 * ```ts
 * const env = makePortfolioEnv(prices, features, { range: { start: testStart } });
 * const trace = runEpisode(env, (obs) => new Float32Array(env.instruments.length).fill(1), { start: testStart });
 * trace.netWorth.at(-1);
 * ```
 */
export function runEpisode(
  env: Env<Float32Array, Float32Array> & { readonly instruments: readonly string[] },
  policy: Policy,
  options: RunEpisodeOptions = {},
): EpisodeTrace {
  const limit = options.maxSteps ?? 10_000_000;
  const first = env.reset({ seed: options.seed, start: options.start });
  const labels = actionLabelsFor(env.instruments, actionLength(env.actionSpace));
  const rec = new EpisodeRecorder(env.instruments, labels, {
    timestamp: first.info.timestamp,
    netWorth: first.info.netWorth,
  });
  let obs = first.observation;
  let info = first.info;
  for (;;) {
    if (rec.steps >= limit) {
      throw new RangeError(`runEpisode(): episode did not end within ${limit} steps`);
    }
    const action = policy(obs, info);
    const r = env.step(action);
    rec.record(info.timestamp, action, r.reward, r.info);
    if (r.terminated || r.truncated) {
      const trace = rec.finish();
      if (trace.stopReason === "running") {
        trace.stopReason = r.terminated ? "terminated" : "truncated";
      }
      return trace;
    }
    obs = r.observation;
    info = r.info;
  }
}
