/**
 * GENERATED alternative-data fixtures (synthetic, not market data). No vendor is reachable
 * here, and no public sample with a licence that allows redistribution was found, so the
 * tests write these files at test time; every row carries a `provenance` column saying
 * `generated` (kept in `meta_json`). Nothing here is committed data.
 *
 * @module
 */
import { join } from "node:path";
import { Rng } from "@lib/util/mod.ts";

/** The provenance text every generated row carries. */
export const GENERATED = "generated (synthetic; not market data)";

/**
 * A generated earnings file with canonical columns: per instrument, `quarters` quarterly
 * events, each an `announcement` row known 30 days before its date plus an
 * `eps_surprise_pct` row known at 21:30 UTC (after the New York close) on that date.
 * @param instruments Symbols.
 * @param quarters Events per symbol.
 * @param seed Seed of the surprises.
 * @returns CSV text ending with a newline.
 */
export function generatedEarningsCsv(
  instruments: readonly string[],
  quarters: number,
  seed = 1,
): string {
  const rng = new Rng(seed);
  const lines = ["instrument,event_time,known_at,field,value,provenance"];
  for (const sym of instruments) {
    for (let q = 0; q < quarters; q++) {
      const day = new Date(Date.UTC(2018, 1 + 3 * q, 1));
      const d = day.toISOString().slice(0, 10);
      const ahead = new Date(day.getTime() - 30 * 86_400_000).toISOString().slice(0, 10);
      lines.push(`${sym},${d},${ahead},announcement,,${GENERATED}`);
      lines.push(
        `${sym},${d},${d}T21:30:00Z,eps_surprise_pct,${
          (10 * rng.normal()).toFixed(2)
        },${GENERATED}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * Generated daily sentiment as JSON lines under vendor names (`ticker`, `day`, `published`,
 * `score`), so a `map` is needed; one score per weekday, published 12:00 New York wall time.
 * @param instruments Symbols.
 * @param days Weekdays per symbol.
 * @param seed Seed.
 * @returns JSON-lines text.
 */
export function generatedSentimentJsonl(
  instruments: readonly string[],
  days: number,
  seed = 2,
): string {
  const rng = new Rng(seed);
  const out: string[] = [];
  for (const sym of instruments) {
    let t = Date.UTC(2018, 0, 2);
    for (let i = 0; i < days; i++) {
      while ([0, 6].includes(new Date(t).getUTCDay())) t += 86_400_000;
      const d = new Date(t).toISOString().slice(0, 10);
      out.push(JSON.stringify({
        ticker: sym.toLowerCase(),
        day: d,
        published: `${d} 12:00`,
        score: Number((2 * rng.uniform() - 1).toFixed(3)),
        provenance: GENERATED,
      }));
      t += 86_400_000;
    }
  }
  return out.join("\n") + "\n";
}

/**
 * Writes `text` to `name` in a new temp directory.
 * @param name File name.
 * @param text Content (a string, or bytes for non-UTF-8 cases).
 * @returns The directory and the file's path.
 */
export async function writeAltFile(
  name: string,
  text: string | Uint8Array,
): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tt_alt_" });
  const path = join(dir, name);
  if (typeof text === "string") await Deno.writeTextFile(path, text);
  else await Deno.writeFile(path, text);
  return { dir, path };
}
