/**
 * An env checker in the spirit of Gymnasium's `check_env`: runs an env with seeded
 * random actions and reports every broken promise of the contract — space
 * membership, seeded determinism, step-after-done, finite rewards, info fields.
 *
 * @module
 */
import { Rng } from "../util/rng.ts";
import { contains, flatDim, sample } from "./spaces.ts";
import type { Env, Space, StepInfo, VecEnv } from "./types.ts";

/** Settings of {@linkcode checkEnv}. */
export interface CheckEnvOptions {
  /** Seed for `reset` and for the random actions. Default 0. */
  seed?: number;
  /** An episode that has not ended after this many steps is a problem. Default 1000. */
  maxEpisodeSteps?: number;
  /** Also require `cost`, `slippage`, `turnover`, `rewardTerms` in every step's info. Default true. */
  requireCostInfo?: boolean;
}

/** The checker's findings; `ok` when `problems` is empty. */
export interface EnvCheckReport {
  ok: boolean;
  problems: string[];
  /** Steps taken in the first episode. */
  steps: number;
}

interface Trajectory {
  values: number[];
  length: number;
  ended: boolean;
  /** `step` threw (already reported). */
  crashed: boolean;
}

/**
 * Checks an env against the contract.
 *
 * Two envs are made; on the first: spaces are well formed, the reset observation
 * and every step's observation are `Float32Array` members of the observation space,
 * sampled actions are members of the action space, rewards are finite, `terminated`
 * and `truncated` are booleans, infos carry finite `t`, `timestamp`, `netWorth`,
 * `weights` (and costs, turnover and reward terms unless disabled), an ended episode
 * names its `stopReason`, the episode ends within `maxEpisodeSteps`, and `step` after
 * the end throws. Determinism: resetting the same env with the same seed, and a
 * fresh env from `makeEnv` with the same seed, reproduce the trajectory bit for bit.
 * @param makeEnv Builds a fresh env (called twice).
 * @param options Seed and limits.
 * @returns The report.
 * @example
 * ```ts
 * const report = checkEnv(() => makePortfolioEnv(prices, features, { maxSteps: 50 }));
 * if (!report.ok) console.error(report.problems.join("\n"));
 * ```
 */
export function checkEnv(
  makeEnv: () => Env<Float32Array, Float32Array>,
  options: CheckEnvOptions = {},
): EnvCheckReport {
  const seed = options.seed ?? 0;
  const limit = options.maxEpisodeSteps ?? 1000;
  const requireCost = options.requireCostInfo ?? true;
  const problems: string[] = [];
  const env = makeEnv();
  checkSpace(env.observationSpace, "observationSpace", problems);
  checkSpace(env.actionSpace, "actionSpace", problems);
  if (problems.length > 0) return { ok: false, problems, steps: 0 };

  const actions: Float32Array[] = [];
  const actionRng = new Rng(seed + 1);
  const first = run(
    env,
    seed,
    limit,
    (k) => {
      while (actions.length <= k) {
        const a = sample(env.actionSpace, actionRng);
        if (!contains(env.actionSpace, a)) {
          problems.push(
            `sampled action ${actions.length} is not in the action space`,
          );
        }
        actions.push(a);
      }
      return actions[k];
    },
    problems,
    requireCost,
  );
  if (first.crashed) return { ok: false, problems, steps: first.length };
  if (!first.ended) {
    problems.push(`episode did not end within ${limit} steps (set maxSteps or a shorter range)`);
  } else {
    let threw = false;
    try {
      env.step(actions[first.length - 1]);
    } catch {
      threw = true;
    }
    if (!threw) problems.push("step() after the episode ended did not throw");
  }
  const replay = (e: Env<Float32Array, Float32Array>, what: string) => {
    const again = run(e, seed, first.length, (k) => actions[k], [], false);
    const same = again.values.length === first.values.length &&
      again.values.every((v, i) => Object.is(v, first.values[i]));
    if (!same) {
      const at = again.values.findIndex((v, i) => !Object.is(v, first.values[i]));
      problems.push(
        `${what} with seed ${seed} did not reproduce the trajectory (first difference at value ${at})`,
      );
    }
  };
  replay(env, "reset() of the same env");
  replay(makeEnv(), "a fresh env");
  return { ok: problems.length === 0, problems, steps: first.length };
}

function checkSpace(space: Space, name: string, problems: string[]): void {
  const kinds = ["box", "discrete", "multi_discrete"];
  if (!space || !kinds.includes(space.kind)) {
    problems.push(`${name} is not a box, discrete or multi_discrete space`);
    return;
  }
  if (!(flatDim(space) > 0)) problems.push(`${name} has no dimensions`);
  if (space.kind === "box") {
    const d = flatDim(space);
    if (space.low.length !== d || space.high.length !== d) {
      problems.push(`${name} bounds do not match its shape`);
    }
  }
}

function run(
  env: Env<Float32Array, Float32Array>,
  seed: number,
  limit: number,
  actionAt: (k: number) => Float32Array,
  problems: string[],
  requireCost: boolean,
): Trajectory {
  const values: number[] = [];
  const { observation, info } = env.reset({ seed });
  checkObservation(env, observation, "reset", problems);
  checkInfo(info, "reset", problems, false);
  values.push(...observation, info.t, info.netWorth);
  for (let k = 0; k < limit; k++) {
    const where = `step ${k}`;
    let r;
    try {
      r = env.step(actionAt(k));
    } catch (e) {
      problems.push(`${where}: step() threw: ${e instanceof Error ? e.message : e}`);
      return { values, length: k, ended: false, crashed: true };
    }
    checkObservation(env, r.observation, where, problems);
    if (!Number.isFinite(r.reward)) problems.push(`${where}: reward ${r.reward} is not finite`);
    if (typeof r.terminated !== "boolean" || typeof r.truncated !== "boolean") {
      problems.push(`${where}: terminated/truncated are not booleans`);
    }
    checkInfo(r.info, where, problems, requireCost);
    values.push(...r.observation, r.reward, +r.terminated, +r.truncated, r.info.t, r.info.netWorth);
    values.push(r.info.cost ?? NaN, r.info.slippage ?? NaN, ...(r.info.weights ?? []));
    if (r.terminated || r.truncated) {
      if (typeof r.info.stopReason !== "string") {
        problems.push(`${where}: episode ended without info.stopReason`);
      }
      return { values, length: k + 1, ended: true, crashed: false };
    }
  }
  return { values, length: limit, ended: false, crashed: false };
}

function checkObservation(
  env: Env<Float32Array, Float32Array>,
  obs: Float32Array,
  where: string,
  problems: string[],
): void {
  if (!(obs instanceof Float32Array)) problems.push(`${where}: observation is not a Float32Array`);
  else if (!contains(env.observationSpace, obs)) {
    const bad = obs.findIndex((v) => !Number.isFinite(v));
    problems.push(
      `${where}: observation is not in the observation space` +
        (bad >= 0 ? ` (entry ${bad} is ${obs[bad]})` : ` (length ${obs.length})`),
    );
  }
}

function checkInfo(info: StepInfo, where: string, problems: string[], requireCost: boolean): void {
  const finite = (name: string, v: unknown) => {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      problems.push(`${where}: info.${name} = ${v} is not a finite number`);
    }
  };
  finite("t", info.t);
  finite("timestamp", info.timestamp);
  finite("netWorth", info.netWorth);
  if (!(info.weights instanceof Float64Array) || info.weights.some((w) => !Number.isFinite(w))) {
    problems.push(`${where}: info.weights is not a Float64Array of finite numbers`);
  }
  if (requireCost) {
    finite("cost", info.cost);
    finite("slippage", info.slippage);
    finite("turnover", info.turnover);
    if (!info.rewardTerms || Object.values(info.rewardTerms).some((v) => !Number.isFinite(v))) {
      problems.push(`${where}: info.rewardTerms missing or not finite`);
    }
  }
}

/** Settings of {@linkcode checkVecEnv}. */
export interface CheckVecEnvOptions {
  /** Seed for `reset` and the random actions. Default 0. */
  seed?: number;
  /** Steps to take. Default 300. */
  steps?: number;
}

/**
 * Checks a vectorised env against the {@linkcode VecEnv} contract: flat arrays of the
 * right sizes, observation rows in the space, finite rewards, 0/1 done flags,
 * `finalObservations[k]` present exactly when env k ended (and in the space), one info
 * per env, and two fresh vec envs with the same seed and actions agreeing bit for bit.
 * @param makeVecEnv Builds a fresh vectorised env (called twice).
 * @param options Seed and number of steps.
 * @returns The report (`steps` = steps taken; `problems` lists each failure once).
 * @example
 * ```ts
 * const report = checkVecEnv(() => makePortfolioVecEnv(prices, features, { numEnvs: 4, maxSteps: 20 }));
 * ```
 */
export function checkVecEnv(
  makeVecEnv: () => VecEnv,
  options: CheckVecEnvOptions = {},
): EnvCheckReport {
  const seed = options.seed ?? 0;
  const steps = options.steps ?? 300;
  const problems = new Set<string>();
  const runOnce = (): number[] => {
    const vec = makeVecEnv();
    const K = vec.numEnvs;
    const od = flatDim(vec.observationSpace), ad = flatDim(vec.actionSpace);
    const rng = new Rng(seed + 1);
    const values: number[] = [];
    const rows = (obs: Float32Array, where: string) => {
      if (!(obs instanceof Float32Array) || obs.length !== K * od) {
        problems.add(`${where}: observations are not a Float32Array of ${K}×${od}`);
        return;
      }
      for (let k = 0; k < K; k++) {
        if (!contains(vec.observationSpace, obs.subarray(k * od, (k + 1) * od))) {
          problems.add(`${where}: observation row ${k} is not in the observation space`);
        }
      }
      values.push(...obs);
    };
    rows(vec.reset(seed), "reset");
    let ended = 0;
    for (let s = 0; s < steps; s++) {
      const actions = new Float32Array(K * ad);
      for (let k = 0; k < K; k++) actions.set(sample(vec.actionSpace, rng), k * ad);
      const r = vec.step(actions);
      rows(r.observations, "step");
      if (r.rewards.length !== K || r.rewards.some((x) => !Number.isFinite(x))) {
        problems.add("step: rewards are not K finite numbers");
      }
      if (r.infos.length !== K) problems.add("step: infos do not have one entry per env");
      for (let k = 0; k < K; k++) {
        const done = r.terminated[k] === 1 || r.truncated[k] === 1;
        if (r.terminated[k] > 1 || r.truncated[k] > 1) problems.add("step: done flags are not 0/1");
        const fin = r.finalObservations[k];
        if (done !== (fin !== null && fin !== undefined)) {
          problems.add("step: finalObservations[k] is not present exactly when env k ended");
        } else if (fin && !contains(vec.observationSpace, fin)) {
          problems.add("step: a final observation is not in the observation space");
        }
        if (done) ended++;
        values.push(r.rewards[k], r.terminated[k], r.truncated[k]);
      }
    }
    if (ended === 0) {
      problems.add(`no episode ended within ${steps} steps: auto-reset was not exercised`);
    }
    return values;
  };
  const a = runOnce();
  const b = runOnce();
  if (a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]))) {
    problems.add(`two vec envs with seed ${seed} and the same actions did not agree`);
  }
  return { ok: problems.size === 0, problems: [...problems], steps };
}
