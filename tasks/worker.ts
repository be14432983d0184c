/**
 * `deno task worker`: takes sweep jobs and retraining jobs (of `deno task models triggers
 * --run` and `deno task trade --triggers`) from the pg-boss queues on the PostgreSQL server
 * of `DATABASE_URL` (or `--db-url`) until SIGTERM or SIGINT, and runs each exactly as
 * `deno task train` + `deno task evaluate` do. Start one on every machine that should
 * work; `--concurrency N` starts N worker processes here (one per core is the sense:
 * training is CPU-bound and one process uses one core).
 *
 * @module
 */
import { openStore } from "@lib/db/mod.ts";
import { openSweepQueue, runSweepWorker } from "@lib/jobs/mod.ts";
import {
  type CommandSpec,
  DB_URL_OPTION,
  numberArg,
  parseCommand,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC: CommandSpec = {
  name: "worker",
  summary:
    "Runs sweep jobs (see `deno task sweep`) from the queue of a PostgreSQL server until stopped (SIGTERM, " +
    "SIGINT / Ctrl-C: running jobs finish, up to --stop-timeout, then are handed back). Each job trains, evaluates " +
    "out of sample, registers its model and stores its metrics, exactly as train + evaluate; the result does not " +
    "depend on which worker ran it. A worker killed mid-job (kill -9) loses nothing: the job's lease runs out " +
    "(the sweep's --lease-seconds) and another worker retries it. Models are saved under <data dir>/models of " +
    "the machine that trained them (TT_DATA_DIR); their metrics and registry rows are on the server. " +
    "It also takes the retraining jobs a trigger enqueued (deno task models triggers --run, deno task trade " +
    "--triggers): each registers a new version as NAME@challenger, once (a finished job is never run again).",
  options: {
    concurrency: {
      type: "string",
      valueName: "N",
      description: "Worker processes to start here (each runs one job at a time)",
      default: "1",
    },
    "poll-seconds": {
      type: "string",
      valueName: "S",
      description:
        "Seconds between polls (≥ 0.5): a new job wakes an idle worker at once (NOTIFY); the poll finds retries",
      default: "1",
    },
    "supervise-seconds": {
      type: "string",
      valueName: "S",
      description: "Seconds between checks for expired leases (killed workers) and due retries",
      default: "10",
    },
    "stop-timeout": {
      type: "string",
      valueName: "S",
      description: "Seconds to let running jobs finish on SIGTERM/SIGINT",
      default: "30",
    },
    "db-url": DB_URL_OPTION,
    json: { type: "boolean", description: "On stop, print one JSON line (jobs done, failed)" },
  },
  examples: [
    "DATABASE_URL=postgres://tt@db-host:5432/tt deno task worker",
    "deno task worker --concurrency 2",
    "deno task worker --db-url postgres://tt@127.0.0.1:5432/tt --supervise-seconds 2",
  ],
};

async function main() {
  const args = parseCommand(SPEC);
  const url = (args["db-url"] as string | undefined) ?? (Deno.env.get("DATABASE_URL") || undefined);
  if (!url) {
    throw new UsageError(
      "A worker takes jobs from a PostgreSQL server: set DATABASE_URL (or --db-url) on every machine. " +
        "On the embedded store `deno task sweep` runs its jobs itself.",
    );
  }
  const concurrency = numberArg(args, "concurrency", { min: 1, integer: true })!;
  const pollSeconds = numberArg(args, "poll-seconds", { min: 0.5 })!;
  const superviseSeconds = numberArg(args, "supervise-seconds", { min: 1 })!;
  const stopTimeout = numberArg(args, "stop-timeout", { min: 0 })!;
  const json = args.json === true;
  if (concurrency > 1) {
    // Training is CPU-bound: one process per slot, so N slots use N cores.
    const self = new URL(import.meta.url).pathname;
    const children = Array.from({ length: concurrency }, () =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          self,
          "--concurrency",
          "1",
          "--poll-seconds",
          String(pollSeconds),
          "--supervise-seconds",
          String(superviseSeconds),
          "--stop-timeout",
          String(stopTimeout),
          ...(json ? ["--json"] : []),
        ],
        env: { DATABASE_URL: url },
        stdin: "null",
      }).spawn());
    const forward = (signal: Deno.Signal) => () => {
      for (const c of children) {
        try {
          c.kill(signal);
        } catch { /* already gone */ }
      }
    };
    Deno.addSignalListener("SIGTERM", forward("SIGTERM"));
    Deno.addSignalListener("SIGINT", forward("SIGINT"));
    const codes = await Promise.all(children.map((c) => c.status));
    const bad = codes.filter((c) => c.code !== 0);
    if (bad.length > 0) throw new Error(`${bad.length} of ${concurrency} worker processes failed`);
    return;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGTERM", onSignal);
  Deno.addSignalListener("SIGINT", onSignal);
  const store = await openStore({ url });
  try {
    if (store.kind !== "postgres") throw new UsageError("A worker needs a PostgreSQL server URL");
    const queue = await openSweepQueue(url, { superviseSeconds, pollSeconds });
    if (!json) console.error(`worker ${Deno.pid}: waiting for jobs on ${store.description}`);
    const summary = await runSweepWorker(store, queue, {
      signal: stop.signal,
      pollSeconds,
      stopTimeoutSeconds: stopTimeout,
      log: json ? undefined : (line) => console.error(line),
    });
    const line = {
      pid: Deno.pid,
      completed: summary.completed,
      failed: summary.failed,
      skipped: summary.skipped,
      retrained: summary.retrained,
    };
    if (json) console.log(JSON.stringify(line));
    else {console.error(
        `worker ${Deno.pid}: stopped; ${summary.completed} jobs done (${summary.retrained} ` +
          `retrainings), ${summary.failed} failed`,
      );}
  } finally {
    Deno.removeSignalListener("SIGTERM", onSignal);
    Deno.removeSignalListener("SIGINT", onSignal);
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
