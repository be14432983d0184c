/**
 * Smoke tests: run `tasks/ingest.ts` and `tasks/quality.ts` as a user would, each
 * against a PGlite directory in a temp TT_DATA_DIR.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore, readPrices } from "@lib/db/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import { SHARED_DATA, SHARED_DATA_SKIP_REASON } from "./support/csv_fixtures.ts";

async function task(name: string, args: string[], dataDir: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tasks/${name}.ts`, ...args],
    cwd: PROJECT_ROOT,
    env: { TT_DATA_DIR: dataDir, DATABASE_URL: "" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

function lastJson(stdout: string) {
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

Deno.test("deno task ingest --help lists the sources and options and exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_task_" });
  const r = await task("ingest", ["--help"], dir);
  assert.equal(r.code, 0);
  for (
    const s of [
      "--source",
      "sample|csv|ibkr",
      "--path",
      "--symbol-pattern",
      "--bar-size",
      "--adjust",
      "--rth-only",
      "--skip-bad-rows",
      "--start",
      "--end",
      "--symbols",
      "--db-url",
      "--json",
      "--watchlist",
      "--mode",
      "--client-id",
    ]
  ) {
    assert.ok(r.stdout.includes(s), `--help lacks ${s}`);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task ingest refuses bad usage with exit 2 and a clear message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_task_" });
  let r = await task("ingest", ["--source", "csv"], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--source csv needs --path/);
  r = await task("ingest", ["--source", "ftp"], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--source must be one of sample, csv, ibkr, alt; got "ftp"/);
  r = await task("ingest", ["--source", "ibkr", "--symbols", "AAPL"], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--source ibkr needs --start and --end/);
  r = await task("ingest", ["--source", "csv", "--path", join(dir, "nope")], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /No such file or directory/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deno task ingest --source sample writes SPX 2000–2020 and AAPL 2013–2018; a rerun changes nothing; quality runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_task_" });
  try {
    const first = await task("ingest", ["--source", "sample", "--json"], dir);
    assert.equal(first.code, 0, first.stderr);
    const s = lastJson(first.stdout);
    assert.equal(s.rowsWritten, 5105 + 1260);
    assert.deepEqual(s.symbolList, ["AAPL", "SPX"]);
    assert.deepEqual(s.rejected, []);
    const again = lastJson((await task("ingest", ["--source", "sample", "--json"], dir)).stdout);
    assert.equal(again.rowsWritten, s.rowsWritten);
    const store = await openStore({ dataDir: join(dir, "pgdata") });
    try {
      const spx = await readPrices(store, { instruments: ["SPX"] });
      assert.equal(spx.timestamp.length, 5105);
      assert.equal(new Date(spx.timestamp[0]).toISOString(), "2000-01-03T00:00:00.000Z");
      assert.equal(new Date(spx.timestamp.at(-1)!).toISOString(), "2020-04-17T00:00:00.000Z");
      assert.equal(spx.close[0], 1455.219971);
      const [n] = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM tt_prices");
      assert.equal(n.n, 5105 + 1260);
    } finally {
      await store.close();
    }
    const q = await task("quality", ["--json"], dir);
    assert.equal(q.code, 0, q.stderr);
    const qs = lastJson(q.stdout);
    assert.deepEqual(qs.symbols.map((x: { symbol: string }) => x.symbol), ["AAPL", "SPX"]);
    assert.equal(qs.days, 5105);
    const aapl = qs.symbols.find((x: { symbol: string }) => x.symbol === "AAPL");
    assert.equal(aapl.notListed + aapl.listedDays, 5105);
    const text = await task("quality", ["--worst", "3"], dir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Data quality of 1 day bars/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "deno task ingest --source csv --path ../shared/data/daily_sp41 --adjust writes 220,277 bars; AAPL 2014-06-09 is a few percent; a rerun changes nothing",
  ignore: !SHARED_DATA,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tt_task_" });
    const args = ["--source", "csv", "--path", "../shared/data/daily_sp41", "--adjust", "--json"];
    try {
      const r = await task("ingest", args, dir);
      assert.equal(r.code, 0, r.stderr);
      const s = lastJson(r.stdout);
      assert.equal(s.rowsWritten, 220_277);
      assert.equal(s.symbols, 41);
      const open = () => openStore({ dataDir: join(dir, "pgdata") });
      let store = await open();
      const snapshot = await store.query(
        "SELECT md5(string_agg(instrument || timestamp::text || close::text || volume::text, ',' ORDER BY instrument, timestamp)) AS h, count(*)::int AS n FROM tt_prices",
      );
      const aapl = await readPrices(store, {
        instruments: ["AAPL"],
        start: "2014-06-06",
        end: "2014-06-09",
      });
      await store.close();
      assert.equal(aapl.close.length, 2);
      const ret = aapl.close[1] / aapl.close[0] - 1;
      assert.ok(ret > 0 && ret < 0.05, `AAPL 2014-06-09 return ${ret}`);
      const again = await task("ingest", args, dir);
      assert.equal(again.code, 0, again.stderr);
      store = await open();
      try {
        assert.deepEqual(
          await store.query(
            "SELECT md5(string_agg(instrument || timestamp::text || close::text || volume::text, ',' ORDER BY instrument, timestamp)) AS h, count(*)::int AS n FROM tt_prices",
          ),
          snapshot,
        );
      } finally {
        await store.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "deno task ingest --source csv --path ../shared/data/hourly_33 --rth-only keeps 448 bars per file",
  ignore: !SHARED_DATA,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tt_task_" });
    try {
      const r = await task("ingest", [
        "--source",
        "csv",
        "--path",
        "../shared/data/hourly_33",
        "--rth-only",
        "--json",
      ], dir);
      assert.equal(r.code, 0, r.stderr);
      const s = lastJson(r.stdout);
      assert.equal(s.rowsWritten, 33 * 448);
      assert.deepEqual(s.barSizes, ["1 hour"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

if (!SHARED_DATA) console.log(`skip: ${SHARED_DATA_SKIP_REASON}`);
