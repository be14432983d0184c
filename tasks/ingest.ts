/**
 * `deno task ingest`: loads bars into the store from the npm sample, CSV files, or
 * Interactive Brokers, and prints a summary (one JSON line with `--json`).
 *
 * @module
 */
import { ALT_KINDS, openStore, type Store } from "@lib/db/mod.ts";
import {
  type AltIngestSummary,
  checkAltOptions,
  checkCsvColumns,
  ingestAltData,
  ingestCsv,
  ingestSample,
  type IngestSummary,
  listAltFiles,
  listCsvFiles,
} from "@lib/data/mod.ts";
import {
  IBKR_MODES,
  IBKR_REQUEST_DEFAULTS,
  type IbkrIngestOptions,
  ibkrIngestOptions,
  type IbkrIngestSummary,
  ingestIbkr,
} from "@lib/data/ibkr/mod.ts";
import {
  DB_URL_OPTION,
  listArg,
  numberArg,
  parseCommand,
  type ParsedArgs,
  redact,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC = {
  name: "ingest",
  summary:
    "Load bars into the store (PGlite in data/pgdata, or the server of --db-url/DATABASE_URL).\n" +
    "Sources: sample = S&P 500 index (SPX) 2000–2020 and AAPL 2013–2018 shipped in npm packages, imported adjusted;\n" +
    "csv = vendor CSV files (a file or a directory of *.csv); ibkr = Interactive Brokers historical bars;\n" +
    "alt = point-in-time alternative data (--kind earnings|sentiment|insider|options|generic) from CSV or JSON\n" +
    "lines with columns instrument,event_time,known_at,field,value (others via --map); a date-only known_at\n" +
    "means the end of that day in --time-zone (usable from the next session).\n" +
    "Every file is validated before anything is written: a bad file stops the run and nothing is written\n" +
    "(--skip-bad-rows writes the good rows and lists the rejected lines). Reruns are idempotent.",
  options: {
    source: {
      type: "string",
      description: "Where bars come from",
      choices: ["sample", "csv", "ibkr", "alt"],
      default: "sample",
    },
    path: {
      type: "string",
      valueName: "FILE|DIR",
      description:
        "CSV file or directory (--source csv); CSV/JSON-lines file or directory (--source alt)",
    },
    kind: {
      type: "string",
      description: "What the alternative data is (--source alt): sets the default field and rules",
      choices: ALT_KINDS,
    },
    map: {
      type: "string",
      valueName: "C=COL,…",
      description:
        "Map canonical columns to the file's (--source alt), e.g. known_at=published,value=surprise_pct,instrument=ticker",
    },
    "source-name": {
      type: "string",
      valueName: "S",
      description: "Source name stored with the values (--source alt; default the kind)",
    },
    field: {
      type: "string",
      valueName: "NAME",
      description: "Field of rows without a field column (--source alt; default per kind)",
    },
    symbol: {
      type: "string",
      valueName: "SYM",
      description: "Instrument of rows without an instrument column (--source alt)",
    },
    "symbol-pattern": {
      type: "string",
      valueName: "RE",
      description: "Regex on the file name giving the symbol when there is no Symbol column " +
        "(named group 'symbol' or first group); default handles DA-<SYM>-T-….csv, <SYM>_1h.csv, <SYM>.csv",
    },
    "bar-size": {
      type: "string",
      valueName: "SIZE",
      description:
        "Bar size, e.g. '1 day', '1 hour', '5 mins' (csv: default inferred; ibkr: default '1 day')",
    },
    adjust: {
      type: "boolean",
      description: "Back-adjust OHLC and volume with k = adjusted close / close",
    },
    "rth-only": {
      type: "boolean",
      description: "Keep only regular-session bars (09:30 ≤ start < 16:00 New York)",
    },
    "skip-bad-rows": {
      type: "boolean",
      description: "Write the good rows and list rejected lines instead of refusing the file",
    },
    "time-zone": {
      type: "string",
      valueName: "ZONE",
      description:
        "IANA zone of CSV timestamps without offset (default UTC; --source alt: America/New_York, also the zone of date-only known_at)",
    },
    delimiter: {
      type: "string",
      valueName: "CHAR",
      description: "CSV field delimiter (\\t for tab)",
      default: ",",
    },
    columns: {
      type: "string",
      valueName: "A,B,…",
      description: "Column names of headerless CSV files, in order (timestamp|date, time, open, " +
        "high, low, close, adjclose, volume, symbol; skip for an unused column)",
    },
    "price-scale": {
      type: "string",
      valueName: "FACTOR",
      description:
        "Multiply open/high/low/close by FACTOR, e.g. 0.0001 for prices in 1/10,000 of a dollar (volume untouched)",
    },
    start: {
      type: "string",
      valueName: "DATE",
      description: "Keep bars from this date/time (ISO, inclusive)",
    },
    end: {
      type: "string",
      valueName: "DATE",
      description: "Keep bars up to this date/time (ISO, a date includes the whole day)",
    },
    symbols: { type: "string", valueName: "A,B", description: "Keep only these symbols" },
    watchlist: {
      type: "string",
      valueName: "FILE",
      description: "Watchlist of symbols (--source ibkr)",
    },
    mode: {
      type: "string",
      description: "IBKR request plan",
      choices: IBKR_MODES,
      default: IBKR_REQUEST_DEFAULTS.mode,
    },
    host: {
      type: "string",
      valueName: "HOST",
      description: "IB Gateway/TWS host (--source ibkr)",
      default: IBKR_REQUEST_DEFAULTS.host,
    },
    port: {
      type: "string",
      valueName: "N",
      description: "IB Gateway/TWS port (--source ibkr)",
      default: String(IBKR_REQUEST_DEFAULTS.port),
    },
    "client-id": {
      type: "string",
      valueName: "N",
      description: "IBKR client id (--source ibkr)",
      default: String(IBKR_REQUEST_DEFAULTS.clientId),
    },
    "request-timeout": {
      type: "string",
      valueName: "SECONDS",
      description:
        "Seconds to wait for the gateway's first answer; none in time stops the run (--source ibkr)",
      default: String(IBKR_REQUEST_DEFAULTS.requestTimeoutSeconds),
    },
    "db-url": DB_URL_OPTION,
    json: {
      type: "boolean",
      description: "Print one JSON line instead of the text summary (no progress bars)",
    },
  },
  examples: [
    "deno task ingest --source sample",
    "deno task ingest --source csv --path ../shared/data/daily_sp41 --adjust",
    "deno task ingest --source csv --path ../shared/data/hourly_33 --rth-only --json",
    "deno task ingest --source csv --path vendor/daily.zip --columns timestamp,open,high,low,close,volume --price-scale 0.0001 --time-zone America/New_York",
    "deno task ingest --source ibkr --watchlist watchlist.txt --start 2024-01-01 --end 2024-12-31",
    "deno task ingest --source alt --kind earnings --path earnings.csv --map known_at=published,value=surprise_pct,instrument=ticker --json",
    "deno task ingest --source alt --kind sentiment --path news_scores/ --source-name vendorx",
  ],
} as const;

/** Runs the task with `args` (default `Deno.args`). */
export async function main(args: string[] = Deno.args): Promise<void> {
  const a = parseCommand(SPEC, args);
  const json = a.json === true;
  const symbols = listArg(a.symbols);
  const source = a.source as "sample" | "csv" | "ibkr" | "alt";
  if (source === "alt") return await mainAlt(a);
  for (const k of ["kind", "map", "source-name", "field", "symbol"] as const) {
    if (a[k] !== undefined) throw new UsageError(`--${k} is for --source alt, not ${source}`);
  }
  if (source === "csv" && typeof a.path !== "string") {
    throw new UsageError("--source csv needs --path FILE|DIR");
  }
  if (source !== "csv" && (a.path !== undefined || a["symbol-pattern"] !== undefined)) {
    throw new UsageError(`--path and --symbol-pattern are for --source csv, not ${source}`);
  }
  const delimiter = a.delimiter === "\\t" ? "\t" : String(a.delimiter);
  if (delimiter.length !== 1) {
    throw new UsageError(`--delimiter must be one character; got "${a.delimiter}"`);
  }
  const columns = str(a.columns);
  const priceScale = numberArg(a, "price-scale", { min: Number.MIN_VALUE });
  if (source !== "csv" && (columns !== undefined || priceScale !== undefined)) {
    throw new UsageError(`--columns and --price-scale are for --source csv, not ${source}`);
  }
  if (columns !== undefined) {
    try {
      checkCsvColumns(columns);
    } catch (e) {
      throw e instanceof RangeError ? new UsageError(`--columns: ${e.message}`) : e;
    }
  }
  // Fail on a wrong path or bad IBKR options before opening (and possibly creating) a store.
  if (source === "csv") await listCsvFiles(a.path as string);
  let ibkr: IbkrIngestOptions | undefined;
  if (source === "ibkr") {
    if (typeof a.start !== "string" || typeof a.end !== "string") {
      throw new UsageError("--source ibkr needs --start and --end");
    }
    if (typeof a.watchlist !== "string" && !symbols) {
      throw new UsageError("--source ibkr needs --watchlist FILE or --symbols A,B");
    }
    ibkr = await ibkrIngestOptions({
      start: a.start,
      end: a.end,
      watchlist: str(a.watchlist),
      symbols,
      barSize: str(a["bar-size"]),
      mode: str(a.mode),
      host: str(a.host),
      port: numberArg(a, "port", { min: 1, max: 65535, integer: true }),
      clientId: numberArg(a, "client-id", { min: 0, integer: true }),
      requestTimeoutSeconds: numberArg(a, "request-timeout", { min: 0.001 }),
      silent: json,
    }).catch((e) => {
      throw e instanceof RangeError ? new UsageError(e.message) : e;
    });
  }
  const url = typeof a["db-url"] === "string" ? a["db-url"] : undefined;
  let store: Store;
  try {
    store = await openStore(url ? { url } : {});
  } catch (e) {
    throw new Error(redact((e as Error).message));
  }
  try {
    const hooks = crashTestHooks();
    if (ibkr) {
      printIbkrSummary(await ingestIbkr(store, ibkr), store, json);
      return;
    }
    const common = {
      start: str(a.start),
      end: str(a.end),
      symbols,
      skipBadRows: a["skip-bad-rows"] === true,
      silent: json,
      ...hooks,
    };
    const summary: IngestSummary = source === "sample"
      ? await ingestSample(store, common)
      : await ingestCsv(store, a.path as string, {
        ...common,
        symbolPattern: str(a["symbol-pattern"]),
        barSize: str(a["bar-size"]),
        adjust: a.adjust === true,
        rthOnly: a["rth-only"] === true,
        timeZone: str(a["time-zone"]) ?? "UTC",
        delimiter,
        columns,
        priceScale,
      });
    printSummary(summary, store, json);
  } finally {
    await store.close();
  }
}

/** `--source alt`: alternative data into tt_alt_data. */
async function mainAlt(a: ParsedArgs): Promise<void> {
  const json = a.json === true;
  if (typeof a.path !== "string") throw new UsageError("--source alt needs --path FILE|DIR");
  if (typeof a.kind !== "string") {
    throw new UsageError(`--source alt needs --kind (${ALT_KINDS.join("|")})`);
  }
  for (
    const k of [
      "symbol-pattern",
      "bar-size",
      "adjust",
      "rth-only",
      "columns",
      "price-scale",
      "start",
      "end",
      "symbols",
      "watchlist",
    ] as const
  ) {
    if (a[k] !== undefined) throw new UsageError(`--${k} is not for --source alt`);
  }
  const delimiter = a.delimiter === "\\t" ? "\t" : String(a.delimiter);
  const options = {
    kind: a.kind as typeof ALT_KINDS[number],
    source: str(a["source-name"]),
    map: str(a.map),
    field: str(a.field),
    symbol: str(a.symbol),
    timeZone: str(a["time-zone"]),
    delimiter,
    skipBadRows: a["skip-bad-rows"] === true,
    silent: json,
  };
  try {
    checkAltOptions(options);
  } catch (e) {
    throw e instanceof RangeError ? new UsageError(e.message) : e;
  }
  await listAltFiles(a.path); // a wrong path fails before a store is opened (or created)
  const url = typeof a["db-url"] === "string" ? a["db-url"] : undefined;
  let store: Store;
  try {
    store = await openStore(url ? { url } : {});
  } catch (e) {
    throw new Error(redact((e as Error).message));
  }
  try {
    printAltSummary(await ingestAltData(store, a.path, options), store, json);
  } finally {
    await store.close();
  }
}

function printAltSummary(s: AltIngestSummary, store: Store, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({
      ...fileSummaryJson(s, store),
      kind: s.kind,
      altSource: s.altSource,
      rowsAlreadyStored: s.rowsAlreadyStored,
      fields: s.fields,
    }));
    return;
  }
  console.log(
    `${s.source}: inserted ${s.rowsWritten.toLocaleString("en-US")} values (${
      s.fields.join(", ") || "none"
    }; source ${s.altSource}) for ${s.symbols.length} instruments from ${s.files} files in ${
      s.seconds.toFixed(1)
    } s into ${store.description} (run ${s.runId})`,
  );
  if (s.rowsAlreadyStored) {
    console.log(
      `  ${
        s.rowsAlreadyStored.toLocaleString("en-US")
      } rows were already stored (left as they were)`,
    );
  }
  printFileDetails(s, "(none)");
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function printSummary(s: IngestSummary, store: Store, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({
      ...fileSummaryJson(s, store),
      rowsFiltered: s.rowsFiltered,
      barSizes: s.barSizes,
    }));
    return;
  }
  console.log(
    `${s.source}: upserted ${s.rowsWritten.toLocaleString("en-US")} bars (${
      s.barSizes.join(", ") || "none"
    }) for ` +
      `${s.symbols.length} symbols from ${s.files} files in ${
        s.seconds.toFixed(1)
      } s into ${store.description} (run ${s.runId})`,
  );
  if (s.rowsFiltered) {
    console.log(`  ${s.rowsFiltered.toLocaleString("en-US")} valid rows left out by the filters`);
  }
  printFileDetails(s, "(no bar)");
}

/** The `--json` fields every file import prints (bars and alternative data share this shape). */
function fileSummaryJson(
  s: Pick<
    IngestSummary,
    | "source"
    | "runId"
    | "files"
    | "rowsRead"
    | "rowsWritten"
    | "symbols"
    | "fileSymbols"
    | "skipped"
    | "rejected"
    | "warnings"
    | "seconds"
  >,
  store: Store,
): Record<string, unknown> {
  return {
    source: s.source,
    runId: s.runId,
    files: s.files,
    rowsRead: s.rowsRead,
    rowsWritten: s.rowsWritten,
    symbols: s.symbols.length,
    symbolList: s.symbols,
    fileSymbols: s.fileSymbols,
    skipped: s.skipped,
    rejected: s.rejected,
    warnings: s.warnings,
    seconds: Number(s.seconds.toFixed(3)),
    store: store.description,
  };
}

/** The per-file lines every file import prints: file → symbols, skipped files, warnings, rejected lines. */
function printFileDetails(
  s: Pick<IngestSummary, "fileSymbols" | "skipped" | "warnings" | "rejected">,
  empty: string,
): void {
  for (const f of s.fileSymbols) console.log(`  ${f.file} → ${f.symbols.join(", ") || empty}`);
  for (const k of s.skipped) console.log(`  skipped ${k.file}: ${k.reason}`);
  for (const w of s.warnings) console.log(`  warning: ${w}`);
  if (s.rejected.length) {
    console.log(`  ${s.rejected.length} rejected lines:`);
    for (const r of s.rejected) console.log(`    ${r.file} line ${r.line}: ${r.reason}`);
  }
}

/**
 * Test hooks for the kill -9 test (environment only, never options a user sees):
 * TT_TEST_INGEST_DELAY_MS pauses inside the run's transaction after each batch is sent
 * (batches of 5,000 bars then); TT_TEST_INGEST_TRACE=1 prints a line to stderr after each
 * batch is sent and after the commit.
 */
function crashTestHooks() {
  const delay = Number(Deno.env.get("TT_TEST_INGEST_DELAY_MS") ?? 0);
  const trace = Deno.env.get("TT_TEST_INGEST_TRACE") === "1";
  return {
    batchRows: delay > 0 ? 5_000 : undefined,
    onBatchWritten: delay > 0 || trace
      ? async (i: { rows: number; totalRows: number }) => {
        if (trace) console.error(`ingest: sent ${i.rows} rows (${i.totalRows} in this run)`);
        if (delay > 0) await new Promise<void>((r) => setTimeout(r, delay));
      }
      : undefined,
    onCommit: trace
      ? (i: { rows: number; totalRows: number }) =>
        console.error(`ingest: committed ${i.rows} rows (${i.totalRows} in this run)`)
      : undefined,
  };
}

function printIbkrSummary(
  summary: IbkrIngestSummary,
  store: Store,
  json: boolean,
): void {
  if (json) {
    console.log(JSON.stringify({ source: "ibkr", ...summary, store: store.description }));
    return;
  }
  console.log(
    `ibkr: wrote ${summary.rowsWritten.toLocaleString("en-US")} bars in ${
      summary.seconds.toFixed(1)
    } s ` +
      `(${summary.requests} requests, ${summary.pacingWaits} pacing waits, ${summary.retries} retries) into ${store.description}`,
  );
  for (const s of summary.symbolsSkipped) console.log(`  skipped ${s.symbol}: ${s.reason}`);
}

if (import.meta.main) await runTask(main);
