/**
 * Runs one full episode with a given policy and records everything the episode
 * tables need (equity curve, actions, rewards and their terms, weights, costs):
 * the deterministic evaluation pass.
 *
 * @module
 */
import type { Env, StepInfo } from "./types.ts";

/** Chooses an action from an observation (and the info that came with it). */
export type Policy = (observation: Float32Array, info: StepInfo) => Float32Array;

/** One recorded episode; per-step arrays have `steps` entries, curves `steps + 1`. */
export interface EpisodeRecord {
  /** Bar index the episode started at. */
  start: number;
  steps: number;
  /** Bar index of each point of the curves (start, then one per step). */
  t: number[];
  /** Epoch ms of each point of the curves. */
  timestamps: number[];
  /** Net worth at the start and after every step. */
  netWorth: number[];
  /** Weights held at the start and after every step. */
  weights: Float64Array[];
  /** The action taken at each step (copied). */
  actions: Float32Array[];
  /** Target weights the action mapped to, per step (empty arrays if the env does not report them). */
  targetWeights: Float64Array[];
  rewards: number[];
  rewardTerms: Record<string, number>[];
  cost: number[];
  slippage: number[];
  turnover: number[];
  terminated: boolean;
  truncated: boolean;
  stopReason: string;
}

/**
 * Resets the env and steps it with `policy` until the episode ends.
 * @param env Any env reporting {@linkcode StepInfo}.
 * @param policy Observation → action.
 * @param options `start` (a fixed bar: a deterministic pass) and/or `seed` for reset;
 *   `maxSteps` guards against an env that never ends (default 10,000,000).
 * @returns The record.
 * @throws {RangeError} When the episode exceeds `maxSteps`.
 * @example
 * ```ts
 * const env = makePortfolioEnv(prices, features, { range: { start: testStart } });
 * const rec = runEpisode(env, (obs) => policy.mean(obs), { start: testStart });
 * rec.netWorth.at(-1);
 * ```
 */
export function runEpisode(
  env: Env<Float32Array, Float32Array>,
  policy: Policy,
  options: { start?: number; seed?: number; maxSteps?: number } = {},
): EpisodeRecord {
  const limit = options.maxSteps ?? 10_000_000;
  const first = env.reset({ seed: options.seed, start: options.start });
  const rec: EpisodeRecord = {
    start: first.info.t,
    steps: 0,
    t: [first.info.t],
    timestamps: [first.info.timestamp],
    netWorth: [first.info.netWorth],
    weights: [first.info.weights.slice()],
    actions: [],
    targetWeights: [],
    rewards: [],
    rewardTerms: [],
    cost: [],
    slippage: [],
    turnover: [],
    terminated: false,
    truncated: false,
    stopReason: "",
  };
  let obs = first.observation;
  let info = first.info;
  while (true) {
    if (rec.steps >= limit) {
      throw new RangeError(`runEpisode(): episode did not end within ${limit} steps`);
    }
    const action = policy(obs, info);
    const r = env.step(action);
    rec.steps++;
    rec.actions.push(Float32Array.from(action));
    rec.t.push(r.info.t);
    rec.timestamps.push(r.info.timestamp);
    rec.netWorth.push(r.info.netWorth);
    rec.weights.push(r.info.weights.slice());
    rec.targetWeights.push(r.info.targetWeights?.slice() ?? new Float64Array(0));
    rec.rewards.push(r.reward);
    rec.rewardTerms.push({ ...r.info.rewardTerms });
    rec.cost.push(r.info.cost ?? 0);
    rec.slippage.push(r.info.slippage ?? 0);
    rec.turnover.push(r.info.turnover ?? 0);
    obs = r.observation;
    info = r.info;
    if (r.terminated || r.truncated) {
      rec.terminated = r.terminated;
      rec.truncated = r.truncated;
      rec.stopReason = r.info.stopReason ?? (r.terminated ? "terminated" : "truncated");
      return rec;
    }
  }
}
