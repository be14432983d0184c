/**
 * Writes CSV bars to the store: read and validate every file first, then upsert in
 * transactions that each hold whole files, with lineage in `tt_ingest_runs` and the
 * first bar of every symbol in `tt_instruments`.
 *
 * Guarantees:
 * - **Nothing from a refused run is written**: all files are read and validated before
 *   the first write, so one bad file (without `skipBadRows`) stops the whole run.
 * - **Atomic per file**: a file's bars are never split across transactions (files are
 *   grouped into transactions of about `rowsPerTransaction` rows). A process killed
 *   mid-run leaves only complete files; rerunning completes the rest.
 * - **Idempotent**: bars are upserted on (instrument, bar size, timestamp), so a
 *   second run leaves exactly the same rows (identical rows are not even rewritten).
 *
 * The price of "validate everything first": a run's bars are held in memory between
 * the two phases (the 220k-bar daily folder takes a few tens of MB); split very large
 * imports into several runs.
 *
 * @module
 */
import type { Queryable, Store } from "../db/store.ts";
import {
  finishIngestRun,
  readFirstBars,
  startIngestRun,
  upsertInstruments,
  upsertPrices,
} from "../db/prices_repo.ts";
import { Progress } from "../util/progress.ts";
import type { BarColumns } from "./panel.ts";
import { emptyBars } from "./panel.ts";
import {
  type CsvFileBars,
  type CsvReadOptions,
  listCsvFiles,
  readCsvFile,
  type RejectedRow,
} from "./csv.ts";

/** A file to import, optionally with a fixed symbol (for files without a Symbol column or telling name). */
export interface CsvSource {
  path: string;
  /** Symbol of every row (overrides the file name; a Symbol column still wins). */
  symbol?: string;
}

/** Options of {@linkcode ingestCsv}: the reading options plus how to write. */
export interface IngestOptions extends CsvReadOptions {
  /** Source name recorded in `tt_ingest_runs`. Default `"csv"`. */
  source?: string;
  /** Extra lineage recorded with the run's parameters (redacted before storing). */
  lineage?: Record<string, unknown>;
  /** Rows per transaction (files are never split). Default 50,000. */
  rowsPerTransaction?: number;
  /** No progress bars. Default false. */
  silent?: boolean;
  /**
   * Called inside each transaction after its rows are sent and before it commits
   * (crash tests use it to be killed at that moment).
   */
  onBatchWritten?: (info: { rows: number; files: string[] }) => Promise<void> | void;
  /** Called after each transaction commits, with the rows committed so far by this run. */
  onCommit?: (info: { rows: number; totalRows: number; files: string[] }) => void;
}

/** What an ingest run did. */
export interface IngestSummary {
  /** `tt_ingest_runs.id`. */
  runId: number;
  source: string;
  /** Files read. */
  files: number;
  /** Data lines read. */
  rowsRead: number;
  /** Bars upserted (inserted or rewritten unchanged: a rerun writes the same count). */
  rowsWritten: number;
  /** Valid rows dropped by start/end/symbols/rthOnly. */
  rowsFiltered: number;
  /** Symbols written, sorted. */
  symbols: string[];
  /** Bar sizes written. */
  barSizes: string[];
  /** Rejected lines (only with `skipBadRows`). */
  rejected: RejectedRow[];
  warnings: string[];
  seconds: number;
}

/**
 * Imports CSV bars from a file, a directory of files, or a list of sources.
 * @param store An open store.
 * @param input A path (file or directory) or explicit sources.
 * @param options See {@linkcode IngestOptions}.
 * @returns The summary; the run is recorded in `tt_ingest_runs`.
 * @throws {SyntaxError|RangeError} From validation (nothing written; the run is recorded as failed).
 * @example
 * ```ts
 * const s = await ingestCsv(store, "../shared/data/daily_sp41", { adjust: true });
 * s.rowsWritten; // 220277
 * ```
 */
export async function ingestCsv(
  store: Store,
  input: string | CsvSource[],
  options: IngestOptions = {},
): Promise<IngestSummary> {
  const started = performance.now();
  const source = options.source ?? "csv";
  const sources: CsvSource[] = typeof input === "string"
    ? (await listCsvFiles(input)).map((path) => ({ path }))
    : input;
  const { onBatchWritten: _a, onCommit: _b, lineage, silent: _c, ...readOptions } = options;
  const runId = await startIngestRun(store, source, {
    ...(typeof input === "string" ? { path: input } : { sources: input }),
    ...readOptions,
    symbolPattern: readOptions.symbolPattern === undefined
      ? undefined
      : String(readOptions.symbolPattern),
    store: store.description,
    ...lineage,
  });
  let rowsWritten = 0;
  try {
    if (sources.length === 0) {
      throw new RangeError(`No .csv files in ${typeof input === "string" ? input : "[]"}`);
    }
    // Phase 1: read and validate everything; nothing is written if any file is refused.
    const read = new Progress("read", {
      total: sources.length,
      unit: "files",
      silent: options.silent,
    });
    const results: CsvFileBars[] = [];
    for (const s of sources) {
      results.push(
        await readCsvFile(
          s.path,
          s.symbol === undefined ? readOptions : { ...readOptions, symbol: s.symbol },
        ),
      );
      read.tick(1, results[results.length - 1].file);
    }
    read.finish();
    // Phase 2: write whole files per transaction.
    const total = results.reduce((a, r) => a + r.bars.timestamp.length, 0);
    const write = new Progress("write", { total, unit: "rows", silent: options.silent });
    const perTx = options.rowsPerTransaction ?? 50_000;
    let group: CsvFileBars[] = [];
    let groupRows = 0;
    const flush = async () => {
      if (group.length === 0) return;
      const files = group.map((r) => r.file);
      const rows = await store.transaction(async (tx) => {
        const n = await writeFiles(tx, group);
        await options.onBatchWritten?.({ rows: n, files });
        return n;
      });
      rowsWritten += rows;
      write.tick(rows, files[files.length - 1]);
      options.onCommit?.({ rows, totalRows: rowsWritten, files });
      group = [];
      groupRows = 0;
    };
    for (const r of results) {
      if (r.bars.timestamp.length === 0) continue;
      if (groupRows > 0 && groupRows + r.bars.timestamp.length > perTx) await flush();
      group.push(r);
      groupRows += r.bars.timestamp.length;
    }
    await flush();
    write.finish();
    const summary: IngestSummary = {
      runId,
      source,
      files: results.length,
      rowsRead: results.reduce((a, r) => a + r.rowsRead, 0),
      rowsWritten,
      rowsFiltered: results.reduce((a, r) => a + r.rowsFiltered, 0),
      symbols: [...new Set(results.flatMap((r) => r.symbols))].sort(),
      barSizes: [...new Set(results.filter((r) => r.bars.timestamp.length).map((r) => r.barSize!))]
        .sort(),
      rejected: results.flatMap((r) => r.rejected),
      warnings: results.flatMap((r) => r.warnings),
      seconds: (performance.now() - started) / 1000,
    };
    await finishIngestRun(store, runId, {
      rowsWritten,
      status: "ok",
      message: summary.rejected.length ? `${summary.rejected.length} rows rejected` : undefined,
    });
    return summary;
  } catch (e) {
    await finishIngestRun(store, runId, {
      rowsWritten,
      status: "failed",
      message: (e as Error).message,
    })
      .catch(() => undefined);
    throw e;
  }
}

/** Upserts the bars of some files (grouped by bar size) and their symbols' first bars. */
async function writeFiles(tx: Queryable, files: CsvFileBars[]): Promise<number> {
  const bySize = new Map<string, BarColumns[]>();
  for (const r of files) {
    if (r.bars.timestamp.length === 0) continue;
    const list = bySize.get(r.barSize!) ?? [];
    list.push(r.bars);
    bySize.set(r.barSize!, list);
  }
  let n = 0;
  for (const [barSize, parts] of bySize) n += await upsertPrices(tx, barSize, concatBars(parts));
  const symbols = [...new Set(files.flatMap((r) => r.symbols))];
  const firsts = await readFirstBars(tx, symbols);
  await upsertInstruments(
    tx,
    firsts.map((r) => ({ symbol: r.instrument, firstBar: new Date(r.first) })),
  );
  return n;
}

/**
 * Concatenates bar columns.
 * @param parts Bars to join, in order.
 * @returns One set of columns (the part itself when there is one).
 * @example
 * ```ts
 * const all = concatBars([(await readCsvFile("A.csv")).bars, (await readCsvFile("B.csv")).bars]);
 * ```
 */
export function concatBars(parts: BarColumns[]): BarColumns {
  if (parts.length === 1) return parts[0];
  const out = emptyBars();
  for (const p of parts) {
    for (const k of Object.keys(out) as (keyof BarColumns)[]) {
      const dst = out[k] as unknown[];
      for (const v of p[k]) dst.push(v);
    }
  }
  return out;
}
