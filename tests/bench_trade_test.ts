/**
 * `deno task bench trade` runs as a user runs it (a subprocess), on tiny sizes: its JSON
 * line has the cycle's and the feature step's times, the full-history comparison and the
 * full refresh, and it writes nothing into the user's data directory. The figures of the
 * full workload (50 symbols) are in the report, not asserted (a loaded machine).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "@lib/util/mod.ts";

Deno.test("bench trade: one JSON line with the cycle, the feature step and the full refresh; the user's data/ untouched", async () => {
  const userData = await Deno.makeTempDir({ prefix: "tt_bench_trade_user_" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join("tasks", "bench.ts"),
        "trade",
        "--symbols",
        "4",
        "--days",
        "60",
        "--rounds",
        "3",
        "--train-steps",
        "64",
      ],
      cwd: PROJECT_ROOT,
      env: { TT_DATA_DIR: userData, DATABASE_URL: "", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const line = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    assert.equal(line.bench, "trade");
    assert.equal(line.store, "pglite");
    assert.equal(line.symbols, 4);
    assert.equal(line.cycle_ms.length, 3);
    assert.equal(line.feature_step_ms.length, 3);
    for (const k of ["cycle_ms_median", "feature_step_ms_median", "feature_compute_ms_median"]) {
      assert.ok(line[k] > 0, `${k} = ${line[k]}`);
    }
    // The cycle's features cover the newest bars only: basic set, window 1 → 22 bars.
    assert.equal(line.feature_step_bars, 22);
    assert.ok(line.full_history_bars >= 60);
    assert.ok(line.full_refresh_seconds > 0 && line.full_refresh_rows > 0);
    assert.equal(line.orders_sent.length, 3);
    assert.ok(line.orders_sent[0] > 0, "the first cycle sends orders");
    assert.ok(Number.isFinite(line.equity) && line.equity > 0);
    assert.deepEqual([...Deno.readDirSync(userData)], []);
  } finally {
    await Deno.remove(userData, { recursive: true });
  }
});
