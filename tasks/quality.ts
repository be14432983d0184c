/**
 * `deno task quality`: classifies every session day of each symbol's own exchange calendar as
 * present, missing, not yet listed or suspicious, stores it in `tt_data_quality` and prints a
 * summary (one JSON line with `--json`).
 *
 * @module
 */
import { openStore } from "@lib/db/mod.ts";
import { runQualityReport, seriesNotes } from "@lib/data/mod.ts";
import {
  DB_URL_OPTION,
  listArg,
  numberArg,
  parseCommand,
  Progress,
  runTask,
} from "@lib/util/mod.ts";

const SPEC = {
  name: "quality",
  summary:
    "Day-level data-quality report of the bars in the store. Each symbol is judged against its own calendar:\n" +
    "NYSE sessions (holidays, half days) for stocks (its exchange in tt_instruments, NYSE by default), every\n" +
    "day for a series with >= 5% of its bars on weekends (crypto). Per session day: present, missing (market\n" +
    "open, symbol already listed), not_listed (before its first bar), or suspicious (zero volume - not for a\n" +
    "series without any volume such as an index -, inconsistent OHLC, a bar-to-bar move over --threshold that\n" +
    "no split explains, a close repeated on --repeat-bars bars). Intraday bars are classified per New York\n" +
    "day. Results replace earlier ones in tt_data_quality. Progress goes to stderr.",
  options: {
    "bar-size": {
      type: "string",
      valueName: "SIZE",
      description: "Bar size to examine",
      default: "1 day",
    },
    symbols: {
      type: "string",
      valueName: "A,B",
      description: "Only these symbols (default: all of that bar size)",
    },
    threshold: {
      type: "string",
      valueName: "X",
      description: "Suspicious move, as a fraction",
      default: "0.25",
    },
    "repeat-bars": {
      type: "string",
      valueName: "N",
      description: "Equal consecutive closes that are suspicious",
      default: "5",
    },
    worst: { type: "string", valueName: "N", description: "Worst days to list", default: "10" },
    "dry-run": { type: "boolean", description: "Do not store the classes" },
    "db-url": DB_URL_OPTION,
    json: { type: "boolean", description: "Print one JSON line" },
  },
  examples: [
    "deno task quality",
    "deno task quality --bar-size '1 hour' --json",
    "deno task quality --symbols AAPL,MSFT --threshold 0.15",
  ],
} as const;

/** Runs the task with `args` (default `Deno.args`). */
export async function main(args: string[] = Deno.args): Promise<void> {
  const a = parseCommand(SPEC, args);
  const threshold = numberArg(a, "threshold", { min: 0.0001 })!;
  const repeatBars = numberArg(a, "repeat-bars", { min: 2, integer: true })!;
  const worst = numberArg(a, "worst", { min: 0, integer: true })!;
  const started = performance.now();
  const store = await openStore(typeof a["db-url"] === "string" ? { url: a["db-url"] } : {});
  const bar = new Progress("quality", { unit: "symbols", silent: a.json === true });
  try {
    const { barSize, summary, series } = await runQualityReport(store, {
      barSize: String(a["bar-size"]),
      symbols: listArg(a.symbols),
      moveThreshold: threshold,
      repeatBars,
      worst,
      persist: a["dry-run"] !== true,
      onProgress: (stage, done, total) => {
        if (stage === "read") bar.note("reading bars");
        else if (stage === "classify") {
          bar.setTotal(total);
          bar.tick(done - bar.done, "classifying");
        } else bar.note(done === 0 ? `storing ${total} rows` : `stored ${total} rows`);
      },
    });
    bar.finish();
    const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
    if (a.json) {
      console.log(
        JSON.stringify({ barSize, ...summary, series, seconds, store: store.description }),
      );
      return;
    }
    if (summary.symbols.length === 0) {
      console.log(`No ${barSize} bars in ${store.description}. Run \`deno task ingest\` first.`);
      return;
    }
    console.log(
      `Data quality of ${barSize} bars in ${store.description}: ${summary.days} days × ${summary.symbols.length} symbols`,
    );
    const t = summary.totals;
    console.log(
      `  present ${t.present}, suspicious ${t.suspicious}, missing ${t.missing}, not listed ${t.not_listed}`,
    );
    for (const note of seriesNotes(series)) console.log(`  ${note}`);
    console.log("");
    console.log(
      `  ${"symbol".padEnd(12)}${"coverage".padStart(9)}${"present".padStart(9)}${
        "suspic.".padStart(9)
      }${"missing".padStart(9)}${"not list".padStart(9)}`,
    );
    for (const s of summary.symbols) {
      console.log(
        `  ${s.symbol.padEnd(12)}${(s.coveragePct.toFixed(2) + "%").padStart(9)}${
          String(s.present).padStart(9)
        }` +
          `${String(s.suspicious).padStart(9)}${String(s.missing).padStart(9)}${
            String(s.notListed).padStart(9)
          }`,
      );
    }
    if (summary.worstDays.length) {
      console.log("\n  Worst days (missing + suspicious symbols):");
      for (const d of summary.worstDays) {
        console.log(
          `  ${d.day}  missing ${d.missing}, suspicious ${d.suspicious}: ${d.symbols.join(", ")}${
            d.missing + d.suspicious > d.symbols.length ? ", …" : ""
          }`,
        );
      }
    }
    console.log(
      `\n${a["dry-run"] ? "Not stored (--dry-run)" : "Stored in tt_data_quality"}; ${seconds} s.`,
    );
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
