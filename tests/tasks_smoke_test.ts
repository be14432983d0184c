/**
 * Runs the training and evaluation tasks as a user would (`deno run -A tasks/X.ts …`
 * in a subprocess) against an embedded store in a temporary TT_DATA_DIR.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore } from "@lib/db/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(task: string, args: string[], dataDir: string): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join("tasks", `${task}.ts`), ...args],
    cwd: PROJECT_ROOT,
    env: { TT_DATA_DIR: dataDir, DATABASE_URL: "", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line);
}

/** Row counts of `queries` (label → SQL returning `n`), with one store open. */
async function counts(
  dataDir: string,
  queries: Record<string, string>,
): Promise<Record<string, number>> {
  const store = await openStore({ dataDir: join(dataDir, "pgdata") });
  try {
    const out: Record<string, number> = {};
    for (const [k, sql] of Object.entries(queries)) {
      out[k] = (await store.query<{ n: number }>(sql))[0].n;
    }
    return out;
  } finally {
    await store.close();
  }
}

const n = (table: string, where = "") => `SELECT count(*)::int8 AS n FROM ${table} ${where}`;

for (const task of ["train", "evaluate", "walkforward", "report", "demo"]) {
  Deno.test(`deno task ${task} --help prints usage and exits 0`, async () => {
    const r = await run(task, ["--help"], "/nonexistent-tt-data");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: deno task ${task} \\[options\\]`));
    assert.match(r.stdout, /Examples:/);
  });
}

Deno.test("tasks: train → evaluate → report on the stored sample data, as a user runs them", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "tt_tasks_" });
  try {
    await t.step("train on an empty store exits 1 and names the ingest command", async () => {
      const r = await run("train", ["--steps", "256"], dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /deno task ingest --source sample/);
    });

    await t.step("a bad option value exits 2", async () => {
      const r = await run("train", ["--steps", "many"], dir);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--steps must be a number/);
    });

    await t.step("ingest the sample", async () => {
      const r = await run("ingest", ["--source", "sample", "--json"], dir);
      assert.equal(r.code, 0, r.stderr);
    });

    let modelId = 0;
    let trainEnd = "";
    let trainStart = "";
    let trainDir = "";
    await t.step(
      "train --steps 4096 writes all five episode tables, metrics and a registered model",
      async () => {
        // The portfolio-level MLP on the vol-target scheme: the resume and universe rules below are its.
        const r = await run("train", [
          ...["--steps", "4096", "--seed", "2", "--policy", "mlp", "--action", "vol-target"],
          ...["--reward", "risk-aware", "--band", "0", "--json"],
        ], dir);
        assert.equal(r.code, 0, r.stderr);
        const s = lastJson(r.stdout);
        modelId = s.modelId as number;
        trainEnd = s.end as string;
        trainStart = s.start as string;
        trainDir = s.dir as string;
        assert.equal(s.timesteps, 4096);
        assert.deepEqual(s.instruments, ["AAPL", "SPX"]);
        const files = [...Deno.readDirSync(s.dir as string)].map((e) => e.name).sort();
        assert.deepEqual(files, ["model.json", "obs_norm.json", "weights.bin"]);
        const tables = [
          "tt_episode",
          "tt_action",
          "tt_reward",
          "tt_equity_curve",
          "tt_target_weights",
        ];
        const c = await counts(dir, {
          ...Object.fromEntries(tables.map((t) => [t, n(t)])),
          metrics: n("tt_train_metrics"),
          models: n("tt_models"),
        });
        for (const table of tables) assert.ok(c[table] > 0, `${table} has rows`);
        assert.equal(c.metrics, s.updates as number);
        assert.equal(c.models, 1);
      },
    );

    await t.step(
      "evaluate --json runs after the training range and logs an eval episode",
      async () => {
        const r = await run("evaluate", ["--model", String(modelId), "--json"], dir);
        assert.equal(r.code, 0, r.stderr);
        const s = lastJson(r.stdout);
        assert.ok((s.start as string) > trainEnd, `${s.start} after ${trainEnd}`);
        assert.equal(s.inSample, false);
        assert.ok(typeof (s.strategy as Record<string, number>).sharpe === "number");
        assert.ok(typeof (s.benchmark as Record<string, number>).sharpe === "number");
        const ci = s.sharpeDifference as Record<string, number>;
        assert.ok(ci.lower <= ci.estimate && ci.estimate <= ci.upper);
        const c = await counts(dir, {
          eval: n("tt_episode", "WHERE kind = 'eval'"),
          benchmark: n("tt_episode", "WHERE kind = 'benchmark'"),
        });
        assert.deepEqual(c, { eval: 1, benchmark: 1 });
      },
    );

    await t.step("evaluate refuses another universe (exit 2)", async () => {
      const r = await run("evaluate", ["--model", String(modelId), "--symbols", "SPX"], dir);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /only be evaluated on that same universe/);
    });

    await t.step(
      "evaluate takes the evaluator's costs, prints every baseline and the cost warning; bad cost flags exit 2",
      async () => {
        const r = await run("evaluate", ["--model", String(modelId), "--cost-bps", "0"], dir);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /WARNING: trained at 10\+5 bps, evaluated at 0\+5 bps/);
        assert.match(r.stdout, /inv\. vol/);
        assert.match(r.stdout, /best baseline/);
        assert.match(r.stdout, /survivorship:/);
        for (
          const bad of [["--fee-model", "nope"], ["--cost-bps", "-1"], ["--slippage-bps", "x"]]
        ) {
          const e = await run("evaluate", ["--model", String(modelId), ...bad], dir);
          assert.equal(e.code, 2, `${bad.join(" ")}: ${e.stderr}`);
        }
      },
    );

    const modelConfig = async (dir: string) =>
      JSON.parse(await Deno.readTextFile(join(dir, "model.json"))).config;

    await t.step(
      "train --resume without flags keeps the parent's name, seed, dates and env (--json)",
      async () => {
        const r = await run(
          "train",
          ["--resume", String(modelId), "--steps", "256", "--json"],
          dir,
        );
        assert.equal(r.code, 0, r.stderr);
        const s = lastJson(r.stdout);
        assert.equal(s.name, "ppo-portfolio");
        assert.equal(s.version, 2);
        assert.deepEqual([s.start, s.end], [trainStart, trainEnd]);
        const cfg = await modelConfig(s.dir as string);
        assert.equal(cfg.seed, 2);
        assert.equal(cfg.env.costPerTurnBps, 10);
        assert.equal(cfg.env.episodeLength, 252);
        assert.equal(cfg.resumedFrom, trainDir);
      },
    );

    await t.step(
      "train --resume honours --cost-bps, --slippage-bps, --drawdown-stop, --episode-length, --seed, --name, --start/--end",
      async () => {
        const r = await run("train", [
          ...["--resume", String(modelId), "--steps", "256", "--cost-bps", "3"],
          ...["--slippage-bps", "1", "--drawdown-stop", "0.4", "--episode-length", "100"],
          ...["--seed", "5", "--name", "tuned", "--start", "2014-01-02", "--end", "2015-06-30"],
          "--json",
        ], dir);
        assert.equal(r.code, 0, r.stderr);
        const s = lastJson(r.stdout);
        assert.equal(s.name, "tuned");
        assert.equal(s.start, "2014-01-02");
        assert.ok((s.end as string) <= "2015-06-30");
        const cfg = await modelConfig(s.dir as string);
        assert.equal(cfg.seed, 5);
        assert.deepEqual(
          [
            cfg.env.costPerTurnBps,
            cfg.env.slippageBps,
            cfg.env.drawdownStop,
            cfg.env.episodeLength,
          ],
          [3, 1, 0.4, 100],
        );
      },
    );

    await t.step(
      "train --resume refuses --action, --window, --with-features, --hidden, other --symbols (exit 2)",
      async () => {
        const r = await run("train", [
          ...["--resume", String(modelId), "--action", "discrete", "--window", "3"],
          ...["--with-features", "technical", "--hidden", "32", "--symbols", "SPX"],
        ], dir);
        assert.equal(r.code, 2, r.stderr);
        for (const flag of ["--action", "--window", "--with-features", "--hidden", "--symbols"]) {
          assert.ok(r.stderr.includes(`(${flag})`), `${flag} named in: ${r.stderr}`);
        }
        const same = await run("train", ["--resume", String(modelId), "--universe", "all"], dir);
        assert.equal(same.code, 2);
        assert.match(same.stderr, /drop --universe/);
        const c = await counts(dir, { models: n("tt_models") });
        assert.equal(c.models, 3, "the refused runs registered nothing");
      },
    );

    await t.step(
      "models: list and show (--json), alias as champion, evaluate NAME@champion, roll back, refuse to delete an aliased model",
      async () => {
        const list = await run("models", ["list", "--json"], dir);
        assert.equal(list.code, 0, list.stderr);
        const models = lastJson(list.stdout).models as { name: string; version: number }[];
        assert.deepEqual(
          models.map((m) => `${m.name}@v${m.version}`).sort(),
          ["ppo-portfolio@v1", "ppo-portfolio@v2", "tuned@v1"],
        );
        const show = await run("models", ["show", "ppo-portfolio@v1", "--json"], dir);
        assert.equal(show.code, 0, show.stderr);
        const d = lastJson(show.stdout) as {
          id: number;
          version: number;
          files: { status: string };
          evaluations: unknown[];
          trainRuns: unknown[];
        };
        assert.deepEqual([d.id, d.version, d.files.status], [modelId, 1, "ok"]);
        assert.ok(d.evaluations.length >= 1, "the evaluate step above is listed");
        assert.ok(d.trainRuns.length >= 1);
        const data =
          (lastJson(show.stdout) as { data: { runId: number; source: string; bars: number }[] })
            .data;
        assert.equal(data.length, 1, "one ingest run (the sample) wrote the training bars");
        assert.equal(data[0].source, "sample");
        assert.ok(data[0].bars > 1000);
        for (const [ref, why] of [["ppo-portfolio@v1", "first"], ["ppo-portfolio@v2", "resumed"]]) {
          const a = await run("models", ["alias", ref, "champion", "--why", why], dir);
          assert.equal(a.code, 0, a.stderr);
        }
        const ev = await run("evaluate", ["--model", "ppo-portfolio@champion", "--json"], dir);
        assert.equal(ev.code, 0, ev.stderr);
        const back = await run("models", ["rollback", "ppo-portfolio", "--why", "test"], dir);
        assert.equal(back.code, 0, back.stderr);
        assert.match(back.stdout, new RegExp(`ppo-portfolio@champion: model ${modelId} `));
        const champ = await run("models", ["show", "ppo-portfolio@champion", "--json"], dir);
        assert.equal(lastJson(champ.stdout).version, 1);
        const hist = await run("models", ["history", "ppo-portfolio", "--json"], dir);
        const events = lastJson(hist.stdout).events as { action: string; why: string }[];
        assert.deepEqual(events.map((e) => `${e.action}:${e.why}`), [
          "set:first",
          "set:resumed",
          "rollback:test",
        ]);
        const drift = await run("models", ["drift", "ppo-portfolio@champion", "--json"], dir);
        assert.equal(drift.code, 1, "no stored features yet: refused");
        assert.match(drift.stderr, /run deno task features first/);
        const feats = await run("features", ["--set", "basic"], dir);
        assert.equal(feats.code, 0, feats.stderr);
        const drift2 = await run("models", ["drift", "ppo-portfolio@champion", "--json"], dir);
        assert.equal(drift2.code, 0, drift2.stderr);
        const dj = lastJson(drift2.stdout) as {
          pairs: number;
          drifted: boolean;
          runId: number;
          window: { bars: number };
        };
        assert.ok(dj.pairs > 0 && typeof dj.drifted === "boolean" && dj.runId > 0, drift2.stdout);
        assert.equal(dj.window.bars, 63);
        const del = await run("models", ["delete", "ppo-portfolio@champion"], dir);
        assert.equal(del.code, 1);
        assert.match(del.stderr, /used by alias ppo-portfolio@champion/);
        const unknown = await run("models", ["show", "nope@champion"], dir);
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /No alias nope@champion/);
        const bad = await run("models", ["frobnicate"], dir);
        assert.equal(bad.code, 2);
        const help = await run("models", ["--help"], dir);
        assert.equal(help.code, 0);
        assert.match(help.stdout, /^Usage: deno task models list\|show/);
        assert.match(help.stdout, /Examples:/);
      },
    );

    await t.step(
      "walkforward --json reports each fold after its training window and the aggregate",
      async () => {
        const r = await run("walkforward", [
          "--train-years",
          "2",
          "--test-years",
          "1",
          "--steps",
          "256",
          "--json",
        ], dir);
        assert.equal(r.code, 0, r.stderr);
        const s = lastJson(r.stdout) as {
          folds: { train: { end: string }; test: { start: string } }[];
          aggregate: { meanSharpe: number };
        };
        assert.equal(s.folds.length, 3);
        for (const f of s.folds) assert.ok(f.test.start > f.train.end);
        assert.equal(typeof s.aggregate.meanSharpe, "number");
      },
    );

    await t.step("report --model writes an HTML file and prints its path", async () => {
      const r = await run("report", ["--model", String(modelId)], dir);
      assert.equal(r.code, 0, r.stderr);
      const path = /: (\/.*\.html)$/m.exec(r.stdout)?.[1];
      assert.ok(path, r.stdout);
      assert.ok(path.startsWith(join(dir, "reports")));
      assert.match(await Deno.readTextFile(path), /<svg/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task demo runs end to end on a fresh data directory and writes the report", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_demo_" });
  try {
    const r = await run("demo", ["--json"], dir);
    assert.equal(r.code, 0, r.stderr);
    for (
      const stage of [
        "[1/6] ingest",
        "[2/6] quality",
        "[3/6] features",
        "[4/6] train",
        "[5/6] evaluate",
        "[6/6] report",
      ]
    ) {
      assert.ok(r.stderr.includes(stage), `progress shows ${stage}`);
    }
    const s = lastJson(r.stdout);
    assert.equal(s.reportPath, join(dir, "demo", "reports", "demo.html"));
    assert.match(r.stderr, /demo: its own store and files in /);
    assert.match(await Deno.readTextFile(s.reportPath as string), /out of sample/);
    const ev = s.evaluation as Record<string, unknown>;
    assert.equal(ev.start, "2017-01-03");
    assert.equal(ev.inSample, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
