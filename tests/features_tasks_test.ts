/**
 * Smoke tests: `deno task features` and `deno task signals` run as a user would,
 * against a PGlite store in a temporary TT_DATA_DIR.
 */
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { openStore, upsertPrices } from "@lib/db/mod.ts";
import { lookback, syntheticBarColumns, syntheticBars } from "@lib/features/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";

function run(task: string, args: string[], env: Record<string, string> = {}) {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", resolve(PROJECT_ROOT, "tasks", `${task}.ts`), ...args],
    cwd: PROJECT_ROOT,
    env: { ...env, DATABASE_URL: "" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task features / signals: --help exits 0; a bad --set or --weights exits 2 with the reason", () => {
  const help = run("features", ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--set VALUE/);
  const bad = run("features", ["--set", "nope"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--set must be one of basic, training, cross, technical, spec, all/);
  const badName = run("features", ["--names", "vol_21"]);
  assert.equal(badName.code, 2);
  assert.match(badName.stderr, /Unknown feature "vol_21"/);
  const badW = run("signals", ["--weights", "1"]);
  assert.equal(badW.code, 2);
  assert.match(badW.stderr, /--weights must be two numbers/);
  assert.equal(run("signals", ["--help"]).code, 0);
});

Deno.test("deno task features / signals --json write to the store and a rerun writes the same rows", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_features_task_" });
  try {
    const store = await openStore({ dataDir: `${dir}/pgdata` });
    await upsertPrices(store, "1 day", syntheticBarColumns(syntheticBars(3, 60, 1)));
    await store.close();
    const env = { TT_DATA_DIR: dir };

    const first = run("features", ["--set", "basic", "--json"], env);
    assert.equal(first.code, 0, first.stderr);
    const summary = JSON.parse(first.stdout.trim().split("\n").at(-1)!);
    const expected = 3 *
      (60 - lookback("return_1") + 60 - lookback("vol_10") + 60 - lookback("vol_20"));
    assert.equal(summary.rowsWritten, expected);
    assert.deepEqual(summary.features, ["return_1", "vol_10", "vol_20"]);
    const again = JSON.parse(
      run("features", ["--set", "basic", "--json"], env).stdout.trim().split("\n").at(-1)!,
    );
    assert.equal(again.rowsWritten, expected);

    const sig = run("signals", ["--method", "rank", "--weights", "2,1", "--json"], env);
    assert.equal(sig.code, 0, sig.stderr);
    assert.deepEqual(JSON.parse(sig.stdout.trim().split("\n").at(-1)!).signals, [
      "combined",
      "mean_reversion",
      "momentum",
    ]);

    const check = await openStore({ dataDir: `${dir}/pgdata` });
    const [f] = await check.query<{ n: number }>("SELECT count(*)::int8 AS n FROM tt_features");
    const [s] = await check.query<{ n: number }>(
      "SELECT count(*)::int8 AS n FROM tt_signal_scores WHERE signal_name = 'combined'",
    );
    await check.close();
    assert.equal(f.n, expected);
    assert.ok(s.n > 0);

    const none = run("features", ["--symbols", "NOPE", "--json"], env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No bars in tt_prices for symbols NOPE/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
