/**
 * Retraining jobs on the job engine (issues 13 ↔ 15): a trigger enqueues on pg-boss when
 * the store is a server and a `deno task worker` process runs it, once, registering
 * NAME@challenger; a failing job is retried a bounded number of times and failed with its
 * error on the `tt_retrain_jobs` row; on PGlite `deno task trade --triggers` runs the
 * retraining in-process after the live cycle.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createScratchDatabase,
  enqueueRetrainJob,
  listModels,
  listRetrainJobs,
  openStore,
  readAlias,
  readRetrainJob,
} from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import { dispatchRetrainJob, openSweepQueue, parseTriggerList } from "@lib/jobs/mod.ts";
import { trainModel } from "@lib/pipeline/mod.ts";
import { TEST_DATABASE_URL } from "./support/stores.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const WINDOW = ["--train-bars", "300", "--holdout-bars", "100", "--steps", "256"];
const lastJson = (s: string) => JSON.parse(s.trim().split("\n").at(-1) ?? "");

async function task(file: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "tasks", file), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", DATABASE_URL: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function waitFor<T>(what: string, seconds: number, probe: () => Promise<T | null>) {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > until) throw new Error(`Timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const trainV1 = (store: Awaited<ReturnType<typeof openStore>>, dir: string) =>
  trainModel(store, {
    symbols: ["AAPL", "SPX"],
    start: "2013-05-13",
    end: "2015-12-31",
    steps: 512,
    numEnvs: 2,
    policy: "mlp",
    seed: 1,
    name: "rt",
    out: join(dir, "v1"),
    logEpisodes: "none",
  });

Deno.test("parseTriggerList() reads the --triggers list and refuses unknown items", () => {
  assert.deepEqual(parseTriggerList("every=20, feature-drift,performance-drift,steps=256"), {
    rules: { everyBars: 20, featureDrift: true, performanceDrift: true },
    window: { steps: 256 },
  });
  assert.deepEqual(parseTriggerList("feature-drift,auto-promote,train-bars=300").rules, {
    featureDrift: true,
    autoPromote: true,
  });
  assert.throws(() => parseTriggerList("every=0"), /whole number ≥ 1/);
  assert.throws(() => parseTriggerList("sometimes"), /not one of every=N/);
  assert.throws(() => parseTriggerList("auto-promote"), /has no rule/);
});

Deno.test("PGlite: deno task trade --triggers retrains in-process after the live cycle", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_rt_pgl_" });
  try {
    const store = await openStore({ dataDir: join(dir, "pgdata") });
    try {
      await ingestSample(store, { silent: true });
      await trainV1(store, dir);
    } finally {
      await store.close();
    }
    const r = await task("trade.ts", [
      "--model",
      "rt@v1",
      "--account",
      "PAPER-TRIG",
      "--triggers",
      "every=20,performance-drift,train-bars=300,holdout-bars=100,steps=256",
      "--json",
    ], { TT_DATA_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    const j = lastJson(r.stdout);
    assert.equal(j.mode, "paper", "the cycle summary is still there");
    assert.deepEqual(j.triggers.fired.map((f: { rule: string }) => f.rule), ["every-bars"]);
    assert.equal(j.triggers.mode, "in-process");
    assert.equal(j.triggers.queueJobId, null);
    const again = await openStore({ dataDir: join(dir, "pgdata") });
    try {
      const [job] = await listRetrainJobs(again, "rt");
      assert.equal(job.status, "ok");
      assert.equal(job.attempts, 1);
      assert.equal(job.resultModelId, j.triggers.outcome.challengerModelId);
      assert.equal((await readAlias(again, "rt", "challenger"))?.modelId, job.resultModelId);
      assert.equal(await readAlias(again, "rt", "champion"), null, "never promotes itself");
    } finally {
      await again.close();
    }
    // Text output: the next cycle reports that no rule fires (the job's data end resets the count).
    const t = await task("trade.ts", [
      "--model",
      "rt@v1",
      "--account",
      "PAPER-TRIG",
      "--triggers",
      "every=20",
    ], { TT_DATA_DIR: dir });
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /triggers: no rule fired \(0 new bars/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "server: models triggers --run enqueues on pg-boss, a worker process runs it once (challenger); a finished job is not run again; a failing job is retried then failed on its row",
  ignore: !TEST_DATABASE_URL,
  async fn() {
    const db = await createScratchDatabase(TEST_DATABASE_URL!, { prefix: "tt_t" });
    const dir = await Deno.makeTempDir({ prefix: "tt_rt_srv_" });
    const store = await openStore({ url: db.url });
    let worker: Deno.ChildProcess | null = null;
    try {
      await ingestSample(store, { silent: true });
      const v1 = await trainV1(store, dir);
      worker = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(ROOT, "tasks/worker.ts"),
          "--db-url",
          db.url,
          "--poll-seconds",
          "0.5",
          "--supervise-seconds",
          "1",
          "--stop-timeout",
          "5",
          "--json",
        ],
        env: { TT_DATA_DIR: join(dir, "worker"), DATABASE_URL: "" },
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      }).spawn();

      // 1. The task enqueues and says so.
      const r = await task(
        "models.ts",
        ["triggers", "rt@v1", "--every", "20", "--run", ...WINDOW, "--db-url", db.url, "--json"],
        {},
      );
      assert.equal(r.code, 0, r.stderr);
      const out = lastJson(r.stdout);
      assert.equal(out.dispatch.mode, "queue");
      assert.equal(out.dispatch.queue, "tt-retrain");
      assert.equal(typeof out.dispatch.queueJobId, "string");
      assert.equal(out.outcome, null, "not run by the task");
      const jobId: number = out.dispatch.jobId;
      const text = await task(
        "models.ts",
        ["triggers", "rt@v1", "--every", "20", "--db-url", db.url],
        {},
      );
      assert.match(text.stdout, /new bars since 2018-05-11/, "the queued job's data end counts");

      // 2. The worker runs it: the result is aliased challenger, exactly once.
      const done = await waitFor("the retrain job", 180, async () => {
        const j = await readRetrainJob(store, jobId);
        return j && (j.status === "ok" || j.status === "failed") ? j : null;
      });
      assert.equal(done.status, "ok", done.error ?? "");
      assert.equal(done.attempts, 1);
      assert.equal(done.queueJobId, out.dispatch.queueJobId);
      assert.ok(done.worker?.endsWith(`:${worker.pid}`), `run by the worker: ${done.worker}`);
      assert.equal((await readAlias(store, "rt", "challenger"))?.modelId, done.resultModelId);
      assert.notEqual(done.resultModelId, v1.modelId);
      assert.equal((await listModels(store, { name: "rt" })).length, 2);

      // 3. Sent again, the finished job is taken and not run: no new version, one attempt.
      const queue = await openSweepQueue(db.url, { supervise: false });
      try {
        const d = await dispatchRetrainJob(store, done, { url: db.url });
        await waitFor("the repeated job", 60, async () => {
          const s = await queue.retrainState(d.queueJobId!);
          return s?.state === "completed" ? s : null;
        });
        assert.equal((await readRetrainJob(store, jobId))?.attempts, 1);
        assert.equal((await listModels(store, { name: "rt" })).length, 2);

        // 4. A job that fails deterministically: 1 + retryLimit tries, then failed with its error.
        const bad = await enqueueRetrainJob(store, {
          modelId: null,
          modelName: "rt",
          reasons: [{ rule: "test" }],
          spec: { ...done.spec, modelId: 987654 },
        });
        const f = await dispatchRetrainJob(store, bad, {
          url: db.url,
          lease: { leaseSeconds: 60, retryLimit: 1, retryDelaySeconds: 0 },
        });
        const failed = await waitFor("the failing job", 90, async () => {
          const s = await queue.retrainState(f.queueJobId!);
          return s?.state === "failed" ? s : null;
        });
        assert.equal(failed.retryCount, 1);
        const row = (await readRetrainJob(store, bad.id))!;
        assert.equal(row.status, "failed");
        assert.equal(row.attempts, 2);
        assert.match(row.error ?? "", /987654/);
      } finally {
        await queue.close();
      }

      // 5. trade --triggers on the server after a live cycle: evaluated, nothing new to retrain
      //    (the failed job does not reset the count; the finished one does).
      const t = await task("trade.ts", [
        "--model",
        "rt@v1",
        "--account",
        "PAPER-SRV",
        "--triggers",
        "every=20",
        "--db-url",
        db.url,
        "--json",
      ], {});
      assert.equal(t.code, 0, t.stderr);
      const tj = lastJson(t.stdout);
      assert.deepEqual([tj.triggers.fired, tj.triggers.newBars, tj.triggers.job], [[], 0, null]);
    } finally {
      if (worker) {
        try {
          worker.kill("SIGTERM");
        } catch { /* gone */ }
        const [status, stderr] = await Promise.all([
          worker.status,
          new Response(worker.stderr).text(),
          worker.stdout.cancel().catch(() => undefined),
        ]);
        if (!status.success) console.error(stderr);
      }
      await store.close();
      await db.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
