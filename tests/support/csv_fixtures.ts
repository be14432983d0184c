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
