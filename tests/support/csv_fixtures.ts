/**
 * CSV fixtures generated at test time (never committed data): valid synthetic daily
 * files for ingest/kill tests, and a temp-dir writer for malformed inputs.
 *
 * @module
 */
import { join } from "node:path";
import { Rng } from "@lib/util/mod.ts";

/** The real data folder (`../shared/data` next to the repo), or undefined when absent. */
export const SHARED_DATA: string | undefined = (() => {
  const dir = new URL("../../../shared/data/", import.meta.url).pathname;
  try {
    Deno.statSync(join(dir, "daily_sp41"));
    return dir;
  } catch {
    return undefined;
  }
})();

/** Printed by tests that need the real data folder. */
export const SHARED_DATA_SKIP_REASON =
  "../shared/data is absent: real-data cases skipped (they run where the folder exists)";

/**
 * A valid daily CSV (`timestamp,open,high,low,close,adjusted_close,volume`) on weekdays.
 * @param days Number of rows.
 * @param seed Random-walk seed.
 * @param start First date (a weekday), ISO.
 * @returns The file text, ending with a newline.
 */
export function syntheticDailyCsv(days: number, seed: number, start = "2010-01-04"): string {
  const rng = new Rng(seed);
  const lines = ["timestamp,open,high,low,close,adjusted_close,volume"];
  let t = Date.parse(`${start}T00:00:00Z`);
  let price = 50 + 50 * rng.uniform();
  for (let i = 0; i < days; i++) {
    while ([0, 6].includes(new Date(t).getUTCDay())) t += 86_400_000;
    const open = price;
    const close = Math.max(1, price * (1 + 0.02 * rng.normal()));
    const high = Math.max(open, close) * (1 + 0.01 * rng.uniform());
    const low = Math.min(open, close) * (1 - 0.01 * rng.uniform());
    const r = (x: number) => x.toFixed(4);
    lines.push(
      `${new Date(t).toISOString().slice(0, 10)},${r(open)},${r(high)},${r(low)},${r(close)},${
        r(close * 0.9)
      },${1000 + rng.integer(0, 100000)}`,
    );
    price = close;
    t += 86_400_000;
  }
  return lines.join("\n") + "\n";
}

/**
 * Writes `symbols.length` synthetic daily files named `<SYM>.csv` into `dir`.
 * @param dir An existing directory.
 * @param symbols Symbols (file names).
 * @param days Rows per file.
 * @returns Total rows written to the files.
 */
export async function writeSyntheticFolder(
  dir: string,
  symbols: string[],
  days: number,
): Promise<number> {
  for (let i = 0; i < symbols.length; i++) {
    await Deno.writeTextFile(join(dir, `${symbols[i]}.csv`), syntheticDailyCsv(days, 1000 + i));
  }
  return symbols.length * days;
}

/**
 * Writes a file into a fresh temp directory.
 * @param name File name.
 * @param content Text or bytes.
 * @returns The file's path and its directory.
 */
export async function tempCsv(
  name: string,
  content: string | Uint8Array,
): Promise<{ path: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tt_csv_" });
  const path = join(dir, name);
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  return { path, dir };
}

/**
 * Writes several files into a fresh temp directory.
 * @param files File name → text or bytes.
 * @returns The directory.
 */
export async function tempCsvFolder(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tt_csv_" });
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  return dir;
}

// ---- The battery of vendor files seen in the wild (issue 11) ----------------------------

/** Header of the battery's daily files. */
export const DAILY_HEADER = "Date,Open,High,Low,Close,Volume";

/** Two valid daily bars, date-only (2020-01-02, 2020-01-03). */
export const DAILY_DATES =
  `${DAILY_HEADER}\n2020-01-02,10,11,9,10.5,100\n2020-01-03,10.5,12,10,11,200\n`;

/** The same two sessions stamped at midnight New York time with an offset (as some exports do). */
export const DAILY_OFFSETS =
  `${DAILY_HEADER}\n2020-01-02 00:00:00-05:00,10,11,9,10.5,100\n2020-01-03 00:00:00-05:00,10.5,12,10,11,200\n`;

/** Yahoo-style one-ulp noise: low is above close by 5e-15 (`low 15.120100975036625 … close 15.12010097503662`). */
export const YAHOO_ULP =
  `${DAILY_HEADER}\n2020-01-02,15.2,15.3,15.120100975036625,15.12010097503662,1000\n2020-01-03,15.1,15.2,15.0,15.1,900\n`;

/** Three rows breaking OHLC rules (two high-below-low, one low-above-close) among good rows. */
export const OHLC_THREE_BAD = `${DAILY_HEADER}\n2020-01-02,10,11,9,10.5,100\n` +
  `2020-01-03,10.3,10.2,10.5,10.4,1\n2020-01-06,10,11,9,10.5,100\n` +
  `2020-01-07,10.3,10.2,10.5,10.4,1\n2020-01-08,10,11,9.5,9,100\n`;

/** A Symbol column whose value holds a NUL byte (PostgreSQL refuses NUL in text). */
export const SYMBOL_WITH_NUL = `${DAILY_HEADER},Symbol\n2020-01-02,10,11,9,10.5,100,AB\u0000C\n`;

/** A Symbol column 3,000 characters long (beyond the primary key's index entry limit). */
export const SYMBOL_3000 = `${DAILY_HEADER},Symbol\n2020-01-02,10,11,9,10.5,100,${
  "X".repeat(3000)
}\n`;

/** Date and time of day in two columns (a common intraday export). */
export const DATE_TIME_COLUMNS =
  "Date,Time,Open,High,Low,Close,Volume\n2021-07-01,09:30,1,1,1,1,1\n2021-07-01,10:30,1,1,1,1,1\n";
