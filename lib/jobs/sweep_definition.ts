/**
 * What a sweep tries: a grid of hyperparameter values (every combination, or `random`
 * of them drawn with a seed), the seeds every setting is trained with, optional
 * walk-forward folds, and the options shared by every job. Parsed and validated from
 * a `--grid` string, a JSON file (`--config sweep.json`) or a stored spec; never cast.
 *
 * The parameters a sweep may vary are the typed map {@linkcode SWEEP_PARAMS}: each
 * names the `TrainOptions` field it sets.
 *
 * @module
 */
import type { PpoConfig } from "../agents/ppo.ts";
import { ACTION_NAMES, REWARD_NAMES } from "../env/registry.ts";
import type { EnvSettingsPatch } from "../env/settings.ts";
import { FEATURE_SET_NAMES, type FeatureSetName } from "../features/definitions.ts";
import { BACKEND_NAMES, type BackendName } from "../pipeline/backends.ts";
import {
  POLICY_KINDS,
  type PolicyKind,
  TRAIN_EPISODE_LOGGING,
  type TrainEpisodeLogging,
  type TrainOptions,
} from "../pipeline/train.ts";
import { Rng } from "../util/rng.ts";

/** A value a sweep parameter takes. */
export type SweepValue = number | string;

/** One hyperparameter configuration: parameter name → value (sorted by name in its key). */
export type SweepSetting = Record<string, SweepValue>;

/** How one sweep parameter is read and what it sets. */
export interface SweepParam {
  /** What it is, for `--help`. */
  description: string;
  /** `number` (finite, ≥ `min`), `integer` (≥ `min`), `choice` (one of `choices`), `sizes` (`64x64`). */
  kind: "number" | "integer" | "choice" | "sizes";
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  choices?: readonly string[];
  /** The training options with this value set. */
  apply(options: TrainOptions, value: SweepValue): TrainOptions;
}

const ppo = (k: keyof PpoConfig) => (o: TrainOptions, v: SweepValue): TrainOptions => ({
  ...o,
  ppo: { ...o.ppo, [k]: v },
});
const env = (k: keyof EnvSettingsPatch) => (o: TrainOptions, v: SweepValue): TrainOptions => ({
  ...o,
  env: { ...o.env, [k]: v },
});

/** The parameters a sweep may vary, by the name used in `--grid` and `sweep.json`. */
export const SWEEP_PARAMS = {
  lr: {
    description: "PPO Adam learning rate",
    kind: "number",
    above: 0,
    apply: ppo("learningRate"),
  },
  ent: { description: "PPO entropy coefficient", kind: "number", min: 0, apply: ppo("entCoef") },
  gamma: { description: "PPO discount factor", kind: "number", min: 0, apply: ppo("gamma") },
  "gae-lambda": { description: "PPO GAE lambda", kind: "number", min: 0, apply: ppo("gaeLambda") },
  clip: { description: "PPO policy-ratio clip", kind: "number", above: 0, apply: ppo("clipCoef") },
  "vf-coef": {
    description: "PPO value-loss coefficient",
    kind: "number",
    min: 0,
    apply: ppo("vfCoef"),
  },
  epochs: {
    description: "PPO passes over each rollout",
    kind: "integer",
    min: 1,
    apply: ppo("nEpochs"),
  },
  "n-steps": {
    description: "PPO steps per env per rollout",
    kind: "integer",
    min: 1,
    apply: ppo("nSteps"),
  },
  minibatches: {
    description: "PPO minibatches per epoch",
    kind: "integer",
    min: 1,
    apply: (o, v) => ({ ...o, minibatches: Number(v) }),
  },
  hidden: {
    description: "hidden layer sizes, e.g. 64x64",
    kind: "sizes",
    apply: (o, v) => ({ ...o, hidden: String(v).split("x").map(Number) }),
  },
  steps: {
    description: "env steps of training",
    kind: "integer",
    min: 1,
    apply: (o, v) => ({ ...o, steps: Number(v) }),
  },
  window: {
    description: "bars of features observed",
    kind: "integer",
    min: 1,
    apply: env("window"),
  },
  "episode-length": {
    description: "training episode length",
    kind: "integer",
    min: 2,
    apply: env("episodeLength"),
  },
  band: { description: "rebalance band", kind: "number", min: 0, apply: env("band") },
  "cost-bps": {
    description: "training commission, bps",
    kind: "number",
    min: 0,
    apply: env("costPerTurnBps"),
  },
  reward: {
    description: "reward scheme",
    kind: "choice",
    choices: REWARD_NAMES,
    apply: env("reward"),
  },
  action: {
    description: "action scheme",
    kind: "choice",
    choices: ACTION_NAMES,
    apply: env("action"),
  },
  policy: {
    description: "network topology",
    kind: "choice",
    choices: POLICY_KINDS,
    apply: (o, v) => ({ ...o, policy: v as PolicyKind }),
  },
  features: {
    description: "feature set",
    kind: "choice",
    choices: FEATURE_SET_NAMES,
    apply: (o, v) => ({ ...o, featureSet: v as FeatureSetName }),
  },
} satisfies Record<string, SweepParam>;

/** A name of {@linkcode SWEEP_PARAMS}. */
export type SweepParamName = keyof typeof SWEEP_PARAMS;

/** Walk-forward folds of a sweep (see `walkForwardFolds`). */
export interface SweepWalkForward {
  trainYears: number;
  testYears: number;
  /** Default `testYears`. */
  stepYears?: number;
  /** Default false (rolling windows). */
  anchored?: boolean;
}

/** A validated sweep definition (see {@linkcode parseSweepDefinition}). */
export interface SweepDefinition {
  /** Registry name of the sweep's models. Default {@linkcode DEFAULT_SWEEP_NAME}. */
  name: string;
  /** Parameter → values; every combination is a setting (an empty grid: one setting, the defaults). */
  grid: Record<string, SweepValue[]>;
  /** Try only this many settings, drawn from the grid without replacement. Null: all. */
  random: number | null;
  /** Seed of the random draw. Default 0. */
  randomSeed: number;
  /** Seeds every setting is trained with (evidence over seeds: the leaderboard ranks their median). */
  seeds: number[];
  /** Walk-forward folds; null: one train range and one test range. */
  walkForward: SweepWalkForward | null;
  /** Shared options of every job. */
  base: SweepBase;
}

/** Options shared by every job of a sweep (absent: the library's defaults). */
export interface SweepBase {
  symbols?: string[];
  /** Training start; with walk-forward the calendar's start. */
  start?: string;
  /** Training end; with walk-forward the calendar's end. */
  end?: string;
  /** Last evaluation date without walk-forward. Default: the instruments' last common date. */
  evalEnd?: string;
  steps?: number;
  numEnvs?: number;
  barSize?: string;
  featureSet?: FeatureSetName;
  policy?: PolicyKind;
  backend?: BackendName;
  /**
   * Which training episodes each job logs (`trainModel`'s `logEpisodes`). Default
   * {@linkcode SWEEP_TRAIN_EPISODES}: a job's evidence is its out-of-sample evaluation,
   * and env 0's training trace is about 56,000 rows per 16k-step job (a 100-job sweep of
   * 100k steps: some 35 million rows nobody ranks by), which also loads the shared server.
   */
  trainEpisodes?: TrainEpisodeLogging;
}

/** What a sweep job logs of its training episodes when the definition does not say. */
export const SWEEP_TRAIN_EPISODES: TrainEpisodeLogging = "none";

/** Registry name of sweep models when none is given. */
export const DEFAULT_SWEEP_NAME = "ppo-sweep";

/** At most this many jobs per sweep (settings × seeds × folds), against a typo in a grid. */
export const MAX_SWEEP_JOBS = 10_000;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Reads one parameter value (from a `--grid` string or JSON) and checks it.
 * @param name A {@linkcode SWEEP_PARAMS} name.
 * @param raw The value as written.
 * @param where Where it comes from, for the message.
 * @returns The value (a number for numeric kinds).
 * @throws {RangeError} For an unknown parameter or a value it does not take.
 * @example
 * ```ts
 * sweepValue("lr", "3e-4", "--grid"); // 0.0003
 * ```
 */
export function sweepValue(name: string, raw: unknown, where: string): SweepValue {
  if (!Object.hasOwn(SWEEP_PARAMS, name)) {
    throw new RangeError(
      `${where}: unknown sweep parameter "${name}"; use one of ${
        Object.keys(SWEEP_PARAMS).join(", ")
      }`,
    );
  }
  const p: SweepParam = SWEEP_PARAMS[name as SweepParamName];
  const bad = (why: string) =>
    new RangeError(`${where}: ${name} = ${JSON.stringify(raw)} ${why} (${p.description})`);
  if (p.kind === "choice") {
    if (typeof raw !== "string" || !p.choices!.includes(raw)) {
      throw bad(`must be one of ${p.choices!.join(", ")}`);
    }
    return raw;
  }
  if (p.kind === "sizes") {
    const text = String(raw);
    if (!/^[1-9]\d*(x[1-9]\d*)*$/.test(text)) throw bad("must be sizes like 64x64 or 32");
    return text;
  }
  const v = typeof raw === "number" ? raw : typeof raw === "string" ? Number(raw) : NaN;
  if (typeof raw === "string" && raw.trim() === "" || !Number.isFinite(v)) {
    throw bad("must be a number");
  }
  if (p.kind === "integer" && !Number.isInteger(v)) throw bad("must be a whole number");
  if (p.min !== undefined && v < p.min) throw bad(`must be ≥ ${p.min}`);
  if (p.above !== undefined && !(v > p.above)) throw bad(`must be > ${p.above}`);
  return v;
}

/**
 * Reads a `--grid` string: space-separated `name=v1,v2,…` items.
 * @param text E.g. `"lr=3e-4,1e-3 ent=0,0.01"`.
 * @returns Parameter → values, in the order written.
 * @throws {SyntaxError} For an item that is not `name=values` or a repeated name.
 * @throws {RangeError} For an unknown parameter or a bad value.
 * @example
 * ```ts
 * parseGrid("lr=3e-4,1e-3 ent=0,0.01"); // { lr: [0.0003, 0.001], ent: [0, 0.01] }
 * ```
 */
export function parseGrid(text: string): Record<string, SweepValue[]> {
  const grid: Record<string, SweepValue[]> = {};
  for (const item of text.trim().split(/\s+/).filter((s) => s.length > 0)) {
    const m = /^([a-z][a-z-]*)=(.+)$/.exec(item);
    if (!m) {
      throw new SyntaxError(
        `--grid: "${item}" is not name=value,value (e.g. lr=3e-4,1e-3 ent=0,0.01)`,
      );
    }
    if (Object.hasOwn(grid, m[1])) throw new SyntaxError(`--grid: ${m[1]} is given twice`);
    grid[m[1]] = uniqueValues(m[1], m[2].split(",").map((v) => sweepValue(m[1], v, "--grid")));
  }
  return grid;
}

function uniqueValues(name: string, values: SweepValue[]): SweepValue[] {
  if (values.length === 0) throw new RangeError(`sweep parameter ${name}: no value`);
  if (new Set(values).size !== values.length) {
    throw new RangeError(`sweep parameter ${name}: a value repeats in ${values.join(",")}`);
  }
  return values;
}

/**
 * Reads seeds: a range `A..B`, a count `N` (seeds 1…N) or a list `A,B,…` of distinct integers.
 * @param text The option value.
 * @returns The seeds.
 * @throws {RangeError} For anything else.
 * @example
 * ```ts
 * parseSeedList("1..5"); // [1, 2, 3, 4, 5]
 * parseSeedList("7,11"); // [7, 11]
 * ```
 */
export function parseSeedList(text: string): number[] {
  const t = text.trim();
  const bad = (why: string) =>
    new RangeError(`--seeds "${text}": ${why}; write a range 1..5, a count 5 or a list 1,2,3`);
  let seeds: number[];
  const range = /^(-?\d+)\.\.(-?\d+)$/.exec(t);
  if (range) {
    const a = Number(range[1]), b = Number(range[2]);
    if (b < a) throw bad("the range ends before it starts");
    seeds = Array.from({ length: b - a + 1 }, (_, i) => a + i);
  } else if (/^\d+$/.test(t)) {
    seeds = Array.from({ length: Number(t) }, (_, i) => i + 1);
  } else {
    const items = t.split(",").map((s) => s.trim());
    if (items.some((s) => !/^-?\d+$/.test(s))) throw bad("not an integer");
    seeds = items.map(Number);
  }
  if (seeds.length === 0 || seeds.length > 1000) throw bad("give 1 to 1000 seeds");
  if (new Set(seeds).size !== seeds.length) throw bad("a seed repeats");
  return seeds;
}

/**
 * The canonical key of a setting: `name=value` pairs sorted by name, space-separated
 * (`"defaults"` for the empty setting).
 * @param setting A setting.
 * @returns The key.
 * @example
 * ```ts
 * settingKey({ lr: 0.001, ent: 0 }); // "ent=0 lr=0.001"
 * ```
 */
export function settingKey(setting: SweepSetting): string {
  const keys = Object.keys(setting).sort();
  return keys.length === 0 ? "defaults" : keys.map((k) => `${k}=${setting[k]}`).join(" ");
}

/**
 * The settings a definition tries: every combination of the grid (the last parameter
 * varies fastest), or `random` of them drawn without replacement with `randomSeed`.
 * @param def A validated definition.
 * @returns The settings, in the order their jobs are numbered.
 * @example
 * ```ts
 * sweepSettings({ ...def, grid: { lr: [1e-3, 3e-4], ent: [0, 0.01] }, random: null }).length; // 4
 * ```
 */
export function sweepSettings(def: SweepDefinition): SweepSetting[] {
  let all: SweepSetting[] = [{}];
  for (const [name, values] of Object.entries(def.grid)) {
    all = all.flatMap((s) => values.map((v) => ({ ...s, [name]: v })));
  }
  if (def.random === null || def.random >= all.length) return all;
  // A partial Fisher–Yates shuffle: the first `random` of a seeded permutation, in grid order.
  const rng = new Rng(def.randomSeed);
  const idx = all.map((_, i) => i);
  for (let i = 0; i < def.random; i++) {
    const j = i + Math.floor(rng.uniform() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, def.random).sort((a, b) => a - b).map((i) => all[i]);
}

/**
 * The training options of one setting: `base` with each parameter applied.
 * @param base Options shared by every job.
 * @param setting The setting's values (each checked again).
 * @returns The options.
 * @throws {RangeError} For an unknown parameter or a bad value.
 * @example
 * ```ts
 * applySetting({ steps: 512 }, { lr: 1e-3 }).ppo?.learningRate; // 0.001
 * ```
 */
export function applySetting(base: TrainOptions, setting: SweepSetting): TrainOptions {
  let o = base;
  for (const [name, raw] of Object.entries(setting)) {
    const v = sweepValue(name, raw, "sweep setting");
    o = (SWEEP_PARAMS[name as SweepParamName] as SweepParam).apply(o, v);
  }
  return o;
}

/** A plain JSON object, or a TypeError naming where. */
function record(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TypeError(`${where} must be a JSON object; got ${JSON.stringify(v)}`);
  }
  return v as Record<string, unknown>;
}

function refuseUnknown(o: Record<string, unknown>, known: readonly string[], where: string) {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) {
      throw new TypeError(`${where}: unknown field "${k}"; known: ${known.join(", ")}`);
    }
  }
}

function positive(v: unknown, where: string, integer = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new RangeError(
      `${where} must be a positive ${integer ? "whole number" : "number"}; got ${
        JSON.stringify(v)
      }`,
    );
  }
  return v;
}

function choice<T extends string>(v: unknown, choices: readonly T[], where: string): T {
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) {
    throw new RangeError(`${where} must be one of ${choices.join(", ")}; got ${JSON.stringify(v)}`);
  }
  return v as T;
}

const BASE_FIELDS = [
  "symbols",
  "start",
  "end",
  "evalEnd",
  "steps",
  "numEnvs",
  "barSize",
  "featureSet",
  "policy",
  "backend",
  "trainEpisodes",
] as const;

/**
 * Validates the shared options of a sweep's jobs.
 * @param json A JSON object with fields of {@linkcode SweepBase}.
 * @param where Where it comes from, for messages.
 * @returns The options.
 * @throws {TypeError} For an unknown field or a wrong type.
 * @throws {RangeError} For a value out of range.
 * @example
 * ```ts
 * parseSweepBase({ symbols: ["AAPL", "SPX"], steps: 512 }, "sweep.json");
 * ```
 */
export function parseSweepBase(json: unknown, where: string): SweepBase {
  const o = record(json, where);
  refuseUnknown(o, BASE_FIELDS, where);
  const out: SweepBase = {};
  if (o.symbols !== undefined) {
    if (
      !Array.isArray(o.symbols) || o.symbols.length === 0 ||
      o.symbols.some((s) => typeof s !== "string" || s.length === 0)
    ) {
      throw new TypeError(`${where}.symbols must be a non-empty list of instrument names`);
    }
    out.symbols = [...o.symbols] as string[];
  }
  for (const k of ["start", "end", "evalEnd"] as const) {
    if (o[k] === undefined) continue;
    if (typeof o[k] !== "string" || !DATE.test(o[k] as string)) {
      throw new RangeError(`${where}.${k} must be a date YYYY-MM-DD; got ${JSON.stringify(o[k])}`);
    }
    out[k] = o[k] as string;
  }
  if (out.start && out.end && out.start >= out.end) {
    throw new RangeError(`${where}: start ${out.start} is not before end ${out.end}`);
  }
  if (o.steps !== undefined) out.steps = positive(o.steps, `${where}.steps`, true);
  if (o.numEnvs !== undefined) out.numEnvs = positive(o.numEnvs, `${where}.numEnvs`, true);
  if (o.barSize !== undefined) {
    if (typeof o.barSize !== "string") throw new TypeError(`${where}.barSize must be text`);
    out.barSize = o.barSize;
  }
  if (o.featureSet !== undefined) {
    out.featureSet = choice(o.featureSet, FEATURE_SET_NAMES, `${where}.featureSet`);
  }
  if (o.policy !== undefined) out.policy = choice(o.policy, POLICY_KINDS, `${where}.policy`);
  if (o.backend !== undefined) out.backend = choice(o.backend, BACKEND_NAMES, `${where}.backend`);
  if (o.trainEpisodes !== undefined) {
    out.trainEpisodes = choice(o.trainEpisodes, TRAIN_EPISODE_LOGGING, `${where}.trainEpisodes`);
  }
  return out;
}

/**
 * Validates a setting read back from JSON (every parameter known, every value valid).
 * @param json A JSON object of parameter → value.
 * @param where Where it comes from.
 * @returns The setting.
 * @throws {TypeError} When it is not an object.
 * @throws {RangeError} For an unknown parameter or a bad value.
 * @example
 * ```ts
 * parseSweepSetting({ lr: 0.001 }, "job 3/0/s1/f0");
 * ```
 */
export function parseSweepSetting(json: unknown, where: string): SweepSetting {
  const o = record(json, where);
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k, sweepValue(k, v, where)]),
  );
}

const DEFINITION_FIELDS = [
  "name",
  "grid",
  "random",
  "randomSeed",
  "seeds",
  "walkForward",
  ...BASE_FIELDS,
] as const;

/**
 * Validates a sweep definition: the JSON of `--config sweep.json`, or what the `sweep`
 * task builds from its flags. Fields: `name`, `grid` (parameter → list of values),
 * `random` (N), `randomSeed`, `seeds` (a list, or text like `"1..5"`), `walkForward`
 * (`{ trainYears, testYears, stepYears?, anchored? }`), and the {@linkcode SweepBase}
 * fields (`symbols`, `start`, `end`, `evalEnd`, `steps`, `numEnvs`, `barSize`,
 * `featureSet`, `policy`, `backend`, `trainEpisodes`).
 * @param json The definition.
 * @param where Where it comes from, for messages (e.g. the file name).
 * @returns The definition with defaults filled in.
 * @throws {TypeError} For an unknown field or a wrong type.
 * @throws {RangeError} For a bad value, or more than {@linkcode MAX_SWEEP_JOBS} jobs (folds aside).
 * @example
 * ```ts
 * const def = parseSweepDefinition({ grid: { lr: [3e-4, 1e-3] }, seeds: "1..3", steps: 512 }, "sweep.json");
 * sweepSettings(def).length; // 2
 * ```
 */
export function parseSweepDefinition(json: unknown, where = "sweep definition"): SweepDefinition {
  const o = record(json, where);
  refuseUnknown(o, DEFINITION_FIELDS, where);
  const name = o.name === undefined ? DEFAULT_SWEEP_NAME : o.name;
  if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new RangeError(
      `${where}.name must be letters, digits, ".", "_" or "-"; got ${JSON.stringify(name)}`,
    );
  }
  const gridJson = record(o.grid ?? {}, `${where}.grid`);
  const grid: Record<string, SweepValue[]> = {};
  for (const [k, values] of Object.entries(gridJson)) {
    const list = Array.isArray(values) ? values : [values];
    grid[k] = uniqueValues(k, list.map((v) => sweepValue(k, v, `${where}.grid`)));
  }
  const random = o.random === undefined || o.random === null
    ? null
    : positive(o.random, `${where}.random`, true);
  const randomSeed = o.randomSeed === undefined ? 0 : o.randomSeed;
  if (typeof randomSeed !== "number" || !Number.isInteger(randomSeed)) {
    throw new RangeError(`${where}.randomSeed must be an integer`);
  }
  let seeds: number[];
  if (o.seeds === undefined) seeds = [1];
  else if (typeof o.seeds === "string") seeds = parseSeedList(o.seeds);
  else if (
    Array.isArray(o.seeds) && o.seeds.length > 0 && o.seeds.every((s) => Number.isInteger(s))
  ) {
    seeds = [...o.seeds] as number[];
    if (new Set(seeds).size !== seeds.length) throw new RangeError(`${where}.seeds repeat a seed`);
  } else {
    throw new TypeError(`${where}.seeds must be a list of integers or text like "1..5"`);
  }
  let walkForward: SweepWalkForward | null = null;
  if (o.walkForward !== undefined && o.walkForward !== null) {
    const w = record(o.walkForward, `${where}.walkForward`);
    refuseUnknown(w, ["trainYears", "testYears", "stepYears", "anchored"], `${where}.walkForward`);
    walkForward = {
      trainYears: positive(w.trainYears, `${where}.walkForward.trainYears`),
      testYears: positive(w.testYears, `${where}.walkForward.testYears`),
      ...(w.stepYears === undefined
        ? {}
        : { stepYears: positive(w.stepYears, `${where}.walkForward.stepYears`) }),
      ...(w.anchored === undefined ? {} : { anchored: w.anchored === true }),
    };
  }
  const base = parseSweepBase(
    Object.fromEntries(BASE_FIELDS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])),
    where,
  );
  if (walkForward && base.evalEnd) {
    throw new RangeError(
      `${where}: evalEnd is for a sweep without walkForward (folds set their own test ranges)`,
    );
  }
  const def: SweepDefinition = { name, grid, random, randomSeed, seeds, walkForward, base };
  const jobs = sweepSettings(def).length * seeds.length;
  if (jobs > MAX_SWEEP_JOBS) {
    throw new RangeError(
      `${where}: ${jobs} jobs (settings × seeds) is more than ${MAX_SWEEP_JOBS}; use random: N to try fewer settings`,
    );
  }
  return def;
}
