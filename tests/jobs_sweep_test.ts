import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createScratchDatabase,
  listEpisodes,
  listSweepJobs,
  openStore,
  registerModel,
  type Store,
} from "@lib/db/mod.ts";
import { ingestSample } from "@lib/data/mod.ts";
import {
  executeSweepJob,
  type LeaderboardJob,
  parseGrid,
  parseSeedList,
  parseSweepDefinition,
  parseSweepJobResult,
  planSweep,
  runSweepInProcess,
  submitSweep,
  type SweepJobResult,
  sweepLeaderboard,
  sweepSettings,
  sweepStatus,
  trainOptionsForJob,
} from "@lib/jobs/mod.ts";
import { TEST_DATABASE_URL } from "./support/stores.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The tiny sweep every case runs: 2 settings × 2 seeds of 256 steps on the sample's two symbols. */
const TINY = {
  grid: { lr: [3e-4, 1e-3] },
  seeds: "1..2",
  symbols: ["AAPL", "SPX"],
  start: "2013-06-01",
  end: "2016-12-30",
  steps: 256,
  numEnvs: 2,
};

Deno.test("parseGrid() and parseSeedList() read the command-line forms and refuse bad ones", () => {
  assert.deepEqual(parseGrid("lr=3e-4,1e-3 ent=0,0.01"), { lr: [3e-4, 1e-3], ent: [0, 0.01] });
  assert.deepEqual(parseGrid("reward=dsr,log-return hidden=32,64x64"), {
    reward: ["dsr", "log-return"],
    hidden: ["32", "64x64"],
  });
  assert.throws(() => parseGrid("lr"), SyntaxError);
  assert.throws(() => parseGrid("lr=0"), /lr = "0" must be > 0/);
  assert.throws(() => parseGrid("depth=3"), /unknown sweep parameter "depth"/);
  assert.throws(() => parseGrid("epochs=1.5"), /whole number/);
  assert.deepEqual(parseSeedList("1..5"), [1, 2, 3, 4, 5]);
  assert.deepEqual(parseSeedList("3"), [1, 2, 3]);
  assert.deepEqual(parseSeedList("7,11"), [7, 11]);
  assert.throws(() => parseSeedList("1,1"), /repeats/);
  assert.throws(() => parseSeedList("5..1"), /ends before/);
});

Deno.test("sweepSettings() is the whole grid, or a seeded draw of --random N of it", () => {
  const def = parseSweepDefinition({ grid: { lr: [1e-4, 3e-4, 1e-3], ent: [0, 0.01] } });
  const all = sweepSettings(def);
  assert.equal(all.length, 6);
  assert.deepEqual(all[0], { lr: 1e-4, ent: 0 });
  assert.deepEqual(all[1], { lr: 1e-4, ent: 0.01 });
  const a = sweepSettings({ ...def, random: 3, randomSeed: 5 });
  const b = sweepSettings({ ...def, random: 3, randomSeed: 5 });
  assert.equal(a.length, 3);
  assert.deepEqual(a, b, "the same seed draws the same settings");
  assert.equal(new Set(a.map((s) => JSON.stringify(s))).size, 3, "without replacement");
  assert.equal(sweepSettings({ ...def, grid: {} }).length, 1, "an empty grid is one setting");
  assert.throws(() => parseSweepDefinition({ grid: { lr: [1e-3] }, bogus: 1 }), /unknown field/);
  assert.throws(
    () => parseSweepDefinition({ walkForward: { trainYears: 2 } }),
    /testYears must be a positive number/,
  );
});

function fakeResult(sharpe: number, perPeriod: number): SweepJobResult {
  return {
    modelId: 1,
    modelDir: "/m",
    weightsSha256: "x",
    runId: 1,
    evalEpisodeId: 1,
    benchmarkEpisodeId: null,
    train: { start: "2013-01-02", end: "2015-12-31" },
    test: { start: "2016-01-04", end: "2016-12-30" },
    sharpe,
    metrics: { sharpe },
    psr: 0.5,
    vsBuyAndHold: { estimate: sharpe - 1, lower: -1, upper: 1 },
    bestBaseline: "equal-weight-buy-and-hold",
    returns: { n: 252, sharpe: perPeriod, skewness: 0, kurtosis: 3 },
    steps: 256,
    seconds: 1,
  };
}

Deno.test("sweepLeaderboard() ranks by the out-of-sample median over seeds, not the best seed", () => {
  const job = (setting: number, seed: number, sharpe: number, fold = 0): LeaderboardJob => ({
    key: `1/${setting}/s${seed}/f${fold}`,
    settingIndex: setting,
    settingKey: `lr=${setting}`,
    seed,
    fold,
    state: "completed",
    result: fakeResult(sharpe, sharpe / Math.sqrt(252)),
  });
  const board = sweepLeaderboard([
    // Setting 0: one lucky seed (3.0) and a median of 0.2.
    job(0, 1, 3.0),
    job(0, 2, 0.1),
    job(0, 3, 0.2),
    // Setting 1: no seed above 0.7, a median of 0.6 (two folds each: their mean per seed).
    job(1, 1, 0.4, 0),
    job(1, 1, 0.6, 1),
    job(1, 2, 0.6, 0),
    job(1, 2, 0.6, 1),
    job(1, 3, 0.7, 0),
    job(1, 3, 0.7, 1),
    { ...job(2, 1, 0), state: "failed", result: null },
  ], 3);
  assert.deepEqual(board.rows.map((r) => r.settingKey), ["lr=1", "lr=0", "lr=2"]);
  assert.ok(Math.abs(board.rows[0].median - 0.6) < 1e-12);
  assert.deepEqual(board.rows[0].perSeed.map((s) => s.folds), [2, 2, 2]);
  assert.ok(Math.abs(board.rows[0].perSeed[0].sharpe - 0.5) < 1e-12, "seed 1: mean of its folds");
  assert.ok(Math.abs(board.rows[1].median - 0.2) < 1e-12);
  assert.ok(Number.isNaN(board.rows[2].median));
  assert.equal(board.rows[2].jobs.failed, 1);
  const w = board.winner!;
  assert.equal(w.settingKey, "lr=1");
  assert.equal(w.trials, 3);
  assert.ok(w.deflatedSharpe > 0 && w.deflatedSharpe < 1);
  assert.ok(w.expectedMaxSharpe > 0, "three tries: luck alone reaches a positive Sharpe");
  assert.match(board.note, /3 configurations tried/);
});

/** An in-memory store with the sample bars; TT_DATA_DIR points at a temporary folder for models. */
async function sampleStore(): Promise<Store> {
  const store = await openStore({ dataDir: "memory://" });
  await ingestSample(store, { silent: true });
  return store;
}

type Outcome = Map<string, { sha: string; sharpe: number }>;

function outcomes(results: { settingIndex: number; seed: number; result: unknown }[]): Outcome {
  return new Map(results.map((r) => {
    const res = r.result as SweepJobResult;
    return [`${r.settingIndex}/s${r.seed}`, { sha: res.weightsSha256, sharpe: res.sharpe }];
  }));
}

let inProcess: Outcome | null = null;

Deno.test("a sweep on PGlite runs its jobs in-process, once each, with the leaderboard", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tt-sweep-" });
  const store = await sampleStore();
  try {
    const plan = await planSweep(store, parseSweepDefinition(TINY));
    assert.equal(plan.jobs.length, 4);
    assert.deepEqual(plan.jobs[0].test, { start: "2016-12-31", end: "2018-05-11" });
    // Walk-forward: one job per fold too, each tested after its own training window.
    const wf = await planSweep(
      store,
      parseSweepDefinition({
        ...TINY,
        start: undefined,
        end: undefined,
        walkForward: { trainYears: 2, testYears: 1 },
      }),
    );
    assert.equal(wf.folds, 3, "2013-05..2018-05 holds three 2+1-year folds");
    assert.equal(wf.jobs.length, 2 * 2 * 3);
    for (const j of wf.jobs) assert.ok(j.test.start > j.train.end, `fold ${j.fold}`);
    const s = await submitSweep(store, plan, { modelsDir: join(tmp, "models") });
    assert.equal(s.mode, "in-process");
    assert.deepEqual([s.completed, s.failed], [4, 0]);
    const jobs = await listSweepJobs(store, s.sweepId);
    assert.deepEqual(jobs.map((j) => [j.state, j.runs]), Array(4).fill(["completed", 1]));
    // Idempotent on the key: a finished job is returned, not run again.
    const again = await executeSweepJob(store, jobs[0].key);
    assert.equal(again.ran, false);
    assert.deepEqual(await runSweepInProcess(store, s.sweepId), { completed: 0, failed: 0 });
    assert.deepEqual((await listSweepJobs(store, s.sweepId)).map((j) => j.runs), [1, 1, 1, 1]);
    const status = await sweepStatus(store, s.sweepId);
    assert.equal(status.progress.completed, 4);
    assert.equal(status.leaderboard.configurations, 2);
    const medians = status.leaderboard.rows.map((r) => r.median);
    assert.ok(medians[0] >= medians[1], `sorted by median: ${medians}`);
    assert.ok(Number.isFinite(status.leaderboard.winner!.deflatedSharpe));
    inProcess = outcomes(jobs);
    // A sweep job logs no training episodes unless its definition asks: only the
    // out-of-sample evaluation (and its benchmark) is stored.
    const first = parseSweepJobResult(jobs[0].result, "job 0");
    assert.deepEqual(await listEpisodes(store, { runId: first.runId, kind: "train" }), []);
    assert.equal((await listEpisodes(store, { modelId: first.modelId, kind: "eval" })).length, 1);
  } finally {
    await store.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Starts a worker process on `url` with quick supervision; its stderr goes to `log`. */
function startWorker(url: string, dataDir: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(ROOT, "tasks/worker.ts"),
      "--db-url",
      url,
      "--poll-seconds",
      "0.5",
      "--supervise-seconds",
      "1",
      "--stop-timeout",
      "5",
      "--json",
    ],
    env: { TT_DATA_DIR: dataDir, DATABASE_URL: "" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
}

async function waitFor<T>(
  what: string,
  seconds: number,
  probe: () => Promise<T | null>,
): Promise<T> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > until) throw new Error(`Timed out after ${seconds} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

Deno.test({
  name:
    "a queued sweep on the server: 2 workers run every job once with the in-process results; a failing job is retried then failed; a kill -9 mid-job completes elsewhere",
  ignore: !TEST_DATABASE_URL,
  async fn() {
    const db = await createScratchDatabase(TEST_DATABASE_URL!, { prefix: "tt_t" });
    const tmp = await Deno.makeTempDir({ prefix: "tt-sweep-srv-" });
    const store = await openStore({ url: db.url });
    const workers: Deno.ChildProcess[] = [];
    try {
      await ingestSample(store, { silent: true });
      workers.push(startWorker(db.url, join(tmp, "a")), startWorker(db.url, join(tmp, "b")));
      // A generous lease where no worker dies (a loaded machine can stall a fresh worker's first
      // job past 10 s, and a lapsed lease hands the job to the other worker: a second run), and
      // pg-boss's shortest, 10 s, for the kill -9 case.
      const lease = { leaseSeconds: 60, retryLimit: 1, retryDelaySeconds: 0 };
      const shortLease = { ...lease, leaseSeconds: 10 };
      const done = (id: number, n: number) =>
        waitFor(`sweep ${id}`, 90, async () => {
          const jobs = await listSweepJobs(store, id);
          return jobs.filter((j) => j.state === "completed" || j.state === "failed").length === n
            ? jobs
            : null;
        });

      // 1. Four jobs, two workers: each job once, the same weights and metrics as in-process.
      const plan = await planSweep(store, parseSweepDefinition(TINY));
      const s = await submitSweep(store, plan, { url: db.url, lease });
      assert.equal(s.mode, "queue");
      const jobs = await done(s.sweepId, 4);
      assert.deepEqual(
        jobs.map((j) => [j.state, j.runs]),
        Array(4).fill(["completed", 1]),
        JSON.stringify(jobs.map((j) => [j.key, j.worker, j.error])),
      );
      const got = outcomes(jobs);
      if (inProcess) assert.deepEqual(got, inProcess, "the same results as the in-process run");
      const status = await sweepStatus(store, s.sweepId);
      assert.equal(status.progress.completed, 4);

      // 2. A job that fails deterministically (no bars in 1990): tried 1 + retryLimit times, then failed.
      const bad = {
        ...plan,
        jobs: [{
          ...plan.jobs[0],
          train: { start: "1990-01-02", end: "1990-12-31" },
          test: { start: "1991-01-02", end: "1991-12-31" },
        }],
      };
      const f = await submitSweep(store, bad, { url: db.url, lease });
      const [failed] = await done(f.sweepId, 1);
      assert.equal(failed.state, "failed");
      assert.equal(failed.runs, 2);
      assert.match(failed.error ?? "", /1990/);

      // 3. kill -9 of the worker running a longer job: after the lease it completes on the other.
      const long = {
        ...plan,
        jobs: [{ ...plan.jobs[0], base: { ...plan.jobs[0].base, steps: 16384 } }],
      };
      const k = await submitSweep(store, long, { url: db.url, lease: shortLease });
      const active = await waitFor("the long job to start", 30, async () => {
        const [j] = await listSweepJobs(store, k.sweepId);
        return j.state === "active" ? j : null;
      });
      const victim = workers.find((w) => active.worker?.endsWith(`:${w.pid}`))!;
      assert.ok(victim, `worker ${active.worker} is one of ours`);
      victim.kill("SIGKILL");
      await victim.status;
      const [finished] = await done(k.sweepId, 1);
      assert.equal(finished.state, "completed");
      assert.equal(finished.runs, 2, "run again after the lease ran out");
      assert.notEqual(finished.worker, active.worker);
    } finally {
      for (const w of workers) {
        try {
          w.kill("SIGTERM");
        } catch { /* gone */ }
        await w.status;
        await w.stdout.cancel().catch(() => undefined);
        await w.stderr.cancel().catch(() => undefined);
      }
      await store.close();
      await db.drop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "registerModel() in two concurrent transactions on one name gives versions 1 and 2 (two workers finishing at once)",
  ignore: !TEST_DATABASE_URL,
  async fn() {
    const db = await createScratchDatabase(TEST_DATABASE_URL!, { prefix: "tt_t" });
    const a = await openStore({ url: db.url }), b = await openStore({ url: db.url });
    try {
      const register = (s: Store) =>
        s.transaction(async (tx) => {
          const row = await registerModel(tx, { name: "race", path: "", config: {} });
          await new Promise((r) => setTimeout(r, 200)); // hold the transaction open
          return row.version;
        });
      const versions = await Promise.all([register(a), register(b)]);
      assert.deepEqual(versions.sort(), [1, 2]);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  },
});

Deno.test("a sweep's training-episode logging: none by default, else what the definition says", () => {
  const def = (extra: object) => parseSweepDefinition({ ...TINY, ...extra });
  const spec = (extra: object) => ({
    name: "s",
    settingIndex: 0,
    setting: {},
    seed: 1,
    fold: 0,
    train: { start: "2013-06-01", end: "2016-12-30" },
    test: { start: "2016-12-31", end: "2018-05-11" },
    base: def(extra).base,
  });
  assert.equal(trainOptionsForJob(spec({}), { sweepId: 1 }).logEpisodes, "none");
  assert.equal(
    trainOptionsForJob(spec({ trainEpisodes: "env0" }), { sweepId: 1 }).logEpisodes,
    "env0",
  );
  assert.throws(() => def({ trainEpisodes: "some" }), /trainEpisodes/);
});

Deno.test("deno task sweep and deno task worker print --help with examples", async () => {
  for (const task of ["sweep", "worker"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", join(ROOT, `tasks/${task}.ts`), "--help"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, task);
    assert.match(text, new RegExp(`Usage: deno task ${task}`));
    assert.match(text, /Examples:\n {2}(deno task|DATABASE_URL)/);
  }
});
