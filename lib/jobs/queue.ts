/**
 * The job queue of sweeps: `npm:pg-boss` on the PostgreSQL server every machine of a
 * team reaches (its own schema `pgboss`, its own SQL). pg-boss gives what a queue of
 * training runs needs and a home-made queue would get wrong: `SKIP LOCKED` fetches (two
 * workers never take the same job), a **lease** kept alive by heartbeats (a worker
 * killed with `kill -9` stops heartbeating, and after `leaseSeconds` the supervisor of
 * any live worker puts its job back for another), bounded retries with a delay, and the
 * final error kept on a failed job.
 *
 * Each queued job carries only `{ sweepId, key }`; its spec, state, run count and result
 * live in `tt_sweep_jobs` (`lib/db/sweeps_repo.ts`), which also makes it idempotent on
 * its key (a completed job is never run again, see `executeSweepJob`). A second queue,
 * {@linkcode RETRAIN_QUEUE}, carries `{ retrainJobId }` of `tt_retrain_jobs` rows, with
 * the same lease and retry settings.
 *
 * @module
 */
import { PgBoss } from "pg-boss";
import { redact } from "../util/redact.ts";

/** The pg-boss queue every sweep's jobs go to. */
export const SWEEP_QUEUE = "tt-sweep-jobs";

/**
 * The pg-boss queue of retraining jobs a trigger enqueued (`tt_retrain_jobs`, see
 * `lib/jobs/retrain_queue.ts`); the same engine and the same `deno task worker`.
 */
export const RETRAIN_QUEUE = "tt-retrain";

/** How long a job may go without a sign of life, and how often it is tried. */
export interface LeaseOptions {
  /**
   * Seconds a running job may go without a heartbeat before it is given to another
   * worker (pg-boss `heartbeatSeconds`, at least 10; the worker beats every half of it).
   * A worker beats between PPO updates, so one update must take less than this.
   */
  leaseSeconds?: number;
  /** Retries after a failure (or a lost lease) before the job is failed. */
  retryLimit?: number;
  /** Seconds between a failure and the retry. */
  retryDelaySeconds?: number;
  /** Longest a job may run at all, seconds (at most 24 h, pg-boss's bound). */
  maxRunSeconds?: number;
}

/** Defaults of {@linkcode LeaseOptions}. */
export const DEFAULT_LEASE = Object.freeze({
  leaseSeconds: 60,
  retryLimit: 2,
  retryDelaySeconds: 1,
  maxRunSeconds: 24 * 3600,
});

/** How a process talks to the queue. */
export interface QueueOptions {
  /**
   * Seconds between supervisor passes (expired leases put back, retries released).
   * Default 10; a killed worker's job is retried within `leaseSeconds` + this.
   */
  superviseSeconds?: number;
  /** Seconds between polls of an idle worker (LISTEN/NOTIFY wakes it sooner). Default 1. */
  pollSeconds?: number;
  /** Run the supervisor in this process. Default true. */
  supervise?: boolean;
}

/** A queued job's state as pg-boss has it. */
export interface QueuedJobState {
  id: string;
  key: string;
  /** `created`, `retry`, `active`, `completed`, `cancelled` or `failed`. */
  state: string;
  retryCount: number;
  retryLimit: number;
  /** When it was put on the queue, started (last try) and finished (server clock). */
  createdOn: Date;
  startedOn: Date | null;
  completedOn: Date | null;
}

/** What a worker's handler is given. */
export interface QueuedJob {
  id: string;
  sweepId: number;
  key: string;
  /** Tries so far before this one. */
  retryCount: number;
  /** Retries allowed: this is the last try when `retryCount >= retryLimit`. */
  retryLimit: number;
  /** When it was put on the queue (for the enqueue → start overhead). */
  createdOn: Date;
}

/** What a worker's retraining handler is given. */
export interface QueuedRetrainJob {
  /** pg-boss's id. */
  id: string;
  /** `tt_retrain_jobs.id`. */
  retrainJobId: number;
  /** Tries so far before this one. */
  retryCount: number;
  /** Retries allowed: this is the last try when `retryCount >= retryLimit`. */
  retryLimit: number;
  createdOn: Date;
}

/**
 * pg-boss work options of one slot: one job per fetch, `concurrency` slots. The poll is
 * the same whether or not LISTEN/NOTIFY is up: a NOTIFY wakes an idle worker the moment
 * a job is enqueued, and the poll still finds what no NOTIFY announces (a retry whose
 * delay ran out, a job put back after a lost lease).
 */
function workOptions(options: { concurrency?: number; pollSeconds?: number }) {
  const poll = options.pollSeconds ?? 1;
  return {
    batchSize: 1,
    localConcurrency: options.concurrency ?? 1,
    pollingIntervalSeconds: poll,
    notifyPollingIntervalSeconds: poll,
    includeMetadata: true as const,
  };
}

/** pg-boss send options of a lease, checked. */
function sendOptions(lease: LeaseOptions) {
  const l = { ...DEFAULT_LEASE, ...lease };
  if (!(Number.isInteger(l.leaseSeconds) && l.leaseSeconds >= 10)) {
    throw new RangeError(`leaseSeconds = ${l.leaseSeconds} must be a whole number ≥ 10`);
  }
  if (!(Number.isInteger(l.retryLimit) && l.retryLimit >= 0)) {
    throw new RangeError(`retryLimit = ${l.retryLimit} must be a whole number ≥ 0`);
  }
  return {
    heartbeatSeconds: l.leaseSeconds,
    retryLimit: l.retryLimit,
    retryDelay: l.retryDelaySeconds,
    expireInSeconds: l.maxRunSeconds,
  };
}

function jobData(data: unknown, id: string): { sweepId: number; key: string } {
  const o = data as Record<string, unknown> | null;
  if (
    typeof o !== "object" || o === null || typeof o.sweepId !== "number" ||
    typeof o.key !== "string"
  ) {
    throw new TypeError(`Queued job ${id} has no { sweepId, key } data: ${JSON.stringify(data)}`);
  }
  return { sweepId: o.sweepId, key: o.key };
}

/**
 * A connection to the sweep queue (one pg-boss instance). Open with {@linkcode openSweepQueue}.
 */
export class SweepQueue {
  #boss: PgBoss;
  #workers: string[] = [];

  /**
   * @param boss A started pg-boss instance with the queue created.
   */
  constructor(boss: PgBoss) {
    this.#boss = boss;
  }

  /**
   * Puts jobs on the queue, each with the lease and retry settings.
   * @param jobs `{ sweepId, key }` per job.
   * @param lease See {@linkcode LeaseOptions}.
   * @returns pg-boss's job ids, in order.
   * @example
   * ```ts
   * const ids = await queue.enqueue([{ sweepId: 3, key: "3/0/s1/f0" }]);
   * ```
   */
  async enqueue(
    jobs: readonly { sweepId: number; key: string }[],
    lease: LeaseOptions = {},
  ): Promise<string[]> {
    const send = sendOptions(lease);
    const ids: string[] = [];
    for (const j of jobs) {
      const id = await this.#boss.send(SWEEP_QUEUE, { sweepId: j.sweepId, key: j.key }, {
        singletonKey: j.key,
        ...send,
      });
      if (id === null) {
        throw new Error(`pg-boss refused job ${j.key} (a job with that key is queued)`);
      }
      ids.push(id);
    }
    return ids;
  }

  /**
   * The pg-boss state of every queued job of a sweep.
   * @param sweepId `tt_sweeps.id`.
   * @returns Job key → state.
   * @example
   * ```ts
   * (await queue.states(3)).get("3/0/s1/f0")?.state; // "active"
   * ```
   */
  async states(sweepId: number): Promise<Map<string, QueuedJobState>> {
    const out = new Map<string, QueuedJobState>();
    let after: string | undefined;
    for (;;) {
      const page = await this.#boss.findJobs(SWEEP_QUEUE, {
        data: { sweepId },
        limit: 1000,
        ...(after ? { after } : {}),
      });
      for (const j of page) {
        const { key } = jobData(j.data, j.id);
        out.set(key, {
          id: j.id,
          key,
          state: j.state,
          retryCount: j.retryCount,
          retryLimit: j.retryLimit,
          createdOn: new Date(j.createdOn),
          startedOn: j.startedOn ? new Date(j.startedOn) : null,
          completedOn: j.completedOn ? new Date(j.completedOn) : null,
        });
      }
      if (page.length < 1000) return out;
      after = page[page.length - 1].id;
    }
  }

  /**
   * Takes jobs one at a time per slot and runs `handler` on each; a handler that throws
   * fails the try (pg-boss retries it while tries are left). Returns once registered.
   * @param handler Runs one job; its resolved value is stored as the job's output.
   * @param options `concurrency`: jobs run at once in this process (default 1).
   * @example
   * ```ts
   * await queue.work(async (job) => ({ ok: true }));
   * ```
   */
  async work(
    handler: (job: QueuedJob) => Promise<object>,
    options: { concurrency?: number; pollSeconds?: number } = {},
  ): Promise<void> {
    const id = await this.#boss.work(
      SWEEP_QUEUE,
      workOptions(options),
      async ([job]) => {
        const { sweepId, key } = jobData(job.data, job.id);
        return await handler({
          id: job.id,
          sweepId,
          key,
          retryCount: job.retryCount,
          retryLimit: job.retryLimit,
          createdOn: new Date(job.createdOn),
        });
      },
    );
    this.#workers.push(id);
  }

  /**
   * Puts a retraining job (`tt_retrain_jobs.id`) on {@linkcode RETRAIN_QUEUE}, with the
   * lease and retry settings; keyed `retrain/ID` (pg-boss refuses a second copy while
   * one is queued or running).
   * @param retrainJobId The row's id.
   * @param lease See {@linkcode LeaseOptions}.
   * @returns pg-boss's job id.
   * @throws {Error} When a job for that row is already queued.
   * @example
   * ```ts
   * const queueId = await queue.enqueueRetrain(4);
   * ```
   */
  async enqueueRetrain(retrainJobId: number, lease: LeaseOptions = {}): Promise<string> {
    const id = await this.#boss.send(RETRAIN_QUEUE, { retrainJobId }, {
      singletonKey: `retrain/${retrainJobId}`,
      ...sendOptions(lease),
    });
    if (id === null) {
      throw new Error(`pg-boss refused retrain job ${retrainJobId} (it is queued already)`);
    }
    return id;
  }

  /**
   * The pg-boss state of a queued retraining job.
   * @param queueJobId pg-boss's id (`tt_retrain_jobs.queue_job_id`).
   * @returns Its state, or null when pg-boss has no such job (archived or deleted).
   * @example
   * ```ts
   * (await queue.retrainState(id))?.state; // "completed"
   * ```
   */
  async retrainState(queueJobId: string): Promise<QueuedJobState | null> {
    const j = await this.#boss.getJobById(RETRAIN_QUEUE, queueJobId);
    if (!j) return null;
    const o = j.data as Record<string, unknown> | null;
    return {
      id: j.id,
      key: `retrain/${o?.retrainJobId ?? "?"}`,
      state: j.state,
      retryCount: j.retryCount,
      retryLimit: j.retryLimit,
      createdOn: new Date(j.createdOn),
      startedOn: j.startedOn ? new Date(j.startedOn) : null,
      completedOn: j.completedOn ? new Date(j.completedOn) : null,
    };
  }

  /**
   * Takes retraining jobs from {@linkcode RETRAIN_QUEUE} one at a time per slot and runs
   * `handler` on each (a throw fails the try; pg-boss retries it while tries are left).
   * @param handler Runs one job; its resolved value is stored as the job's output.
   * @param options `concurrency` (default 1) and `pollSeconds` (default 1).
   * @example
   * ```ts
   * await queue.workRetrain(async (job) => ({ ran: job.retrainJobId }));
   * ```
   */
  async workRetrain(
    handler: (job: QueuedRetrainJob) => Promise<object>,
    options: { concurrency?: number; pollSeconds?: number } = {},
  ): Promise<void> {
    const id = await this.#boss.work(
      RETRAIN_QUEUE,
      workOptions(options),
      async ([job]) => {
        const o = job.data as Record<string, unknown> | null;
        if (typeof o?.retrainJobId !== "number") {
          throw new TypeError(
            `Queued job ${job.id} has no { retrainJobId } data: ${JSON.stringify(job.data)}`,
          );
        }
        return await handler({
          id: job.id,
          retrainJobId: o.retrainJobId,
          retryCount: job.retryCount,
          retryLimit: job.retryLimit,
          createdOn: new Date(job.createdOn),
        });
      },
    );
    this.#workers.push(id);
  }

  /**
   * Stops taking jobs, waits up to `timeoutSeconds` for running ones, and disconnects
   * (a job still running then is failed and retried elsewhere).
   * @param options `timeoutSeconds`, default 30.
   * @example
   * ```ts
   * await queue.close();
   * ```
   */
  async close(options: { timeoutSeconds?: number } = {}): Promise<void> {
    await this.#boss.stop({ graceful: true, timeout: (options.timeoutSeconds ?? 30) * 1000 });
  }
}

/**
 * Connects to the queue on a PostgreSQL server (installing pg-boss's schema on first use)
 * and creates the sweep and retraining queues when missing.
 * @param url `postgres://…` of the shared server.
 * @param options Supervisor and polling intervals.
 * @returns The queue; close it when done.
 * @example
 * ```ts
 * const queue = await openSweepQueue(Deno.env.get("DATABASE_URL")!);
 * try { await queue.enqueue(jobs); } finally { await queue.close(); }
 * ```
 */
export async function openSweepQueue(url: string, options: QueueOptions = {}): Promise<SweepQueue> {
  const supervise = options.superviseSeconds ?? 10;
  const boss = new PgBoss({
    connectionString: url,
    application_name: "tt-sweep",
    max: 4,
    schedule: false,
    // Idle workers LISTEN and are woken by the NOTIFY of an enqueue (one more connection).
    useListenNotify: true,
    supervise: options.supervise ?? true,
    superviseIntervalSeconds: supervise,
    monitorIntervalSeconds: supervise,
  });
  // pg-boss reports connection trouble as events; they must not crash the process.
  boss.on(
    "error",
    (e: unknown) => console.error(`queue: ${redact((e as Error)?.message ?? String(e))}`),
  );
  await boss.start();
  for (const name of [SWEEP_QUEUE, RETRAIN_QUEUE]) {
    try {
      const queue = await boss.getQueue(name);
      if (queue === null) await boss.createQueue(name, { notify: true });
      else if (!queue.notify) await boss.updateQueue(name, { notify: true });
    } catch (e) {
      // Two processes creating the queue at once: the other one won.
      if ((await boss.getQueue(name)) === null) {
        await boss.stop({ graceful: false }).catch(() => undefined);
        throw e;
      }
    }
  }
  return new SweepQueue(boss);
}
