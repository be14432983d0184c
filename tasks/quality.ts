/**
 * `deno task quality`: classifies every session day of each symbol's own exchange calendar as
 * present, missing, not yet listed or suspicious, stores it in `tt_data_quality` and prints a
 * summary (one JSON line with `--json`).
 *
 * @module
 */
import { openStore } from "@lib/db/mod.ts";
import {
  ALT_STALE_DEFAULTS,
  altQualityLines,
  type InstrumentLineage,
  type LineageSegment,
  PLAUSIBLE_CLOSE,
  type QualityReport,
  runAltQualityReport,
  runQualityReport,
  seriesNotes,
  SPLICE_DEFAULTS,
} from "@lib/data/mod.ts";
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
    "series without any volume such as an index, nor on pre-/post-market bars -, inconsistent OHLC, a close\n" +
    `outside ${PLAUSIBLE_CLOSE.min}..${PLAUSIBLE_CLOSE.max}, a bar-to-bar move over --threshold that no split explains, a close repeated\n` +
    "on --repeat-bars bars, a splice). Lineage: which ingest run (id, source, start) wrote which range of each\n" +
    "symbol; a splice is a level break where two runs meet: |ln(close/previous close)| above both\n" +
    "--splice-floor and --splice-k times the symbol's robust return sigma (1.4826 x MAD). Intraday bars\n" +
    "are classified per New York day. Results replace earlier ones in tt_data_quality. Progress goes to stderr.\n" +
    "Alternative data (tt_alt_data, read only): coverage per instrument, source and field (first/last event,\n" +
    "count), revisions (events with more than one known_at), and stale series: no event for more than\n" +
    "--alt-stale-factor x the source's median gap (or --alt-max-age-days), measured at the source's latest event.",
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
    "splice-k": {
      type: "string",
      valueName: "K",
      description: "Splice: multiple of the robust return sigma",
      default: String(SPLICE_DEFAULTS.k),
    },
    "splice-floor": {
      type: "string",
      valueName: "X",
      description: "Splice: smallest |log return| at a run boundary",
      default: String(SPLICE_DEFAULTS.floor),
    },
    worst: { type: "string", valueName: "N", description: "Worst days to list", default: "10" },
    "alt-stale-factor": {
      type: "string",
      valueName: "K",
      description: "Alternative data: stale after K typical gaps without an event",
      default: String(ALT_STALE_DEFAULTS.staleFactor),
    },
    "alt-max-age-days": {
      type: "string",
      valueName: "DAYS",
      description: "Alternative data: stale after DAYS without an event (replaces the factor rule)",
    },
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
  const splice = {
    k: numberArg(a, "splice-k", { min: 0.0001 })!,
    floor: numberArg(a, "splice-floor", { min: 0.0001 })!,
  };
  const altOptions = {
    staleFactor: numberArg(a, "alt-stale-factor", { min: 0.0001 })!,
    maxAgeDays: numberArg(a, "alt-max-age-days", { min: 0.0001 }),
    instruments: listArg(a.symbols),
  };
  const started = performance.now();
  const store = await openStore(typeof a["db-url"] === "string" ? { url: a["db-url"] } : {});
  const bar = new Progress("quality", { unit: "symbols", silent: a.json === true });
  try {
    const report = await runQualityReport(store, {
      barSize: String(a["bar-size"]),
      symbols: listArg(a.symbols),
      moveThreshold: threshold,
      repeatBars,
      splice,
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
    const alt = await runAltQualityReport(store, altOptions);
    const { barSize, summary, series } = report;
    const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
    if (a.json) {
      console.log(
        JSON.stringify({
          barSize,
          ...summary,
          series,
          runs: report.runs,
          lineage: report.lineage,
          splices: report.splices,
          implausible: report.implausible,
          alt,
          seconds,
          store: store.description,
        }),
      );
      return;
    }
    if (summary.symbols.length === 0) {
      console.log(`No ${barSize} bars in ${store.description}. Run \`deno task ingest\` first.`);
      printAlt(alt);
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
    for (const line of lineageLines(report)) console.log(line);
    printAlt(alt);
    console.log(
      `\n${a["dry-run"] ? "Not stored (--dry-run)" : "Stored in tt_data_quality"}; ${seconds} s.`,
    );
  } finally {
    await store.close();
  }
}

function printAlt(alt: Awaited<ReturnType<typeof runAltQualityReport>>): void {
  console.log("\n  Alternative data (point in time):");
  for (const line of altQualityLines(alt)) console.log(line);
}

function runLabel(s: { runId: number | null; source: string; startedAt: string | null }): string {
  return s.runId === null
    ? `no run recorded (${s.source})`
    : `run ${s.runId} (${s.source}, started ${s.startedAt?.slice(0, 19).replace("T", " ") ?? "?"})`;
}

function segmentText(s: LineageSegment): string {
  return `${s.from} .. ${s.to}  ${String(s.bars).padStart(7)} bars  ${runLabel(s)}`;
}

/** The lineage, splice and plausibility sections of the text report. */
function lineageLines(r: QualityReport): string[] {
  const out: string[] = ["", "  Ingest runs (which run last wrote the bars):"];
  for (const run of r.runs) {
    const symbols = `${run.instruments} symbol${run.instruments === 1 ? "" : "s"}`;
    out.push(`  ${runLabel(run)}: ${run.bars} bars of ${symbols}, ${run.from} .. ${run.to}`);
  }
  const several: InstrumentLineage[] = r.lineage.filter((l) => l.segments.length > 1);
  if (several.length) {
    out.push("", "  Symbols written by more than one run (segments in time order):");
    for (const l of several.slice(0, 20)) {
      out.push(`  ${l.symbol}`);
      for (const s of l.segments.slice(0, 10)) out.push(`    ${segmentText(s)}`);
      if (l.segments.length > 10) out.push(`    … ${l.segments.length - 10} more segments`);
    }
    if (several.length > 20) out.push(`  … ${several.length - 20} more symbols (--json lists all)`);
  } else if (r.lineage.length) out.push("  Every symbol was written by one run: no run boundary.");
  if (r.splices.length) {
    out.push("", `  Spliced series (level break where two runs meet): ${r.splices.length}`);
    for (const f of r.splices.slice(0, 20)) {
      out.push(
        `  ${f.symbol} ${f.day}: ${f.movePct >= 0 ? "+" : ""}${
          f.movePct.toFixed(1)
        }% from ${f.before.close} (${f.before.time}, ${
          runLabel(f.before)
        }) to ${f.after.close} (${f.after.time}, ${runLabel(f.after)})${
          f.split ? `; matches a ${f.split} split` : ""
        }`,
      );
    }
    if (r.splices.length > 20) out.push(`  … ${r.splices.length - 20} more (--json lists all)`);
  } else out.push("  No splice: no level break at any run boundary.");
  if (r.implausible.length) {
    out.push(
      "",
      `  Closes outside the plausible range ${PLAUSIBLE_CLOSE.min} .. ${PLAUSIBLE_CLOSE.max} (check --price-scale):`,
    );
    for (const p of r.implausible) {
      out.push(`  ${p.symbol}: ${p.bars} bars, ${p.min} .. ${p.max}, ${p.from} .. ${p.to}`);
    }
  }
  return out;
}

if (import.meta.main) await runTask(main);
