import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ingestCsv,
  listCsvDirectory,
  listCsvFiles,
  readCsvBars,
  readCsvFile,
  symbolFromFileName,
} from "@lib/data/mod.ts";
import { zonedWallToUtc } from "@lib/data/_time.ts";
import { openStore, type Store } from "@lib/db/mod.ts";
import {
  DAILY_DATES,
  DAILY_OFFSETS,
  DATE_TIME_COLUMNS,
  OHLC_THREE_BAD,
  SHARED_DATA,
  SHARED_DATA_SKIP_REASON,
  SYMBOL_3000,
  SYMBOL_WITH_NUL,
  tempCsv,
  tempCsvFolder,
  YAHOO_ULP,
} from "./support/csv_fixtures.ts";
import { storeFactories } from "./support/stores.ts";

const H = "Date,Open,High,Low,Close,Volume";
const GOOD = `${H}\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.5,12,10,11,200\n`;
const day = (s: string) => Date.parse(`${s}T00:00:00Z`);
const HINT = " (--skip-bad-rows writes the other rows and lists the rejected ones)";

type ErrorClass = typeof SyntaxError | typeof RangeError;

/** Asserts that `fn` throws `cls` with exactly this message (string) or a matching one (RegExp). */
function throwsLike(fn: () => unknown, cls: ErrorClass, message: string | RegExp) {
  assert.throws(fn, (e: unknown) => matches(e, cls, message));
}

function matches(e: unknown, cls: ErrorClass, message: string | RegExp): true {
  assert.ok(
    e instanceof cls,
    `expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
  );
  if (typeof message === "string") assert.equal((e as Error).message, message);
  else assert.match((e as Error).message, message);
  return true;
}

/** Asserts that reading `text` as `AAPL.csv` throws `cls` with exactly this message (or matching it). */
function refuses(text: string, cls: ErrorClass, message: string | RegExp) {
  assert.throws(
    () => readCsvBars(text, "AAPL.csv"),
    (e: unknown) => {
      assert.ok(
        e instanceof cls,
        `expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
      );
      if (typeof message === "string") assert.equal((e as Error).message, message);
      else assert.match((e as Error).message, message);
      return true;
    },
  );
}

// ---- The malformed-input battery -------------------------------------------------------

Deno.test("readCsvBars() refuses an empty file", () => {
  refuses("", SyntaxError, "Cannot import AAPL.csv: the file is empty");
  refuses("\n\n  \n", SyntaxError, "Cannot import AAPL.csv: the file is empty");
});

Deno.test("readCsvBars() refuses a header-only file", () => {
  refuses(`${H}\n`, SyntaxError, "Cannot import AAPL.csv: no data rows (header only)");
});

Deno.test("readCsvBars() refuses a missing column, naming it and line 1", () => {
  refuses(
    "Date,Open,Low,Close,Volume\n2020-01-02,10,9,10.5,100\n",
    SyntaxError,
    /^Cannot import AAPL\.csv line 1: no high column/,
  );
  refuses(
    "Open,High,Low,Close,Volume\n10,11,9,10.5,100\n",
    SyntaxError,
    /line 1: no timestamp\|date\|datetime column/,
  );
});

Deno.test("readCsvFile() accepts a UTF-8 BOM before the header", async () => {
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(GOOD)]);
  const { path } = await tempCsv("AAPL.csv", bytes);
  const r = await readCsvFile(path);
  assert.deepEqual(r.bars.timestamp, [day("2020-01-02"), day("2020-01-03")]);
  assert.deepEqual(r.bars.close, [10.5, 11]);
  assert.deepEqual(readCsvBars("\ufeff" + GOOD, "AAPL.csv").bars.close, [10.5, 11]);
});

Deno.test("readCsvBars() refuses a non-numeric value, naming line and value", () => {
  refuses(
    `${H}\n2020-01-02,10,11,9,10.5,100\n2020-01-03,abc,12,10,11,200\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 3: open "abc" is not a number',
  );
  refuses(
    `${H}\n2020-01-02,10,11,9,10.5,0x10\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 2: volume "0x10" is not a number',
  );
});

Deno.test("readCsvBars() refuses NaN, Infinity and empty fields", () => {
  refuses(
    `${H}\n2020-01-02,10,11,9,NaN,100\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 2: close "NaN" is not a number',
  );
  refuses(
    `${H}\n2020-01-02,10,Infinity,9,10,100\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 2: high "Infinity" is not a number',
  );
  refuses(
    `${H}\n2020-01-02,10,11,,10,100\n`,
    SyntaxError,
    "Cannot import AAPL.csv line 2: low is empty",
  );
});

Deno.test("readCsvBars() refuses negative or zero prices and negative volume", () => {
  refuses(
    `${H}\n2020-01-02,10,11,-1,10.5,100\n`,
    RangeError,
    "Cannot import AAPL.csv line 2: low -1 is not positive" + HINT,
  );
  refuses(
    `${H}\n2020-01-02,0,11,9,10.5,100\n`,
    RangeError,
    "Cannot import AAPL.csv line 2: open 0 is not positive" + HINT,
  );
  refuses(
    `${H}\n2020-01-02,10,11,9,10.5,-5\n`,
    RangeError,
    "Cannot import AAPL.csv line 2: volume -5 is negative" + HINT,
  );
});

Deno.test("readCsvBars() refuses high below low, and high/low outside open and close", () => {
  refuses(
    `${H}\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.3,10.2,10.5,10.4,1\n`,
    RangeError,
    "Cannot import AAPL.csv line 3: high 10.2 is below low 10.5" + HINT,
  );
  refuses(
    `${H}\n2020-01-02,10,11,9,11.5,100\n`,
    RangeError,
    "Cannot import AAPL.csv line 2: high 11 is below close 11.5" + HINT,
  );
  refuses(
    `${H}\n2020-01-02,10,11,9,8.5,100\n`,
    RangeError,
    "Cannot import AAPL.csv line 2: low 9 is above close 8.5" + HINT,
  );
  refuses(
    `${H}\n2020-01-02,12,11,9,10,100\n`,
    RangeError,
    "Cannot import AAPL.csv line 2: high 11 is below open 12" + HINT,
  );
});

Deno.test("readCsvBars() refuses a duplicate timestamp, naming both lines", () => {
  refuses(
    `${GOOD}2020-01-03,10.5,12,10,11,200\n`,
    RangeError,
    "Cannot import AAPL.csv line 4: duplicate timestamp 2020-01-03 for AAPL (also line 3)" + HINT,
  );
  // The same instant written with two offsets is the same bar.
  refuses(
    "Datetime,Open,High,Low,Close,Volume\n2025-06-26 13:30:00-04:00,1,1,1,1,1\n2025-06-26 12:30:00-05:00,1,1,1,1,1\n",
    RangeError,
    /line 3: duplicate timestamp 2025-06-26T17:30:00Z/,
  );
});

Deno.test("readCsvBars() sorts rows out of time order and says so", () => {
  const r = readCsvBars(
    `${H}\n2020-01-03,10.5,12,10,11,200\n2020-01-02,10,11,9,10.5,100\n`,
    "AAPL.csv",
  );
  assert.deepEqual(r.bars.timestamp, [day("2020-01-02"), day("2020-01-03")]);
  assert.deepEqual(r.bars.volume, [100, 200]);
  assert.deepEqual(r.warnings, [
    "AAPL.csv: AAPL rows are not in time order (line 3 is earlier than line 2); sorted",
  ]);
});

Deno.test("readCsvBars() refuses mixed timezones but accepts a DST change", () => {
  const D = "Datetime,Open,High,Low,Close,Volume\n";
  refuses(
    `${D}2025-06-26 13:30:00-04:00,1,1,1,1,1\n2025-06-26 14:30:00,1,1,1,1,1\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 3: mixed timezones: "2025-06-26 14:30:00" is a time without UTC offset but line 2 is a time with a UTC offset',
  );
  refuses(
    `${D}2025-06-26 13:30:00-04:00,1,1,1,1,1\n2025-06-26 19:30:00+02:00,1,1,1,1,1\n`,
    SyntaxError,
    /line 3: mixed timezones: .* offset \+02:00 but line 2 has -04:00/,
  );
  refuses(
    `${D}2025-06-26,1,1,1,1,1\n2025-06-27 10:00:00,1,1,1,1,1\n`,
    SyntaxError,
    /line 3: mixed timezones/,
  );
  const dst = readCsvBars(
    `${D}2025-10-31 09:30:00-04:00,1,1,1,1,1\n2025-11-03 09:30:00-05:00,1,1,1,1,1\n`,
    "X.csv",
    { barSize: "1 hour" },
  );
  assert.deepEqual(dst.bars.timestamp, [
    Date.parse("2025-10-31T13:30:00Z"),
    Date.parse("2025-11-03T14:30:00Z"),
  ]);
});

Deno.test("readCsvBars() refuses a file with the wrong delimiter, naming the one it found", () => {
  refuses(
    "Date;Open;High;Low;Close;Volume\n2020-01-02;10;11;9;10.5;100\n",
    SyntaxError,
    /line 1: no timestamp.* column .*looks ";"-separated, not ","-separated/,
  );
  refuses(
    `${H}\n2020-01-02,10,11,9,10.5,100\n2020-01-03;10.5;12;10;11;200\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 3: expected 6 fields (","-separated), found 1',
  );
  const r = readCsvBars(
    "Date;Open;High;Low;Close;Volume\n2020-01-02;10;11;9;10.5;100\n",
    "AAPL.csv",
    { delimiter: ";" },
  );
  assert.deepEqual(r.bars.close, [10.5]);
});

Deno.test("readCsvBars() refuses a truncated last line but accepts a missing final newline", () => {
  refuses(
    `${H}\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.5,12`,
    SyntaxError,
    "Cannot import AAPL.csv line 3: truncated last line: 3 of 6 fields",
  );
  assert.equal(readCsvBars(GOOD.trimEnd(), "AAPL.csv").bars.close.length, 2);
});

Deno.test("readCsvBars() refuses bad dates", () => {
  refuses(
    `${H}\n2020-02-30,10,11,9,10.5,100\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 2: bad date "2020-02-30": 2020-02 has 29 days',
  );
  refuses(
    `${H}\n01/02/2020,10,11,9,10.5,100\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 2: bad date "01/02/2020"',
  );
  refuses(
    `${H}\n2020-01-02 25:00,10,11,9,10.5,100\n`,
    SyntaxError,
    /line 2: bad date "2020-01-02 25:00"/,
  );
});

Deno.test("readCsvBars() refuses an unclosed quote and a column named twice", () => {
  refuses(
    `${H}\n"2020-01-02,10,11,9,10.5,100\n`,
    SyntaxError,
    "Cannot import AAPL.csv line 2: unclosed quote",
  );
  refuses(
    "Date,Open,High,Low,Close,Volume,close\n2020-01-02,10,11,9,10.5,100,1\n",
    SyntaxError,
    'Cannot import AAPL.csv line 1: column "close" appears twice',
  );
});

Deno.test("readCsvBars() accepts CRLF line endings and quoted fields", () => {
  const r = readCsvBars(
    `${H},Symbol\r\n"2020-01-02",10,11,9,10.5,100,"x'; drop table tt_prices;--"\r\n`,
    "f.csv",
  );
  assert.deepEqual(r.bars.instrument, ["X'; DROP TABLE TT_PRICES;--"], "upper-cased by default");
  assert.deepEqual(r.bars.close, [10.5]);
});

Deno.test("readCsvBars() with skipBadRows keeps good rows and lists every rejected line", () => {
  const text =
    `${H}\n2020-01-02,10,11,9,10.5,100\n2020-01-03,abc,12,10,11,200\n2020-01-06,10,11,9,10.5,100\n` +
    `2020-01-06,10,11,9,10.5,100\n2020-01-07,10.3,10.2,10.5,10.4,1\n2020-01-08,10,11,9,10.5,100\n`;
  const r = readCsvBars(text, "AAPL.csv", { skipBadRows: true });
  assert.deepEqual(r.bars.timestamp, [day("2020-01-02"), day("2020-01-06"), day("2020-01-08")]);
  assert.deepEqual(r.rejected, [
    { file: "AAPL.csv", line: 3, reason: 'open "abc" is not a number' },
    { file: "AAPL.csv", line: 5, reason: "duplicate timestamp 2020-01-06 for AAPL (also line 4)" },
    { file: "AAPL.csv", line: 6, reason: "high 10.2 is below low 10.5" },
  ]);
  assert.equal(r.rowsRead, 6);
});

Deno.test("ingestCsv() writes nothing from a run with one bad file and records it as failed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_csv_" });
  await Deno.writeTextFile(join(dir, "AAA.csv"), GOOD);
  await Deno.writeTextFile(
    join(dir, "BBB.csv"),
    `${H}\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.3,10.2,10.5,10.4,1\n`,
  );
  const store = await openStore({ dataDir: "memory://" });
  try {
    await assert.rejects(
      ingestCsv(store, dir, { silent: true }),
      (e: unknown) =>
        matches(e, RangeError, "Cannot import BBB.csv line 3: high 10.2 is below low 10.5" + HINT),
    );
    assert.deepEqual(await store.query("SELECT count(*)::int AS n FROM tt_prices"), [{ n: 0 }]);
    const [run] = await store.query<{ status: string; message: string }>(
      "SELECT status, message FROM tt_ingest_runs",
    );
    assert.equal(run.status, "failed");
    assert.match(run.message, /BBB\.csv line 3/);
    const ok = await ingestCsv(store, dir, { silent: true, skipBadRows: true });
    assert.equal(ok.rowsWritten, 3);
    assert.deepEqual(ok.rejected, [{
      file: "BBB.csv",
      line: 3,
      reason: "high 10.2 is below low 10.5",
    }]);
  } finally {
    await store.close();
  }
});

// ---- Features -------------------------------------------------------------------------

Deno.test("readCsvBars() recognises header variants case-insensitively", () => {
  for (const h of ["timestamp", "date", "Date", "Datetime", "TIMESTAMP"]) {
    const r = readCsvBars(
      `${h},open,HIGH,Low,close,Volume\n2020-01-02,10,11,9,10.5,100\n`,
      "X.csv",
    );
    assert.deepEqual(r.bars.close, [10.5], h);
  }
  for (const a of ["Adj Close", "adjusted_close", "adjclose", "ADJ_CLOSE"]) {
    const r = readCsvBars(
      `date,open,high,low,close,${a},volume\n2020-01-02,10,11,9,10,5,100\n`,
      "X.csv",
      { adjust: true },
    );
    assert.deepEqual(r.bars.close, [5], a);
  }
});

Deno.test("readCsvBars() with adjust back-adjusts OHLC by k = adjusted/close and divides volume by k", () => {
  const r = readCsvBars(
    "date,open,high,low,close,adjusted_close,volume\n2014-06-06,96,100,80,80,10,700\n",
    "AAPL.csv",
    { adjust: true },
  );
  // k = 10 / 80 = 0.125
  assert.deepEqual(
    [r.bars.open[0], r.bars.high[0], r.bars.low[0], r.bars.close[0], r.bars.volume[0]],
    [12, 12.5, 10, 10, 5600],
  );
  const raw = readCsvBars(
    "date,open,high,low,close,adjusted_close,volume\n2014-06-06,96,100,80,80,10,700\n",
    "AAPL.csv",
  );
  assert.deepEqual(raw.bars.close, [80], "without adjust the raw close is kept");
});

Deno.test("readCsvBars() with adjust refuses a file without an adjusted-close column", () => {
  throwsLike(
    () => readCsvBars(GOOD, "AAPL.csv", { adjust: true }),
    SyntaxError,
    /adjust needs an adjusted-close column/,
  );
});

Deno.test("readCsvBars() normalises time zones to UTC", () => {
  const D = "Datetime,Open,High,Low,Close,Volume\n";
  const one = (t: string, o = {}) =>
    readCsvBars(`${D}${t},1,1,1,1,1\n`, "X.csv", { barSize: "1 hour", ...o }).bars.timestamp[0];
  assert.equal(one("2025-06-26 13:30:00-04:00"), Date.parse("2025-06-26T17:30:00Z"));
  assert.equal(one("2025-06-26T17:30:00Z"), Date.parse("2025-06-26T17:30:00Z"));
  assert.equal(one("2025-06-26 19:30+0200"), Date.parse("2025-06-26T17:30:00Z"));
  assert.equal(
    one("2025-06-26 17:30:00"),
    Date.parse("2025-06-26T17:30:00Z"),
    "naive is UTC by default",
  );
  assert.equal(
    one("2025-07-15 09:30:00", { timeZone: "America/New_York" }),
    Date.parse("2025-07-15T13:30:00Z"),
  );
  assert.equal(
    one("2025-01-15 09:30:00", { timeZone: "America/New_York" }),
    Date.parse("2025-01-15T14:30:00Z"),
  );
  assert.equal(
    readCsvBars(GOOD, "X.csv").bars.timestamp[0],
    Date.parse("2020-01-02T00:00:00Z"),
    "date-only is 00:00 UTC",
  );
});

Deno.test("readCsvBars() with rthOnly keeps bars starting 09:30–15:59 New York time in summer and winter", () => {
  const D = "Datetime,Open,High,Low,Close,Volume\n";
  const rows = ["09:00", "09:30", "15:30", "16:00"];
  const summer = readCsvBars(
    D + rows.map((t) => `2025-07-01 ${t}:00-04:00,1,1,1,1,1`).join("\n"),
    "X.csv",
    { rthOnly: true },
  );
  assert.deepEqual(summer.bars.timestamp, [
    Date.parse("2025-07-01T13:30:00Z"),
    Date.parse("2025-07-01T19:30:00Z"),
  ]);
  assert.equal(summer.rowsFiltered, 2);
  const winter = readCsvBars(
    D + rows.map((t) => `2025-01-06 ${t}:00-05:00,1,1,1,1,1`).join("\n"),
    "X.csv",
    { rthOnly: true },
  );
  assert.deepEqual(winter.bars.timestamp, [
    Date.parse("2025-01-06T14:30:00Z"),
    Date.parse("2025-01-06T20:30:00Z"),
  ]);
  // UTC-stamped bars: 13:30Z is 09:30 in July (EDT) but 08:30 in January (EST).
  const utc = readCsvBars(
    `${D}2025-01-06T13:30:00Z,1,1,1,1,1\n2025-07-01T13:30:00Z,1,1,1,1,1\n`,
    "X.csv",
    { rthOnly: true, barSize: "1 hour" },
  );
  assert.deepEqual(utc.bars.timestamp, [Date.parse("2025-07-01T13:30:00Z")]);
});

Deno.test("symbolFromFileName() default pattern handles vendor names; a custom pattern overrides", () => {
  assert.equal(symbolFromFileName("DA-AAPL-T-2021-04-21.csv"), "AAPL");
  assert.equal(symbolFromFileName("AAPL_1h.csv"), "AAPL");
  assert.equal(symbolFromFileName("AAPL.csv"), "AAPL");
  assert.equal(symbolFromFileName("BRK-B.csv"), "BRK-B");
  assert.equal(symbolFromFileName("DA-BRK.B-T-2021-04-21.csv"), "BRK.B");
  assert.equal(symbolFromFileName("notes.md"), undefined);
  assert.equal(
    symbolFromFileName("prices_MSFT_2020.csv", "^prices_(?<symbol>[A-Z]+)_\\d{4}\\.csv$"),
    "MSFT",
  );
  assert.equal(symbolFromFileName("prices_MSFT_2020.csv", "^prices_([A-Z]+)_"), "MSFT");
});

Deno.test("readCsvBars() takes the symbol from a Symbol column before the file name", () => {
  const r = readCsvBars(
    `${H},Symbol\n2020-01-02,10,11,9,10.5,100,MSFT\n2020-01-02,20,21,19,20.5,5,IBM\n`,
    "AAPL_1h.csv",
  );
  assert.deepEqual(r.symbols, ["IBM", "MSFT"]);
  assert.deepEqual(r.bars.instrument, ["IBM", "MSFT"]);
  throwsLike(
    () => readCsvBars(GOOD, "prices.csv", { symbolPattern: "^x_(\\w+)\\.csv$" }),
    SyntaxError,
    /no Symbol column and the file name does not match/,
  );
  assert.deepEqual(readCsvBars(GOOD, "whatever.csv", { symbol: "SPX" }).symbols, ["SPX"]);
});

Deno.test("readCsvBars() infers the bar size from the most frequent gap, or takes the given one", () => {
  const D = "Datetime,Open,High,Low,Close,Volume\n";
  assert.equal(readCsvBars(GOOD, "X.csv").barSize, "1 day");
  const hourly = ["09:30", "10:30", "11:30", "12:30", "16:00"].map((t) =>
    `2025-07-01 ${t}:00-04:00,1,1,1,1,1`
  ).join("\n");
  assert.equal(readCsvBars(D + hourly, "X.csv").barSize, "1 hour");
  const fives = ["09:30", "09:35", "09:40", "09:50"].map((t) =>
    `2025-07-01 ${t}:00-04:00,1,1,1,1,1`
  ).join("\n");
  assert.equal(readCsvBars(D + fives, "X.csv").barSize, "5 mins");
  assert.equal(readCsvBars(GOOD, "X.csv", { barSize: "1  Day" }).barSize, "1 day");
  throwsLike(
    () => readCsvBars(GOOD, "X.csv", { barSize: "daily" }),
    RangeError,
    /Not a bar size: "daily"/,
  );
  throwsLike(
    () => readCsvBars(`${D}2025-07-01 09:30:00-04:00,1,1,1,1,1\n`, "X.csv"),
    SyntaxError,
    /cannot infer the bar size/,
  );
});

Deno.test("readCsvBars() start, end and symbols filters keep only matching rows (end date is inclusive)", () => {
  const text =
    `${H},Symbol\n2020-01-02,1,1,1,1,1,A\n2020-01-03,1,1,1,1,1,A\n2020-01-06,1,1,1,1,1,A\n2020-01-03,1,1,1,1,1,B\n`;
  const r = readCsvBars(text, "X.csv", { start: "2020-01-03", end: "2020-01-03", symbols: ["A"] });
  assert.deepEqual(r.bars.timestamp, [day("2020-01-03")]);
  assert.equal(r.rowsFiltered, 3);
  throwsLike(() => readCsvBars(text, "X.csv", { start: "Jan 3" }), RangeError, /Not a date/);
});

Deno.test("readCsvBars() validates only rows the filters keep (a bad pre-market bar does not block --rth-only)", () => {
  const D = "Datetime,Open,High,Low,Close,Volume\n";
  const text =
    `${D}2025-07-01 08:00:00-04:00,5,1,9,5,1\n2025-07-01 09:30:00-04:00,1,1,1,1,1\n2025-07-01 10:30:00-04:00,1,1,1,1,1\n`;
  assert.equal(readCsvBars(text, "X.csv", { rthOnly: true }).bars.close.length, 2);
  throwsLike(() => readCsvBars(text, "X.csv"), RangeError, /line 2: high 1 is below low 9/);
});

// ---- Issue 11: vendor files in the wild ------------------------------------------------

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ dataDir: "memory://" });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function runsAndRows(store: Store) {
  const [{ n }] = await store.query<{ n: number }>("SELECT count(*)::int AS n FROM tt_prices");
  const runs = await store.query<{ status: string; message: string | null }>(
    "SELECT status, message FROM tt_ingest_runs ORDER BY id",
  );
  return { rows: n, runs };
}

Deno.test("symbolFromFileName() strips only bar-size suffixes: class shares and pairs survive", () => {
  assert.equal(symbolFromFileName("BRK_A.csv"), "BRK_A");
  assert.equal(symbolFromFileName("BRK_B.csv"), "BRK_B");
  assert.equal(symbolFromFileName("BTC_USD.csv"), "BTC_USD");
  assert.equal(symbolFromFileName("BTC_USD_1h.csv"), "BTC_USD");
  for (const sfx of ["_1h", "_1d", "_daily", "_hourly", "_1min", "_5mins", "_1D", "_DAILY"]) {
    assert.equal(symbolFromFileName(`AAPL${sfx}.csv`), "AAPL", sfx);
  }
  assert.equal(symbolFromFileName("UP.CSV"), "UP");
  assert.equal(symbolFromFileName("DA-MSFT-T-2021-04-21.csv"), "MSFT");
});

Deno.test("ingestCsv() keeps BRK_A and BRK_B apart and lists file → symbol", async () => {
  const dir = await tempCsvFolder({ "BRK_A.csv": DAILY_DATES, "BRK_B.csv": DAILY_DATES });
  await withStore(async (store) => {
    const s = await ingestCsv(store, dir, { silent: true });
    assert.deepEqual(s.symbols, ["BRK_A", "BRK_B"]);
    assert.deepEqual(s.fileSymbols, [
      { file: "BRK_A.csv", symbols: ["BRK_A"] },
      { file: "BRK_B.csv", symbols: ["BRK_B"] },
    ]);
    assert.equal((await runsAndRows(store)).rows, 4);
  });
});

Deno.test("ingestCsv() refuses two files giving one symbol, naming both, and writes nothing", async () => {
  const dir = await tempCsvFolder({ "AAPL.csv": DAILY_DATES, "aapl_daily.csv": DAILY_DATES });
  await withStore(async (store) => {
    await assert.rejects(
      ingestCsv(store, dir, { silent: true }),
      (e: unknown) =>
        matches(
          e,
          RangeError,
          /AAPL\.csv and aapl_daily\.csv both give symbol AAPL; nothing written/,
        ),
    );
    const { rows, runs } = await runsAndRows(store);
    assert.equal(rows, 0);
    assert.equal(runs[0].status, "failed");
  });
});

Deno.test("readCsvBars() upper-cases symbols by default; keepSymbolCase keeps them", () => {
  assert.deepEqual(readCsvBars(DAILY_DATES, "aapl.csv").symbols, ["AAPL"]);
  assert.deepEqual(readCsvBars(DAILY_DATES, "aapl.csv", { keepSymbolCase: true }).symbols, [
    "aapl",
  ]);
  const r = readCsvBars(`${H},Symbol\n2020-01-02,10,11,9,10.5,100,msft\n`, "x.csv", {
    symbols: ["msft"],
  });
  assert.deepEqual(r.symbols, ["MSFT"], "the symbols filter is upper-cased too");
});

Deno.test("readCsvBars() stores a daily bar at its session date whatever the format", () => {
  const dates = readCsvBars(DAILY_DATES, "A.csv");
  const offsets = readCsvBars(DAILY_OFFSETS, "B.csv");
  assert.equal(offsets.barSize, "1 day");
  assert.deepEqual(offsets.bars.timestamp, dates.bars.timestamp);
  assert.deepEqual(offsets.bars.timestamp, [day("2020-01-02"), day("2020-01-03")]);
  // The session date is the local date in the file's own offset (Tokyo midnight is 15:00Z the day before).
  const tokyo = readCsvBars(
    `${H}\n2020-01-06 00:00+09:00,1,1,1,1,1\n2020-01-07 00:00+09:00,1,1,1,1,1\n`,
    "T.csv",
  );
  assert.deepEqual(tokyo.bars.timestamp, [day("2020-01-06"), day("2020-01-07")]);
  // Naive wall times in a zone: the date in that zone.
  const ny = readCsvBars(
    `${H}\n2020-01-06 16:00,1,1,1,1,1\n2020-01-07 16:00,1,1,1,1,1\n`,
    "N.csv",
    { timeZone: "America/New_York", barSize: "1 day" },
  );
  assert.deepEqual(ny.bars.timestamp, [day("2020-01-06"), day("2020-01-07")]);
  throwsLike(
    () =>
      readCsvBars(`${H}\n2020-01-06 10:00Z,1,1,1,1,1\n2020-01-06 11:00Z,1,1,1,1,1\n`, "X.csv", {
        barSize: "1 day",
      }),
    RangeError,
    /line 3: two 1 day bars on 2020-01-06 for X \(also line 2\)/,
  );
});

Deno.test("ingestCsv() puts the same session from a date-only and an offset file on one timestamp", async () => {
  const dir = await tempCsvFolder({ "A.csv": DAILY_DATES, "B.csv": DAILY_OFFSETS });
  await withStore(async (store) => {
    await ingestCsv(store, dir, { silent: true });
    const rows = await store.query<{ n: number }>(
      "SELECT count(DISTINCT timestamp)::int AS n FROM tt_prices",
    );
    assert.deepEqual(rows, [{ n: 2 }]);
  });
});

for (const factory of storeFactories()) {
  Deno.test(`ingestCsv() on ${factory.name}: a NUL or 3,000-character symbol refuses the run before writing, and the run is marked failed`, async () => {
    for (
      const [bad, expect] of [
        [SYMBOL_WITH_NUL, /BAD\.csv line 2: symbol "AB\\u0000C" contains a NUL byte/],
        [SYMBOL_3000, /BAD\.csv line 2: symbol "X{20}"… is 3000 characters long \(at most 64\)/],
      ] as const
    ) {
      const dir = await tempCsvFolder({ "AAA.csv": DAILY_DATES, "BAD.csv": bad });
      const store = await factory.open();
      try {
        await assert.rejects(
          ingestCsv(store, dir, { silent: true }),
          (e: unknown) => matches(e, SyntaxError, expect),
        );
        const { rows, runs } = await runsAndRows(store);
        assert.equal(rows, 0, "the good file's rows are not committed");
        assert.equal(runs.length, 1);
        assert.equal(runs[0].status, "failed");
        assert.match(runs[0].message ?? "", /BAD\.csv line 2/);
        const ok = await ingestCsv(store, dir, { silent: true, skipBadRows: true });
        assert.equal(ok.rowsWritten, 2);
        assert.equal(ok.rejected.length, 1);
      } finally {
        await store.close();
      }
    }
  });
}

Deno.test("readCsvBars() refuses numbers beyond a 64-bit float as out of range", () => {
  refuses(
    `${H}\n2020-01-02,10,11,9,10.5,1e400\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 2: volume "1e400" is out of range (beyond a 64-bit float)',
  );
});

Deno.test("readCsvBars() accepts one-ulp OHLC noise (relative tolerance) and clamps low/high", () => {
  const r = readCsvBars(YAHOO_ULP, "AAPL.csv");
  assert.equal(r.bars.low[0], 15.12010097503662, "low clamped to the close");
  assert.ok(r.bars.low[0] <= r.bars.close[0] && r.bars.high[0] >= r.bars.open[0]);
  refuses(
    `${H}\n2020-01-02,15.2,15.3,15.1202,15.1201,1000\n`,
    RangeError,
    /line 2: low 15.1202 is above close 15.1201/,
  );
});

Deno.test("readCsvBars() reports every OHLC violation with counts and suggests --skip-bad-rows", () => {
  refuses(
    OHLC_THREE_BAD,
    RangeError,
    "Cannot import AAPL.csv: 3 rows break the rules (2 high below low, 1 low above close): " +
      "line 3: high 10.2 is below low 10.5; line 5: high 10.2 is below low 10.5; " +
      "line 6: low 9.5 is above close 9" + HINT,
  );
});

Deno.test("ingestCsv() names every refused file, not only the first", async () => {
  const dir = await tempCsvFolder({
    "AAA.csv": DAILY_DATES,
    "BBB.csv": OHLC_THREE_BAD,
    "CCC.csv": `${H}\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.3,10.2,10.5,10.4,1\n`,
  });
  await withStore(async (store) => {
    await assert.rejects(
      ingestCsv(store, dir, { silent: true }),
      (e: unknown) =>
        matches(
          e,
          RangeError,
          /^Cannot import 2 of 3 files; nothing written:\n {2}Cannot import BBB\.csv: 3 rows .*\n {2}Cannot import CCC\.csv line 3: high 10\.2 is below low 10\.5/,
        ),
    );
    assert.equal((await runsAndRows(store)).rows, 0);
  });
});

Deno.test("listCsvDirectory() follows symlinks, skips dot-files and lists them, accepts UP.CSV", async () => {
  const dir = await tempCsvFolder({
    "AAA.csv": DAILY_DATES,
    "UP.CSV": DAILY_DATES,
    "._AAPL.csv": new Uint8Array([0, 5, 22, 7, 0, 2, 0, 0]),
    ".~lock.AAPL.csv": ",user,host,01.12.2026 10:00,file:///x;",
    "notes.md": "x",
  });
  const other = await tempCsvFolder({ "LNK.csv": DAILY_DATES });
  await Deno.symlink(join(other, "LNK.csv"), join(dir, "LNK.csv"));
  await Deno.symlink(join(other, "missing.csv"), join(dir, "GONE.csv"));
  const l = await listCsvDirectory(dir);
  assert.deepEqual(l.files.map((f) => f.slice(dir.length + 1)), ["AAA.csv", "LNK.csv", "UP.CSV"]);
  assert.deepEqual(l.skipped, [
    { file: "._AAPL.csv", reason: "hidden file (the name starts with a dot)" },
    { file: ".~lock.AAPL.csv", reason: "hidden file (the name starts with a dot)" },
    { file: "GONE.csv", reason: "broken symbolic link" },
  ]);
  await withStore(async (store) => {
    const s = await ingestCsv(store, dir, { silent: true });
    assert.deepEqual(s.symbols, ["AAA", "LNK", "UP"]);
    assert.deepEqual(s.skipped.map((k) => k.file), ["._AAPL.csv", ".~lock.AAPL.csv", "GONE.csv"]);
  });
});

Deno.test("readCsvBars() refuses years 0000–0099 and other implausible years instead of moving them to the 1900s", () => {
  refuses(
    `${H}\n0050-01-02,10,11,9,10.5,100\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 2: implausible year 50 in "0050-01-02" (accepted 1800–2199)',
  );
  refuses(`${H}\n2920-01-02,10,11,9,10.5,100\n`, SyntaxError, /line 2: implausible year 2920/);
  throwsLike(
    () => readCsvBars(DAILY_DATES, "X.csv", { start: "0020-01-01" }),
    RangeError,
    /Implausible year 20/,
  );
});

Deno.test("zonedWallToUtc() moves a DST-gap wall time forward by the gap (Temporal 'compatible')", () => {
  // 2021-03-14 02:30 does not exist in New York: it is 03:30 EDT = 07:30Z.
  assert.equal(
    zonedWallToUtc(Date.UTC(2021, 2, 14, 2, 30), "America/New_York"),
    Date.UTC(2021, 2, 14, 7, 30),
  );
  // The overlap 2021-11-07 01:30 is the earlier instant, 01:30 EDT = 05:30Z.
  assert.equal(
    zonedWallToUtc(Date.UTC(2021, 10, 7, 1, 30), "America/New_York"),
    Date.UTC(2021, 10, 7, 5, 30),
  );
  const r = readCsvBars(`${H}\n2021-03-14 02:30,1,1,1,1,1\n`, "X.csv", {
    timeZone: "America/New_York",
    barSize: "1 hour",
  });
  assert.deepEqual(r.bars.timestamp, [Date.UTC(2021, 2, 14, 7, 30)]);
});

Deno.test("readCsvBars() refuses 2015-02-30 naming file, line and why", () => {
  refuses(
    `${H}\n2015-02-27,10,11,9,10.5,100\n2015-02-30,10,11,9,10.5,100\n`,
    SyntaxError,
    'Cannot import AAPL.csv line 3: bad date "2015-02-30": 2015-02 has 28 days',
  );
});

Deno.test("ingestCsv() refuses a run whose filters match nothing, and marks it failed", async () => {
  const dir = await tempCsvFolder({ "AAA.csv": DAILY_DATES });
  await withStore(async (store) => {
    await assert.rejects(
      ingestCsv(store, dir, { silent: true, symbols: ["ZZZ"] }),
      (e: unknown) =>
        matches(
          e,
          RangeError,
          "No bar matches the filters (symbols ZZZ): all 2 valid rows of 1 files were left out; nothing written",
        ),
    );
    await assert.rejects(
      ingestCsv(store, dir, { silent: true, start: "2030-01-01" }),
      /No bar matches the filters \(start 2030-01-01\)/,
    );
    assert.deepEqual((await runsAndRows(store)).runs.map((r) => r.status), ["failed", "failed"]);
    const s = await ingestCsv(store, dir, { silent: true, symbols: ["AAA", "ZZZ"] });
    assert.deepEqual(s.warnings, ["symbols asked for but in no file: ZZZ"]);
  });
});

Deno.test("readCsvBars() refuses an intraday bar size on a date-only file", () => {
  throwsLike(
    () => readCsvBars(DAILY_DATES, "X.csv", { barSize: "1 hour" }),
    SyntaxError,
    'Cannot import X.csv: bar size "1 hour" was given but the timestamps are dates without a time of day (daily bars); give "1 day" or leave the bar size out',
  );
});

Deno.test("readCsvBars() combines Date and Time columns", () => {
  const r = readCsvBars(DATE_TIME_COLUMNS, "X.csv", { timeZone: "America/New_York" });
  assert.equal(r.barSize, "1 hour");
  assert.deepEqual(r.bars.timestamp, [
    Date.parse("2021-07-01T13:30:00Z"),
    Date.parse("2021-07-01T14:30:00Z"),
  ]);
  // A lone Time column is the timestamp.
  const lone = readCsvBars("Time,Open,High,Low,Close,Volume\n2020-01-02,1,1,1,1,1\n", "X.csv");
  assert.deepEqual(lone.bars.timestamp, [day("2020-01-02")]);
});

// ---- Real vendor files (when ../shared/data exists) ----------------------------------

Deno.test({
  name:
    "readCsvFile() reads the real hourly folder with rthOnly: 448 regular-session bars per file",
  ignore: !SHARED_DATA,
  async fn() {
    const files = await listCsvFiles(join(SHARED_DATA!, "hourly_33"));
    assert.equal(files.length, 33);
    for (const f of files) {
      const r = await readCsvFile(f, { rthOnly: true });
      assert.equal(r.bars.timestamp.length, 448, r.file);
      assert.equal(r.barSize, "1 hour");
      const fmt = new Intl.DateTimeFormat("en-US", {
        timeZone: "America/New_York",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      });
      for (const t of r.bars.timestamp) {
        const hm = fmt.format(t);
        assert.ok(hm >= "09:30" && hm < "16:00", `${r.file} ${new Date(t).toISOString()}`);
        // Wall-clock filter: on the 2025-07-03 half day the 13:00–15:00 post-close bars stay (zero volume; the quality report flags that day).
        if (!hm.endsWith(":30")) assert.equal(new Date(t).toISOString().slice(0, 10), "2025-07-03");
      }
    }
  },
});

Deno.test({
  name: "readCsvFile() with adjust removes AAPL's 7:1 split jump on 2014-06-09",
  ignore: !SHARED_DATA,
  async fn() {
    const path = join(SHARED_DATA!, "daily_sp41", "DA-AAPL-T-2021-04-21.csv");
    const ret = (adjust: boolean) => {
      return readCsvFile(path, { adjust }).then((r) => {
        const i = r.bars.timestamp.indexOf(day("2014-06-09"));
        return r.bars.close[i] / r.bars.close[i - 1] - 1;
      });
    };
    const adjusted = await ret(true);
    assert.ok(adjusted > 0 && adjusted < 0.05, `adjusted return ${adjusted}`);
    assert.ok((await ret(false)) < -0.8, "raw data shows the false −85 % move");
  },
});

if (!SHARED_DATA) console.log(`skip: ${SHARED_DATA_SKIP_REASON}`);
