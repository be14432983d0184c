/**
 * Writes CSV bars to the store: every file is streamed in batches into one transaction
 * for the whole run, with lineage in `tt_ingest_runs` and the first bar of every symbol in
 * `tt_instruments`.
 *
 * Guarantees:
 * - **All or nothing**: a run is one transaction. Each file is parsed in batches of about
 *   `batchRows` bars and each batch is sent into the run's open transaction as it is parsed;
 *   the run commits once, after its last file, together with its `ok` in `tt_ingest_runs`.
 *   A refused file (a value the database would refuse included: NUL bytes, over-long
 *   symbols, non-finite numbers), two files giving one symbol, filters that leave no bar,
 *   or a database failure at any point (disk full, connection lost, a constraint) rolls the
 *   whole run back: no row of it remains, earlier data is untouched, and the run is marked
 *   `failed`. Every refused file is still named (reading goes on, writing stops).
 *   `skipBadRows` only drops the bad rows; the rest is still all or nothing. A process
 *   killed mid-run leaves nothing of it (its run stays `running`: nobody is left to mark
 *   it); rerunning writes it whole.
 * - **Idempotent**: bars are upserted on (instrument, bar size, timestamp), so a
 *   second run leaves exactly the same rows (identical rows are not even rewritten).
 *
 * Memory is bounded by the batch, not the file: a batch of bars (50,000 by default) in JS
 * arrays, a few numbers per symbol and a histogram of the gaps between bars for the checks
 * that need the whole file (duplicates and two daily bars on one date against each symbol's
 * previous row, bar size from the first batch checked against the whole file's gaps; see
 * {@linkcode streamCsvFile}). A 263 MB file of 3.0 M hourly bars peaks at 0.95 GB resident
 * on PGlite (0.77 GB of it is the open embedded store before the import) and 0.23 GB against
 * a server, against 2.1 GB on PGlite when every bar was held until the write
 * (`deno task bench ingest-memory`). Two cases still hold a file's bars: a file whose rows
 * are not in ascending time order for some symbol (read whole and sorted, a few hundred
 * bytes per bar) and a `.zip` archive (read in memory, its bars still batched).
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
import { savepoint } from "../db/savepoint.ts";
import { Progress } from "../util/progress.ts";
import type { BarColumns } from "./panel.ts";
import { emptyBars } from "./panel.ts";
import {
  type CsvFileBars,
  type CsvFileSummary,
  type CsvListing,
  type CsvReadOptions,
  type CsvStream,
  listCsvDirectory,
  type RejectedRow,
  type SkippedFile,
  streamCsvFile,
  streamCsvLines,
} from "./csv.ts";
import { isZipPath, listZipFiles, zipCsvEntries } from "./_zip.ts";
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
  /** Bars parsed and sent to the run's transaction at a time (the memory bound). Default 50,000. */
  batchRows?: number;
  /** No progress bars. Default false. */
  silent?: boolean;
  /**
   * Called inside the run's transaction after each batch is sent (crash and failure tests
   * use it to be killed or to fail at that moment); `rows` is the batch, `totalRows` the
   * run's so far.
   */
  onBatchWritten?: (
    info: { rows: number; totalRows: number; files: string[] },
  ) => Promise<void> | void;
  /** Called once the run's transaction has committed, with the rows it wrote. */
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

/** One file (or archive entry) as the run read it. */
interface FileResult extends CsvFileSummary {
  /** Closes outside {@linkcode PLAUSIBLE_CLOSE}. */
  implausible: string[];
}

/**
 * Imports CSV bars from a file, a directory of files, or a list of sources, in one
 * transaction (see the module's guarantees).
 * @param store An open store.
 * @param input A path (file or directory) or explicit sources.
 * @param options See {@linkcode IngestOptions}.
 * @returns The summary; the run is recorded in `tt_ingest_runs`.
 * @throws {SyntaxError|RangeError} From validation (nothing written; the run is recorded as failed).
 * @throws {Error} From the database (nothing written; the run is recorded as failed).
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
  const {
    onBatchWritten: _a,
    onCommit: _b,
    lineage,
    silent: _c,
    batchRows,
    ...readOptions
  } = options;
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
    const summary = await store.transaction(async (tx) => {
      const results: FileResult[] = [];
      const refused: Error[] = [];
      /** Set once the run cannot succeed: reading goes on (to name every refused file), writing stops. */
      let doomed = false;
      const progress = new Progress("ingest", {
        total: sources.length,
        unit: "files",
        silent: options.silent,
      });
      const readOne = async (
        file: string,
        read: (stream: CsvStream) => Promise<CsvFileSummary>,
      ) => {
        const sp = await savepoint(tx, "tt_ingest_file");
        let fileRows = 0;
        let closes = new CloseRanges();
        const r = await read({
          batchRows,
          onBatch: async (barSize, bars) => {
            closes.add(bars);
            if (doomed) return;
            const n = await writeBatch(tx, barSize, bars, runId);
            fileRows += n;
            rowsWritten += n;
            await options.onBatchWritten?.({ rows: n, totalRows: rowsWritten, files: [file] });
          },
          onRestart: async () => {
            // The file is read again from its first line: undo what its batches wrote.
            await sp.rollback();
            rowsWritten -= fileRows;
            fileRows = 0;
            closes = new CloseRanges();
          },
        });
        await sp.release();
        results.push({ ...r, implausible: closes.warnings(r.file) });
        if (clashes(results).length) doomed = true;
      };
      for (const s of sources) {
        try {
          const o = s.symbol === undefined ? readOptions : { ...readOptions, symbol: s.symbol };
          if (isZipPath(s.path)) {
            for (const e of await zipCsvEntries(s.path, o)) {
              await readOne(e.file, async (stream) => ({
                ...await streamCsvLines(() => e.text().split(/\r?\n/), e.file, e.options, stream),
                path: e.path,
              }));
            }
          } else await readOne(s.path, (stream) => streamCsvFile(s.path, o, stream));
        } catch (e) {
          // Keep reading: the refusal names every bad file, not only the first.
          if (!(e instanceof SyntaxError || e instanceof RangeError)) throw e;
          refused.push(e);
          doomed = true;
        }
        progress.tick(1, s.path);
      }
      progress.finish();
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
      const kept = results.reduce((a, r) => a + r.bars, 0);
      const filters = describeFilters(readOptions);
      if (kept === 0 && filters) {
        const valid = results.reduce((a, r) => a + r.rowsFiltered, 0);
        throw new RangeError(
          `No bar matches the filters (${filters}): all ${
            valid.toLocaleString("en-US")
          } valid rows of ${results.length} files were left out; nothing written`,
        );
      }
      const symbols = [...new Set(results.flatMap((r) => r.symbols))].sort();
      await writeFirstBars(tx, symbols);
      const summary: IngestSummary = {
        runId,
        source,
        files: results.length,
        rowsRead: results.reduce((a, r) => a + r.rowsRead, 0),
        rowsWritten,
        rowsFiltered: results.reduce((a, r) => a + r.rowsFiltered, 0),
        symbols,
        fileSymbols: results.map((r) => ({ file: r.file, symbols: r.symbols })),
        skipped,
        barSizes: [...new Set(results.filter((r) => r.bars).map((r) => r.barSize!))].sort(),
        rejected: results.flatMap((r) => r.rejected),
        warnings: [
          ...results.flatMap((r) => r.warnings),
          ...results.flatMap((r) => r.implausible),
          ...missingSymbols(readOptions, results),
        ],
        seconds: 0,
      };
      // The run's "ok" commits with its rows: an ok run always has them, and only then.
      await finishIngestRun(tx, runId, {
        rowsWritten,
        status: "ok",
        message: summary.rejected.length ? `${summary.rejected.length} rows rejected` : undefined,
      });
      return summary;
    });
    options.onCommit?.({
      rows: rowsWritten,
      totalRows: rowsWritten,
      files: summary.fileSymbols.map((f) => f.file),
    });
    return { ...summary, seconds: (performance.now() - started) / 1000 };
  } catch (e) {
    await finishIngestRun(store, runId, {
      rowsWritten: 0,
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
  return new CloseRanges().add(r.bars).warnings(r.file);
}

/** Per symbol, how many closes lie outside {@linkcode PLAUSIBLE_CLOSE} and how far, batch by batch. */
class CloseRanges {
  #by = new Map<string, { hi: number; maxV: number; lo: number; minV: number }>();
  add(bars: BarColumns): this {
    const { instrument, close } = bars;
    for (let i = 0; i < close.length; i++) {
      const c = close[i];
      if (c <= PLAUSIBLE_CLOSE.max && c >= PLAUSIBLE_CLOSE.min) continue;
      let s = this.#by.get(instrument[i]);
      if (!s) this.#by.set(instrument[i], s = { hi: 0, maxV: -Infinity, lo: 0, minV: Infinity });
      if (c > PLAUSIBLE_CLOSE.max) {
        s.hi++;
        s.maxV = Math.max(s.maxV, c);
      } else {
        s.lo++;
        s.minV = Math.min(s.minV, c);
      }
    }
    return this;
  }
  warnings(file: string): string[] {
    const out: string[] = [];
    for (const sym of [...this.#by.keys()].sort()) {
      const { hi, maxV, lo, minV } = this.#by.get(sym)!;
      if (hi) {
        out.push(
          `${file}: ${sym} has ${hi} close${hi > 1 ? "s" : ""} above ${
            PLAUSIBLE_CLOSE.max.toLocaleString("en-US")
          } (up to ${maxV}); if prices are in fractions of a unit, set --price-scale (e.g. 0.0001)`,
        );
      }
      if (lo) {
        out.push(
          `${file}: ${sym} has ${lo} close${
            lo > 1 ? "s" : ""
          } below ${PLAUSIBLE_CLOSE.min} (down to ${minV}); check --price-scale`,
        );
      }
    }
    return out;
  }
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

/** Each pair of files that give the same symbol (one would overwrite the other), as messages. */
function clashes(results: { file: string; symbols: string[] }[]): string[] {
  const owner = new Map<string, string>();
  const out: string[] = [];
  for (const r of results) {
    for (const sym of r.symbols) {
      const first = owner.get(sym);
      if (first === undefined) owner.set(sym, r.file);
      else out.push(`${first} and ${r.file} both give symbol ${sym}`);
    }
  }
  return out;
}

/** Refuses a run in which two files give the same symbol. */
function checkOneFilePerSymbol(results: { file: string; symbols: string[] }[]): void {
  const found = clashes(results);
  if (found.length) {
    throw new RangeError(
      `Cannot import: ${
        found.join("; ")
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

function missingSymbols(o: CsvReadOptions, results: { symbols: string[] }[]): string[] {
  if (!o.symbols?.length) return [];
  const found = new Set(results.flatMap((r) => r.symbols));
  const missing = o.symbols.filter((s) => !found.has(o.keepSymbolCase ? s : s.toUpperCase()));
  return missing.length ? [`symbols asked for but in no file: ${missing.join(", ")}`] : [];
}

/** Upserts one batch of bars into the run's transaction. */
async function writeBatch(
  tx: Queryable,
  barSize: string,
  bars: BarColumns,
  runId: number,
): Promise<number> {
  return await upsertPrices(tx, barSize, bars, { runId });
}

/** Records each symbol's first stored bar (over every bar size) in `tt_instruments`. */
async function writeFirstBars(tx: Queryable, symbols: string[]): Promise<void> {
  const firsts = await readFirstBars(tx, symbols);
  await upsertInstruments(
    tx,
    firsts.map((r) => ({ symbol: r.instrument, firstBar: new Date(r.first) })),
  );
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
