/**
 * Import of point-in-time alternative data (earnings, sentiment, insider, options flow,
 * generic events and scores) from CSV or JSON-lines files into `tt_alt_data`.
 *
 * Every value carries the moment it describes (`event_time`) and the moment it could first
 * have been seen (`known_at`); a revision is a row with a later `known_at` and never
 * replaces the earlier one.
 *
 * **Files.** `.csv`/`.txt` (a header line, `,` or `delimiter`, quotes as in bar files) and
 * `.jsonl`/`.ndjson` (one JSON object per line); a file or every such file of a directory
 * (not recursive, hidden files skipped). Text is read in chunks as strict UTF-8.
 *
 * **Columns.** Canonical names `instrument, event_time, known_at, field, value` (and `side`
 * for insider files) need no mapping; `instrument` is also found as `symbol` or `ticker`.
 * Other names are mapped with `map` (`"known_at=published,value=surprise_pct,instrument=ticker"`:
 * canonical = file column). Columns that are neither canonical nor mapped are kept as text
 * in `meta_json`. Per kind ({@linkcode ALT_KIND_RULES}):
 *
 * | kind      | field without a field column | known_at before event_time   | value                      |
 * |-----------|------------------------------|------------------------------|----------------------------|
 * | earnings  | `eps_surprise_pct`; a file without a value column is a calendar: `announcement` | only for `announcement` (a date scheduled in advance) | required, except `announcement` (may be empty) |
 * | sentiment | `sentiment`                  | refused                      | required                   |
 * | insider   | `insider_net_shares`         | refused                      | required; signed: with a `side` column (buy/purchase/P/A → +, sell/sale/S/D → −) the magnitude takes its sign |
 * | options   | `options_put_call`           | refused                      | required, ≥ 0 for `options_put_call` |
 * | generic   | needs a field column or `field` | allowed                   | required                   |
 *
 * **Times.** Timestamps are parsed as bar timestamps are (`2018-02-01`, `20180201`,
 * `2018-02-01 16:30`, `2018-02-01T21:30:00Z`, `…-05:00`); wall times without an offset are
 * in `timeZone` (default `America/New_York`, the exchange's zone). A date-only
 * `event_time` is that date at 00:00 UTC (the stamp of a daily bar of that session). A
 * **date-only `known_at` means the end of that day in `timeZone`** (the midnight that ends
 * it): a value published "on 2018-02-01" without a time is first usable at the decision of
 * the next session, never at the close of the day it was published (it may have come
 * after the close). `known_at` is required on every row: a missing one is refused, never
 * guessed from `event_time`.
 *
 * **Guarantees** (as {@linkcode ingestCsv} for bars): a run is one transaction recorded in
 * `tt_ingest_runs` (source `alt:<kind>`); a refused file (missing column, unparsable time,
 * missing `known_at`, non-finite or missing value, NUL byte, over-long text, a `known_at`
 * that cannot precede its event, one key given two values, in the run or against what is
 * stored) names file, line and value, and
 * nothing of the run is written (the run is marked `failed`). `skipBadRows` drops only the
 * bad rows and lists them. Reruns insert nothing (`ON CONFLICT DO NOTHING`), so
 * `rowsWritten` is 0 and `rowsAlreadyStored` counts the rows found in place. Instruments
 * are upper-cased as bar symbols are. The run's values are held in memory (alternative
 * data is small: a few hundred bytes a row).
 *
 * @module
 */
import { basename } from "node:path";
import type { Store } from "../db/store.ts";
import { finishIngestRun, startIngestRun } from "../db/prices_repo.ts";
import {
  ALT_FIELDS,
  ALT_KINDS,
  type AltKind,
  type AltValue,
  upsertAltValues,
} from "../db/alt_data_repo.ts";
import { readAltStoredConflicts } from "../db/alt_quality_repo.ts";
import { Progress } from "../util/progress.ts";
import { parseDecimal, splitLine } from "./_csv_fields.ts";
import { parseTimestamp, utcMs, zonedWallToUtc, zoneOffsetMs } from "./_time.ts";
import {
  listCsvDirectory,
  MAX_CSV_LINE_CHARS,
  notUtf8Error,
  PLAUSIBLE_YEARS,
  type RejectedRow,
  type SkippedFile,
  symbolProblem,
} from "./csv.ts";

/** Canonical columns of an alternative-data file (`side` is read for insider files only). */
export const ALT_COLUMNS = [
  "instrument",
  "event_time",
  "known_at",
  "field",
  "value",
  "side",
] as const;
/** One of {@linkcode ALT_COLUMNS}. */
export type AltColumn = typeof ALT_COLUMNS[number];

/** Longest source or field name, and longest text kept in `meta_json`. */
export const ALT_TEXT_LIMITS = { name: 64, meta: 1024 } as const;

/** Source and field names: letters, digits, `_`, `.` and `-` (no `:`, which separates `alt:<source>:<field>`). */
export const ALT_NAME_PATTERN: RegExp = /^[A-Za-z0-9_.-]+$/;

/** Default zone of wall times without offset and of date-only `known_at` (the exchange's). */
export const ALT_DEFAULT_TIME_ZONE = "America/New_York";

/** What a kind implies (see the module's table). */
export interface AltKindRule {
  /** Field of rows without a field column (`undefined`: a field column or option is needed). */
  field: string | undefined;
  /** Field of rows of a file without a value column (a calendar), if the kind has one. */
  calendarField?: string;
  /** Fields whose `known_at` may precede `event_time` (`"any"`: every field). */
  knownBeforeEvent: readonly string[] | "any";
  /** Fields whose value may be empty (stored as NULL). */
  valueOptional: readonly string[];
  /** Fields whose value must be ≥ 0. */
  nonNegative: readonly string[];
  /** Whether a `side` column signs the value. */
  signedBySide: boolean;
}

/** The rules per kind (the module's table). */
export const ALT_KIND_RULES: Record<AltKind, AltKindRule> = {
  earnings: {
    field: ALT_FIELDS.surprise,
    calendarField: ALT_FIELDS.announcement,
    knownBeforeEvent: [ALT_FIELDS.announcement],
    valueOptional: [ALT_FIELDS.announcement],
    nonNegative: [],
    signedBySide: false,
  },
  sentiment: {
    field: ALT_FIELDS.sentiment,
    knownBeforeEvent: [],
    valueOptional: [],
    nonNegative: [],
    signedBySide: false,
  },
  insider: {
    field: ALT_FIELDS.insider,
    knownBeforeEvent: [],
    valueOptional: [],
    nonNegative: [],
    signedBySide: true,
  },
  options: {
    field: ALT_FIELDS.putCall,
    knownBeforeEvent: [],
    valueOptional: [],
    nonNegative: [ALT_FIELDS.putCall],
    signedBySide: false,
  },
  generic: {
    field: undefined,
    knownBeforeEvent: "any",
    valueOptional: [],
    nonNegative: [],
    signedBySide: false,
  },
};

/** Options of {@linkcode ingestAltData} and {@linkcode readAltFile}. */
export interface AltReadOptions {
  /** What the file holds: sets defaults and rules ({@linkcode ALT_KIND_RULES}). */
  kind: AltKind;
  /** Source name stored with every value (letters, digits, `_.-`). Default: the kind. */
  source?: string;
  /** Column mapping, `canonical=fileColumn` pairs (a string `a=b,c=d` or an object). */
  map?: string | Partial<Record<AltColumn, string>>;
  /** Field of rows without a field column (overrides the kind's default). */
  field?: string;
  /** Instrument of rows without an instrument column. */
  symbol?: string;
  /** IANA zone of wall times without offset and of date-only `known_at`. Default {@linkcode ALT_DEFAULT_TIME_ZONE}. */
  timeZone?: string;
  /** Reject bad rows (listed in `rejected`) instead of refusing the file. Default false. */
  skipBadRows?: boolean;
  /** CSV field delimiter. Default `,`. */
  delimiter?: string;
  /** Latest acceptable `known_at` (epoch ms); later is refused as "in the future". Default: now + 1 day. */
  now?: number;
}

/** Options of {@linkcode ingestAltData}: reading plus writing. */
export interface AltIngestOptions extends AltReadOptions {
  /** No progress bar. Default false. */
  silent?: boolean;
}

/** One file as read (nothing written). */
export interface AltFileValues {
  /** Base name. */
  file: string;
  values: AltValue[];
  /** Data lines read (blank lines not counted). */
  rowsRead: number;
  /** Sorted instruments of the values. */
  symbols: string[];
  rejected: RejectedRow[];
  warnings: string[];
}

/** What an alternative-data run did (the shape of the bar ingest's summary where it applies). */
export interface AltIngestSummary {
  /** `tt_ingest_runs.id`. */
  runId: number;
  /** The run's source in `tt_ingest_runs`: `alt:<kind>`. */
  source: string;
  kind: AltKind;
  /** The source name stored in `tt_alt_data.source`. */
  altSource: string;
  files: number;
  rowsRead: number;
  /** New rows inserted (a rerun inserts none). */
  rowsWritten: number;
  /** Valid rows already stored with the same key (left as they were). */
  rowsAlreadyStored: number;
  /** Instruments, sorted. */
  symbols: string[];
  /** Fields written, sorted. */
  fields: string[];
  fileSymbols: { file: string; symbols: string[] }[];
  skipped: SkippedFile[];
  rejected: RejectedRow[];
  warnings: string[];
  seconds: number;
}

/**
 * Parses a column mapping `canonical=fileColumn,…`.
 * @param map The text (or an object, checked the same way).
 * @returns The mapping.
 * @throws {RangeError} For an unknown canonical name, a repeated one, or an empty column.
 * @example
 * ```ts
 * parseAltMap("known_at=published,value=surprise_pct"); // { known_at: "published", value: "surprise_pct" }
 * ```
 */
export function parseAltMap(
  map: string | Partial<Record<AltColumn, string>> | undefined,
): Partial<Record<AltColumn, string>> {
  if (map === undefined) return {};
  const pairs: [string, string][] = typeof map === "string"
    ? map.split(",").filter((p) => p.trim() !== "").map((p) => {
      const eq = p.indexOf("=");
      if (eq < 0) {
        throw new RangeError(
          `--map entry "${p.trim()}" is not canonical=column (e.g. known_at=published)`,
        );
      }
      return [p.slice(0, eq).trim(), p.slice(eq + 1).trim()];
    })
    : Object.entries(map).map(([k, v]) => [k, String(v)]);
  const out: Partial<Record<AltColumn, string>> = {};
  for (const [k, v] of pairs) {
    if (!(ALT_COLUMNS as readonly string[]).includes(k)) {
      throw new RangeError(
        `--map: unknown column "${k}" (canonical columns: ${ALT_COLUMNS.join(", ")})`,
      );
    }
    if (v === "") throw new RangeError(`--map: ${k}= names no file column`);
    if (out[k as AltColumn] !== undefined) throw new RangeError(`--map: ${k} is mapped twice`);
    out[k as AltColumn] = v;
  }
  return out;
}

/**
 * Checks options before any file is read (kind, source and field names, zone, mapping).
 * @param options The options.
 * @returns The source name to store.
 * @throws {RangeError} Naming the bad option.
 * @example
 * ```ts
 * checkAltOptions({ kind: "earnings" }); // "earnings"
 * ```
 */
export function checkAltOptions(options: AltReadOptions): string {
  if (!(ALT_KINDS as readonly string[]).includes(options.kind)) {
    throw new RangeError(`kind must be one of ${ALT_KINDS.join(", ")}; got "${options.kind}"`);
  }
  const source = options.source ?? options.kind;
  const bad = nameProblem(source, "source name");
  if (bad) throw new RangeError(bad);
  if (options.field !== undefined) {
    const badField = nameProblem(options.field, "field");
    if (badField) throw new RangeError(badField);
  }
  zoneOffsetMs(options.timeZone ?? ALT_DEFAULT_TIME_ZONE, 0); // throws RangeError for an unknown zone
  parseAltMap(options.map);
  if (options.delimiter !== undefined && options.delimiter.length !== 1) {
    throw new RangeError(`delimiter must be one character; got "${options.delimiter}"`);
  }
  return source;
}

/**
 * Lists the files to import: the file itself, or the `*.csv`, `*.txt`, `*.jsonl` and
 * `*.ndjson` files of a directory (any case, not recursive), sorted; hidden files and
 * broken links are skipped and listed.
 * @param path A file or directory.
 * @returns Absolute paths and the skipped files.
 * @throws {Deno.errors.NotFound} When `path` does not exist.
 * @example
 * ```ts
 * const { files } = await listAltFiles("vendor/earnings"); // [".../aapl.csv", ".../msft.jsonl"]
 * ```
 */
export async function listAltFiles(
  path: string,
): Promise<{ files: string[]; skipped: SkippedFile[] }> {
  return await listCsvDirectory(path, ["csv", "txt", "jsonl", "ndjson"]);
}

/**
 * Imports alternative data from a file or directory in one transaction (see the module's
 * guarantees and column rules).
 * @param store An open store.
 * @param path A file or a directory.
 * @param options See {@linkcode AltIngestOptions}.
 * @returns The summary; the run is recorded in `tt_ingest_runs` as `alt:<kind>`.
 * @throws {SyntaxError|RangeError} From validation (nothing written; the run is recorded as failed).
 * @throws {Error} From the database (nothing written; the run is recorded as failed).
 * @example
 * ```ts
 * const s = await ingestAltData(store, "vendor/earnings.csv", { kind: "earnings", map: "known_at=published,value=surprise_pct,instrument=ticker" });
 * s.rowsWritten; // 48
 * ```
 */
export async function ingestAltData(
  store: Store,
  path: string,
  options: AltIngestOptions,
): Promise<AltIngestSummary> {
  const started = performance.now();
  const altSource = checkAltOptions(options);
  const listing = await listAltFiles(path);
  const runSource = `alt:${options.kind}`;
  const { silent: _s, now: _n, ...recorded } = options;
  const runId = await startIngestRun(store, runSource, {
    path,
    ...recorded,
    source: altSource,
    store: store.description,
  });
  try {
    if (listing.files.length === 0) {
      throw new RangeError(`No .csv, .txt, .jsonl or .ndjson files in ${path}`);
    }
    const progress = new Progress("ingest", {
      total: listing.files.length,
      unit: "files",
      silent: options.silent,
    });
    const results: AltFileValues[] = [];
    const refused: Error[] = [];
    const seen = new Map<string, { file: string; line: number; value: number }>();
    let duplicates = 0;
    for (const file of listing.files) {
      try {
        const r = await readAltFile(file, options);
        // One key given twice in the run: identical is written once, different is refused.
        const conflicts: string[] = [];
        const kept: AltValue[] = [];
        for (const v of r.values) {
          const line = lineOf(v);
          const key = [v.source, v.instrument, v.field, v.eventTime, v.knownAt].join("\u0000");
          const before = seen.get(key);
          if (!before) {
            seen.set(key, { file: r.file, line, value: v.value });
            kept.push(v);
          } else if (Object.is(before.value, v.value)) duplicates++;
          else {
            const reason = `${v.instrument} ${v.field} event ${showMs(v.eventTime)} known ${
              showMs(v.knownAt)
            } has value ${showValue(v.value)} here and ${
              showValue(before.value)
            } at ${before.file} line ${before.line} (a revision needs a later known_at)`;
            if (options.skipBadRows) r.rejected.push({ file: r.file, line, reason });
            else conflicts.push(`line ${line}: ${reason}`);
          }
        }
        if (conflicts.length) {
          throw new RangeError(
            `Cannot import ${r.file}: ${conflicts.length} row${
              conflicts.length > 1 ? "s give" : " gives"
            } a stored key another value: ${conflicts.slice(0, 10).join("; ")}${
              conflicts.length > 10 ? `; … and ${conflicts.length - 10} more` : ""
            }`,
          );
        }
        results.push({ ...r, values: kept });
      } catch (e) {
        // Keep reading: the refusal names every bad file, not only the first.
        if (!(e instanceof SyntaxError || e instanceof RangeError)) throw e;
        refused.push(e);
      }
      progress.tick(1, basename(file));
    }
    progress.finish();
    if (refused.length === 1) throw refused[0];
    if (refused.length > 1) {
      const Cls = refused.every((e) => e instanceof RangeError) ? RangeError : SyntaxError;
      throw new Cls(
        `Cannot import ${refused.length} of ${listing.files.length} files; nothing written:\n  ${
          refused.map((e) => e.message).join("\n  ")
        }`,
        { cause: refused },
      );
    }
    const rejected = results.flatMap((r) => r.rejected);
    let values: AltValue[] = [];
    const rowsWritten = await store.transaction(async (tx) => {
      // A stored key with another value would be left as it is: refuse it, never drop it silently.
      const fileOf = results.flatMap((r) => r.values.map(() => r.file));
      let lined = results.flatMap((r) => r.values);
      const clash = await readAltStoredConflicts(tx, lined);
      if (clash.length) {
        const reasons = clash.map(({ index, stored }) => {
          const v = lined[index];
          return {
            file: fileOf[index],
            line: lineOf(v),
            reason: `${v.instrument} ${v.field} event ${showMs(v.eventTime)} known ${
              showMs(v.knownAt)
            } is stored with value ${showValue(stored)}, the file gives ${
              showValue(v.value)
            } (a revision needs a later known_at)`,
          };
        });
        if (!options.skipBadRows) {
          throw new RangeError(
            `Cannot import: ${reasons.length} row${
              reasons.length > 1 ? "s give" : " gives"
            } a stored key another value; nothing written: ${
              reasons.slice(0, 10).map((r) => `${r.file} line ${r.line}: ${r.reason}`).join("; ")
            }${reasons.length > 10 ? `; … and ${reasons.length - 10} more` : ""}`,
          );
        }
        rejected.push(...reasons);
        const drop = new Set(clash.map((c) => c.index));
        lined = lined.filter((_, i) => !drop.has(i));
      }
      values = lined.map(stripLine);
      const n = await upsertAltValues(tx, values, { runId });
      // The run's "ok" commits with its rows.
      await finishIngestRun(tx, runId, {
        rowsWritten: n,
        status: "ok",
        message: rejected.length ? `${rejected.length} rows rejected` : undefined,
      });
      return n;
    });
    const warnings = results.flatMap((r) => r.warnings);
    if (duplicates) {
      warnings.push(
        `${duplicates} row${
          duplicates > 1 ? "s" : ""
        } repeated an earlier row exactly (written once)`,
      );
    }
    return {
      runId,
      source: runSource,
      kind: options.kind,
      altSource,
      files: results.length,
      rowsRead: results.reduce((a, r) => a + r.rowsRead, 0),
      rowsWritten,
      rowsAlreadyStored: values.length - rowsWritten,
      symbols: [...new Set(values.map((v) => v.instrument))].sort(),
      fields: [...new Set(values.map((v) => v.field))].sort(),
      fileSymbols: results.map((r) => ({ file: r.file, symbols: r.symbols })),
      skipped: listing.skipped,
      rejected,
      warnings,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (e) {
    await finishIngestRun(store, runId, {
      rowsWritten: 0,
      status: "failed",
      message: (e as Error).message,
    }).catch(() => undefined);
    throw e;
  }
}

/** Values carry their line until written (for messages); the line is dropped before storing. */
const LINE = Symbol("line");
type Lined = AltValue & { [LINE]?: number };
function lineOf(v: AltValue): number {
  return (v as Lined)[LINE] ?? 0;
}
function stripLine(v: AltValue): AltValue {
  const { [LINE]: _l, ...rest } = v as Lined;
  return rest;
}

/**
 * Reads and validates one alternative-data file (CSV or JSON lines, by extension:
 * `.jsonl`/`.ndjson` are JSON lines, anything else CSV). Nothing is written.
 * @param path The file.
 * @param options See {@linkcode AltReadOptions}.
 * @returns The values (in file order) and what was rejected.
 * @throws {SyntaxError} For unreadable input: not UTF-8, a missing column, an unparsable
 *   line, time or number (file, line and value named).
 * @throws {RangeError} For values breaking a rule, every one listed (unless `skipBadRows`).
 * @example
 * ```ts
 * const r = await readAltFile("earnings.csv", { kind: "earnings" });
 * r.values[0]; // { source: "earnings", instrument: "AAPL", field: "eps_surprise_pct", eventTime, knownAt, value: 4.2, meta: {} }
 * ```
 */
export async function readAltFile(path: string, options: AltReadOptions): Promise<AltFileValues> {
  const file = basename(path);
  const f = await Deno.open(path, { read: true });
  try {
    return parseAltLines(textLines(f, file), file, options);
  } catch (e) {
    if (e instanceof NotUtf8) throw await notUtf8Error(path, file);
    throw e;
  } finally {
    f.close();
  }
}

/**
 * Parses alternative-data text (the work of {@linkcode readAltFile} without I/O).
 * @param text The content.
 * @param fileName Base name: messages, and `.jsonl`/`.ndjson` for JSON lines.
 * @param options See {@linkcode AltReadOptions}.
 * @returns As {@linkcode readAltFile}.
 * @throws {SyntaxError|RangeError} As {@linkcode readAltFile}.
 * @example
 * ```ts
 * const r = readAltText("instrument,event_time,known_at,field,value\nAAPL,2018-02-01,2018-02-01T21:30Z,sentiment,0.4\n", "s.csv", { kind: "sentiment" });
 * r.values[0].value; // 0.4
 * ```
 */
export function readAltText(
  text: string,
  fileName: string,
  options: AltReadOptions,
): AltFileValues {
  return parseAltLines(text.split(/\r?\n/), fileName, options);
}

/** Thrown inside the line reader when the decoder refuses a chunk; located afterwards. */
class NotUtf8 extends Error {}

/** The lines of an open file, decoded as strict UTF-8 a megabyte at a time. */
function* textLines(f: Deno.FsFile, file: string): Generator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const buf = new Uint8Array(1 << 20);
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
  const check = (s: string) => {
    if (s.length > MAX_CSV_LINE_CHARS) {
      throw new SyntaxError(
        `Cannot import ${file} line ${lineNo}: the line is over ${
          MAX_CSV_LINE_CHARS.toLocaleString("en-US")
        } characters (are the lines broken with \\r only, or not at all?)`,
      );
    }
  };
  for (;;) {
    const n = f.readSync(buf);
    const text = n === null ? decode() : decode(buf.subarray(0, n));
    let from = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", from)) {
      let line = rest + text.slice(from, nl);
      rest = "";
      check(line);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      yield line;
      lineNo++;
      from = nl + 1;
    }
    rest += text.slice(from);
    check(rest);
    if (n === null) break;
  }
  yield rest;
}

/** A row's cells by canonical column, raw (`undefined`: absent or null). */
interface RawRow {
  cells: Partial<Record<AltColumn, unknown>>;
  meta: Record<string, unknown>;
}

const DEFAULT_ALIASES: Record<AltColumn, readonly string[]> = {
  instrument: ["instrument", "symbol", "ticker"],
  event_time: ["event_time"],
  known_at: ["known_at"],
  field: ["field"],
  value: ["value"],
  side: ["side"],
};

const DAY = 86_400_000;
const SKIP_HINT = "--skip-bad-rows writes the other rows and lists the rejected ones";

function parseAltLines(
  source: Iterable<string>,
  file: string,
  options: AltReadOptions,
): AltFileValues {
  const altSource = checkAltOptions(options);
  const rule = ALT_KIND_RULES[options.kind];
  const map = parseAltMap(options.map);
  const zone = options.timeZone ?? ALT_DEFAULT_TIME_ZONE;
  const now = options.now ?? Date.now() + DAY;
  const json = /\.(jsonl|ndjson)$/i.test(file);
  const delimiter = options.delimiter ?? ",";
  const where = (line: number) => `Cannot import ${file} line ${line}`;
  const values: Lined[] = [];
  const rejected: RejectedRow[] = [];
  const violations: { line: number; reason: string }[] = [];
  let rowsRead = 0;
  /** A bad row: rejected with skipBadRows; else a syntax error stops, a rule is collected. */
  const fail = (line: number, reason: string, kind: "syntax" | "range"): void => {
    if (options.skipBadRows) rejected.push({ file, line, reason });
    else if (kind === "range") violations.push({ line, reason });
    else throw new SyntaxError(`${where(line)}: ${reason}`, { cause: { file, line, reason } });
  };

  // Columns: from the CSV header, or from each JSON object's keys (resolved on first use).
  let header: string[] | undefined;
  let index: Partial<Record<AltColumn, number>> = {};
  let resolvedKeys: Partial<Record<AltColumn, string>> | undefined;
  const resolveColumns = (names: string[], line: number): Partial<Record<AltColumn, string>> => {
    const lower = new Map(names.map((n) => [n.trim().toLowerCase(), n]));
    const out: Partial<Record<AltColumn, string>> = {};
    for (const c of ALT_COLUMNS) {
      if (c === "side" && !rule.signedBySide) continue;
      const mapped = map[c];
      if (mapped !== undefined) {
        const hit = lower.get(mapped.trim().toLowerCase());
        if (hit === undefined) {
          throw new SyntaxError(
            `${where(line)}: --map ${c}=${mapped} names a column the file lacks (${
              json ? "keys" : "header"
            }: ${names.join(", ")})`,
          );
        }
        out[c] = hit;
        continue;
      }
      const mappedElsewhere = new Set(Object.values(map).map((m) => m.trim().toLowerCase()));
      for (const alias of DEFAULT_ALIASES[c]) {
        const hit = lower.get(alias);
        if (hit !== undefined && !mappedElsewhere.has(alias)) {
          out[c] = hit;
          break;
        }
      }
    }
    const missing = (c: AltColumn, why: string) =>
      new SyntaxError(
        `${where(line)}: no ${c} column (${json ? "keys" : "header"}: ${names.join(", ")}); ${why}`,
      );
    if (out.event_time === undefined) {
      throw missing("event_time", "map one with --map event_time=COLUMN");
    }
    if (out.known_at === undefined) {
      throw missing(
        "known_at",
        "every value needs the time it became known: map one with --map known_at=COLUMN (it is never guessed from event_time)",
      );
    }
    if (out.instrument === undefined && options.symbol === undefined) {
      throw missing("instrument", "map one with --map instrument=COLUMN or give --symbol");
    }
    if (
      out.value === undefined && rule.calendarField === undefined
    ) throw missing("value", "map one with --map value=COLUMN");
    if (out.field === undefined && (options.field ?? rule.field) === undefined) {
      throw missing("field", `a ${options.kind} file needs a field column or --field NAME`);
    }
    return out;
  };
  const fieldDefault = (cols: Partial<Record<AltColumn, string>>) =>
    cols.value === undefined ? rule.calendarField! : (options.field ?? rule.field!);

  const rowOf = (line: string, lineNo: number): RawRow | undefined => {
    if (json) {
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        fail(lineNo, `not a JSON object: ${(e as Error).message}`, "syntax");
        return undefined;
      }
      if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
        fail(lineNo, `not a JSON object: ${clip(line)}`, "syntax");
        return undefined;
      }
      const o = obj as Record<string, unknown>;
      resolvedKeys ??= resolveColumns(Object.keys(o), lineNo);
      const cells: RawRow["cells"] = {};
      const used = new Set<string>();
      for (const [c, key] of Object.entries(resolvedKeys) as [AltColumn, string][]) {
        const k = key in o
          ? key
          : Object.keys(o).find((x) => x.toLowerCase() === key.toLowerCase());
        if (k !== undefined) {
          cells[c] = o[k];
          used.add(k);
        }
      }
      const meta: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) if (!used.has(k)) meta[k] = v;
      return { cells, meta };
    }
    const parts = splitLine(line, delimiter);
    if (!parts) {
      fail(lineNo, `unclosed quote in ${clip(line)}`, "syntax");
      return undefined;
    }
    if (parts.length !== header!.length) {
      fail(
        lineNo,
        `has ${parts.length} fields, the header has ${header!.length}: ${clip(line)}`,
        "syntax",
      );
      return undefined;
    }
    const cells: RawRow["cells"] = {};
    for (const [c, i] of Object.entries(index) as [AltColumn, number][]) cells[c] = parts[i];
    const meta: Record<string, unknown> = {};
    const used = new Set(Object.values(index));
    header!.forEach((h, i) => {
      if (!used.has(i) && parts[i] !== "") meta[h] = parts[i];
    });
    return { cells, meta };
  };

  let lineNo = 0;
  let first = true;
  for (const raw0 of source) {
    lineNo++;
    let raw = raw0;
    if (first && raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1);
    if (raw.trim() === "") continue;
    if (first && !json) {
      first = false;
      const cells = splitLine(raw, delimiter);
      if (!cells) throw new SyntaxError(`${where(lineNo)}: unclosed quote in the header`);
      header = cells.map((c) => c.trim());
      const dup = header.find((h, i) =>
        header!.findIndex((x) => x.toLowerCase() === h.toLowerCase()) !== i
      );
      if (dup !== undefined) {
        throw new SyntaxError(`${where(lineNo)}: column "${dup}" appears twice`);
      }
      if (header.length === 1 && delimiter === ",") {
        const other = [";", "\t", "|"].find((d) => raw.includes(d));
        if (other) {
          throw new SyntaxError(
            `${where(lineNo)}: the header does not split on ","; the file seems to use ${
              other === "\t" ? "tab" : `"${other}"`
            } (--delimiter)`,
          );
        }
      }
      const cols = resolveColumns(header, lineNo);
      resolvedKeys = cols;
      index = Object.fromEntries(
        Object.entries(cols).map(([c, name]) => [c, header!.indexOf(name!)]),
      );
      continue;
    }
    first = false;
    rowsRead++;
    const row = rowOf(raw, lineNo);
    if (!row) continue;
    const v = checkRow(row, lineNo);
    if (v) values.push(v);
  }
  if (header === undefined && resolvedKeys === undefined) {
    throw new SyntaxError(`Cannot import ${file}: the file is empty`);
  }
  if (rowsRead === 0) throw new SyntaxError(`Cannot import ${file}: no data rows`);
  if (violations.length) {
    const shown = violations.slice(0, 10).map((x) => `line ${x.line}: ${x.reason}`).join("; ");
    const more = violations.length > 10 ? `; … and ${violations.length - 10} more` : "";
    throw new RangeError(
      violations.length === 1
        ? `${where(violations[0].line)}: ${violations[0].reason} (${SKIP_HINT})`
        : `Cannot import ${file}: ${violations.length} rows break the rules: ${shown}${more} (${SKIP_HINT})`,
      { cause: { file, violations } },
    );
  }
  return {
    file,
    values,
    rowsRead,
    symbols: [...new Set(values.map((v) => v.instrument))].sort(),
    rejected,
    warnings: [],
  };

  /** Validates one row into a value, or reports it and returns undefined. */
  function checkRow(row: RawRow, line: number): Lined | undefined {
    const { cells } = row;
    // Text: NUL, control characters and length, on every cell and meta value.
    for (const [c, x] of Object.entries(cells)) {
      if (typeof x === "string" && x.includes("\0")) {
        fail(
          line,
          `${c} ${JSON.stringify(clip(x))} contains a NUL byte (the database refuses NUL in text)`,
          "range",
        );
        return undefined;
      }
    }
    for (const [k, x] of Object.entries(row.meta)) {
      const text = typeof x === "string" ? x : JSON.stringify(x);
      if (k.includes("\0") || (text ?? "").includes("\0")) {
        fail(
          line,
          `column ${
            JSON.stringify(clip(k))
          } contains a NUL byte (the database refuses NUL in text)`,
          "range",
        );
        return undefined;
      }
      if ((text ?? "").length > ALT_TEXT_LIMITS.meta || k.length > ALT_TEXT_LIMITS.name) {
        fail(
          line,
          `column ${JSON.stringify(clip(k))} holds ${
            (text ?? "").length
          } characters (at most ${ALT_TEXT_LIMITS.meta} are kept as metadata; the name at most ${ALT_TEXT_LIMITS.name})`,
          "range",
        );
        return undefined;
      }
    }
    // Instrument.
    const instText = cells.instrument === undefined || cells.instrument === null ||
        String(cells.instrument).trim() === ""
      ? options.symbol
      : String(cells.instrument).trim();
    if (instText === undefined || instText === "") {
      fail(line, "instrument is empty", "range");
      return undefined;
    }
    const instrument = instText.toUpperCase();
    const symBad = symbolProblem(instrument);
    if (symBad) {
      fail(line, symBad, "range");
      return undefined;
    }
    // Field.
    const fieldCell = cells.field;
    const field = fieldCell === undefined || fieldCell === null || String(fieldCell).trim() === ""
      ? fieldDefault(resolvedKeys!)
      : String(fieldCell).trim();
    const fieldBad = nameProblem(field, "field");
    if (fieldBad) {
      fail(line, fieldBad, "range");
      return undefined;
    }
    // Times.
    const event = timeOf(cells.event_time, "event_time", line);
    if (event === undefined) return undefined;
    const known = timeOf(cells.known_at, "known_at", line);
    if (known === undefined) return undefined;
    const eventTime = event.kind === "date" ? event.dayMs : event.ms;
    // A date-only known_at: the end of that day in the exchange's zone (usable from the next session).
    const knownAt = known.kind === "date" ? zonedWallToUtc(known.dayMs + DAY, zone) : known.ms;
    const eventStart = event.kind === "date" ? zonedWallToUtc(event.dayMs, zone) : event.ms;
    const earlyOk = rule.knownBeforeEvent === "any" || rule.knownBeforeEvent.includes(field);
    if (knownAt < eventStart && !earlyOk) {
      fail(
        line,
        `known_at ${JSON.stringify(String(cells.known_at))} is before event_time ${
          JSON.stringify(String(cells.event_time))
        }: a ${field} value (${options.kind}) cannot be known before what it describes${
          options.kind === "earnings"
            ? " (only an announcement, a date scheduled in advance, can)"
            : ""
        }`,
        "range",
      );
      return undefined;
    }
    if (knownAt > now) {
      fail(
        line,
        `known_at ${JSON.stringify(String(cells.known_at))} is in the future (${showMs(knownAt)})`,
        "range",
      );
      return undefined;
    }
    // Value.
    let value = NaN;
    const vc = cells.value;
    const empty = vc === undefined || vc === null || (typeof vc === "string" && vc.trim() === "");
    if (empty) {
      if (!rule.valueOptional.includes(field)) {
        fail(
          line,
          `value is empty (a ${options.kind} ${field} row needs a finite number${
            rule.valueOptional.length ? `; only ${rule.valueOptional.join(", ")} may be empty` : ""
          })`,
          "range",
        );
        return undefined;
      }
    } else {
      value = typeof vc === "number" ? vc : typeof vc === "string" ? parseDecimal(vc) : NaN;
      if (!Number.isFinite(value)) {
        fail(
          line,
          `value ${JSON.stringify(typeof vc === "string" ? clip(vc) : vc)} is not a finite number`,
          typeof vc === "string" && /^\s*[+-]?(nan|inf|infinity)\s*$/i.test(vc)
            ? "range"
            : "syntax",
        );
        return undefined;
      }
    }
    if (rule.signedBySide && resolvedKeys!.side !== undefined && Number.isFinite(value)) {
      const side = String(cells.side ?? "").trim().toLowerCase();
      const sign = BUY.has(side) ? 1 : SELL.has(side) ? -1 : 0;
      if (sign === 0) {
        fail(
          line,
          `side ${
            JSON.stringify(clip(String(cells.side ?? "")))
          } is not buy/purchase/P/A or sell/sale/S/D`,
          "range",
        );
        return undefined;
      }
      value = sign * Math.abs(value);
    }
    if (rule.nonNegative.includes(field) && value < 0) {
      fail(line, `${field} ${value} is negative (a ratio of volumes is ≥ 0)`, "range");
      return undefined;
    }
    const meta = Object.fromEntries(
      Object.entries(row.meta).filter(([, x]) => x !== null && x !== undefined && x !== ""),
    );
    return {
      source: altSource,
      instrument,
      field,
      eventTime,
      knownAt,
      value,
      meta,
      [LINE]: line,
    };
  }

  function timeOf(cell: unknown, name: "event_time" | "known_at", line: number) {
    if (cell === undefined || cell === null || (typeof cell === "string" && cell.trim() === "")) {
      fail(
        line,
        name === "known_at"
          ? "known_at is missing (a value without the time it became known cannot be used without look-ahead)"
          : "event_time is missing",
        "range",
      );
      return undefined;
    }
    if (typeof cell !== "string") {
      fail(
        line,
        `${name} ${
          JSON.stringify(cell)
        } is not a date/time text (write ISO, e.g. 2018-02-01T21:30:00Z)`,
        "syntax",
      );
      return undefined;
    }
    const t = parseTimestamp(cell, zone);
    if (!t) {
      fail(line, `${name} ${JSON.stringify(clip(cell))} is not a valid date/time`, "syntax");
      return undefined;
    }
    if (t.year < PLAUSIBLE_YEARS.min || t.year > PLAUSIBLE_YEARS.max) {
      fail(
        line,
        `implausible year ${t.year} in ${name} "${cell}" (accepted ${PLAUSIBLE_YEARS.min}–${PLAUSIBLE_YEARS.max})`,
        "range",
      );
      return undefined;
    }
    return t;
  }
}

const BUY = new Set(["buy", "b", "purchase", "p", "a", "acquisition", "acquire"]);
const SELL = new Set(["sell", "s", "sale", "d", "disposition", "dispose"]);

/** Why a source or field name cannot be stored, or `undefined`. */
function nameProblem(name: string, what: string): string | undefined {
  if (name.includes("\0")) return `${what} ${JSON.stringify(clip(name))} contains a NUL byte`;
  if (name.length === 0) return `${what} is empty`;
  if (name.length > ALT_TEXT_LIMITS.name) {
    return `${what} ${
      JSON.stringify(clip(name))
    } is ${name.length} characters long (at most ${ALT_TEXT_LIMITS.name})`;
  }
  if (!ALT_NAME_PATTERN.test(name)) {
    return `${what} ${JSON.stringify(clip(name))} may hold only letters, digits, _ . and -`;
  }
  return undefined;
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

function showMs(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

function showValue(v: number): string {
  return Number.isFinite(v) ? String(v) : "(empty)";
}

/**
 * The instant a date-only `known_at` stands for: the midnight that ends that date in
 * `zone` (the module's rule; exported so features and tests apply the same one).
 * @param date `YYYY-MM-DD`.
 * @param zone IANA zone. Default {@linkcode ALT_DEFAULT_TIME_ZONE}.
 * @returns Epoch ms.
 * @throws {SyntaxError} When `date` is not a valid date.
 * @example
 * ```ts
 * new Date(dateOnlyKnownAt("2018-02-01")).toISOString(); // "2018-02-02T05:00:00.000Z"
 * ```
 */
export function dateOnlyKnownAt(date: string, zone = ALT_DEFAULT_TIME_ZONE): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const t = m ? parseTimestamp(date) : undefined;
  if (!m || !t) throw new SyntaxError(`Not a date (YYYY-MM-DD): ${JSON.stringify(date)}`);
  return zonedWallToUtc(utcMs(+m[1], +m[2] - 1, +m[3]) + DAY, zone);
}
