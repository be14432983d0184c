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
 * `--csv-size MB` instead measures reading one generated CSV file of about MB megabytes
 * (daily bars of many symbols, a Symbol column) in a fresh process per way of reading, and
 * prints one JSON line: `peak_rss_mb` (the process's peak resident set, VmHWM from /proc)
 * and `seconds` for the streamed {@linkcode readCsvFile} and for the former whole-text path
 * (`Deno.readFile` + one `TextDecoder.decode` + `readCsvBars`), and `rss_before_mb`.
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
    "csv-size": {
      type: "string",
      valueName: "MB",
      description: "Instead: peak memory of reading one generated CSV file of about MB megabytes",
    },
  },
} as const;

/** Runs the benchmark. */
export async function main(args: string[]): Promise<void> {
  const a = parseCommand(SPEC, args);
  if (a["csv-size"] !== undefined) return await csvMemory(Number(a["csv-size"]));
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

/** Peak memory of reading one generated file of about `mb` MB, streamed and whole. */
async function csvMemory(mb: number): Promise<void> {
  if (!(mb > 0)) throw new RangeError(`--csv-size must be a positive number of MB, got ${mb}`);
  const tmp = await Deno.makeTempDir({ prefix: "tt_bench_csv_" });
  try {
    const path = join(tmp, "BIG.csv");
    const bars = await writeBigCsv(path, mb * 1e6);
    const size = (await Deno.stat(path)).size;
    const csvModule = new URL("../../lib/data/csv.ts", import.meta.url).href;
    const out: Record<string, unknown> = {
      bench: "ingest-csv-memory",
      file_mb: round(size / 1e6),
      bars,
    };
    for (const mode of ["streamed", "whole_text"] as const) {
      const read = mode === "streamed"
        ? `const r = await m.readCsvFile(${JSON.stringify(path)});`
        : `const text = new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(${
          JSON.stringify(path)
        })); const r = m.readCsvBars(text, "BIG.csv");`;
      const code = `const m = await import(${JSON.stringify(csvModule)});
const before = Deno.memoryUsage().rss; const t = performance.now();
${read}
const seconds = (performance.now() - t) / 1000;
const hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1]) * 1024;
console.log(JSON.stringify({ bars: r.bars.timestamp.length, seconds, before, after: Deno.memoryUsage().rss, hwm }));`;
      const res = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-check", code],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(res.stderr).trim();
      if (!res.success) {
        out[mode] = { error: err.split("\n").slice(-3).join(" ").slice(0, 300) };
        continue;
      }
      const r = JSON.parse(new TextDecoder().decode(res.stdout).trim().split("\n").pop()!);
      if (r.bars !== bars) {
        throw new Error(`bench ingest: ${mode} read ${r.bars} bars, expected ${bars}`);
      }
      out[mode] = {
        seconds: round(r.seconds),
        rss_before_mb: Math.round(r.before / 1e6),
        rss_after_mb: Math.round(r.after / 1e6),
        peak_rss_mb: Math.round(r.hwm / 1e6),
      };
    }
    console.log(JSON.stringify(out));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Writes daily bars of symbols S0000… (40,000 days each from 1900) until `bytes`; returns the bar count. */
async function writeBigCsv(path: string, bytes: number): Promise<number> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  let written = 0, bars = 0;
  const put = async (s: string) => {
    const b = enc.encode(s);
    for (let o = 0; o < b.length;) o += await f.write(b.subarray(o));
    written += b.length;
  };
  await put("Symbol,Date,Open,High,Low,Close,Volume\n");
  const t0 = Date.UTC(1900, 0, 1);
  for (let s = 0; written < bytes; s++) {
    const sym = `S${String(s).padStart(4, "0")}`;
    const lines: string[] = [];
    for (let i = 0; i < 40_000 && written + lines.length * 50 < bytes; i++) {
      const d = new Date(t0 + i * 86_400_000).toISOString().slice(0, 10);
      const o = 100 + (i % 97) * 0.25, c = o + ((i % 7) - 3) * 0.125;
      lines.push(
        `${sym},${d},${o},${Math.max(o, c) + 1},${Math.min(o, c) - 1},${c},${1000 + i % 13}`,
      );
    }
    bars += lines.length;
    await put(lines.join("\n") + "\n");
  }
  return bars;
}
