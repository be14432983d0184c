/**
 * Store contract suite: the same cases for every store factory (PGlite always, the
 * PostgreSQL server when TEST_DATABASE_URL is set), plus crash (kill -9) and
 * redaction cases that run the real `tasks/ingest.ts` process.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ingestCsv } from "@lib/data/mod.ts";
import {
  listMigrations,
  migrate,
  openStore,
  readPrices,
  type Store,
  upsertPrices,
} from "@lib/db/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import { createTempDatabase, storeFactories, TEST_DATABASE_URL } from "./support/stores.ts";
import { writeSyntheticFolder } from "./support/csv_fixtures.ts";

const HOSTILE = "x'; drop table tt_prices;--";
const T0 = Date.parse("2020-01-02T00:00:00Z");

function bars(symbol: string, n: number, scale = 1) {
  const idx = Array.from({ length: n }, (_, i) => i);
  return {
    instrument: idx.map(() => symbol),
    timestamp: idx.map((i) => T0 + i * 86_400_000),
    open: idx.map((i) => (10 + i) * scale),
    high: idx.map((i) => (11 + i) * scale),
    low: idx.map((i) => (9 + i) * scale),
    close: idx.map((i) => (10.5 + i) * scale),
    volume: idx.map((i) => 100 + i),
  };
}

async function count(
  store: Store,
  sql = "SELECT count(*)::int AS n FROM tt_prices",
): Promise<number> {
  const [r] = await store.query<{ n: number }>(sql);
  return r.n;
}

for (const factory of storeFactories()) {
  const name = (what: string) => `store contract [${factory.name}]: ${what}`;

  Deno.test(
    name("migrate() is idempotent: a second run applies nothing and changes no schema row"),
    async () => {
      const store = await factory.open();
      try {
        const versions = (await listMigrations()).map((m) => m.version);
        const before = await store.query<{ version: number }>(
          "SELECT version FROM tt_schema_migrations ORDER BY version",
        );
        assert.deepEqual(before.map((r) => r.version), versions);
        assert.deepEqual(await migrate(store), []);
        assert.deepEqual(
          await store.query("SELECT version FROM tt_schema_migrations ORDER BY version"),
          before,
        );
      } finally {
        await store.close();
      }
    },
  );

  Deno.test(
    name("upsertPrices() twice leaves the same rows; changed values overwrite in place"),
    async () => {
      const store = await factory.open();
      try {
        await store.transaction((tx) => upsertPrices(tx, "1 day", bars("AAA", 30)));
        const first = await readPrices(store, {});
        await store.transaction((tx) => upsertPrices(tx, "1 day", bars("AAA", 30)));
        assert.deepEqual(await readPrices(store, {}), first);
        assert.equal(await count(store), 30);
        await upsertPrices(store, "1 day", bars("AAA", 10, 2));
        const after = await readPrices(store, {});
        assert.equal(after.close.length, 30);
        assert.equal(after.close[0], 21);
        assert.equal(after.close[29], first.close[29]);
        await upsertPrices(store, "1 hour", bars("AAA", 5));
        assert.equal(await count(store), 35, "bar sizes coexist");
      } finally {
        await store.close();
      }
    },
  );

  Deno.test(name("a transaction that throws writes nothing"), async () => {
    const store = await factory.open();
    try {
      await assert.rejects(
        store.transaction(async (tx) => {
          await upsertPrices(tx, "1 day", bars("AAA", 10));
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.equal(await count(store), 0);
    } finally {
      await store.close();
    }
  });

  Deno.test(name(`a hostile symbol ${JSON.stringify(HOSTILE)} is stored verbatim`), async () => {
    const store = await factory.open();
    const dir = await Deno.makeTempDir({ prefix: "tt_store_" });
    try {
      await upsertPrices(store, "1 day", bars(HOSTILE, 3));
      await Deno.writeTextFile(
        join(dir, "x.csv"),
        `Date,Open,High,Low,Close,Volume,Symbol\n2021-01-04,1,2,0.5,1.5,10,"${
          HOSTILE.replaceAll('"', '""')
        }"\n`,
      );
      await ingestCsv(store, dir, { silent: true, keepSymbolCase: true });
      const rows = await store.query<{ instrument: string; n: number }>(
        "SELECT instrument, count(*)::int AS n FROM tt_prices GROUP BY instrument",
      );
      assert.deepEqual(rows, [{ instrument: HOSTILE, n: 4 }]);
      assert.deepEqual(await store.query("SELECT symbol FROM tt_instruments"), [{
        symbol: HOSTILE,
      }]);
      assert.equal((await readPrices(store, { instruments: [HOSTILE] })).close.length, 4);
    } finally {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(
    name("ingestCsv() twice leaves exactly the same rows and records both runs"),
    async () => {
      const store = await factory.open();
      const dir = await Deno.makeTempDir({ prefix: "tt_store_" });
      try {
        const total = await writeSyntheticFolder(dir, ["AAA", "BBB", "CCC"], 300);
        const a = await ingestCsv(store, dir, {
          silent: true,
          adjust: true,
          batchRows: 500,
        });
        const snap = await readPrices(store, {});
        const b = await ingestCsv(store, dir, { silent: true, adjust: true });
        assert.equal(a.rowsWritten, total);
        assert.equal(b.rowsWritten, total);
        assert.deepEqual(await readPrices(store, {}), snap);
        assert.equal(await count(store), total);
        const runs = await store.query<{ status: string; rows_written: number }>(
          "SELECT status, rows_written FROM tt_ingest_runs ORDER BY id",
        );
        assert.deepEqual(runs, [{ status: "ok", rows_written: total }, {
          status: "ok",
          rows_written: total,
        }]);
        const inst = await store.query<{ symbol: string; first_bar: Date }>(
          "SELECT symbol, first_bar FROM tt_instruments ORDER BY symbol",
        );
        assert.deepEqual(inst.map((r) => [r.symbol, new Date(r.first_bar).toISOString()]), [
          ["AAA", "2010-01-04T00:00:00.000Z"],
          ["BBB", "2010-01-04T00:00:00.000Z"],
          ["CCC", "2010-01-04T00:00:00.000Z"],
        ]);
      } finally {
        await store.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  );

  Deno.test(
    name(
      "ingestCsv() is all or nothing: a failure in the 2nd batch leaves no row of the run, earlier data untouched, the run failed",
    ),
    async () => {
      const store = await factory.open();
      const dir = await Deno.makeTempDir({ prefix: "tt_store_" });
      const old = await Deno.makeTempDir({ prefix: "tt_store_" });
      try {
        await writeSyntheticFolder(old, ["OLD"], 50);
        await ingestCsv(store, old, { silent: true, adjust: true });
        const before = await readPrices(store, {});
        const total = await writeSyntheticFolder(dir, ["AAA", "BBB", "CCC"], 300);
        let batches = 0;
        await assert.rejects(
          ingestCsv(store, dir, {
            silent: true,
            adjust: true,
            batchRows: 300, // one batch per file: the 2nd is BBB.csv's, after AAA.csv's was sent
            onBatchWritten: () => {
              if (++batches === 2) throw new Error("injected: disk full");
            },
          }),
          /injected: disk full/,
        );
        assert.equal(batches, 2);
        assert.deepEqual(
          await readPrices(store, {}),
          before,
          "the earlier run's rows are as they were",
        );
        assert.equal(
          await count(store, "SELECT count(*)::int AS n FROM tt_prices WHERE instrument <> 'OLD'"),
          0,
          "no row of the failed run",
        );
        assert.deepEqual(
          (await store.query<{ symbol: string }>("SELECT symbol FROM tt_instruments")).map((r) =>
            r.symbol
          ),
          ["OLD"],
        );
        const runs = await store.query<{ status: string; rows_written: number; message: string }>(
          "SELECT status, rows_written, message FROM tt_ingest_runs ORDER BY id",
        );
        assert.deepEqual(runs.map((r) => [r.status, r.rows_written]), [["ok", 50], ["failed", 0]]);
        assert.match(runs[1].message, /injected: disk full/);
        // A later file refused after earlier files were sent: nothing of the run either.
        await Deno.writeTextFile(
          join(dir, "ZZZ.csv"),
          "Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,2,0.5,1.5,1.5,x\n",
        );
        await assert.rejects(
          ingestCsv(store, dir, { silent: true, adjust: true, batchRows: 200 }),
          /ZZZ\.csv line 2: volume "x" is not a number/,
        );
        assert.deepEqual(await readPrices(store, {}), before);
        await Deno.remove(join(dir, "ZZZ.csv"));
        const ok = await ingestCsv(store, dir, { silent: true, adjust: true, batchRows: 200 });
        assert.equal(ok.rowsWritten, total);
        assert.equal(await count(store), total + 50);
      } finally {
        await store.close();
        await Deno.remove(dir, { recursive: true });
        await Deno.remove(old, { recursive: true });
      }
    },
  );

  Deno.test(name("tt_ingest_runs.parameters never holds a password"), async () => {
    const store = await factory.open();
    const dir = await Deno.makeTempDir({ prefix: "tt_store_" });
    try {
      await writeSyntheticFolder(dir, ["AAA"], 5);
      await ingestCsv(store, dir, {
        silent: true,
        lineage: { dbUrl: "postgres://u:secret@db.example:5432/tt", password: "secret" },
      });
      const [run] = await store.query<{ parameters: unknown }>(
        "SELECT parameters FROM tt_ingest_runs",
      );
      const text = JSON.stringify(run.parameters);
      assert.ok(!text.includes("secret"), text);
      assert.match(text, /postgres:\/\/u:\*\*\*@db\.example/);
    } finally {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

// ---- Redaction of connection failures ---------------------------------------------------

const CLOSED_PORT_URL = "postgres://tt_user:s3cr3t-pw@127.0.0.1:9/tt";

Deno.test("openStore() error for an unreachable server never contains the password", async () => {
  await assert.rejects(openStore({ url: CLOSED_PORT_URL }), (e: unknown) => {
    const msg = String((e as Error).message) + String((e as Error).stack);
    assert.ok(!msg.includes("s3cr3t-pw"), msg);
    assert.match((e as Error).message, /tt_user:\*\*\*@127\.0\.0\.1:9/);
    return true;
  });
});

Deno.test("deno task ingest with an unreachable --db-url exits 1 without printing the password", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/ingest.ts", "--source", "sample", "--db-url", CLOSED_PORT_URL],
    cwd: PROJECT_ROOT,
    env: { TT_DEBUG: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 1, text);
  assert.ok(!text.includes("s3cr3t-pw"), text);
  assert.match(text, /Cannot connect to postgres:\/\/tt_user:\*\*\*@127\.0\.0\.1:9/);
});

// ---- kill -9 mid-ingest ----------------------------------------------------------------

const KILL_SYMBOLS = Array.from({ length: 12 }, (_, i) => `K${String(i).padStart(2, "0")}`);
const KILL_DAYS = 2000; // rows per file: one batch per file (batches of at most 5,000 rows under the test hooks)

/** Runs tasks/ingest.ts and SIGKILLs it inside its one transaction, after its second batch was sent. */
async function ingestAndKill(
  dir: string,
  env: Record<string, string>,
  extra: string[],
): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/ingest.ts", "--source", "csv", "--path", dir, "--adjust", ...extra],
    cwd: PROJECT_ROOT,
    env: { ...env, TT_TEST_INGEST_DELAY_MS: "1500", TT_TEST_INGEST_TRACE: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let seen = "";
  const reader = child.stderr.getReader();
  const decoder = new TextDecoder();
  while ((seen.match(/ingest: sent/g) ?? []).length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value);
  }
  child.kill("SIGKILL");
  reader.releaseLock();
  await child.stderr.cancel().catch(() => undefined);
  const status = await child.status;
  assert.equal(
    (seen.match(/ingest: sent/g) ?? []).length,
    2,
    `the ingest never sent 2 batches:\n${seen}`,
  );
  assert.ok(!seen.includes("ingest: committed"), `the ingest committed before the kill:\n${seen}`);
  assert.equal(status.signal, "SIGKILL", `the ingest ended before the kill:\n${seen}`);
  return seen;
}

async function runIngest(dir: string, env: Record<string, string>, extra: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "tasks/ingest.ts",
      "--source",
      "csv",
      "--path",
      dir,
      "--adjust",
      "--json",
      ...extra,
    ],
    cwd: PROJECT_ROOT,
    env,
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

async function assertNothingOfTheRun(store: Store) {
  assert.equal(await count(store), 0, "after the kill: no row of the killed run");
  assert.equal(await count(store, "SELECT count(*)::int AS n FROM tt_instruments"), 0);
  const runs = await store.query<{ status: string }>(
    "SELECT status FROM tt_ingest_runs ORDER BY id",
  );
  assert.deepEqual(
    runs.map((r) => r.status),
    ["running"],
    "the killed run stays 'running' in the lineage (nobody was left to mark it)",
  );
}

async function assertRerunComplete(store: Store, total: number) {
  assert.equal(await count(store), total);
  assert.equal(
    await count(
      store,
      "SELECT count(DISTINCT (instrument, bar_size, timestamp))::int AS n FROM tt_prices",
    ),
    total,
    "no duplicates",
  );
  const runs = await store.query<{ status: string }>(
    "SELECT status FROM tt_ingest_runs ORDER BY id",
  );
  assert.deepEqual(runs.map((r) => r.status), ["running", "ok"]);
}

Deno.test("kill -9 mid-ingest into a PGlite directory leaves nothing of the run; it reopens and a rerun completes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_kill_csv_" });
  const dataDir = await Deno.makeTempDir({ prefix: "tt_kill_db_" });
  try {
    const total = await writeSyntheticFolder(dir, KILL_SYMBOLS, KILL_DAYS);
    const env = { TT_DATA_DIR: dataDir, DATABASE_URL: "" };
    await ingestAndKill(dir, env, []);
    const store = await openStore({ dataDir: join(dataDir, "pgdata") }); // PGlite recovers from its WAL
    try {
      await assertNothingOfTheRun(store);
    } finally {
      await store.close();
    }
    const summary = await runIngest(dir, env, []);
    assert.equal(summary.rowsWritten, total);
    const again = await openStore({ dataDir: join(dataDir, "pgdata") });
    try {
      await assertRerunComplete(again, total);
    } finally {
      await again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test({
  name:
    "kill -9 mid-ingest into the PostgreSQL server leaves nothing of the run; a rerun completes",
  ignore: !TEST_DATABASE_URL,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tt_kill_csv_" });
    const db = await createTempDatabase();
    try {
      const total = await writeSyntheticFolder(dir, KILL_SYMBOLS, KILL_DAYS);
      await ingestAndKill(dir, {}, ["--db-url", db.url]);
      const store = await openStore({ url: db.url });
      try {
        await assertNothingOfTheRun(store);
      } finally {
        await store.close();
      }
      assert.equal((await runIngest(dir, {}, ["--db-url", db.url])).rowsWritten, total);
      const again = await openStore({ url: db.url });
      try {
        await assertRerunComplete(again, total);
      } finally {
        await again.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      await db.drop();
    }
  },
});
