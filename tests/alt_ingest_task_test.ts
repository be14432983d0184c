/**
 * `deno task ingest --source alt` and the alternative-data section of `deno task quality`,
 * run as a user would (subprocess), on a PGlite directory and on the server. Fixtures are
 * GENERATED (tests/support/alt_fixtures.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import { createTempDatabase, TEST_DATABASE_URL } from "./support/stores.ts";
import { generatedEarningsCsv, generatedSentimentJsonl } from "./support/alt_fixtures.ts";

async function task(name: string, args: string[], dataDir: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `tasks/${name}.ts`, ...args],
    cwd: PROJECT_ROOT,
    env: { TT_DATA_DIR: dataDir, DATABASE_URL: "", NO_COLOR: "1" },
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

Deno.test("deno task ingest --source alt: usage errors exit 2 with a clear message; --help lists the options", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_alt_task_" });
  try {
    const help = await task("ingest", ["--help"], dir);
    assert.equal(help.code, 0);
    for (const s of ["sample|csv|ibkr|alt", "--kind", "--map", "--source-name", "--field"]) {
      assert.ok(help.stdout.includes(s), `--help lacks ${s}`);
    }
    let r = await task("ingest", ["--source", "alt", "--kind", "earnings"], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--source alt needs --path/);
    r = await task("ingest", ["--source", "alt", "--path", dir], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--source alt needs --kind/);
    r = await task("ingest", [
      "--source",
      "alt",
      "--kind",
      "earnings",
      "--path",
      dir,
      "--map",
      "when=x",
    ], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--map: unknown column "when"/);
    r = await task("ingest", ["--source", "csv", "--path", dir, "--kind", "earnings"], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--kind is for --source alt, not csv/);
    r = await task(
      "ingest",
      ["--source", "alt", "--kind", "earnings", "--path", dir, "--adjust"],
      dir,
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--adjust is not for --source alt/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const targets: {
  name: string;
  args: () => Promise<{ args: string[]; drop: () => Promise<void> }>;
}[] = [
  { name: "pglite", args: () => Promise.resolve({ args: [], drop: () => Promise.resolve() }) },
];
if (TEST_DATABASE_URL) {
  targets.push({
    name: "postgres",
    async args() {
      const db = await createTempDatabase();
      return { args: ["--db-url", db.url], drop: db.drop };
    },
  });
}

for (const t of targets) {
  Deno.test(`[${t.name}] deno task ingest --source alt --json imports, reruns idempotently, refuses a bad file; quality --json has the alt section`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "tt_alt_task_" });
    const { args: db, drop } = await t.args();
    try {
      const earnings = join(dir, "earnings.csv");
      await Deno.writeTextFile(earnings, generatedEarningsCsv(["AAPL", "MSFT"], 3));
      const sentiment = join(dir, "news.jsonl");
      await Deno.writeTextFile(sentiment, generatedSentimentJsonl(["AAPL"], 10));
      let r = await task(
        "ingest",
        ["--source", "alt", "--kind", "earnings", "--path", earnings, "--json", ...db],
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      let s = lastJson(r.stdout);
      assert.equal(s.source, "alt:earnings");
      assert.equal(s.rowsWritten, 12);
      assert.equal(s.files, 1);
      assert.equal(s.symbols, 2);
      assert.deepEqual(s.symbolList, ["AAPL", "MSFT"]);
      assert.deepEqual(s.rejected, []);
      assert.equal(typeof s.runId, "number");
      r = await task(
        "ingest",
        ["--source", "alt", "--kind", "earnings", "--path", earnings, "--json", ...db],
        dir,
      );
      s = lastJson(r.stdout);
      assert.equal(s.rowsWritten, 0, "a rerun inserts nothing");
      assert.equal(s.rowsAlreadyStored, 12);
      r = await task("ingest", [
        "--source",
        "alt",
        "--kind",
        "sentiment",
        "--path",
        sentiment,
        "--map",
        "instrument=ticker,event_time=day,known_at=published,value=score",
        "--source-name",
        "newsx",
        "--json",
        ...db,
      ], dir);
      assert.equal(r.code, 0, r.stderr);
      s = lastJson(r.stdout);
      assert.equal(s.altSource, "newsx");
      assert.equal(s.rowsWritten, 10);
      // A bad file: exit 1, file and line named, nothing written.
      const bad = join(dir, "bad.csv");
      await Deno.writeTextFile(
        bad,
        "instrument,event_time,known_at,value\nAAPL,2018-02-01,2018-02-02,1\nAAPL,2018-02-02,,2\n",
      );
      r = await task("ingest", [
        "--source",
        "alt",
        "--kind",
        "sentiment",
        "--path",
        bad,
        "--json",
        ...db,
      ], dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /bad\.csv line 3: known_at is missing/);
      r = await task("quality", ["--json", "--dry-run", ...db], dir);
      assert.equal(r.code, 0, r.stderr);
      const q = lastJson(r.stdout);
      assert.equal(
        q.alt.totals.series,
        2 * 2 + 1,
        "AAPL/MSFT × (announcement, surprise) + AAPL sentiment",
      );
      assert.equal(q.alt.totals.rows, 22, "the refused file wrote nothing");
      assert.deepEqual(
        q.alt.sources.map((c: { source: string; field: string; instruments: number }) =>
          `${c.source}/${c.field}:${c.instruments}`
        ),
        ["earnings/announcement:2", "earnings/eps_surprise_pct:2", "newsx/sentiment:1"],
      );
      r = await task("quality", ["--dry-run", ...db], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Alternative data \(point in time\):/);
      assert.match(
        r.stdout,
        /AAPL\s+newsx\/sentiment: 10 events, 2018-01-02 \.\. 2018-01-15, 0 revised/,
      );
    } finally {
      await drop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
