/**
 * `deno task bench agent` runs as a user runs it (a subprocess), on a tiny budget: its
 * JSON line has every seed, the median, the baselines and the must/aim checks, and it
 * writes nothing into the user's data directory. The figures of the full workload are
 * in the README (a benchmark, not a timed test).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { PROJECT_ROOT } from "@lib/util/mod.ts";

const DATA = resolve(PROJECT_ROOT, "..", "shared", "data", "daily_sp41");

Deno.test({
  name:
    "bench agent: one JSON line with each seed, the median, the baselines and the checks; the user's data/ untouched",
  ignore: !existsSync(DATA),
  async fn() {
    const userData = await Deno.makeTempDir({ prefix: "tt_bench_agent_user_" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join("tasks", "bench.ts"),
          "agent",
          "--seeds",
          "2",
          "--steps",
          "1024",
          "--symbols",
          "aapl,MSFT,JPM",
          "--train-start",
          "2012-01-03",
          "--train-end",
          "2014-12-31",
          "--eval-end",
          "2015-12-31",
        ],
        cwd: PROJECT_ROOT,
        env: { TT_DATA_DIR: userData, DATABASE_URL: "", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, stderr);
      const line = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
      assert.equal(line.bench, "agent");
      assert.deepEqual(line.symbols, ["AAPL", "JPM", "MSFT"]);
      assert.equal(line.models.length, 2);
      assert.deepEqual(line.models.map((m: { seed: number }) => m.seed), [1, 2]);
      for (const m of line.models) assert.ok(Number.isFinite(m.metrics.sharpe));
      assert.ok(Number.isFinite(line.median.sharpe.median));
      assert.equal(line.baselines.length, 5);
      assert.equal(typeof line.must.medianSharpeAtLeast05, "boolean");
      assert.equal(typeof line.must.noSeedWorseThanBuyAndHold, "boolean");
      assert.equal(typeof line.aim.medianBeatsBuyAndHold, "boolean");
      assert.equal(line.evaluation.start, "2015-01-02");
      assert.ok(line.wallSeconds > 0);
      // Nothing in the user's data directory: the bench uses a scratch store.
      assert.deepEqual([...Deno.readDirSync(userData)], []);
    } finally {
      await Deno.remove(userData, { recursive: true });
    }
  },
});
