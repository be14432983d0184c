/**
 * `deno task bench ingest`: rows/s for upserting the 41-symbol daily folder (≈220k bars)
 * into a fresh PGlite directory and, when DATABASE_URL or TEST_DATABASE_URL is set, into
 * a fresh database on that server. One JSON line per backend.
 *
 * Fields: `rows_per_s` is the upsert of the parsed bars into an empty store (what the
 * ingest's write phase does, transactions of 50k rows); `rerun_rows_per_s` the same
 * bars again (a rerun: every row conflicts); `parse_rows_per_s` reading + validating +
 * adjusting the CSV files; `rows_per_cpu_s` (PGlite) the first upsert per CPU second of
 * this process, and `load_average` the machine's 1-minute load, to read noisy runs.
 *
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import pg from "pg";
import { concatBars, listCsvFiles, readCsvFile } from "@lib/data/mod.ts";
import { openStore, type Store, upsertPrices } from "@lib/db/mod.ts";
import { parseCommand, PROJECT_ROOT } from "@lib/util/mod.ts";
import type { BarColumns } from "@lib/data/mod.ts";

const SPEC = {
  name: "bench ingest",
  summary: "Upsert the 41-symbol daily folder (../shared/data/daily_sp41) into PGlite and, with\n" +
    "DATABASE_URL or TEST_DATABASE_URL, a throwaway database on that server. Prints one JSON line per backend.",
  options: {
    path: {
      type: "string",
      valueName: "DIR",
      description: "CSV folder to upsert",
      default: join(PROJECT_ROOT, "..", "shared", "data", "daily_sp41"),
    },
    backend: {
      type: "string",
      description: "Which backends",
      choices: ["all", "pglite", "postgres"],
      default: "all",
    },
  },
} as const;

/** Runs the benchmark. */
export async function main(args: string[]): Promise<void> {
  const a = parseCommand(SPEC, args);
  const dir = String(a.path);
  const t0 = performance.now();
  const parts: BarColumns[] = [];
  for (const f of await listCsvFiles(dir)) {
    parts.push((await readCsvFile(f, { adjust: true })).bars);
  }
  const bars = concatBars(parts);
  const parseSeconds = (performance.now() - t0) / 1000;
  const rows = bars.instrument.length;
  const serverUrl = Deno.env.get("DATABASE_URL") || Deno.env.get("TEST_DATABASE_URL");
  const base = { bench: "ingest", rows, parse_rows_per_s: Math.round(rows / parseSeconds) };
  if (a.backend !== "postgres") {
    const tmp = await Deno.makeTempDir({ prefix: "tt_bench_ingest_" });
    const store = await openStore({ dataDir: join(tmp, "pgdata") });
    try {
      console.log(
        JSON.stringify({ ...base, impl: "tensortrade-mvp/pglite", ...await measure(store, bars) }),
      );
    } finally {
      await store.close();
      await Deno.remove(tmp, { recursive: true });
    }
  }
  if (a.backend !== "pglite") {
    if (!serverUrl) {
      console.error("skip postgres: neither DATABASE_URL nor TEST_DATABASE_URL is set");
      return;
    }
    const db = await scratchDatabase(serverUrl);
    try {
      const store = await openStore({ url: db.url });
      try {
        console.log(
          JSON.stringify({
            ...base,
            impl: "tensortrade-mvp/postgres",
            ...await measure(store, bars),
          }),
        );
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
    }
  }
}

async function measure(store: Store, bars: BarColumns) {
  const rows = bars.instrument.length;
  let cpu = 0;
  const write = async () => {
    const t = performance.now();
    const c0 = process.cpuUsage();
    for (let start = 0; start < rows; start += 50_000) {
      const end = Math.min(rows, start + 50_000);
      const slice = {
        instrument: bars.instrument.slice(start, end),
        timestamp: bars.timestamp.slice(start, end),
        open: bars.open.slice(start, end),
        high: bars.high.slice(start, end),
        low: bars.low.slice(start, end),
        close: bars.close.slice(start, end),
        volume: bars.volume.slice(start, end),
      };
      await store.transaction((tx) => upsertPrices(tx, "1 day", slice));
    }
    const c1 = process.cpuUsage(c0);
    cpu = (c1.user + c1.system) / 1e6;
    return (performance.now() - t) / 1000;
  };
  const seconds = await write();
  const cpuFirst = cpu;
  const rerun = await write();
  const [{ n }] = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM tt_prices");
  if (n !== rows) throw new Error(`bench ingest: ${n} rows stored, expected ${rows}`);
  return {
    seconds: round(seconds),
    rows_per_s: Math.round(rows / seconds),
    rerun_seconds: round(rerun),
    rerun_rows_per_s: Math.round(rows / rerun),
    // CPU seconds of this process (all of PGlite's work; only the client's for a server):
    // a figure that other load on the machine changes less than wall-clock time.
    cpu_seconds: round(cpuFirst),
    ...(store.kind === "pglite" ? { rows_per_cpu_s: Math.round(rows / cpuFirst) } : {}),
    load_average: Number(Deno.loadavg()[0].toFixed(2)),
  };
}

function round(x: number): number {
  return Number(x.toFixed(3));
}

/** A throwaway database on the server of `url` (dropped afterwards). */
async function scratchDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tt_bench_${Date.now().toString(36)}_${
    Math.floor(Math.random() * 1e6).toString(36)
  }`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
