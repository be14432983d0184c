/**
 * Running one sweep job, the one code path of a worker and of an in-process sweep:
 * claim the job by its key (a completed job is not run again), `trainModel` exactly as
 * `deno task train` (the model is saved, registered, its training metrics and episodes
 * logged), `evaluateModel` exactly as `deno task evaluate` on the job's out-of-sample
 * range (the `eval` and `benchmark` episodes logged, every baseline compared), then
 * store the result. Nothing in it depends on the machine or worker: the same job gives
 * the same weights and metrics anywhere.
 *
 * @module
 */
import { hostname } from "node:os";
import type { Store } from "../db/store.ts";
import { claimSweepJob, completeSweepJob, failSweepJob, readSweepJob } from "../db/sweeps_repo.ts";
import { moments, sharpeRatio, simpleReturns } from "../eval/metrics.ts";
import { evaluateModel, headlineMetrics } from "../pipeline/evaluate.ts";
import { type TrainHooks, trainModel } from "../pipeline/train.ts";
import { parseSweepJobSpec, type SweepRange, trainOptionsForJob } from "./sweep_plan.ts";

/** What a finished job stores (`tt_sweep_jobs.result`). */
export interface SweepJobResult {
  modelId: number;
  modelDir: string;
  /** SHA-256 of the model's `weights.bin`: equal for the same job on any worker. */
  weightsSha256: string;
  runId: number;
  evalEpisodeId: number;
  benchmarkEpisodeId: number | null;
  train: SweepRange;
  test: SweepRange;
  /** Out-of-sample annualised Sharpe ratio of the policy (what the leaderboard ranks). */
  sharpe: number;
  /** Out-of-sample headline metrics (as `deno task evaluate --json` prints them). */
  metrics: Record<string, number | null>;
  /** Probabilistic Sharpe ratio against 0. */
  psr: number;
  /** Sharpe(policy) − Sharpe(equal-weight buy & hold), with its bootstrap interval. */
  vsBuyAndHold: { estimate: number; lower: number; upper: number };
  bestBaseline: string;
  /** Per-period return statistics of the out-of-sample curve, for the deflated Sharpe ratio. */
  returns: { n: number; sharpe: number; skewness: number; kurtosis: number };
  /** Env steps trained. */
  steps: number;
  /** Wall time of training plus evaluation. */
  seconds: number;
}

/** What {@linkcode executeSweepJob} is told. */
export interface ExecuteJobOptions {
  /** Who runs it, recorded on the job. Default {@linkcode workerName}(). */
  worker?: string;
  /** No try is left after this one: a failure marks the job `failed` (else `retry`). Default true. */
  finalAttempt?: boolean;
  /** Parent of the model directories. Default `<dataDir>/models`. */
  modelsDir?: string;
  /** Training progress callbacks. */
  trainHooks?: TrainHooks;
}

/** What {@linkcode executeSweepJob} returns. */
export interface ExecutedJob {
  /** False when the job was already completed (its stored result is returned, nothing ran). */
  ran: boolean;
  result: SweepJobResult;
}

/**
 * This process's worker name: `host:pid`.
 * @returns The name.
 * @example
 * ```ts
 * workerName(); // "lab-2:41873"
 * ```
 */
export function workerName(): string {
  return `${hostname()}:${Deno.pid}`;
}

/**
 * Runs one job by its key: claims it (a completed job is returned as it is, not run),
 * trains, evaluates out of sample, stores the result. A failure is recorded on the job
 * (`retry`, or `failed` on the final attempt) with its message, and thrown again.
 * @param store The store (a server shared by the workers, or PGlite in-process).
 * @param key The job key (`tt_sweep_jobs.job_key`).
 * @param options Worker name, whether this is the last attempt, models directory, hooks.
 * @returns Whether it ran, and the result.
 * @throws {RangeError} For an unknown key; whatever training or evaluation throws.
 * @example
 * ```ts
 * const { ran, result } = await executeSweepJob(store, "3/0/s1/f0");
 * console.log(ran, result.sharpe, result.weightsSha256);
 * ```
 */
export async function executeSweepJob(
  store: Store,
  key: string,
  options: ExecuteJobOptions = {},
): Promise<ExecutedJob> {
  const claimed = await claimSweepJob(store, key, options.worker ?? workerName());
  if (claimed === null) {
    const done = await readSweepJob(store, key);
    if (done === null) throw new RangeError(`Sweep job ${key} does not exist in this store`);
    return { ran: false, result: parseSweepJobResult(done.result, `job ${key}`) };
  }
  try {
    const spec = parseSweepJobSpec(claimed.spec, `job ${key}`);
    const t0 = performance.now();
    const trained = await trainModel(
      store,
      trainOptionsForJob(spec, { sweepId: claimed.sweepId, modelsDir: options.modelsDir }),
      options.trainHooks,
    );
    const ev = await evaluateModel(store, {
      model: String(trained.modelId),
      start: spec.test.start,
      end: spec.test.end,
    });
    const r = simpleReturns(ev.trace.netWorth);
    const m = moments(r);
    const c = ev.comparison;
    const result: SweepJobResult = {
      modelId: trained.modelId,
      modelDir: trained.model.dir,
      weightsSha256: trained.model.fileChecksums["weights.bin"],
      runId: trained.runId,
      evalEpisodeId: ev.episodeId,
      benchmarkEpisodeId: ev.benchmarkEpisodeId,
      train: trained.range,
      test: ev.range,
      sharpe: c.strategy.sharpe,
      metrics: headlineMetrics(c.strategy),
      psr: c.psrVsZero,
      vsBuyAndHold: {
        estimate: c.sharpeDifference.estimate,
        lower: c.sharpeDifference.lower,
        upper: c.sharpeDifference.upper,
      },
      bestBaseline: ev.baselines.best.key,
      returns: {
        n: r.length,
        sharpe: sharpeRatio(r, { periodsPerYear: 1 }),
        skewness: m.skewness,
        kurtosis: m.kurtosis,
      },
      steps: trained.plan.actual,
      seconds: Math.round((performance.now() - t0) / 10) / 100,
    };
    await completeSweepJob(store, key, { modelId: trained.modelId, result });
    return { ran: true, result };
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    await failSweepJob(store, key, { error: message, final: options.finalAttempt ?? true })
      .catch(() => undefined);
    throw e;
  }
}

/** A finite number or NaN from JSON (`null` is how JSON writes NaN). */
function numberOrNaN(v: unknown, where: string): number {
  if (v === null) return NaN;
  if (typeof v !== "number") throw new TypeError(`${where} must be a number; got ${typeof v}`);
  return v;
}

/**
 * Validates a stored job result (`tt_sweep_jobs.result`).
 * @param json The stored JSON.
 * @param where Names the job, for messages.
 * @returns The result (JSON nulls of non-finite figures back as NaN).
 * @throws {TypeError} For a missing or mistyped field.
 * @example
 * ```ts
 * parseSweepJobResult(job.result, `job ${job.key}`).sharpe;
 * ```
 */
export function parseSweepJobResult(json: unknown, where: string): SweepJobResult {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(`${where}: the result must be a JSON object`);
  }
  const o = json as Record<string, unknown>;
  const obj = (v: unknown, w: string) => {
    if (typeof v !== "object" || v === null) throw new TypeError(`${where}.${w} must be an object`);
    return v as Record<string, unknown>;
  };
  const str = (v: unknown, w: string) => {
    if (typeof v !== "string") throw new TypeError(`${where}.${w} must be text`);
    return v;
  };
  const rng = (v: unknown, w: string): SweepRange => {
    const r = obj(v, w);
    return { start: str(r.start, `${w}.start`), end: str(r.end, `${w}.end`) };
  };
  const ret = obj(o.returns, "returns");
  const vs = obj(o.vsBuyAndHold, "vsBuyAndHold");
  const metrics = obj(o.metrics, "metrics");
  return {
    modelId: numberOrNaN(o.modelId, `${where}.modelId`),
    modelDir: str(o.modelDir, "modelDir"),
    weightsSha256: str(o.weightsSha256, "weightsSha256"),
    runId: numberOrNaN(o.runId, `${where}.runId`),
    evalEpisodeId: numberOrNaN(o.evalEpisodeId, `${where}.evalEpisodeId`),
    benchmarkEpisodeId: o.benchmarkEpisodeId === null
      ? null
      : numberOrNaN(o.benchmarkEpisodeId, `${where}.benchmarkEpisodeId`),
    train: rng(o.train, "train"),
    test: rng(o.test, "test"),
    sharpe: numberOrNaN(o.sharpe, `${where}.sharpe`),
    metrics: Object.fromEntries(
      Object.entries(metrics).map(([k, v]) => [k, v === null ? null : numberOrNaN(v, k)]),
    ),
    psr: numberOrNaN(o.psr, `${where}.psr`),
    vsBuyAndHold: {
      estimate: numberOrNaN(vs.estimate, `${where}.vsBuyAndHold.estimate`),
      lower: numberOrNaN(vs.lower, `${where}.vsBuyAndHold.lower`),
      upper: numberOrNaN(vs.upper, `${where}.vsBuyAndHold.upper`),
    },
    bestBaseline: str(o.bestBaseline, "bestBaseline"),
    returns: {
      n: numberOrNaN(ret.n, `${where}.returns.n`),
      sharpe: numberOrNaN(ret.sharpe, `${where}.returns.sharpe`),
      skewness: numberOrNaN(ret.skewness, `${where}.returns.skewness`),
      kurtosis: numberOrNaN(ret.kurtosis, `${where}.returns.kurtosis`),
    },
    steps: numberOrNaN(o.steps, `${where}.steps`),
    seconds: numberOrNaN(o.seconds, `${where}.seconds`),
  };
}
