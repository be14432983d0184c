/**
 * `deno task bench ingest`: rows/s for upserting the 41-symbol daily folder (≈220k bars)
 * into a fresh PGlite directory and, when DATABASE_URL or TEST_DATABASE_URL is set, into
 * a fresh database on that server. One JSON line per backend.
 *
 * Fields: `rows_per_s` is the upsert of the parsed bars into an empty store (what the
 * ingest's write phase does, transactions of 50k rows); `rerun_rows_per_s` the same
 * bars again (a rerun: every row conflicts); `parse_rows_per_s` reading + validating +
 * adjusting the CSV files; `rows_per_cpu_s` and `rerun_rows_per_cpu_s` the same per CPU
 * second — of this process for PGlite (all of its work), of this process plus the
 * server's backends for a server on this machine (read from /proc; `server_cpu_seconds`,
 * omitted for a remote server) — and `load_average` the machine's 1-minute load: with
 * other work on the machine, the per-CPU-second figures are the ones to compare.
 *
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import { concatBars, listCsvFiles, readCsvFile } from "@lib/data/mod.ts";
import {
  countPrices,
  createScratchDatabase,
  openStore,
  serverBackendPids,
  type Store,
  upsertPrices,
} from "@lib/db/mod.ts";
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
        JSON.stringify({
          ...base,
          impl: "tensortrade-mvp/pglite",
          ...await measure(store, bars, false),
        }),
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
    const db = await createScratchDatabase(serverUrl, { prefix: "tt_bench" });
    try {
      const store = await openStore({ url: db.url });
      try {
        console.log(
          JSON.stringify({
            ...base,
            impl: "tensortrade-mvp/postgres",
            ...await measure(store, bars, isLocalHost(db.url)),
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

async function measure(store: Store, bars: BarColumns, serverLocal: boolean) {
  const rows = bars.instrument.length;
  let cpu = 0;
  let serverCpu: number | undefined;
  const write = async () => {
    const s0 = serverLocal ? await backendCpu(store) : undefined;
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
    const seconds = (performance.now() - t) / 1000;
    cpu = (c1.user + c1.system) / 1e6;
    const s1 = s0 ? await backendCpu(store) : undefined;
    serverCpu = s0 && s1
      ? [...s1].reduce((sum, [pid, c]) => sum + c - (s0.get(pid) ?? 0), 0)
      : undefined;
    return seconds;
  };
  const seconds = await write();
  const cpuFirst = cpu;
  const serverFirst = serverCpu;
  const rerun = await write();
  const cpuRerun = cpu;
  const serverRerun = serverCpu;
  const n = await countPrices(store);
  if (n !== rows) throw new Error(`bench ingest: ${n} rows stored, expected ${rows}`);
  return {
    seconds: round(seconds),
    rows_per_s: Math.round(rows / seconds),
    rerun_seconds: round(rerun),
    rerun_rows_per_s: Math.round(rows / rerun),
    // CPU seconds of this process (all of PGlite's work; only the client's for a server):
    // a figure that other load on the machine changes less than wall-clock time.
    cpu_seconds: round(cpuFirst),
    ...(serverFirst !== undefined && serverRerun !== undefined
      ? {
        server_cpu_seconds: round(serverFirst),
        rows_per_cpu_s: Math.round(rows / (cpuFirst + serverFirst)),
        rerun_rows_per_cpu_s: Math.round(rows / (cpuRerun + serverRerun)),
      }
      : store.kind === "pglite"
      ? {
        rows_per_cpu_s: Math.round(rows / cpuFirst),
        rerun_rows_per_cpu_s: Math.round(rows / cpuRerun),
      }
      : {}),
    load_average: Number(Deno.loadavg()[0].toFixed(2)),
  };
}

/**
 * CPU seconds used so far by each server backend connected to the store's database,
 * from /proc (the server runs on this machine); undefined when /proc cannot tell.
 */
async function backendCpu(store: Store): Promise<Map<number, number> | undefined> {
  const out = new Map<number, number>();
  for (const pid of await serverBackendPids(store)) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      // Fields after "(comm) ": state is field 3, utime 14 and stime 15, in clock ticks.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(pid, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      return undefined;
    }
  }
  return out;
}

function round(x: number): number {
  return Number(x.toFixed(3));
}

/** Whether the URL names this machine (so its backends' CPU time is in /proc). */
function isLocalHost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || host === "";
}
