/**
 * Zip archives of CSV files (vendor downloads): listed beside the CSV files of a directory
 * and read in memory with fflate (nothing is extracted to disk). Each CSV inside is one
 * file named `archive.zip!inner.csv` in messages and summaries; its symbol comes from the
 * inner file's base name. Private to `lib/data/`.
 *
 * @module
 */
import { unzipSync } from "fflate";
import { basename, extname, join, resolve } from "node:path";
import {
  type CsvFileBars,
  type CsvReadOptions,
  DEFAULT_SYMBOL_PATTERN,
  readCsvBars,
  type SkippedFile,
  symbolFromFileName,
} from "./csv.ts";

/**
 * Whether a path names a zip archive (extension `.zip`, any case).
 * @param path A path.
 * @returns `true` for `x.zip`, `X.ZIP`.
 * @example
 * ```ts
 * isZipPath("daily.ZIP"); // true
 * ```
 */
export function isZipPath(path: string): boolean {
  return extname(path).toLowerCase() === ".zip";
}

/**
 * The `*.zip` files of a directory (not recursive, sorted; links to files followed; dot-files
 * skipped and listed). A path that is not a directory gives nothing.
 * @param path A directory (or anything else).
 * @returns Absolute paths and the skipped files.
 * @example
 * ```ts
 * const { files } = await listZipFiles("vendor/"); // ["/…/vendor/daily.zip"]
 * ```
 */
export async function listZipFiles(
  path: string,
): Promise<{ files: string[]; skipped: SkippedFile[] }> {
  const abs = resolve(path);
  const files: string[] = [];
  const skipped: SkippedFile[] = [];
  if (!(await Deno.stat(abs)).isDirectory) return { files, skipped };
  for await (const e of Deno.readDir(abs)) {
    if (!isZipPath(e.name)) continue;
    if (e.name.startsWith(".")) {
      skipped.push({ file: e.name, reason: "hidden file (the name starts with a dot)" });
      continue;
    }
    const full = join(abs, e.name);
    if (e.isFile) files.push(full);
    else if (e.isSymlink) {
      try {
        if ((await Deno.stat(full)).isFile) files.push(full);
        else skipped.push({ file: e.name, reason: "symbolic link to something not a file" });
      } catch {
        skipped.push({ file: e.name, reason: "broken symbolic link" });
      }
    }
  }
  return { files: files.sort(), skipped };
}

/** Whether an archive entry is a CSV to read (not a directory, not macOS metadata, not a dot-file). */
function isCsvEntry(name: string): boolean {
  if (name.endsWith("/") || name.startsWith("__MACOSX/")) return false;
  const base = basename(name);
  return !base.startsWith(".") && /^\.(csv|txt)$/i.test(extname(base));
}

/** One CSV inside an archive, ready to parse (see {@linkcode zipCsvEntries}). */
export interface ZipCsvEntry {
  /** `archive.zip!inner.csv`, for messages. */
  file: string;
  /** The archive path with `!inner.csv`. */
  path: string;
  /** The reading options, with the symbol from the inner file's name when it gives one. */
  options: CsvReadOptions;
  /** The entry's text (decoded on each call, strict UTF-8). */
  text(): string;
}

/**
 * The CSV files (`*.csv`/`*.txt`) inside a zip archive, read in memory (the archive's
 * uncompressed entries are held; each entry's text is decoded when asked for).
 * @param path The archive.
 * @param options See {@linkcode CsvReadOptions}.
 * @returns One entry per CSV inside, sorted by name.
 * @throws {SyntaxError} When the archive cannot be read or holds no CSV; `text()` throws
 *   one when the entry is not UTF-8 (named `archive.zip!inner.csv`).
 * @example
 * ```ts
 * const [e] = await zipCsvEntries("vendor/daily.zip");
 * e.file; // "daily.zip!AAPL.csv"
 * ```
 */
export async function zipCsvEntries(
  path: string,
  options: CsvReadOptions = {},
): Promise<ZipCsvEntry[]> {
  const archive = basename(path);
  const bytes = await Deno.readFile(path);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, { filter: (f) => isCsvEntry(f.name) });
  } catch (e) {
    throw new SyntaxError(
      `Cannot import ${archive}: not a readable zip archive (${(e as Error).message})`,
    );
  }
  const names = Object.keys(entries).sort();
  if (names.length === 0) {
    throw new SyntaxError(`Cannot import ${archive}: no .csv or .txt file inside the archive`);
  }
  return names.map((name) => {
    const file = `${archive}!${name}`;
    const symbol = options.symbol ??
      symbolFromFileName(basename(name), options.symbolPattern ?? DEFAULT_SYMBOL_PATTERN);
    return {
      file,
      path: `${path}!${name}`,
      options: symbol === undefined ? options : { ...options, symbol },
      text() {
        try {
          return new TextDecoder("utf-8", { fatal: true }).decode(entries[name]);
        } catch {
          throw new SyntaxError(`Cannot import ${file}: not UTF-8 text`);
        }
      },
    };
  });
}

/**
 * Reads every CSV (`*.csv`/`*.txt`) inside a zip archive, in memory, as
 * {@linkcode readCsvBars} reads one file. Each result's `file` is `archive.zip!inner.csv`
 * and its `path` the archive path with `!inner.csv`; the symbol (unless `options.symbol` or
 * a Symbol column gives it) comes from the inner file's base name and `symbolPattern`.
 * @param path The archive.
 * @param options See {@linkcode CsvReadOptions}.
 * @returns One result per CSV inside, in archive order by name.
 * @throws {SyntaxError} When the archive cannot be read, holds no CSV, an entry is not UTF-8,
 *   or an entry cannot be read as bars (named `archive.zip!inner.csv`).
 * @throws {RangeError} When an entry's values break a rule.
 * @example
 * ```ts
 * const [aapl] = await readZipCsv("vendor/daily.zip", { columns: "timestamp,open,high,low,close,volume" });
 * aapl.file; // "daily.zip!AAPL.csv"
 * ```
 */
export async function readZipCsv(
  path: string,
  options: CsvReadOptions = {},
): Promise<CsvFileBars[]> {
  const out: CsvFileBars[] = [];
  for (const e of await zipCsvEntries(path, options)) {
    const r = readCsvBars(e.text(), e.file, e.options);
    out.push({ ...r, path: e.path });
  }
  return out;
}
