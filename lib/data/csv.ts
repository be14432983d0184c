/**
 * CSV bar importer for vendor files as they come: header variants, symbol from a
 * column or the file name, time-zone-aware timestamps normalised to UTC, inferred bar
 * size, back-adjustment from an adjusted-close column, regular-session filter, and
 * strict validation before anything is written.
 *
 * Reading never touches the database; {@linkcode ingestCsv} in `ingest.ts` writes.
 *
 * @module
 */
import { basename, extname, join, resolve } from "node:path";
import type { BarColumns } from "./panel.ts";
import { emptyBars } from "./panel.ts";
import {
  type BarField,
  FIELD_NAMES,
  looksLikeData,
  mapHeader,
  otherDelimiter,
  parseColumns,
  parseDecimal,
  REQUIRED_FIELDS,
  showDelimiter,
  splitLine,
} from "./_csv_fields.ts";
import {
  barSizeFromGapCounts,
  invalidDateReason,
  isUsRegularSession,
  normaliseBarSize,
  parseTimestamp,
  showTime,
  type TimeKind,
} from "./_time.ts";

/**
 * Bar-size suffixes the default pattern strips from a file name (any case): `_1h`, `_4h`,
 * `_1d`, `_5m`, `_1min`, `_15mins`, `_30s`, `_1w`, `_1mo`, `_daily`, `_hourly`, `_weekly`,
 * `_monthly`, `_minute`, `_intraday`, `_eod`. Any other `_suffix` is part of the symbol
 * (`BRK_B`, `BTC_USD`).
 */
export const BAR_SIZE_SUFFIX =
  "_(?i:\\d+(?:s|secs?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wk|weeks?|mo|months?)|daily|hourly|weekly|monthly|minute|intraday|eod)";

/**
 * Default `symbolPattern`: the symbol is the file name without a vendor prefix (`DA-`),
 * a vendor date suffix (`-T-2021-04-21`) or a bar-size suffix ({@linkcode BAR_SIZE_SUFFIX}),
 * extension `.csv`/`.txt` in any case: `DA-AAPL-T-2021-04-21.csv`, `AAPL_1h.csv`,
 * `AAPL_daily.csv` and `AAPL.CSV` all give `AAPL`; `BRK-B.csv` gives `BRK-B`, `BRK_B.csv`
 * gives `BRK_B`, `BTC_USD_1h.csv` gives `BTC_USD`.
 */
export const DEFAULT_SYMBOL_PATTERN =
  `^(?:DA-)?(?<symbol>[A-Za-z0-9.^=_-]+?)(?:-T-\\d{4}-\\d{2}-\\d{2}|${BAR_SIZE_SUFFIX})?\\.(?i:csv|txt)$`;

/** Longest symbol accepted (no ticker, pair or option symbol comes near; the database's own limit is a 2,704-byte index entry). */
export const MAX_SYMBOL_LENGTH = 64;

/** Years accepted in timestamps (anything else is a typo or a two-digit-year accident). */
export const PLAUSIBLE_YEARS = { min: 1800, max: 2199 } as const;

/** Appended to refusals of value rules. */
const SKIP_HINT = "--skip-bad-rows writes the other rows and lists the rejected ones";

/** Options of {@linkcode readCsvBars} and {@linkcode readCsvFile}. */
export interface CsvReadOptions {
  /**
   * Regex on the file's base name giving the symbol (named group `symbol`, else the
   * first group), used when the file has no Symbol column. Default {@linkcode DEFAULT_SYMBOL_PATTERN}.
   */
  symbolPattern?: string | RegExp;
  /** Symbol of every row without a Symbol value; overrides the file name. */
  symbol?: string;
  /** Keep symbols as written; by default they are upper-cased (`aapl.csv` gives `AAPL`). */
  keepSymbolCase?: boolean;
  /** Bar size (`1 day`, `1 hour`, `5 mins` …). Default: inferred from the timestamps. */
  barSize?: string;
  /** Back-adjust with k = adjusted close / close: OHLC × k, volume ÷ k. Needs an adjusted-close column. Default false. */
  adjust?: boolean;
  /**
   * Keep only bars starting 09:30 ≤ t < 16:00 America/New_York, DST-correct (no effect on
   * date-only bars). Wall-clock only: on half days (13:00 closes) later bars stay. Default false.
   */
  rthOnly?: boolean;
  /** Reject bad rows (listed in `rejected`) instead of refusing the file. Default false. */
  skipBadRows?: boolean;
  /** Keep bars at or after this date/time (ISO; a date is 00:00 UTC). */
  start?: string;
  /** Keep bars up to this date/time (ISO; a date includes that whole UTC day). */
  end?: string;
  /** Keep only these symbols (exact match after upper-casing, unless `keepSymbolCase`). */
  symbols?: string[];
  /** IANA zone of timestamps written without an offset. Default `UTC`. */
  timeZone?: string;
  /** Field delimiter. Default `,`. */
  delimiter?: string;
  /**
   * Column names of a headerless file, in order (header vocabulary: `timestamp`, `date`,
   * `time`, `open`, `high`, `low`, `close`, `adjclose`, `volume`, `symbol`; `skip` for an
   * unused column), as an array or one comma-separated string. Line 1 is then data.
   * Without it, a file whose first line is all numbers is refused.
   */
  columns?: string | readonly string[];
  /** Factor applied to open/high/low/close (e.g. 0.0001 for prices in 1/10,000 of a dollar); volume untouched. Default 1. */
  priceScale?: number;
}

/** A line the importer did not take, and why. */
export interface RejectedRow {
  /** File base name. */
  file: string;
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  reason: string;
}

/** What reading one file produced (nothing written yet). */
export interface CsvFileBars {
  /** Path as read. */
  path: string;
  /** Base name, used in messages. */
  file: string;
  /** The bar size given or inferred; `undefined` only when no bar was kept. */
  barSize: string | undefined;
  /** Kept bars, sorted by symbol then time; adjusted when asked. */
  bars: BarColumns;
  /** Symbols of the kept bars, sorted. */
  symbols: string[];
  /** Data lines in the file (blank lines not counted). */
  rowsRead: number;
  /** Valid rows dropped by `start`/`end`/`symbols`/`rthOnly`. */
  rowsFiltered: number;
  /** Bad rows (only with `skipBadRows`; otherwise the file is refused, listing every value-rule violation). */
  rejected: RejectedRow[];
  /** Things done silently that a user may want to know (e.g. rows were sorted). */
  warnings: string[];
}

/** A file of a directory that looked like CSV but was not read, and why. */
export interface SkippedFile {
  /** Base name. */
  file: string;
  reason: string;
}

/** What {@linkcode listCsvDirectory} found. */
export interface CsvListing {
  /** Absolute paths to read, sorted. */
  files: string[];
  /** Dot-files (`._AAPL.csv`, `.~lock.AAPL.csv`), broken links, links to directories. */
  skipped: SkippedFile[];
}

/**
 * Lists the CSV files to import: the file itself, or the `*.csv`/`*.txt` files of a directory
 * (extension in any case, not recursive), sorted by name. Symbolic links to files are
 * followed; hidden files (names starting with a dot: macOS `._` resource forks, office lock
 * files) and broken links are skipped and listed.
 * @param path A file or a directory.
 * @param extensions File extensions a directory's files are read with (lower case, no dot).
 *   Default `["csv", "txt"]`.
 * @returns The paths to read and the skipped files.
 * @throws {Deno.errors.NotFound} When `path` does not exist.
 * @example
 * ```ts
 * const { files, skipped } = await listCsvDirectory("../shared/data/daily_sp41"); // 41 paths, none skipped
 * ```
 */
export async function listCsvDirectory(
  path: string,
  extensions: readonly string[] = ["csv", "txt"],
): Promise<CsvListing> {
  const abs = resolve(path);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(abs);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`No such file or directory: ${path}`);
    }
    throw e;
  }
  if (info.isFile) return { files: [abs], skipped: [] };
  const files: string[] = [];
  const skipped: SkippedFile[] = [];
  for await (const e of Deno.readDir(abs)) {
    if (!extensions.includes(extname(e.name).slice(1).toLowerCase())) continue;
    if (e.name.startsWith(".")) {
      skipped.push({ file: e.name, reason: "hidden file (the name starts with a dot)" });
      continue;
    }
    const full = join(abs, e.name);
    if (e.isSymlink) {
      try {
        if ((await Deno.stat(full)).isFile) files.push(full);
        else skipped.push({ file: e.name, reason: "symbolic link to something not a file" });
      } catch {
        skipped.push({ file: e.name, reason: "broken symbolic link" });
      }
    } else if (e.isFile) files.push(full);
  }
  skipped.sort((a, b) => a.file < b.file ? -1 : a.file > b.file ? 1 : 0);
  return { files: files.sort(), skipped };
}

/**
 * The CSV files to import, as {@linkcode listCsvDirectory} lists them (without the skipped ones).
 * @param path A file or a directory.
 * @returns Absolute paths, sorted.
 * @throws {Deno.errors.NotFound} When `path` does not exist.
 * @example
 * ```ts
 * const files = await listCsvFiles("../shared/data/daily_sp41"); // 41 paths
 * ```
 */
export async function listCsvFiles(path: string): Promise<string[]> {
  return (await listCsvDirectory(path)).files;
}

/**
 * Why a symbol cannot be stored, or `undefined` when it can.
 * @param symbol The symbol.
 * @returns e.g. `symbol "A\u0000B" contains a NUL byte …`.
 * @example
 * ```ts
 * symbolProblem("A\0B"); // 'symbol "A\u0000B" contains a NUL byte (the database refuses NUL in text)'
 * symbolProblem("AAPL"); // undefined
 * ```
 */
export function symbolProblem(symbol: string): string | undefined {
  if (symbol.length > MAX_SYMBOL_LENGTH) {
    return `symbol ${
      JSON.stringify(symbol.slice(0, 20))
    }… is ${symbol.length} characters long (at most ${MAX_SYMBOL_LENGTH})`;
  }
  if (symbol.includes("\0")) {
    return `symbol ${
      JSON.stringify(symbol)
    } contains a NUL byte (the database refuses NUL in text)`;
  }
  if (/\p{Cc}/u.test(symbol)) {
    return `symbol ${JSON.stringify(symbol)} contains a control character`;
  }
  return undefined;
}

/**
 * The symbol a file name gives under a pattern.
 * @param fileName Base name, e.g. `DA-AAPL-T-2021-04-21.csv`.
 * @param pattern Regex with a `symbol` group (or a first group). Default {@linkcode DEFAULT_SYMBOL_PATTERN}.
 * @returns The symbol, or `undefined` when the name does not match.
 * @example
 * ```ts
 * symbolFromFileName("AAPL_1h.csv"); // "AAPL"
 * ```
 */
export function symbolFromFileName(
  fileName: string,
  pattern: string | RegExp = DEFAULT_SYMBOL_PATTERN,
): string | undefined {
  const re = toRegExp(pattern);
  const m = re.exec(fileName);
  if (!m) return undefined;
  const s = m.groups?.symbol ?? m[1] ?? m[0];
  return s ? s : undefined;
}

function toRegExp(pattern: string | RegExp): RegExp {
  if (pattern instanceof RegExp) return pattern;
  try {
    return new RegExp(pattern);
  } catch (e) {
    throw new SyntaxError(
      `Not a valid symbol pattern ${JSON.stringify(pattern)}: ${(e as Error).message}`,
    );
  }
}

/** Bytes read and decoded at a time by {@linkcode readCsvFile} (1 MiB). */
export const CSV_CHUNK_BYTES = 1 << 20;

/**
 * Longest line {@linkcode readCsvFile} accepts, in UTF-16 code units (16 Mi). A bar line is
 * under a kilobyte; a longer "line" is a file without `\n` line breaks (e.g. `\r` only).
 */
export const MAX_CSV_LINE_CHARS = 1 << 24;

/** How {@linkcode readCsvFile} reads (tests use a small chunk to split lines across chunks). */
export interface CsvReadIo {
  /** Bytes read and decoded at a time. Default {@linkcode CSV_CHUNK_BYTES}. */
  chunkBytes?: number;
}

/**
 * Reads and validates one CSV file of bars, whole: every kept bar is returned, sorted by
 * symbol then time ({@linkcode streamCsvFile} is the bounded-memory way to import).
 *
 * The text is streamed (read and decoded, strict UTF-8, in chunks of `chunkBytes` and
 * parsed line by line), so it is never held whole and an 800 MB file does not meet V8's
 * string-length limit; the bars are, as JS arrays (a few hundred bytes per bar at peak).
 * @param path The file.
 * @param options See {@linkcode CsvReadOptions}.
 * @param io See {@linkcode CsvReadIo}.
 * @returns The bars and what was rejected; nothing is written.
 * @throws {SyntaxError} When the file cannot be read as bars (names file, line and value),
 *   is not UTF-8 (names the byte offset and line of the first invalid byte), or has a line
 *   longer than {@linkcode MAX_CSV_LINE_CHARS} (names the line, its size and the limit).
 * @throws {RangeError} When a value breaks a rule (non-positive price, high below low, duplicate …).
 * @example
 * ```ts
 * const r = await readCsvFile("../shared/data/hourly_33/AAPL_1h.csv", { rthOnly: true });
 * r.bars.timestamp.length; // 448
 * ```
 */
export async function readCsvFile(
  path: string,
  options: CsvReadOptions = {},
  io: CsvReadIo = {},
): Promise<CsvFileBars> {
  const file = basename(path);
  const chunkBytes = checkChunkBytes(io.chunkBytes);
  // Fail like Deno.readFile would (NotFound, PermissionDenied) before parsing starts.
  const f = await Deno.open(path, { read: true });
  try {
    return { ...wholeFile(parseCsvBatches(fileLines(f, file, chunkBytes), file, options)), path };
  } catch (e) {
    if (e instanceof NotUtf8) throw await notUtf8Error(path, file, chunkBytes);
    throw e;
  } finally {
    f.close();
  }
}

/** What streaming one file found ({@linkcode streamCsvFile}); its bars went to the batches. */
export interface CsvFileSummary extends Omit<CsvFileBars, "bars"> {
  /** Bars kept (sent in batches; a restart's voided batches not counted). */
  bars: number;
}

/** Where {@linkcode streamCsvFile} sends the bars, and how big the batches are. */
export interface CsvStream {
  /** Bars per batch. Default 50,000. */
  batchRows?: number;
  /** Bytes read and decoded at a time. Default {@linkcode CSV_CHUNK_BYTES}. */
  chunkBytes?: number;
  /**
   * Receives each batch: the file's bar size and up to `batchRows` valid bars in file
   * order (each symbol's bars in ascending time; a file read again whole after a restart
   * comes as one batch sorted by symbol then time). A file that a value rule refuses sends
   * no batch after the rule is broken; it then throws at its end.
   */
  onBatch(barSize: string, bars: BarColumns): Promise<void> | void;
  /**
   * Called when the batches sent so far for this file are void and the file is read again
   * from its first line: `"unsorted"` (a row earlier than the one before it for the same
   * symbol: the file is then read whole, its bars held in memory, and sorted) or `"bar
   * size"` (the bar size inferred from the first batch is not the whole file's; it is read
   * again with the whole file's). The caller undoes what it did with the void batches.
   */
  onRestart(reason: "unsorted" | "bar size"): Promise<void> | void;
}

/**
 * Reads and validates one CSV file of bars in batches of `batchRows`, handing each batch
 * to `stream.onBatch` as it is parsed: memory is bounded by a batch (plus a few numbers per
 * symbol and a histogram of the gaps between bars), not by the file, as long as each
 * symbol's rows are in ascending time order (the usual vendor export). Every rule of
 * {@linkcode readCsvBars} holds; what needs the whole file is kept compact: duplicates and
 * two daily bars on one date are found against the symbol's previous row (the rows being in
 * order), and the bar size is inferred from the first batch, then checked against the whole
 * file's gaps at the end (a mismatch restarts the file with the whole file's bar size). A
 * file whose rows are out of order restarts and is read whole ({@linkcode readCsvFile}'s cost).
 *
 * A refused file throws at its end (after every value-rule violation has been collected),
 * or at its first syntax error; batches sent before that are the caller's to discard.
 * @param path The file.
 * @param options See {@linkcode CsvReadOptions}.
 * @param stream See {@linkcode CsvStream}.
 * @returns What the file gave (counts, symbols, bar size, rejected rows, warnings).
 * @throws {SyntaxError|RangeError} As {@linkcode readCsvFile}.
 * @example
 * ```ts
 * const s = await streamCsvFile("../shared/data/hourly_33/AAPL_1h.csv", {}, {
 *   onBatch: (barSize, bars) => store.transaction((tx) => upsertPrices(tx, barSize, bars)),
 *   onRestart: () => { throw new Error("not sorted"); },
 * });
 * s.bars; // 1080
 * ```
 */
export async function streamCsvFile(
  path: string,
  options: CsvReadOptions,
  stream: CsvStream,
): Promise<CsvFileSummary> {
  const file = basename(path);
  const chunkBytes = checkChunkBytes(stream.chunkBytes);
  const f = await Deno.open(path, { read: true });
  try {
    const lines = () => {
      f.seekSync(0, Deno.SeekMode.Start);
      return fileLines(f, file, chunkBytes);
    };
    return { ...await streamCsvLines(lines, file, options, stream), path };
  } catch (e) {
    if (e instanceof NotUtf8) throw await notUtf8Error(path, file, chunkBytes);
    throw e;
  } finally {
    f.close();
  }
}

/**
 * {@linkcode streamCsvFile} on lines from anywhere (e.g. an archive entry): `lines()` gives
 * the lines from the first one, again on each restart.
 * @param lines The lines as `text.split(/\r?\n/)` would give them, from the start.
 * @param fileName Base name for messages and the symbol pattern.
 * @param options See {@linkcode CsvReadOptions}.
 * @param stream See {@linkcode CsvStream}.
 * @returns As {@linkcode streamCsvFile}; `path` is the file name.
 * @throws {SyntaxError|RangeError} As {@linkcode readCsvBars}.
 * @example
 * ```ts
 * const text = "Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,100\n";
 * const s = await streamCsvLines(() => text.split("\n"), "X.csv", {}, { onBatch: console.log, onRestart: () => {} });
 * s.bars; // 1
 * ```
 */
export async function streamCsvLines(
  lines: () => Iterable<string>,
  fileName: string,
  options: CsvReadOptions,
  stream: CsvStream,
): Promise<CsvFileSummary> {
  const batchRows = stream.batchRows ?? 50_000;
  if (!Number.isInteger(batchRows) || batchRows < 1) {
    throw new RangeError(`batchRows must be a positive integer, got ${batchRows}`);
  }
  let opts = options;
  let whole = false;
  for (;;) {
    const gen = parseCsvBatches(lines(), fileName, opts, whole ? Infinity : batchRows);
    let bars = 0;
    let r = gen.next();
    while (!r.done) {
      bars += r.value.bars.timestamp.length;
      await stream.onBatch(r.value.barSize, r.value.bars);
      r = gen.next();
    }
    const end = r.value;
    if ("summary" in end) return { ...end.summary, bars, path: fileName };
    await stream.onRestart(end.restart);
    if (end.restart === "unsorted") whole = true;
    else opts = { ...opts, barSize: end.barSize };
  }
}

function checkChunkBytes(n: number | undefined): number {
  const chunkBytes = n ?? CSV_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) {
    throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
  }
  return chunkBytes;
}

/** Collects every batch of a whole-file parse (at most one) into one result. */
function wholeFile(gen: Generator<CsvBatch, ParseEnd>): Omit<CsvFileBars, "path"> {
  let bars = emptyBars();
  let r = gen.next();
  for (; !r.done; r = gen.next()) bars = r.value.bars;
  if (!("summary" in r.value)) throw new Error(`internal: a whole-file read restarted`);
  return { ...r.value.summary, bars };
}

/** Thrown inside the line reader when the decoder refuses a chunk; located afterwards. */
class NotUtf8 extends Error {}

/**
 * The lines of an open file (split on `\n`, a `\r` before it dropped, the last element
 * `""` when the file ends with a line break, like `text.split(/\r?\n/)`), read and
 * decoded `chunkBytes` at a time. Synchronous reads keep the parser synchronous.
 */
function* fileLines(f: Deno.FsFile, file: string, chunkBytes: number): Generator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const buf = new Uint8Array(chunkBytes);
  let rest = "";
  let lineNo = 1;
  const decode = (bytes?: Uint8Array): string => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch (e) {
      if (e instanceof TypeError) throw new NotUtf8();
      throw e;
    }
  };
  const tooLong = (n: number) =>
    new SyntaxError(
      `Cannot import ${file} line ${lineNo}: too large to read at once: the line is over ${
        n.toLocaleString("en-US")
      } characters and the limit is ${
        MAX_CSV_LINE_CHARS.toLocaleString("en-US")
      } (are the lines broken with \\r only, or not at all?)`,
    );
  for (;;) {
    const n = f.readSync(buf);
    const text = n === null ? decode() : decode(buf.subarray(0, n));
    let from = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", from)) {
      let line = rest + text.slice(from, nl);
      rest = "";
      if (line.length > MAX_CSV_LINE_CHARS) throw tooLong(line.length);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      yield line;
      lineNo++;
      from = nl + 1;
    }
    rest += text.slice(from);
    if (rest.length > MAX_CSV_LINE_CHARS) throw tooLong(rest.length);
    if (n === null) break;
  }
  yield rest;
}

/**
 * The refusal of a file that is not UTF-8, naming where its first invalid byte is (every
 * importer refuses such a file with this one message).
 * @param path The file.
 * @param file Its name in messages.
 * @param chunkBytes Read size while looking for the byte (default: `firstInvalidUtf8`'s).
 * @returns The error to throw.
 * @example
 * ```ts
 * if (e instanceof NotUtf8) throw await notUtf8Error(path, "aapl.csv");
 * ```
 */
export async function notUtf8Error(
  path: string,
  file: string,
  chunkBytes?: number,
): Promise<SyntaxError> {
  const bad = await firstInvalidUtf8(path, chunkBytes);
  const where = bad
    ? `: invalid byte 0x${
      bad.byte.toString(16).toUpperCase().padStart(2, "0")
    } at byte offset ${bad.offset} (line ${bad.line})`
    : "";
  return new SyntaxError(
    `Cannot import ${file}: not UTF-8 text${where}; convert it to UTF-8 (e.g. iconv -f latin1 -t utf-8)`,
    { cause: bad ? { file, ...bad } : { file } },
  );
}

/**
 * Where the first invalid UTF-8 sequence of a file starts (its 0-based byte offset, its
 * lead byte and its 1-based line), or `undefined` when the file is valid UTF-8.
 * @param path The file.
 * @param chunkBytes Bytes read at a time.
 * @returns The offset, byte and line.
 * @example
 * ```ts
 * await Deno.writeFile("/tmp/x.csv", new Uint8Array([0x61, 0x0a, 0xe9, 0x0a]));
 * await firstInvalidUtf8("/tmp/x.csv"); // { offset: 2, byte: 0xe9, line: 2 }
 * ```
 */
export async function firstInvalidUtf8(
  path: string,
  chunkBytes = CSV_CHUNK_BYTES,
): Promise<{ offset: number; byte: number; line: number } | undefined> {
  using f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(chunkBytes);
  let pos = 0, line = 1;
  // State of the sequence being read: continuation bytes still needed, the range of the
  // next one (narrower after E0, ED, F0, F4), and where the sequence started.
  let need = 0, lo = 0x80, hi = 0xbf, start = 0, lead = 0, startLine = 1;
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    for (let i = 0; i < n; i++, pos++) {
      const b = buf[i];
      if (need > 0) {
        if (b < lo || b > hi) return { offset: start, byte: lead, line: startLine };
        lo = 0x80, hi = 0xbf;
        need--;
        continue;
      }
      if (b === 0x0a) line++;
      if (b < 0x80) continue;
      start = pos, lead = b, startLine = line;
      if (b >= 0xc2 && b <= 0xdf) need = 1;
      else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        if (b === 0xe0) lo = 0xa0;
        if (b === 0xed) hi = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        if (b === 0xf0) lo = 0x90;
        if (b === 0xf4) hi = 0x8f;
      } else return { offset: pos, byte: b, line };
    }
  }
  return need > 0 ? { offset: start, byte: lead, line: startLine } : undefined;
}

/**
 * Parses and validates CSV text of bars (the work of {@linkcode readCsvFile}, without I/O).
 *
 * Rules, checked on every row that would be kept (rows dropped by the filters are only
 * date-checked): numbers and dates parse (no `2015-02-30`, years 1800–2199, finite
 * 64-bit floats); prices > 0; high ≥ max(open, close) and low ≤ min(open, close) within a
 * relative tolerance of 1e-9 (then clamped so they hold exactly); volume ≥ 0; adjusted
 * close > 0 when adjusting; symbols without NUL or control characters, at most
 * {@linkcode MAX_SYMBOL_LENGTH} long, upper-cased unless `keepSymbolCase`; one bar per
 * symbol and timestamp; every timestamp of a file is date-only, or every one is a wall
 * time without offset, or every one has an offset (at most two offsets one hour apart,
 * i.e. one zone with DST). Syntax errors stop at the first; value-rule violations are all
 * collected and reported with counts. Rows out of time order are sorted (and a warning
 * says so). Daily (or longer) bars are stamped with their session date at 00:00 UTC: the
 * date as written, in the file's own offset or zone.
 *
 * @param text The file's content (a leading BOM is fine).
 * @param fileName Base name for messages and for the symbol pattern.
 * @param options See {@linkcode CsvReadOptions}.
 * @returns The bars; `path` is the file name.
 * @throws {SyntaxError} For unreadable input.
 * @throws {RangeError} For values breaking a rule (unless `skipBadRows`).
 * @example
 * ```ts
 * const r = readCsvBars("Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,100\n", "X.csv");
 * r.bars.close; // [1.5]
 * ```
 */
export function readCsvBars(
  text: string,
  fileName: string,
  options: CsvReadOptions = {},
): CsvFileBars {
  return { ...wholeFile(parseCsvBatches(text.split(/\r?\n/), fileName, options)), path: fileName };
}

/** A batch of bars from {@linkcode parseCsvBatches}. */
interface CsvBatch {
  barSize: string;
  bars: BarColumns;
}

/** How a parse ends: the file's summary, or a restart (the batches yielded are void). */
type ParseEnd =
  | { summary: Omit<CsvFileSummary, "bars" | "path"> }
  | { restart: "unsorted" }
  | { restart: "bar size"; barSize: string };

/** Kept rows waiting to be emitted, in file order (column arrays). */
interface Pending {
  sym: string[];
  ms: number[];
  day: number[];
  line: number[];
  o: number[];
  h: number[];
  l: number[];
  c: number[];
  v: number[];
}

function emptyPending(): Pending {
  return { sym: [], ms: [], day: [], line: [], o: [], h: [], l: [], c: [], v: [] };
}

/**
 * The parser of {@linkcode readCsvBars}, {@linkcode readCsvFile} and
 * {@linkcode streamCsvLines}, on the file's lines as `text.split(/\r?\n/)` gives them (the
 * last one `""` when the text ends with a line break), consumed one at a time.
 *
 * With a finite `batchRows` it streams: kept rows are yielded in batches of `batchRows` in
 * file order, each symbol's rows must ascend in time (the first that does not ends the
 * parse with a `"unsorted"` restart), duplicates and two daily bars on one date are found
 * against the symbol's previous row, and the bar size is inferred from the gaps of the
 * first batch and checked against the whole file's at the end (a `"bar size"` restart when
 * they differ). With `batchRows` Infinity (whole) it holds every row, finds duplicates
 * with a map, sorts each symbol's rows and yields one batch sorted by symbol then time.
 */
function* parseCsvBatches(
  source: Iterable<string>,
  fileName: string,
  options: CsvReadOptions,
  batchRows = Infinity,
): Generator<CsvBatch, ParseEnd> {
  const whole = batchRows === Infinity;
  const file = fileName;
  checkPriceScale(options.priceScale);
  const delimiter = options.delimiter ?? ",";
  const zone = options.timeZone ?? "UTC";
  const where = (line: number) => `Cannot import ${file} line ${line}`;
  const lines = new LineQueue(source);
  // The file is empty when every line is blank (BOM aside).
  if (lines.at(0).charCodeAt(0) === 0xfeff) lines.setFirst(lines.at(0).slice(1));
  let probe = 0;
  while (lines.has(probe) && lines.at(probe).trim() === "") probe++;
  if (!lines.has(probe)) throw new SyntaxError(`Cannot import ${file}: the file is empty`);

  // Header, or the `columns` of a headerless file (see headerOf; line 0 is then data).
  const header = lines.at(0);
  const { index, ncol, firstDataLine } = headerOf(header, file, delimiter, options);
  if (options.adjust && index.adjClose === undefined) {
    throw new SyntaxError(
      `${
        where(1)
      }: adjust needs an adjusted-close column (Adj Close|adjusted_close|adjclose); the header has none`,
    );
  }
  const norm = options.keepSymbolCase ? (x: string) => x : (x: string) => x.toUpperCase();
  const rawFileSymbol = options.symbol ??
    symbolFromFileName(file, options.symbolPattern ?? DEFAULT_SYMBOL_PATTERN);
  const fileSymbol = rawFileSymbol === undefined ? undefined : norm(rawFileSymbol);
  if (fileSymbol !== undefined && symbolProblem(fileSymbol)) {
    throw new SyntaxError(`Cannot import ${file}: the file's ${symbolProblem(fileSymbol)}`);
  }
  if (index.symbol === undefined && fileSymbol === undefined) {
    throw new SyntaxError(
      `Cannot import ${file}: no Symbol column and the file name does not match the symbol pattern ${
        String(options.symbolPattern ?? DEFAULT_SYMBOL_PATTERN)
      }`,
    );
  }
  const barSizeOption = options.barSize === undefined
    ? undefined
    : normaliseBarSize(options.barSize);
  const startMs = options.start === undefined ? -Infinity : boundary(options.start, false);
  const endMs = options.end === undefined ? Infinity : boundary(options.end, true);
  const symbolFilter = options.symbols?.length ? new Set(options.symbols.map(norm)) : undefined;

  const rejected: RejectedRow[] = [];
  const warnings: string[] = [];
  // Value-rule violations are collected (every one is reported); syntax errors stop at once.
  const violations: Violation[] = [];
  const symbolChecked = new Map<string, string | undefined>();
  const fail = (
    line: number,
    reason: string,
    kind: "syntax" | "range",
    rule = "other",
  ): void => {
    if (options.skipBadRows) {
      rejected.push({ file, line, reason });
      return;
    }
    if (kind === "range") {
      violations.push({ line, reason, rule });
      return;
    }
    const message = `${where(line)}: ${reason}`;
    throw kind === "syntax"
      ? new SyntaxError(message, { cause: { file, line, reason } })
      : new RangeError(message, { cause: { file, line, reason } });
  };

  const iTime = index.time!,
    iOpen = index.open!,
    iHigh = index.high!,
    iLow = index.low!,
    iClose = index.close!;
  const iVol = index.volume!,
    iAdj = options.adjust ? index.adjClose! : -1,
    iSym = index.symbol ?? -1,
    iClock = index.clock ?? -1;

  // Per symbol: the last kept row (file order), the last emitted timestamp, and in whole
  // mode the rows' indices and timestamp → line for duplicate detection.
  interface Series {
    n: number;
    lastMs: number;
    lastLine: number;
    /** Timestamp (session date for daily bars) and line of the last bar emitted. */
    lastTs: number;
    lastTsLine: number;
    /** Whole mode: indices into `pending`. */
    rows: number[];
    seen: Map<number, number> | undefined;
    /** First row earlier than the one before it: [its line, the line before]. */
    unsorted: [number, number] | undefined;
  }
  const series = new Map<string, Series>();
  let pending = emptyPending();
  /** Streaming: gap (ms) → count over each symbol's consecutive kept rows. */
  const gapCounts = new Map<number, number>();
  let provisional: string | undefined; // streaming: the bar size inferred from the first batch
  let timeKind: TimeKind | undefined;
  let timeKindLine = 0;
  const offsets = new Map<number, number>(); // offset minutes → first line
  let rowsRead = 0, rowsFiltered = 0;
  let dataRows = 0;
  const barSizeConflict = () =>
    barSizeOption !== undefined && timeKind === "date" && !isDailyOrLonger(barSizeOption);
  /** Pending rows in emission order → bars (session dates for daily bars, two on one date refused, prices scaled). */
  const emit = (barSize: string, order: Iterable<number>): BarColumns => {
    const byDate = isDailyOrLonger(barSize) && timeKind !== "date";
    const out = emptyBars();
    const p = pending;
    for (const i of order) {
      const sym = p.sym[i];
      const s = series.get(sym)!;
      // A daily (or longer) bar's instant is its session date at 00:00 UTC, the date as
      // written in the file's own offset or zone: the same session from any source is one timestamp.
      const ts = byDate ? p.day[i] : p.ms[i];
      if (ts === s.lastTs) {
        fail(
          p.line[i],
          `two ${barSize} bars on ${showTime(ts)} for ${sym} (also line ${s.lastTsLine})`,
          "range",
          "two bars on one date",
        );
        continue;
      }
      out.instrument.push(sym);
      out.timestamp.push(ts);
      out.open.push(p.o[i]);
      out.high.push(p.h[i]);
      out.low.push(p.l[i]);
      out.close.push(p.c[i]);
      out.volume.push(p.v[i]);
      s.lastTs = ts;
      s.lastTsLine = p.line[i];
    }
    scalePrices(out, options.priceScale);
    return out;
  };
  const identity = function* (n: number) {
    for (let i = 0; i < n; i++) yield i;
  };

  for (let li = firstDataLine; lines.has(li); li++) {
    const raw = lines.take(li);
    const line = li + 1;
    if (raw.trim() === "") continue;
    dataRows++;
    rowsRead++;
    const f = splitLine(raw, delimiter);
    if (!f) {
      fail(line, "unclosed quote", "syntax");
      continue;
    }
    if (f.length !== ncol) {
      const last = !lines.has(li + 1);
      fail(
        line,
        last && f.length < ncol
          ? `truncated last line: ${f.length} of ${ncol} fields`
          : `expected ${ncol} fields (${showDelimiter(delimiter)}-separated), found ${f.length}`,
        "syntax",
      );
      continue;
    }
    const clock = iClock >= 0 ? f[iClock].trim() : "";
    const timeText = clock === "" ? f[iTime].trim() : `${f[iTime].trim()} ${clock}`;
    const t = parseTimestamp(timeText, zone);
    if (!t) {
      fail(line, badDate(timeText), "syntax");
      continue;
    }
    if (t.year < PLAUSIBLE_YEARS.min || t.year > PLAUSIBLE_YEARS.max) {
      fail(
        line,
        `implausible year ${t.year} in "${timeText}" (accepted ${PLAUSIBLE_YEARS.min}–${PLAUSIBLE_YEARS.max})`,
        "syntax",
      );
      continue;
    }
    if (timeKind === undefined) {
      timeKind = t.kind;
      timeKindLine = line;
    } else if (t.kind !== timeKind) {
      fail(
        line,
        `mixed timezones: "${timeText}" is ${describeKind(t.kind)} but line ${timeKindLine} is ${
          describeKind(timeKind)
        }`,
        "syntax",
      );
      continue;
    }
    if (t.offsetMinutes !== undefined && !offsets.has(t.offsetMinutes)) {
      const known = [...offsets.keys()];
      if (
        known.length >= 2 || (known.length === 1 && Math.abs(known[0] - t.offsetMinutes) !== 60)
      ) {
        fail(
          line,
          `mixed timezones: "${timeText}" has offset ${showOffset(t.offsetMinutes)} but line ${
            offsets.get(known[0])
          } has ${showOffset(known[0])} (only one zone with daylight saving is accepted)`,
          "syntax",
        );
        continue;
      }
      offsets.set(t.offsetMinutes, line);
    }
    let symbol = iSym >= 0 ? norm(f[iSym].trim()) : "";
    if (symbol === "") symbol = fileSymbol ?? "";
    if (symbol === "") {
      fail(line, "empty symbol", "syntax");
      continue;
    }
    if (!symbolChecked.has(symbol)) symbolChecked.set(symbol, symbolProblem(symbol));
    const symbolBad = symbolChecked.get(symbol);
    if (symbolBad) {
      fail(line, symbolBad, "syntax");
      continue;
    }
    if (
      (symbolFilter && !symbolFilter.has(symbol)) || t.ms < startMs || t.ms > endMs ||
      (options.rthOnly && t.kind !== "date" && !isUsRegularSession(t.ms))
    ) {
      rowsFiltered++;
      continue;
    }
    const o = num(f[iOpen]),
      c = num(f[iClose]),
      v = num(f[iVol]);
    let h = num(f[iHigh]), l = num(f[iLow]);
    const adj = iAdj >= 0 ? num(f[iAdj]) : 1;
    const bad = checkNumbers(f, { o, h, l, c, v, adj }, { iOpen, iHigh, iLow, iClose, iVol, iAdj });
    if (bad) {
      fail(line, bad.reason, bad.kind, bad.rule);
      continue;
    }
    // Within the tolerance: clamp so that low ≤ open, close ≤ high holds exactly.
    h = Math.max(h, o, c);
    l = Math.min(l, o, c);
    let s = series.get(symbol);
    if (!s) {
      s = {
        n: 0,
        lastMs: NaN,
        lastLine: 0,
        lastTs: NaN,
        lastTsLine: 0,
        rows: [],
        seen: whole ? new Map() : undefined,
        unsorted: undefined,
      };
      series.set(symbol, s);
    }
    const first = whole ? s.seen!.get(t.ms) : t.ms === s.lastMs ? s.lastLine : undefined;
    if (first !== undefined) {
      fail(
        line,
        `duplicate timestamp ${showTime(t.ms)} for ${symbol} (also line ${first})`,
        "range",
        "duplicate timestamp",
      );
      continue;
    }
    if (s.n > 0 && t.ms < s.lastMs) {
      // Out of order: streaming cannot check this file against its previous rows; read it whole.
      if (!whole) return { restart: "unsorted" };
      s.unsorted ??= [line, s.lastLine];
    }
    if (whole) s.seen!.set(t.ms, line);
    else if (s.n > 0) gapCounts.set(t.ms - s.lastMs, (gapCounts.get(t.ms - s.lastMs) ?? 0) + 1);
    s.n++;
    s.lastMs = t.ms;
    s.lastLine = line;
    const k = iAdj >= 0 ? adj / c : 1;
    const p = pending;
    if (whole) s.rows.push(p.ms.length);
    p.sym.push(symbol);
    p.ms.push(t.ms);
    p.day.push(t.dayMs);
    p.line.push(line);
    p.o.push(o * k);
    p.h.push(h * k);
    p.l.push(l * k);
    // c × k rather than adj: the same rounding as o, h, l keeps low ≤ close ≤ high exact.
    p.c.push(c * k);
    p.v.push(v / k);
    if (p.ms.length >= batchRows) {
      provisional ??= barSizeOption ??
        (gapCounts.size ? barSizeFromGapCounts(gapCounts, timeKind === "date") : undefined);
      if (provisional !== undefined) {
        // Rules that refuse the file stop the batches (they would be discarded anyway).
        const bars = emit(provisional, identity(p.ms.length));
        pending = emptyPending();
        if (violations.length === 0 && !barSizeConflict()) yield { barSize: provisional, bars };
      }
    }
  }
  if (dataRows === 0) throw new SyntaxError(`Cannot import ${file}: no data rows (header only)`);
  let barSize = barSizeOption;
  if (!whole && barSize === undefined && provisional !== undefined) {
    // The first batch's bar size must be the whole file's (else read it again with that one).
    const final = barSizeFromGapCounts(gapCounts, timeKind === "date");
    if (final !== undefined && final !== provisional) {
      return { restart: "bar size", barSize: final };
    }
  }
  if (violations.length) throw violationsError(file, violations);
  if (options.rthOnly && timeKind === "date") {
    warnings.push(`${file}: rthOnly has no effect on date-only (daily) bars`);
  }

  // Whole mode: each symbol's rows in time order (and their gaps for the bar size).
  const symbols = [...series.keys()].sort();
  const order: number[] = [];
  if (whole) {
    const p = pending;
    for (const sym of symbols) {
      const s = series.get(sym)!;
      s.seen = undefined; // the duplicate check is done: free its map before sorting
      if (s.unsorted) {
        s.rows.sort((a, b) => p.ms[a] - p.ms[b]);
        warnings.push(
          `${file}: ${sym} rows are not in time order (line ${s.unsorted[0]} is earlier than line ${
            s.unsorted[1]
          }); sorted`,
        );
      }
      for (let j = 0; j < s.rows.length; j++) {
        const i = s.rows[j];
        order.push(i);
        if (j > 0) {
          const gap = p.ms[i] - p.ms[s.rows[j - 1]];
          gapCounts.set(gap, (gapCounts.get(gap) ?? 0) + 1);
        }
      }
      s.rows = [];
    }
  }
  if (barSizeConflict()) {
    throw new SyntaxError(
      `Cannot import ${file}: bar size "${barSizeOption}" was given but the timestamps are dates without a time of day (daily bars); give "1 day" or leave the bar size out`,
    );
  }
  if (barSize === undefined && symbols.length > 0) {
    barSize = provisional ?? barSizeFromGapCounts(gapCounts, timeKind === "date");
    if (barSize === undefined) {
      throw new SyntaxError(
        `Cannot import ${file}: cannot infer the bar size from a single intraday bar; give the bar size`,
      );
    }
  }
  if (pending.ms.length > 0) {
    const bars = emit(barSize!, whole ? order : identity(pending.ms.length));
    pending = emptyPending();
    if (violations.length) throw violationsError(file, violations);
    yield { barSize: barSize!, bars };
  }
  return {
    summary: { file, barSize, symbols, rowsRead, rowsFiltered, rejected, warnings },
  };
}

// --- Headerless files (`columns`) and price scale (`priceScale`) ---

/** The column mapping of a file: from its header line, or from `options.columns` (then line 1 is data). */
function headerOf(
  first: string,
  file: string,
  delimiter: string,
  options: CsvReadOptions,
): { index: Partial<Record<BarField, number>>; ncol: number; firstDataLine: number } {
  const where = `Cannot import ${file} line 1`;
  if (options.columns !== undefined) {
    const { index, count } = parseColumns(options.columns);
    const cells = splitLine(first, delimiter);
    if (cells && !looksLikeData(cells) && mapHeader(cells).index.close !== undefined) {
      throw new SyntaxError(
        `${where}: the file has a header (${
          JSON.stringify(first.slice(0, 200))
        }); columns is for headerless files, leave it out`,
      );
    }
    return { index, ncol: count, firstDataLine: 0 };
  }
  const headerCells = splitLine(first, delimiter);
  if (!headerCells) throw new SyntaxError(`${where}: unclosed quote in the header`);
  if (looksLikeData(headerCells)) {
    throw new SyntaxError(
      `${where}: the file has no header (the first line ${
        JSON.stringify(first.slice(0, 200))
      } is all numbers); name its columns, e.g. --columns timestamp,open,high,low,close,volume`,
    );
  }
  const { index, duplicate } = mapHeader(headerCells);
  if (duplicate) throw new SyntaxError(`${where}: column "${duplicate}" appears twice`);
  for (const f of REQUIRED_FIELDS) {
    if (index[f] === undefined) {
      const other = headerCells.length === 1 ? otherDelimiter(first, delimiter) : undefined;
      const hint = other
        ? `; the header looks ${showDelimiter(other)}-separated, not ${
          showDelimiter(delimiter)
        }-separated (set the delimiter)`
        : "";
      throw new SyntaxError(
        `${where}: no ${FIELD_NAMES[f]} column in header ${
          JSON.stringify(first.slice(0, 200))
        }${hint}`,
      );
    }
  }
  return { index, ncol: headerCells.length, firstDataLine: 1 };
}

/**
 * Multiplies open/high/low/close by `scale` in place (volume untouched). A scale whose
 * inverse is a whole number (0.0001) divides instead, so 1234500 × 0.0001 gives exactly 123.45.
 */
function scalePrices(bars: BarColumns, scale: number | undefined): void {
  if (scale === undefined || scale === 1) return;
  const inv = 1 / scale;
  const f = Number.isInteger(inv) ? (x: number) => x / inv : (x: number) => x * scale;
  for (const col of [bars.open, bars.high, bars.low, bars.close]) {
    for (let i = 0; i < col.length; i++) col[i] = f(col[i]);
  }
}

function checkPriceScale(scale: number | undefined): void {
  if (scale !== undefined && !(Number.isFinite(scale) && scale > 0)) {
    throw new RangeError(`priceScale must be a positive finite number; got ${scale}`);
  }
}

/**
 * Lines of a source with lookahead: `at(i)`/`has(i)` read ahead as far as asked, `take(i)`
 * returns line i and forgets it and every line before it. Line indices only grow.
 */
class LineQueue {
  #it: Iterator<string>;
  #ahead: string[] = [];
  #base = 0; // index of #ahead[0]
  #done = false;
  constructor(source: Iterable<string>) {
    this.#it = source[Symbol.iterator]();
  }
  has(i: number): boolean {
    while (!this.#done && i - this.#base >= this.#ahead.length) {
      const r = this.#it.next();
      if (r.done) this.#done = true;
      else this.#ahead.push(r.value);
    }
    return i - this.#base < this.#ahead.length;
  }
  at(i: number): string {
    return this.has(i) ? this.#ahead[i - this.#base] : "";
  }
  setFirst(line: string): void {
    if (this.has(0) && this.#base === 0) this.#ahead[0] = line;
  }
  take(i: number): string {
    const line = this.at(i);
    const drop = i + 1 - this.#base;
    // Drop in one go (shift per line would be quadratic when many lines were read ahead).
    this.#ahead = drop >= this.#ahead.length ? [] : this.#ahead.slice(drop);
    this.#base = i + 1;
    return line;
  }
}

function num(text: string): number {
  return parseDecimal(text);
}

interface Violation {
  line: number;
  reason: string;
  /** e.g. `high below low`, for the counts. */
  rule: string;
}

function violationsError(file: string, v: Violation[]): RangeError {
  v.sort((a, b) => a.line - b.line); // "two bars on one date" is found after the row rules
  if (v.length === 1) {
    return new RangeError(
      `Cannot import ${file} line ${v[0].line}: ${v[0].reason} (${SKIP_HINT})`,
      {
        cause: { file, line: v[0].line, reason: v[0].reason },
      },
    );
  }
  const counts = new Map<string, number>();
  for (const x of v) counts.set(x.rule, (counts.get(x.rule) ?? 0) + 1);
  const shown = v.slice(0, 10).map((x) => `line ${x.line}: ${x.reason}`).join("; ");
  const more = v.length > 10 ? `; … and ${v.length - 10} more` : "";
  return new RangeError(
    `Cannot import ${file}: ${v.length} rows break the rules (${
      [...counts].map(([r, n]) => `${n} ${r}`).join(", ")
    }): ${shown}${more} (${SKIP_HINT})`,
    { cause: { file, line: v[0].line, reason: v[0].reason, violations: v } },
  );
}

function isDailyOrLonger(barSize: string): boolean {
  return /\b(day|week|month)s?$/.test(barSize);
}

function badDate(text: string): string {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})/.exec(text);
  const why = m ? invalidDateReason(+m[1], +m[2], +m[3]) : undefined;
  return why ? `bad date "${text}": ${why}` : `bad date "${text}"`;
}

/** Relative tolerance of the OHLC order checks (one-ulp noise of vendor exports passes). */
const OHLC_TOLERANCE = 1e-9;

function checkNumbers(
  f: string[],
  x: { o: number; h: number; l: number; c: number; v: number; adj: number },
  i: { iOpen: number; iHigh: number; iLow: number; iClose: number; iVol: number; iAdj: number },
): { reason: string; kind: "syntax" | "range"; rule: string } | undefined {
  const named: [string, number, number][] = [
    ["open", x.o, i.iOpen],
    ["high", x.h, i.iHigh],
    ["low", x.l, i.iLow],
    ["close", x.c, i.iClose],
    ["volume", x.v, i.iVol],
  ];
  if (i.iAdj >= 0) named.push(["adjusted close", x.adj, i.iAdj]);
  for (const [name, v, col] of named) {
    if (Number.isNaN(v)) {
      const t = f[col].trim();
      const overflow = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(t);
      return {
        reason: t === ""
          ? `${name} is empty`
          : overflow
          ? `${name} "${t}" is out of range (beyond a 64-bit float)`
          : `${name} "${t}" is not a number`,
        kind: "syntax",
        rule: "not a number",
      };
    }
  }
  for (const [name, v] of named) {
    if (name === "volume") {
      if (v < 0) {
        return { reason: `volume ${v} is negative`, kind: "range", rule: "negative volume" };
      }
    } else if (v <= 0) {
      return { reason: `${name} ${v} is not positive`, kind: "range", rule: "price not positive" };
    }
  }
  const tol = OHLC_TOLERANCE * Math.max(x.o, x.h, x.l, x.c);
  const r = (reason: string, rule: string) => ({ reason, kind: "range" as const, rule });
  if (x.h < x.l - tol) return r(`high ${x.h} is below low ${x.l}`, "high below low");
  if (x.h < x.o - tol) return r(`high ${x.h} is below open ${x.o}`, "high below open");
  if (x.h < x.c - tol) return r(`high ${x.h} is below close ${x.c}`, "high below close");
  if (x.l > x.o + tol) return r(`low ${x.l} is above open ${x.o}`, "low above open");
  if (x.l > x.c + tol) return r(`low ${x.l} is above close ${x.c}`, "low above close");
  return undefined;
}

function describeKind(k: TimeKind): string {
  return k === "date"
    ? "a date without time"
    : k === "naive"
    ? "a time without UTC offset"
    : "a time with a UTC offset";
}

function showOffset(min: number): string {
  const a = Math.abs(min);
  return `${min < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${
    String(a % 60).padStart(2, "0")
  }`;
}

function boundary(text: string, isEnd: boolean): number {
  const t = parseTimestamp(text);
  if (t && (t.year < PLAUSIBLE_YEARS.min || t.year > PLAUSIBLE_YEARS.max)) {
    throw new RangeError(
      `Implausible year ${t.year} in "${text}" (accepted ${PLAUSIBLE_YEARS.min}–${PLAUSIBLE_YEARS.max})`,
    );
  }
  if (!t) {
    throw new RangeError(
      `Not a date or date-time: "${text}" (expected e.g. 2014-06-09 or 2025-06-26T13:30:00Z)`,
    );
  }
  return isEnd && t.kind === "date" ? t.ms + 86_400_000 - 1 : t.ms;
}
