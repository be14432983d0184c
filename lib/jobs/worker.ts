/**
 * A worker: takes jobs from the queue until told to stop, and runs each with
 * `executeSweepJob` (train, evaluate out of sample, register, store the result), the
 * same code path as an in-process sweep; and retraining jobs of the `tt-retrain` queue
 * with `executeRetrainJob` (the code of `deno task models triggers --run` on PGlite). Any number of workers on any number of
 * machines share one queue through the server of `DATABASE_URL`.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import { executeSweepJob, workerName } from "./run_job.ts";
import { executeRetrainJob } from "./retrain_queue.ts";
import type { SweepQueue } from "./queue.ts";

/** What {@linkcode runSweepWorker} is told. */
export interface SweepWorkerOptions {
  /** Jobs run at once in this process (they share one thread: use processes for more cores). Default 1. */
  concurrency?: number;
  /** Seconds between polls while idle. Default 1. */
  pollSeconds?: number;
  /** Stops taking jobs when aborted; running jobs finish (up to `stopTimeoutSeconds`). */
  signal?: AbortSignal;
  /** Seconds to wait for running jobs on stop; then they are failed and retried elsewhere. Default 30. */
  stopTimeoutSeconds?: number;
  /** Recorded on each job. Default `host:pid`. */
  name?: string;
  /** Parent of the model directories. Default `<dataDir>/models`. */
  modelsDir?: string;
  /** One line per event (job started, done, failed). Default: none. */
  log?: (line: string) => void;
  /** Also take retraining jobs (`tt-retrain`). Default true. */
  retrain?: boolean;
}

/** What {@linkcode runSweepWorker} reports when it stops. */
export interface SweepWorkerSummary {
  /** Jobs this worker ran to completion. */
  completed: number;
  /** Tries that failed. */
  failed: number;
  /** Jobs found already completed (not run again). */
  skipped: number;
  /** Of `completed`: retraining jobs (the rest are sweep jobs). */
  retrained: number;
  /** Seconds from enqueue to start of each job this worker started. */
  startDelays: number[];
}

/**
 * Runs a worker until `signal` aborts: takes jobs from `queue`, runs each against
 * `store`, then closes the queue. The store and the queue must be the same server.
 * @param store The shared store.
 * @param queue The sweep queue (this function closes it).
 * @param options Concurrency, polling, stop signal, name, models directory, log.
 * @returns What it did.
 * @example
 * ```ts
 * const stop = new AbortController();
 * Deno.addSignalListener("SIGTERM", () => stop.abort());
 * await runSweepWorker(store, await openSweepQueue(url), { signal: stop.signal, log: console.error });
 * ```
 */
export async function runSweepWorker(
  store: Store,
  queue: SweepQueue,
  options: SweepWorkerOptions = {},
): Promise<SweepWorkerSummary> {
  const name = options.name ?? workerName();
  const log = options.log ?? (() => {});
  const summary: SweepWorkerSummary = {
    completed: 0,
    failed: 0,
    skipped: 0,
    retrained: 0,
    startDelays: [],
  };
  const stopped = new Promise<void>((resolve) => {
    if (options.signal?.aborted) resolve();
    options.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  try {
    await queue.work(async (job) => {
      const delay = (Date.now() - job.createdOn.getTime()) / 1000;
      summary.startDelays.push(delay);
      const finalAttempt = job.retryCount >= job.retryLimit;
      log(`${name}: job ${job.key} (try ${job.retryCount + 1} of ${job.retryLimit + 1})`);
      try {
        const { ran, result } = await executeSweepJob(store, job.key, {
          worker: name,
          finalAttempt,
          modelsDir: options.modelsDir,
        });
        if (ran) summary.completed++;
        else summary.skipped++;
        log(
          `${name}: job ${job.key} ${
            ran ? "done" : "was already done"
          }: model ${result.modelId}, ` +
            `out-of-sample Sharpe ${result.sharpe.toFixed(3)} (${result.seconds} s)`,
        );
        return { modelId: result.modelId, sharpe: result.sharpe, ran };
      } catch (e) {
        summary.failed++;
        log(
          `${name}: job ${job.key} failed${finalAttempt ? " (no try left)" : ", to be retried"}: ${
            (e as Error)?.message ?? e
          }`,
        );
        throw e;
      }
    }, { concurrency: options.concurrency ?? 1, pollSeconds: options.pollSeconds });
    if (options.retrain !== false) {
      await queue.workRetrain(async (job) => {
        summary.startDelays.push((Date.now() - job.createdOn.getTime()) / 1000);
        const finalAttempt = job.retryCount >= job.retryLimit;
        const what = `retrain job ${job.retrainJobId}`;
        log(`${name}: ${what} (try ${job.retryCount + 1} of ${job.retryLimit + 1})`);
        try {
          const { ran, outcome } = await executeRetrainJob(store, job.retrainJobId, {
            worker: name,
            finalAttempt,
          });
          if (ran) {
            summary.completed++;
            summary.retrained++;
          } else summary.skipped++;
          log(
            `${name}: ${what} ${ran ? "done" : "was already done"}: model ` +
              `${outcome.challengerModelId} is the challenger (${outcome.verdict})`,
          );
          return { challengerModelId: outcome.challengerModelId, ran };
        } catch (e) {
          summary.failed++;
          log(
            `${name}: ${what} failed${finalAttempt ? " (no try left)" : ", to be retried"}: ${
              (e as Error)?.message ?? e
            }`,
          );
          throw e;
        }
      }, { concurrency: options.concurrency ?? 1, pollSeconds: options.pollSeconds });
    }
    await stopped;
  } finally {
    await queue.close({ timeoutSeconds: options.stopTimeoutSeconds ?? 30 });
  }
  return summary;
}
