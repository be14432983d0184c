/**
 * A sweep expanded into jobs: one per (setting, seed, walk-forward fold), each with
 * its train and test date ranges resolved once, when the sweep is submitted, so that
 * a job means the same thing whichever worker runs it and whenever (data ingested
 * later does not move its ranges).
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import { readBarCalendar } from "../db/prices_repo.ts";
import { walkForwardFolds } from "../eval/folds.ts";
import { isoDate, NoDataError } from "../pipeline/market.ts";
import { DEFAULT_TRAIN_OPTIONS, defaultTrainRange, type TrainOptions } from "../pipeline/train.ts";
import {
  applySetting,
  parseSweepBase,
  parseSweepSetting,
  SWEEP_TRAIN_EPISODES,
  type SweepBase,
  type SweepDefinition,
  type SweepSetting,
  sweepSettings,
} from "./sweep_definition.ts";

/** An ISO date range, both ends included. */
export interface SweepRange {
  start: string;
  end: string;
}

/** Everything one job needs, as stored in `tt_sweep_jobs.spec`. */
export interface SweepJobSpec {
  /** Registry name of the model it trains. */
  name: string;
  settingIndex: number;
  setting: SweepSetting;
  seed: number;
  /** Walk-forward fold (0 without walk-forward). */
  fold: number;
  /** Training dates. */
  train: SweepRange;
  /** Out-of-sample evaluation dates (after `train.end`). */
  test: SweepRange;
  base: SweepBase;
}

/** A sweep ready to submit. */
export interface SweepPlan {
  definition: SweepDefinition;
  /** Distinct settings. */
  configurations: number;
  /** Folds per (setting, seed): 1 without walk-forward. */
  folds: number;
  /** Every job, settings outermost, then seeds, then folds. */
  jobs: SweepJobSpec[];
}

const DAY_MS = 86_400_000;

/**
 * Expands a definition into jobs, resolving the date ranges on the store's bars: without
 * walk-forward the training range is `base.start..base.end` (default: the first 75 % of
 * the instruments' common range, as `deno task train`) and the test range runs from the
 * day after it to `base.evalEnd` (default: the last common date); with walk-forward the
 * folds of `walkForwardFolds` over the calendar `base.start..base.end`.
 * @param store The store holding the bars.
 * @param def A validated definition.
 * @returns The plan.
 * @throws {NoDataError} When the instruments have no bars, or too few for one fold or a test range.
 * @example
 * ```ts
 * const plan = await planSweep(store, parseSweepDefinition({ grid: { lr: [3e-4, 1e-3] }, seeds: "1..2" }));
 * plan.jobs.length; // 4
 * ```
 */
export async function planSweep(store: Store, def: SweepDefinition): Promise<SweepPlan> {
  const b = def.base;
  const barSize = b.barSize ?? DEFAULT_TRAIN_OPTIONS.barSize;
  const common = await defaultTrainRange(store, b.symbols, barSize);
  let ranges: { train: SweepRange; test: SweepRange }[];
  if (def.walkForward) {
    const start = b.start ?? common.start, end = b.end ?? common.commonEnd;
    const calendar = await readBarCalendar(store, {
      barSize,
      start,
      end,
      instruments: b.symbols,
    });
    const folds = walkForwardFolds(calendar, def.walkForward);
    if (folds.length === 0) {
      throw new NoDataError(
        `${start}..${end} is too short for one fold of ${def.walkForward.trainYears} training + ` +
          `${def.walkForward.testYears} test years`,
      );
    }
    ranges = folds.map((f) => ({
      train: { start: isoDate(f.train.startTime), end: isoDate(f.train.endTime) },
      test: { start: isoDate(f.test.startTime), end: isoDate(f.test.endTime) },
    }));
  } else {
    const train = { start: b.start ?? common.start, end: b.end ?? common.end };
    const test = {
      start: isoDate(Date.parse(`${train.end}T00:00:00Z`) + DAY_MS),
      end: b.evalEnd ?? common.commonEnd,
    };
    if (test.start > test.end) {
      throw new NoDataError(
        `No dates left to evaluate after training ends ${train.end} (the data ends ${common.commonEnd}): ` +
          "give an earlier end",
      );
    }
    ranges = [{ train, test }];
  }
  const settings = sweepSettings(def);
  const jobs: SweepJobSpec[] = [];
  settings.forEach((setting, settingIndex) => {
    for (const seed of def.seeds) {
      ranges.forEach((r, fold) => {
        jobs.push({ name: def.name, settingIndex, setting, seed, fold, ...r, base: b });
      });
    }
  });
  return { definition: def, configurations: settings.length, folds: ranges.length, jobs };
}

/**
 * The key of a job within its sweep: `<setting>/s<seed>/f<fold>` (the stored key prefixes the sweep id).
 * @param spec A job.
 * @returns The key suffix.
 * @example
 * ```ts
 * jobKeySuffix(plan.jobs[0]); // "0/s1/f0"
 * ```
 */
export function jobKeySuffix(spec: Pick<SweepJobSpec, "settingIndex" | "seed" | "fold">): string {
  return `${spec.settingIndex}/s${spec.seed}/f${spec.fold}`;
}

/**
 * The `trainModel` options of a job: the base options, the setting applied, the job's
 * seed and training range, and a seed group shared by the setting's seeds.
 * @param spec The job.
 * @param options `sweepId` (names the seed group) and `modelsDir` (where models go; default `<dataDir>/models`).
 * @returns The options.
 * @example
 * ```ts
 * const trained = await trainModel(store, trainOptionsForJob(spec, { sweepId: 3 }));
 * ```
 */
export function trainOptionsForJob(
  spec: SweepJobSpec,
  options: { sweepId: number; modelsDir?: string },
): TrainOptions {
  const b = spec.base;
  const base: TrainOptions = {
    symbols: b.symbols,
    barSize: b.barSize,
    steps: b.steps,
    numEnvs: b.numEnvs,
    featureSet: b.featureSet,
    policy: b.policy,
    backend: b.backend,
  };
  return {
    ...applySetting(base, spec.setting),
    seed: spec.seed,
    logEpisodes: b.trainEpisodes ?? SWEEP_TRAIN_EPISODES,
    start: spec.train.start,
    end: spec.train.end,
    name: spec.name,
    seedGroup: `sweep-${options.sweepId}-${spec.settingIndex}`,
    ...(options.modelsDir === undefined ? {} : { modelsDir: options.modelsDir }),
  };
}

function range(v: unknown, where: string): SweepRange {
  const o = v as Record<string, unknown> | null;
  const date = /^\d{4}-\d{2}-\d{2}$/;
  if (
    typeof o !== "object" || o === null || typeof o.start !== "string" ||
    typeof o.end !== "string" || !date.test(o.start) || !date.test(o.end) || o.start > o.end
  ) {
    throw new TypeError(`${where} must be { start, end } dates in order; got ${JSON.stringify(v)}`);
  }
  return { start: o.start, end: o.end };
}

function integer(v: unknown, where: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new TypeError(`${where} must be a whole number ≥ ${min}; got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Validates a stored job spec (what a worker reads back from `tt_sweep_jobs.spec`).
 * @param json The stored JSON.
 * @param where Names the job, for messages.
 * @returns The spec.
 * @throws {TypeError} For a missing or mistyped field.
 * @throws {RangeError} For a bad setting or base option.
 * @example
 * ```ts
 * const spec = parseSweepJobSpec(job.spec, `job ${job.key}`);
 * ```
 */
export function parseSweepJobSpec(json: unknown, where: string): SweepJobSpec {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(`${where}: the spec must be a JSON object`);
  }
  const o = json as Record<string, unknown>;
  if (typeof o.name !== "string" || o.name.length === 0) {
    throw new TypeError(`${where}.name must be a model name`);
  }
  const train = range(o.train, `${where}.train`);
  const test = range(o.test, `${where}.test`);
  if (test.start <= train.end) {
    throw new RangeError(`${where}: test ${test.start} starts before training ends ${train.end}`);
  }
  return {
    name: o.name,
    settingIndex: integer(o.settingIndex, `${where}.settingIndex`, 0),
    setting: parseSweepSetting(o.setting, `${where}.setting`),
    seed: integer(o.seed, `${where}.seed`, Number.MIN_SAFE_INTEGER),
    fold: integer(o.fold, `${where}.fold`, 0),
    train,
    test,
    base: parseSweepBase(o.base, `${where}.base`),
  };
}
