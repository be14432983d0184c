/**
 * `deno task bench ingest-memory`: peak memory and rows/s of a whole CSV import
 * (`ingestCsv`: parse, validate, stream in batches into one transaction, commit) of one big
 * hourly file, into a fresh PGlite directory and, with DATABASE_URL or TEST_DATABASE_URL,
 * a throwaway database on that server. One JSON line per backend.
 *
 * The file (about `--mb` MB, default 263: 3.0 M bars) is generated in a temporary
 * directory from `../shared/data/hourly_33`: each symbol's bars repeated and shifted back by
 * 364 days per copy (never written into the repository), or given with `--path`. Each
 * import runs in a fresh process; `peak_rss_mb` is its VmHWM from /proc (the whole process:
 * Deno, PGlite's WebAssembly heap, the batch), `rows_per_s` the bars written per second of
 * the import. Targets belong here, not in timed tests.
 *
 * @module
 */
import { join } from "node:path";
import { createScratchDatabase } from "@lib/db/mod.ts";
import { parseCommand, PROJECT_ROOT } from "@lib/util/mod.ts";

const SPEC = {
  name: "bench ingest-memory",
  summary:
    "Peak RSS and rows/s of importing one big hourly CSV file (ingestCsv) into PGlite and,\n" +
    "with DATABASE_URL or TEST_DATABASE_URL, a throwaway database on that server.",
  options: {
    path: { type: "string", valueName: "CSV", description: "File to import (default: generated)" },
    mb: {
      type: "string",
      valueName: "MB",
      description: "Size of the generated file",
      default: "263",
    },
    "batch-rows": {
      type: "string",
      valueName: "N",
      description: "Bars per batch",
      default: "50000",
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
  const mb = Number(a.mb);
  const batchRows = Number(a["batch-rows"]);
  if (!(mb > 0)) throw new RangeError(`--mb must be a positive number, got ${a.mb}`);
  if (!Number.isInteger(batchRows) || batchRows < 1) {
    throw new RangeError(`--batch-rows must be a positive integer, got ${a["batch-rows"]}`);
  }
  const tmp = await Deno.makeTempDir({ prefix: "tt_bench_ingest_mem_" });
  try {
    const path = typeof a.path === "string" ? a.path : join(tmp, "BIG_1h.csv");
    if (typeof a.path !== "string") await writeBigHourly(path, mb * 1e6);
    const fileMb = Math.round((await Deno.stat(path)).size / 1e5) / 10;
    if (a.backend !== "postgres") {
      const r = await importInChild(path, batchRows, { dataDir: join(tmp, "pgdata") });
      console.log(
        JSON.stringify({
          bench: "ingest-memory",
          impl: "tensortrade-mvp/pglite",
          file_mb: fileMb,
          batch_rows: batchRows,
          ...r,
        }),
      );
    }
    if (a.backend !== "pglite") {
      const serverUrl = Deno.env.get("DATABASE_URL") || Deno.env.get("TEST_DATABASE_URL");
      if (!serverUrl) {
        console.error("skip postgres: neither DATABASE_URL nor TEST_DATABASE_URL is set");
        return;
      }
      const db = await createScratchDatabase(serverUrl, { prefix: "tt_bench" });
      try {
        const r = await importInChild(path, batchRows, { url: db.url });
        console.log(
          JSON.stringify({
            bench: "ingest-memory",
            impl: "tensortrade-mvp/postgres",
            file_mb: fileMb,
            batch_rows: batchRows,
            ...r,
          }),
        );
      } finally {
        await db.drop();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Imports `path` in a fresh process; its bars, seconds and peak resident set. */
async function importInChild(
  path: string,
  batchRows: number,
  store: { dataDir?: string; url?: string },
): Promise<Record<string, number>> {
  const lib = (p: string) => new URL(`../../lib/${p}`, import.meta.url).href;
  const code = `const { ingestCsv } = await import(${JSON.stringify(lib("data/mod.ts"))});
const { openStore } = await import(${JSON.stringify(lib("db/mod.ts"))});
const store = await openStore(${JSON.stringify(store)});
const before = Deno.memoryUsage().rss; const t = performance.now();
const s = await ingestCsv(store, ${
    JSON.stringify(path)
  }, { silent: true, batchRows: ${batchRows} });
const seconds = (performance.now() - t) / 1000;
await store.close();
const hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1]) * 1024;
console.log(JSON.stringify({ rows: s.rowsWritten, seconds, before, hwm }));`;
  const res = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    cwd: PROJECT_ROOT,
    env: { NO_COLOR: "1", DATABASE_URL: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!res.success) {
    throw new Error(
      `bench ingest-memory: the import failed: ${new TextDecoder().decode(res.stderr).slice(-600)}`,
    );
  }
  const r = JSON.parse(new TextDecoder().decode(res.stdout).trim().split("\n").pop()!);
  return {
    rows: r.rows,
    seconds: Number(r.seconds.toFixed(3)),
    rows_per_s: Math.round(r.rows / r.seconds),
    rss_before_mb: Math.round(r.before / 1e6),
    peak_rss_mb: Math.round(r.hwm / 1e6),
    load_average: Number(Deno.loadavg()[0].toFixed(2)),
  };
}

/**
 * Writes about `bytes` of hourly bars: every file of ../shared/data/hourly_33 (one header,
 * the `Capital Gains` column dropped), each symbol's bars repeated and shifted back 364 days
 * per copy, oldest first, so that each symbol stays in time order.
 */
async function writeBigHourly(path: string, bytes: number): Promise<void> {
  const dir = join(PROJECT_ROOT, "..", "shared", "data", "hourly_33");
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".csv"))
    .sort();
  if (names.length === 0) throw new Error(`bench ingest-memory: no CSV files in ${dir}`);
  const files = names.map((n) => {
    const lines = Deno.readTextFileSync(join(dir, n)).trim().split("\n");
    const cg = lines[0].split(",").indexOf("Capital Gains");
    return cg < 0 ? lines : lines.map((l) => l.split(",").toSpliced(cg, 1).join(","));
  });
  const perCopy = files.reduce((a, f) => a + f.join("\n").length, 0);
  const copies = Math.max(1, Math.round(bytes / perCopy));
  using out = await Deno.open(path, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  const put = async (s: string) => {
    const b = enc.encode(s);
    for (let o = 0; o < b.length;) o += await out.write(b.subarray(o));
  };
  await put(files[0][0] + "\n");
  for (const lines of files) {
    const rows = lines.slice(1);
    for (let k = copies - 1; k >= 0; k--) {
      const parts = rows.map((l) => {
        const d = new Date(l.slice(0, 19).replace(" ", "T") + "Z");
        d.setUTCDate(d.getUTCDate() - 364 * k);
        return d.toISOString().slice(0, 19).replace("T", " ") + l.slice(19);
      });
      await put(parts.join("\n") + "\n");
    }
  }
}
