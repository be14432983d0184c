/**
 * Recording episodes: what a policy did step by step (decision bar, action, target
 * weights, reward, net worth, costs), a deterministic full pass of a saved policy
 * over a date range, and the conversion of a trace or a benchmark curve into the
 * {@linkcode EpisodeLog} the store keeps.
 *
 * @module
 */
import type { EpisodeKind, EpisodeLog } from "../db/episodes_repo.ts";
import type { PolicyBackend } from "../agents/policy.ts";
import { ObsNormalizer, type ObsNormStats } from "../agents/ppo.ts";
import type { PortfolioEnv } from "../env/portfolio_env.ts";
import type { StepInfo } from "../env/types.ts";
import type { BenchmarkCurve } from "../eval/benchmarks.ts";
import { computeMetrics, type PerformanceMetrics } from "../eval/metrics.ts";
import { Rng } from "../util/rng.ts";

/** One episode, step by step. Per-step arrays have one entry per step. */
export interface EpisodeTrace {
  instruments: string[];
  /** Labels of the action columns (the instruments when the action has one entry per instrument). */
  actionLabels: string[];
  /** Epoch ms of the bar whose close produced each decision. */
  decisionTimestamps: number[];
  /** Raw policy output, `steps × actionLabels.length`. */
  actions: number[];
  /** Target weights of each decision, `steps × N`. */
  targetWeights: number[];
  /** Weights held after each step's execution (for turnover and exposure). */
  heldWeights: Float64Array[];
  /** Epoch ms of the bar at which each step's reward and net worth were marked. */
  rewardTimestamps: number[];
  rewards: number[];
  /** Start bar, then one per step. */
  equityTimestamps: number[];
  netWorth: number[];
  /** Commission and slippage paid per step, in currency. */
  costs: number[];
  slippage: number[];
  /** Traded notional / net worth per step. */
  stepTurnover: number[];
  /** Sum of per-step turnover. */
  turnover: number;
  /** Why it ended. */
  stopReason: string;
}

/**
 * Builds an {@linkcode EpisodeTrace} from successive steps (used for a single env and
 * for one row of a vectorised env during training).
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
   * @param start Epoch ms and net worth at reset.
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
   * @param action The action row (copied).
   * @param reward The step's reward.
   * @param info The step's info (target weights, weights, net worth, costs).
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
 * ```
 */
export function actionLabelsFor(instruments: readonly string[], actDim: number): string[] {
  return actDim === instruments.length
    ? [...instruments]
    : Array.from({ length: actDim }, (_, j) => `a${j}`);
}

/** Options of {@linkcode runDeterministicEpisode}. */
export interface DeterministicRunOptions {
  /** Bar index to start at (the env's earliest start by default). */
  start?: number;
  /** Saved observation-normaliser statistics (frozen), when the policy was trained with them. */
  obsNorm?: ObsNormStats | null;
}

/**
 * Runs a policy deterministically (mean / arg-max actions) over one full episode:
 * from `start` until the env truncates at the end of its range or a stopper fires.
 *
 * @param env A single portfolio env (no `maxSteps` for a full pass).
 * @param backend The policy.
 * @param options Start bar and observation normaliser.
 * @returns The trace.
 * @example
 * ```ts
 * const env = makePortfolioEnv(m.prices, m.features, { ...envOptions, range: { start: m.startIndex } });
 * const trace = runDeterministicEpisode(env, backend, { start: env.startRange.earliest, obsNorm });
 * ```
 */
export function runDeterministicEpisode(
  env: PortfolioEnv,
  backend: PolicyBackend,
  options: DeterministicRunOptions = {},
): EpisodeTrace {
  const start = options.start ?? env.startRange.earliest;
  const norm = options.obsNorm ? ObsNormalizer.fromJSON(options.obsNorm).freeze() : null;
  const obsDim = backend.config.obsDim;
  if (env.observationSpace.shape[0] !== obsDim) {
    throw new TypeError(
      `The policy expects observations of ${obsDim} values but the env produces ${
        env.observationSpace.shape[0]
      }`,
    );
  }
  const actDim = backend.config.action.kind === "gaussian"
    ? backend.config.action.dim
    : backend.config.action.nvec.length;
  const rng = new Rng(0); // unused by deterministic actions; act() requires one
  const reset = env.reset({ start });
  const rec = new EpisodeRecorder(env.instruments, actionLabelsFor(env.instruments, actDim), {
    timestamp: reset.info.timestamp,
    netWorth: reset.info.netWorth,
  });
  let obs = reset.observation;
  let decisionTs = reset.info.timestamp;
  const input = new Float32Array(obsDim);
  for (;;) {
    if (norm) norm.normalize(obs, 1, input);
    else input.set(obs);
    const { actions } = backend.act(input, 1, rng, { deterministic: true });
    const action = actions.slice(0, actDim);
    const r = env.step(action);
    rec.record(decisionTs, action, r.reward, r.info);
    if (r.terminated || r.truncated) break;
    obs = r.observation;
    decisionTs = r.info.timestamp;
  }
  return rec.finish();
}

/**
 * Performance metrics of a trace (timestamps, held weights, costs and slippage included).
 * @param trace A recorded episode with at least one step.
 * @param riskFreeRate Annual risk-free rate. Default 0.
 * @returns The metrics.
 * @example
 * ```ts
 * traceMetrics(trace).sharpe;
 * ```
 */
export function traceMetrics(trace: EpisodeTrace, riskFreeRate = 0): PerformanceMetrics {
  return computeMetrics(trace.netWorth, {
    timestamps: trace.equityTimestamps,
    riskFreeRate,
    weights: trace.heldWeights,
    initialWeights: new Float64Array(trace.instruments.length),
    costs: trace.costs,
    slippage: trace.slippage,
    traded: trace.stepTurnover,
  });
}

/**
 * The store's record of a policy episode.
 * @param trace The episode.
 * @param meta Kind, model, run, strategy label and full config.
 * @returns An {@linkcode EpisodeLog} for `logEpisode`.
 * @example
 * ```ts
 * await logEpisode(store, traceToEpisodeLog(trace, { kind: "eval", strategy: "ppo", rationale: "…", config }));
 * ```
 */
export function traceToEpisodeLog(
  trace: EpisodeTrace,
  meta: {
    kind: EpisodeKind;
    modelId?: number | null;
    runId?: number | null;
    strategy: string;
    rationale: string;
    config: Record<string, unknown>;
  },
): EpisodeLog {
  const metrics = trace.netWorth.length >= 2 && trace.netWorth.every((v) => v > 0)
    ? traceMetrics(trace)
    : null;
  return {
    kind: meta.kind,
    modelId: meta.modelId ?? null,
    runId: meta.runId ?? null,
    stopReason: trace.stopReason,
    maxDrawdown: metrics?.maxDrawdown ?? NaN,
    sharpeRatio: metrics?.sharpe ?? NaN,
    turnover: trace.turnover,
    config: meta.config,
    instruments: trace.instruments,
    actionLabels: trace.actionLabels,
    decisionTimestamps: trace.decisionTimestamps,
    actions: trace.actions,
    targetWeights: trace.targetWeights,
    rewardTimestamps: trace.rewardTimestamps,
    rewards: trace.rewards,
    costs: trace.costs,
    slippage: trace.slippage,
    stepTurnover: trace.stepTurnover,
    equityTimestamps: trace.equityTimestamps,
    netWorth: trace.netWorth,
    strategy: meta.strategy,
    rationale: meta.rationale,
  };
}

/**
 * The store's record of a benchmark curve: one decision per bar (the weights it holds,
 * which drift with prices after the initial purchase), the period return as reward.
 * @param curve From `equalWeightBuyAndHold`.
 * @param meta Model it is compared with, strategy label, config.
 * @returns An {@linkcode EpisodeLog} of kind `benchmark`.
 * @example
 * ```ts
 * await logEpisode(store, benchmarkToEpisodeLog(equalWeightBuyAndHold(panel), { strategy: "equal_weight_buy_and_hold", rationale: "…", config: {} }));
 * ```
 */
export function benchmarkToEpisodeLog(
  curve: BenchmarkCurve,
  meta: {
    modelId?: number | null;
    strategy: string;
    rationale: string;
    config: Record<string, unknown>;
  },
): EpisodeLog {
  const T = curve.timestamps.length;
  const n = curve.instruments.length;
  const steps = T - 1;
  const weights: number[] = [];
  for (let s = 0; s < steps; s++) for (let i = 0; i < n; i++) weights.push(curve.weights[s][i]);
  const rewards: number[] = [];
  for (let s = 0; s < steps; s++) rewards.push(curve.equity[s + 1] / curve.equity[s] - 1);
  // The purchase at the first bar shows in the first step's return, so its costs go there.
  const costs: number[] = [], slippage: number[] = [], stepTurnover: number[] = [];
  for (let s = 0; s < steps; s++) {
    const first = s === 0;
    costs.push(curve.costs[s + 1] + (first ? curve.costs[0] : 0));
    slippage.push(curve.slippage[s + 1] + (first ? curve.slippage[0] : 0));
    stepTurnover.push(curve.traded[s + 1] + (first ? curve.traded[0] : 0));
  }
  const turnover = stepTurnover.reduce((a, b) => a + b, 0);
  const metrics = T >= 2 ? computeMetrics(curve.equity, { timestamps: curve.timestamps }) : null;
  return {
    kind: "benchmark",
    modelId: meta.modelId ?? null,
    stopReason: "end_of_data",
    maxDrawdown: metrics?.maxDrawdown ?? NaN,
    sharpeRatio: metrics?.sharpe ?? NaN,
    turnover,
    config: meta.config,
    instruments: curve.instruments,
    decisionTimestamps: curve.timestamps.slice(0, steps),
    actions: weights,
    targetWeights: weights,
    rewardTimestamps: curve.timestamps.slice(1),
    rewards,
    costs,
    slippage,
    stepTurnover,
    equityTimestamps: curve.timestamps,
    netWorth: Array.from(curve.equity),
    strategy: meta.strategy,
    rationale: meta.rationale,
  };
}
