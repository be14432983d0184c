/**
 * Vendor archives (issue 11, item 11): headerless files with `columns`, `yyyyMMdd` and
 * `yyyyMMdd HH:mm` timestamps, zip archives of CSVs, and `priceScale`. Fixtures are
 * generated in the test (zips with fflate's `zipSync`).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { zipSync } from "fflate";
import { openStore, readPrices } from "@lib/db/mod.ts";
import {
  checkCsvColumns,
  implausiblePrices,
  ingestCsv,
  readCsvBars,
  readCsvFile,
} from "@lib/data/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";

const enc = new TextEncoder();

/** Hourly bars in 1/10,000 of a dollar, `yyyyMMdd HH:mm`, no header. */
const HOURLY = "20240102 09:30,1850000,1860000,1845000,1855000,1200\n" +
  "20240102 10:30,1855000,1870000,1850000,1868000,900\n" +
  "20240102 11:30,1868000,1869000,1860000,1861000,700\n";
/** Daily bars, `yyyyMMdd`, no header. */
const DAILY = "20240102,1850000,1860000,1845000,1855000,1200\n" +
  "20240103,1855000,1870000,1850000,1868000,900\n";
const COLS = "timestamp,open,high,low,close,volume";

Deno.test("a headerless file is refused with a message suggesting --columns", () => {
  assert.throws(
    () => readCsvBars(DAILY, "AAPL.csv"),
    (e: Error) =>
      e instanceof SyntaxError && /AAPL\.csv line 1/.test(e.message) &&
      /no header/.test(e.message) &&
      /--columns timestamp,open,high,low,close,volume/.test(e.message),
  );
});

Deno.test("with columns a headerless daily file reads from line 1 (yyyyMMdd dates)", () => {
  const r = readCsvBars(DAILY, "AAPL.csv", { columns: COLS });
  assert.equal(r.rowsRead, 2);
  assert.deepEqual(r.symbols, ["AAPL"]);
  assert.equal(r.barSize, "1 day");
  assert.deepEqual(r.bars.timestamp.map((t) => new Date(t).toISOString()), [
    "2024-01-02T00:00:00.000Z",
    "2024-01-03T00:00:00.000Z",
  ]);
  assert.deepEqual(r.bars.close, [1855000, 1868000]);
  // A file with a header is not read as data when columns are given.
  assert.throws(
    () => readCsvBars("Date,Open,High,Low,Close,Volume\n" + DAILY, "AAPL.csv", { columns: COLS }),
    /AAPL\.csv line 1: the file has a header .*columns is for headerless files/,
  );
  // Errors still name the file's own line numbers (line 1 is data).
  assert.throws(
    () => readCsvBars(DAILY + "20240104,1,2,0.5,x,3\n", "AAPL.csv", { columns: COLS }),
    /AAPL\.csv line 3: close "x" is not a number/,
  );
});

Deno.test("yyyyMMdd HH:mm times are wall times in the file's time zone", () => {
  const ny = readCsvBars(HOURLY, "AAPL.csv", { columns: COLS, timeZone: "America/New_York" });
  assert.equal(ny.barSize, "1 hour");
  assert.deepEqual(ny.bars.timestamp.map((t) => new Date(t).toISOString()), [
    "2024-01-02T14:30:00.000Z",
    "2024-01-02T15:30:00.000Z",
    "2024-01-02T16:30:00.000Z",
  ]);
  const utc = readCsvBars(HOURLY, "AAPL.csv", { columns: COLS });
  assert.equal(new Date(utc.bars.timestamp[0]).toISOString(), "2024-01-02T09:30:00.000Z");
});

Deno.test("priceScale multiplies open/high/low/close and leaves volume alone", () => {
  const r = readCsvBars(HOURLY, "AAPL.csv", { columns: COLS, priceScale: 0.0001 });
  assert.deepEqual(r.bars.open, [185, 185.5, 186.8]);
  assert.deepEqual(r.bars.high, [186, 187, 186.9]);
  assert.deepEqual(r.bars.low, [184.5, 185, 186]);
  assert.deepEqual(r.bars.close, [185.5, 186.8, 186.1]);
  assert.deepEqual(r.bars.volume, [1200, 900, 700]);
  // With a header too, and combined with adjustment (the ratio adj/close is scale-free).
  const adj = readCsvBars(
    "Date,Open,High,Low,Close,Adj Close,Volume\n20240102,20000,22000,18000,20000,10000,100\n",
    "X.csv",
    { priceScale: 0.01, adjust: true },
  );
  assert.deepEqual([adj.bars.open[0], adj.bars.high[0], adj.bars.close[0]], [100, 110, 100]);
  assert.equal(adj.bars.volume[0], 200);
  assert.throws(() => readCsvBars(DAILY, "A.csv", { columns: COLS, priceScale: 0 }), RangeError);
});

Deno.test("columns: unknown names, repeats and missing required fields are refused", () => {
  assert.equal(checkCsvColumns(COLS), 6);
  assert.equal(checkCsvColumns("date,time,open,high,low,close,volume,skip"), 8);
  assert.throws(
    () => checkCsvColumns("when,open,high,low,close,volume"),
    /Unknown column name "when"/,
  );
  assert.throws(() => checkCsvColumns("date,open,open,high,low,close,volume"), /named twice/);
  assert.throws(() => checkCsvColumns("date,open,high,low,close"), /no volume column/);
  // date + time in two columns are combined.
  const r = readCsvBars("20240102,09:30,1,2,0.5,1.5,10\n20240102,10:30,1,2,0.5,1.5,10\n", "A.csv", {
    columns: "date,time,open,high,low,close,volume",
  });
  assert.equal(new Date(r.bars.timestamp[1]).toISOString(), "2024-01-02T10:30:00.000Z");
});

async function vendorDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tt_vendor_" });
  await Deno.writeFile(
    join(dir, "hourly.zip"),
    zipSync({
      "AAPL.csv": enc.encode(HOURLY),
      "sub/MSFT_1h.csv": enc.encode(HOURLY),
      "__MACOSX/._AAPL.csv": enc.encode("junk"),
      "readme.pdf": enc.encode("not csv"),
    }),
  );
  return dir;
}

Deno.test("a zip with two CSVs gives two symbols, named archive.zip!inner.csv", async () => {
  const dir = await vendorDir();
  try {
    const { readZipCsv } = await import("@lib/data/_zip.ts");
    const rs = await readZipCsv(join(dir, "hourly.zip"), { columns: COLS, priceScale: 0.0001 });
    assert.deepEqual(rs.map((r) => r.file), ["hourly.zip!AAPL.csv", "hourly.zip!sub/MSFT_1h.csv"]);
    assert.deepEqual(rs.map((r) => r.symbols), [["AAPL"], ["MSFT"]]);
    assert.deepEqual(rs[1].bars.close, [185.5, 186.8, 186.1]);
    // Without --columns the refusal names the inner file.
    await assert.rejects(
      readZipCsv(join(dir, "hourly.zip")),
      /Cannot import hourly\.zip!AAPL\.csv line 1: the file has no header.*--columns/,
    );
    // A file that is not a zip.
    await Deno.writeTextFile(join(dir, "bad.zip"), "not a zip");
    await assert.rejects(readZipCsv(join(dir, "bad.zip")), /bad\.zip: not a readable zip archive/);
    await Deno.writeFile(join(dir, "empty.zip"), zipSync({ "a.pdf": enc.encode("x") }));
    await assert.rejects(readZipCsv(join(dir, "empty.zip")), /no \.csv or \.txt file inside/);
    // readCsvFile is unchanged for plain files.
    await Deno.writeTextFile(join(dir, "IBM.csv"), DAILY);
    assert.equal((await readCsvFile(join(dir, "IBM.csv"), { columns: COLS })).rowsRead, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ingestCsv reads a directory's zips beside its CSV files", async () => {
  const dir = await vendorDir();
  await Deno.writeTextFile(join(dir, "IBM.csv"), DAILY.replaceAll(",1200", ",5"));
  const dataDir = await Deno.makeTempDir({ prefix: "tt_vendor_db_" });
  const store = await openStore({ dataDir: join(dataDir, "pgdata") });
  try {
    const s = await ingestCsv(store, dir, {
      columns: COLS,
      priceScale: 0.0001,
      timeZone: "America/New_York",
      silent: true,
    });
    assert.deepEqual(s.fileSymbols, [
      { file: "IBM.csv", symbols: ["IBM"] },
      { file: "hourly.zip!AAPL.csv", symbols: ["AAPL"] },
      { file: "hourly.zip!sub/MSFT_1h.csv", symbols: ["MSFT"] },
    ]);
    assert.equal(s.rowsWritten, 8);
    const p = await readPrices(store, { instruments: ["MSFT"], barSize: "1 hour" });
    assert.deepEqual(p.close, [185.5, 186.8, 186.1]);
    assert.equal(new Date(p.timestamp[0]).toISOString(), "2024-01-02T14:30:00.000Z");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dataDir, { recursive: true });
  }
});

async function task(args: string[], dataDir: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/ingest.ts", ...args],
    cwd: PROJECT_ROOT,
    env: { TT_DATA_DIR: dataDir, DATABASE_URL: "" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("deno task ingest: --columns/--price-scale read a zip; bad --columns exit 2", async () => {
  const dir = await vendorDir();
  const dataDir = await Deno.makeTempDir({ prefix: "tt_vendor_task_" });
  try {
    const zip = join(dir, "hourly.zip");
    let r = await task(["--help"], dataDir);
    assert.equal(r.code, 0);
    for (const o of ["--columns", "--price-scale"]) {
      assert.ok(r.stdout.includes(o), `--help lacks ${o}`);
    }
    r = await task([
      "--source",
      "csv",
      "--path",
      zip,
      "--columns",
      "when,open,high,low,close,volume",
    ], dataDir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--columns: Unknown column name "when"/);
    r = await task(["--source", "csv", "--path", zip, "--price-scale", "-1"], dataDir);
    assert.equal(r.code, 2, r.stderr);
    r = await task(["--source", "csv", "--path", zip], dataDir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /hourly\.zip!AAPL\.csv line 1: the file has no header.*--columns/);
    r = await task([
      "--source",
      "csv",
      "--path",
      zip,
      "--columns",
      COLS,
      "--price-scale",
      "0.0001",
      "--time-zone",
      "America/New_York",
      "--json",
    ], dataDir);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.deepEqual(s.symbolList, ["AAPL", "MSFT"]);
    assert.equal(s.rowsWritten, 6);
    assert.deepEqual(s.fileSymbols.map((f: { file: string }) => f.file), [
      "hourly.zip!AAPL.csv",
      "hourly.zip!sub/MSFT_1h.csv",
    ]);
    const text = await task(["--source", "csv", "--path", zip, "--columns", COLS], dataDir);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /hourly\.zip!AAPL\.csv → AAPL/);
    // Without --price-scale the 1/10,000-dollar prices are warned about (and the scaled run was not).
    assert.match(
      text.stdout,
      /warning: hourly\.zip!AAPL\.csv: AAPL has 3 closes above 1,000,000 \(up to 1868000\).*--price-scale/,
    );
    assert.deepEqual(s.warnings, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("implausible closes (above 1e6, below 1e-4) are warned per file and symbol", () => {
  const raw = readCsvBars(HOURLY, "AAPL.csv", { columns: COLS });
  assert.deepEqual(implausiblePrices(raw), [
    "AAPL.csv: AAPL has 3 closes above 1,000,000 (up to 1868000); if prices are in fractions of a unit, set --price-scale (e.g. 0.0001)",
  ]);
  assert.deepEqual(
    implausiblePrices(readCsvBars(HOURLY, "AAPL.csv", { columns: COLS, priceScale: 0.0001 })),
    [],
  );
  const tiny = readCsvBars(
    "symbol,date,open,high,low,close,volume\nA,20240102,1,1,1,1,1\nB,20240102,0.00001,0.00001,0.00001,0.00001,1\n",
    "MIX.csv",
  );
  assert.deepEqual(implausiblePrices(tiny), [
    "MIX.csv: B has 1 close below 0.0001 (down to 0.00001); check --price-scale",
  ]);
});
