/**
 * Writes CSV bars to the store: read and validate every file first, then upsert in
 * transactions that each hold whole files, with lineage in `tt_ingest_runs` and the
 * first bar of every symbol in `tt_instruments`.
 *
 * Guarantees:
 * - **Nothing from a refused run is written**: all files are read and validated before
 *   the first write (values the database would refuse included: NUL bytes, over-long
 *   symbols, non-finite numbers), so one bad file (without `skipBadRows`) stops the whole
 *   run; every refused file is named. Two files giving one symbol, or filters that leave
 *   no bar, refuse the run too. A refused or failed run is marked `failed`.
 * - **Atomic per file**: a file's bars are never split across transactions (files are
 *   grouped into transactions of about `rowsPerTransaction` rows). A process killed
 *   mid-run leaves only complete files; rerunning completes the rest.
 * - **Idempotent**: bars are upserted on (instrument, bar size, timestamp), so a
 *   second run leaves exactly the same rows (identical rows are not even rewritten).
 *
 * The price of "validate everything first": a run's bars are held in memory between
 * the two phases (the 220k-bar daily folder takes a few tens of MB). Files are streamed
 * ({@linkcode readCsvFile}), so the text is never held whole; the bars are: reading a
 * file peaks at about 230–430 bytes per bar (5.5 M bars: 2.4 GB) and a run keeps every
 * file's bars (seven 8-byte columns, at least 56 bytes a bar) until it writes; split
 * very large imports into several runs.
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
  type CsvListing,
  type CsvReadOptions,
  listCsvDirectory,
  readCsvFile,
  type RejectedRow,
  type SkippedFile,
} from "./csv.ts";
import { isZipPath, listZipFiles, readZipCsv } from "./_zip.ts";
import { parseColumns } from "./_csv_fields.ts";

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
  /** Each file read (base name) and the symbols it gave, in reading order. */
  fileSymbols: { file: string; symbols: string[] }[];
  /** Files of the directory not read (dot-files, broken links). */
  skipped: SkippedFile[];
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
  const listing = typeof input === "string" ? await listWithZips(input) : undefined;
  const sources: CsvSource[] = listing
    ? listing.files.map((path) => ({ path }))
    : input as CsvSource[];
  const skipped = listing?.skipped ?? [];
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
      throw new RangeError(
        `No .csv or .zip files in ${typeof input === "string" ? input : "[]"}`,
      );
    }
    // Phase 1: read and validate everything; nothing is written if any file is refused.
    const read = new Progress("read", {
      total: sources.length,
      unit: "files",
      silent: options.silent,
    });
    const results: CsvFileBars[] = [];
    const refused: Error[] = [];
    for (const s of sources) {
      try {
        const o = s.symbol === undefined ? readOptions : { ...readOptions, symbol: s.symbol };
        if (isZipPath(s.path)) results.push(...await readZipCsv(s.path, o));
        else results.push(await readCsvFile(s.path, o));
      } catch (e) {
        // Keep reading: the refusal names every bad file, not only the first.
        if (!(e instanceof SyntaxError || e instanceof RangeError)) throw e;
        refused.push(e);
      }
      read.tick(1, s.path);
    }
    read.finish();
    if (refused.length === 1) throw refused[0];
    if (refused.length > 1) {
      const Cls = refused.every((e) => e instanceof RangeError) ? RangeError : SyntaxError;
      throw new Cls(
        `Cannot import ${refused.length} of ${sources.length} files; nothing written:\n  ${
          refused.map((e) => e.message).join("\n  ")
        }`,
        { cause: refused },
      );
    }
    checkOneFilePerSymbol(results);
    const kept = results.reduce((a, r) => a + r.bars.timestamp.length, 0);
    const filters = describeFilters(readOptions);
    if (kept === 0 && filters) {
      const valid = results.reduce((a, r) => a + r.rowsFiltered, 0);
      throw new RangeError(
        `No bar matches the filters (${filters}): all ${
          valid.toLocaleString("en-US")
        } valid rows of ${results.length} files were left out; nothing written`,
      );
    }
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
        const n = await writeFiles(tx, group, runId);
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
      fileSymbols: results.map((r) => ({ file: r.file, symbols: r.symbols })),
      skipped,
      barSizes: [...new Set(results.filter((r) => r.bars.timestamp.length).map((r) => r.barSize!))]
        .sort(),
      rejected: results.flatMap((r) => r.rejected),
      warnings: [
        ...results.flatMap((r) => r.warnings),
        ...results.flatMap(implausiblePrices),
        ...missingSymbols(readOptions, results),
      ],
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

/** Closes outside this range are warned about in the summary (no listed stock, index, pair or coin comes near). */
export const PLAUSIBLE_CLOSE = { min: 1e-4, max: 1e6 } as const;

/**
 * Warnings for closes outside {@linkcode PLAUSIBLE_CLOSE} (e.g. prices in 1/10,000 of a
 * dollar read without `--price-scale`), one per file and symbol, with the count and range.
 * @param r One file's bars.
 * @returns The warnings (none when every close is plausible).
 * @example
 * ```ts
 * implausiblePrices(await readCsvFile("AAPL.csv")); // ["AAPL.csv: AAPL has 3 closes above 1,000,000 (1855000 … 1868000); …"]
 * ```
 */
export function implausiblePrices(r: CsvFileBars): string[] {
  const out: string[] = [];
  const { instrument, close } = r.bars;
  let i = 0;
  while (i < close.length) {
    const sym = instrument[i];
    let hi = 0, lo = 0, maxV = -Infinity, minV = Infinity;
    for (; i < close.length && instrument[i] === sym; i++) {
      const c = close[i];
      if (c > PLAUSIBLE_CLOSE.max) {
        hi++;
        maxV = Math.max(maxV, c);
      } else if (c < PLAUSIBLE_CLOSE.min) {
        lo++;
        minV = Math.min(minV, c);
      }
    }
    if (hi) {
      out.push(
        `${r.file}: ${sym} has ${hi} close${hi > 1 ? "s" : ""} above ${
          PLAUSIBLE_CLOSE.max.toLocaleString("en-US")
        } (up to ${maxV}); if prices are in fractions of a unit, set --price-scale (e.g. 0.0001)`,
      );
    }
    if (lo) {
      out.push(
        `${r.file}: ${sym} has ${lo} close${
          lo > 1 ? "s" : ""
        } below ${PLAUSIBLE_CLOSE.min} (down to ${minV}); check --price-scale`,
      );
    }
  }
  return out;
}

/**
 * Checks the `columns` option of headerless files (names from the header vocabulary,
 * `skip` for an unused column; every required field named once).
 * @param columns e.g. `timestamp,open,high,low,close,volume`.
 * @returns The number of columns.
 * @throws {RangeError} Naming the unknown, repeated or missing columns.
 * @example
 * ```ts
 * checkCsvColumns("timestamp,open,high,low,close,volume"); // 6
 * checkCsvColumns("when,open"); // throws RangeError: Unknown column name "when" …
 * ```
 */
export function checkCsvColumns(columns: string | readonly string[]): number {
  return parseColumns(columns).count;
}

/** The CSV files of a path plus, for a directory, its zip archives (each list sorted, CSV files first). */
async function listWithZips(path: string): Promise<CsvListing> {
  const csv = await listCsvDirectory(path);
  const zip = await listZipFiles(path);
  const skipped = [...csv.skipped, ...zip.skipped].sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : 0
  );
  return { files: [...csv.files, ...zip.files], skipped };
}

/** Refuses a run in which two files give the same symbol (one would overwrite the other). */
function checkOneFilePerSymbol(results: CsvFileBars[]): void {
  const owner = new Map<string, string>();
  const clashes: string[] = [];
  for (const r of results) {
    for (const sym of r.symbols) {
      const first = owner.get(sym);
      if (first === undefined) owner.set(sym, r.file);
      else clashes.push(`${first} and ${r.file} both give symbol ${sym}`);
    }
  }
  if (clashes.length) {
    throw new RangeError(
      `Cannot import: ${
        clashes.join("; ")
      }; nothing written (import them in separate runs, rename a file, or set the symbol pattern)`,
    );
  }
}

function describeFilters(o: CsvReadOptions): string | undefined {
  const parts: string[] = [];
  if (o.start !== undefined) parts.push(`start ${o.start}`);
  if (o.end !== undefined) parts.push(`end ${o.end}`);
  if (o.symbols?.length) parts.push(`symbols ${o.symbols.join(",")}`);
  if (o.rthOnly) parts.push("regular session only");
  return parts.length ? parts.join(", ") : undefined;
}

function missingSymbols(o: CsvReadOptions, results: CsvFileBars[]): string[] {
  if (!o.symbols?.length) return [];
  const found = new Set(results.flatMap((r) => r.symbols));
  const missing = o.symbols.filter((s) => !found.has(o.keepSymbolCase ? s : s.toUpperCase()));
  return missing.length ? [`symbols asked for but in no file: ${missing.join(", ")}`] : [];
}

/** Upserts the bars of some files (grouped by bar size) and their symbols' first bars. */
async function writeFiles(tx: Queryable, files: CsvFileBars[], runId: number): Promise<number> {
  const bySize = new Map<string, BarColumns[]>();
  for (const r of files) {
    if (r.bars.timestamp.length === 0) continue;
    const list = bySize.get(r.barSize!) ?? [];
    list.push(r.bars);
    bySize.set(r.barSize!, list);
  }
  let n = 0;
  for (const [barSize, parts] of bySize) {
    n += await upsertPrices(tx, barSize, concatBars(parts), { runId });
  }
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
