/**
 * `deno task bench sweep`: the speed of issue 15's scale-out. On a scratch database of
 * the server (`TEST_DATABASE_URL`, else `DATABASE_URL`) with the sample bars, a sweep of
 * 4 jobs (2 settings × 2 seeds, `train`'s default steps and envs unless `--steps`) runs on
 * 1 worker process and on 2, the workers started as `deno task worker` starts them and
 * idle before the sweep is submitted; `--repeat` such pairs, interleaved. Prints one JSON
 * line: the wall time of each run (submit → last job completed), the ratio per pair and
 * their median (target ≤ 0.6 on 2 cores), and
 * the queue's overhead per job, enqueue → start (target < 1 s): for each job, the time
 * from when it could have started (enqueued, or its worker's previous job finished)
 * until a worker claimed it. The database and the models are removed afterwards.
 *
 * @module
 */
import { join } from "node:path";
import { createScratchDatabase, listSweepJobs, openStore, type Store } from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import { openSweepQueue, parseSweepDefinition, planSweep, submitSweep } from "@lib/jobs/mod.ts";
import { numberArg, parseCommand, PROJECT_ROOT, UsageError } from "@lib/util/mod.ts";
import { DEFAULT_TRAIN_OPTIONS } from "@lib/pipeline/mod.ts";
import { median } from "./_util.ts";

const SPEC = {
  name: "bench sweep",
  summary:
    "Issue 15: a 4-job sweep on 1 and on 2 worker processes against a PostgreSQL server (TEST_DATABASE_URL or " +
    "DATABASE_URL): wall times, their ratio, and the enqueue → start overhead per job. Uses a scratch database.",
  options: {
    steps: {
      type: "string",
      valueName: "N",
      description: "Env steps per job (default: train's)",
      default: String(DEFAULT_TRAIN_OPTIONS.steps),
    },
    repeat: {
      type: "string",
      valueName: "R",
      description:
        "Timed pairs (1 worker, then 2), interleaved; the ratio reported is their median",
      default: "3",
    },
    "v8-flags": {
      type: "string",
      valueName: "FLAGS",
      description:
        "V8 flags of the worker processes, as --v8-flags=… (default: none, as `deno task worker`)",
    },
  },
  examples: ["deno task bench sweep", "deno task bench sweep --steps 16384 --repeat 5"],
} as const;

function startWorker(url: string, dataDir: string, v8Flags: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []),
      join(PROJECT_ROOT, "tasks/worker.ts"),
      "--db-url",
      url,
    ],
    env: { TT_DATA_DIR: dataDir, DATABASE_URL: "" },
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  // Ready when it says it waits for jobs; keep draining its log afterwards.
  return new Promise((resolve, reject) => {
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "", ready = false;
    (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!ready) {
          text += value;
          if (text.includes("waiting for jobs")) {
            ready = true;
            resolve(child);
          }
        }
      }
      if (!ready) reject(new Error(`worker exited before it was ready: ${text}`));
    })();
  });
}

async function stopWorkers(workers: Deno.ChildProcess[]): Promise<void> {
  for (const w of workers) {
    try {
      w.kill("SIGTERM");
    } catch { /* gone */ }
  }
  await Promise.all(workers.map((w) => w.status));
}

/** One timed run: submit the sweep, wait for every job, read the per-job timings. */
async function timedRun(store: Store, url: string, steps: number, workers: number, rep: number) {
  const def = parseSweepDefinition({
    name: `bench-${workers}-${rep}`,
    grid: { lr: [3e-4, 1e-3] },
    seeds: [1, 2],
    symbols: ["AAPL", "SPX"],
    start: "2013-06-01",
    end: "2016-12-30",
    steps,
  });
  const plan = await planSweep(store, def);
  const t0 = Date.now(); // the server runs on this machine: one clock
  const s = await submitSweep(store, plan, { url, mode: "queue" });
  for (;;) {
    const jobs = await listSweepJobs(store, s.sweepId);
    if (jobs.some((j) => j.state === "failed")) {
      throw new Error(`a bench job failed: ${jobs.find((j) => j.state === "failed")!.error}`);
    }
    if (jobs.every((j) => j.state === "completed")) break;
    // A slow poll, so that the bench itself takes little from the workers' two cores; the
    // end of the sweep is the server's time of the last job's completion.
    await new Promise((r) => setTimeout(r, 1000));
  }
  const queue = await openSweepQueue(url, { supervise: false });
  const states = await queue.states(s.sweepId);
  await queue.close();
  const jobs = await listSweepJobs(store, s.sweepId);
  const wall = (Math.max(...jobs.map((j) => j.finishedAt!.getTime())) - t0) / 1000;
  const delays: number[] = [];
  for (const j of jobs) {
    const enqueued = states.get(j.key)!.createdOn.getTime();
    const previous = jobs
      .filter((o) => o.worker === j.worker && o.finishedAt && o.startedAt! < j.startedAt!)
      .map((o) => o.finishedAt!.getTime());
    const free = Math.max(enqueued, ...previous);
    delays.push((j.startedAt!.getTime() - free) / 1000);
  }
  return {
    workers,
    wallSeconds: Math.round(wall * 100) / 100,
    jobSeconds: jobs.map((j) => (j.result as { seconds: number }).seconds),
    workersUsed: new Set(jobs.map((j) => j.worker)).size,
    enqueueToStartSeconds: {
      mean: Math.round((delays.reduce((a, b) => a + b, 0) / delays.length) * 1000) / 1000,
      max: Math.round(Math.max(...delays) * 1000) / 1000,
    },
  };
}

/**
 * Runs the benchmark and prints its JSON line.
 * @param args Command-line arguments after `sweep`.
 * @example
 * ```ts
 * await main(["--steps", "2048"]);
 * ```
 */
export async function main(args: string[]): Promise<void> {
  const a = parseCommand(SPEC, args);
  const steps = numberArg(a, "steps", { min: 1, integer: true })!;
  const repeat = numberArg(a, "repeat", { min: 1, integer: true })!;
  const v8Flags = (a["v8-flags"] as string | undefined) ?? "";
  const server = Deno.env.get("TEST_DATABASE_URL") || Deno.env.get("DATABASE_URL");
  if (!server) {
    throw new UsageError(
      "bench sweep needs a PostgreSQL server: set TEST_DATABASE_URL or DATABASE_URL",
    );
  }
  const db = await createScratchDatabase(server, { prefix: "tt_bench" });
  const tmp = await Deno.makeTempDir({ prefix: "tt-bench-sweep-" });
  const store = await openStore({ url: db.url });
  try {
    await ingestSample(store, { silent: true });
    const pairs: {
      one: Awaited<ReturnType<typeof timedRun>>;
      two: Awaited<ReturnType<typeof timedRun>>;
    }[] = [];
    for (let rep = 0; rep < repeat; rep++) {
      const pair = [];
      for (const n of [1, 2]) {
        const workers = await Promise.all(
          Array.from(
            { length: n },
            (_, i) => startWorker(db.url, join(tmp, `${rep}-${n}-${i}`), v8Flags),
          ),
        );
        try {
          pair.push(await timedRun(store, db.url, steps, n, rep));
        } finally {
          await stopWorkers(workers);
        }
      }
      pairs.push({ one: pair[0], two: pair[1] });
      console.error(
        `pair ${rep + 1}/${repeat}: 1 worker ${pair[0].wallSeconds} s, 2 workers ${
          pair[1].wallSeconds
        } s, ` +
          `ratio ${(pair[1].wallSeconds / pair[0].wallSeconds).toFixed(3)}`,
      );
    }
    const ratios = pairs.map((p) => p.two.wallSeconds / p.one.wallSeconds);
    const ratio = median(ratios);
    const overhead = Math.max(
      ...pairs.flatMap((p) => [p.one.enqueueToStartSeconds.max, p.two.enqueueToStartSeconds.max]),
    );
    const round3 = (x: number) => Math.round(x * 1000) / 1000;
    console.log(JSON.stringify({
      bench: "sweep",
      jobs: 4,
      stepsPerJob: steps,
      cores: navigator.hardwareConcurrency,
      workerV8Flags: v8Flags,
      repeat,
      pairs,
      wallRatios: ratios.map(round3),
      wallRatio: round3(ratio),
      wallRatioTarget: 0.6,
      wallRatioMet: ratio <= 0.6,
      enqueueToStartMaxSeconds: overhead,
      enqueueToStartTarget: 1,
      enqueueToStartMet: overhead < 1,
    }));
  } finally {
    await store.close();
    await db.drop();
    await Deno.remove(tmp, { recursive: true });
  }
}
