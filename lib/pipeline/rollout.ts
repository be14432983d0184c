/**
 * Episodes of a policy or a benchmark, as the store keeps them: a deterministic full
 * pass of a saved policy over a date range, a benchmark curve replayed through the
 * same {@linkcode EpisodeRecorder} (`lib/env/episode.ts`, the one recorder), and the
 * conversion of a trace into the {@linkcode EpisodeLog} the store keeps.
 *
 * @module
 */
import type { EpisodeKind, EpisodeLog } from "../db/episodes_repo.ts";
import type { PolicyBackend } from "../agents/policy.ts";
import { ObsNormalizer, type ObsNormStats } from "../agents/ppo.ts";
import { policyDims } from "../agents/per_asset.ts";
import { EpisodeRecorder, type EpisodeTrace, runEpisode } from "../env/episode.ts";
import type { PortfolioEnv } from "../env/portfolio_env.ts";
import type { BenchmarkCurve } from "../eval/benchmarks.ts";
import { computeMetrics, type PerformanceMetrics } from "../eval/metrics.ts";
import { Rng } from "../util/rng.ts";

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
 * A per-asset policy runs on an env of any universe size (`policyDims`); an MLP
 * policy needs the observation length it was trained on.
 *
 * @param env A single portfolio env (no `maxSteps` for a full pass).
 * @param backend The policy.
 * @param options Start bar and observation normaliser.
 * @returns The trace.
 * @throws {TypeError} When the policy cannot take the env's observations or gives
 *   another number of action values than the env takes.
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
  // The per-asset topology adapts to the env's universe (any N); an MLP must match it.
  const { obsDim, actDim } = policyDims(
    backend.config,
    env.observationSpace.shape[0],
    "runDeterministicEpisode(): the policy",
  );
  const space = env.actionSpace;
  const envActDim = space.kind === "box"
    ? space.shape[0]
    : space.kind === "multi_discrete"
    ? space.nvec.length
    : 1;
  if (envActDim !== actDim) {
    throw new TypeError(
      `The policy gives actions of ${actDim} values but the env expects ${envActDim}`,
    );
  }
  const rng = new Rng(0); // unused by deterministic actions; act() requires one
  const input = new Float32Array(obsDim);
  return runEpisode(env, (obs) => {
    if (norm) norm.normalize(obs, 1, input);
    else input.set(obs);
    const { actions } = backend.act(input, 1, rng, { deterministic: true });
    return actions.slice(0, actDim);
  }, { start });
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
 * Replays a benchmark curve through the {@linkcode EpisodeRecorder}: one decision per
 * bar (the weights it holds, which drift with prices after the initial purchase),
 * marked at the next bar, the period return as reward. The purchase at the first bar
 * shows in the first step's return, so its costs go there.
 * @param curve From `equalWeightBuyAndHold` (at least one bar).
 * @returns The trace, ending with `"end_of_data"`; log it with
 *   {@linkcode traceToEpisodeLog} and kind `"benchmark"`.
 * @throws {RangeError} When the curve has no bar.
 * @example
 * ```ts
 * const trace = benchmarkTrace(equalWeightBuyAndHold(panel));
 * await logEpisode(store, traceToEpisodeLog(trace, { kind: "benchmark", strategy: "equal_weight_buy_and_hold", rationale: "…", config: {} }));
 * ```
 */
export function benchmarkTrace(curve: BenchmarkCurve): EpisodeTrace {
  const T = curve.timestamps.length;
  if (T === 0) throw new RangeError(`benchmarkTrace(): benchmark "${curve.name}" has no bar`);
  const rec = new EpisodeRecorder(curve.instruments, curve.instruments, {
    timestamp: curve.timestamps[0],
    netWorth: curve.equity[0],
  });
  for (let s = 0; s + 1 < T; s++) {
    const first = s === 0;
    rec.record(curve.timestamps[s], curve.weights[s], curve.equity[s + 1] / curve.equity[s] - 1, {
      t: s + 1,
      timestamp: curve.timestamps[s + 1],
      netWorth: curve.equity[s + 1],
      weights: Float64Array.from(curve.weights[s + 1]),
      targetWeights: Float64Array.from(curve.weights[s]),
      cost: curve.costs[s + 1] + (first ? curve.costs[0] : 0),
      slippage: curve.slippage[s + 1] + (first ? curve.slippage[0] : 0),
      turnover: curve.traded[s + 1] + (first ? curve.traded[0] : 0),
      stopReason: s + 2 === T ? "end_of_data" : undefined,
    });
  }
  const trace = rec.finish();
  if (T === 1) trace.stopReason = "end_of_data";
  return trace;
}
