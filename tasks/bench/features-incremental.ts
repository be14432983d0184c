/**
 * `deno task bench features-incremental`: the incremental feature step of issue 12's
 * trading cycle. A scratch in-memory PGlite gets S × D synthetic bars and their full
 * refresh (features + signals, timed as the reference figure); then, R times, one new
 * bar per symbol is upserted and {@linkcode refreshFeaturesIncremental} runs (timed:
 * frontier lookup, reads, compute, upserts). Prints one JSON line with the median and
 * every round, next to the full refresh. Target (issue 12): under 200 ms for 50 symbols.
 *
 * @module
 */
import { numberArg, parseCommand } from "@lib/util/mod.ts";
import { openStore, upsertPrices } from "@lib/db/mod.ts";
import {
  FEATURE_SET_NAMES,
  type FeatureSetName,
  type IncrementalSummary,
  refreshAll,
  refreshFeaturesIncremental,
  syntheticBarColumns,
  syntheticBars,
} from "@lib/features/mod.ts";
import { barDays, median, r1 } from "./_util.ts";

const SPEC = {
  name: "bench features-incremental",
  summary:
    "Issue 12: one new bar for S symbols after a full history of D bars in PGlite; the median time of " +
    "the incremental feature step (refreshFeaturesIncremental) next to the full refresh. One JSON line.",
  options: {
    symbols: { type: "string", description: "Symbols S", default: "50", valueName: "S" },
    days: { type: "string", description: "Bars of history D", default: "252", valueName: "D" },
    rounds: {
      type: "string",
      description: "New bars, one incremental step each (median reported)",
      default: "7",
      valueName: "R",
    },
    seed: { type: "string", description: "Seed of the synthetic data", default: "7" },
    set: {
      type: "string",
      description: "Feature set",
      choices: FEATURE_SET_NAMES,
      default: "all",
    },
    signals: { type: "boolean", description: "Also the signals in each incremental step" },
    history: {
      type: "string",
      description: 'History read: "full" (exact) or a bar count (≥ the derived warm-up)',
      default: "full",
      valueName: "full|N",
    },
  },
  examples: [
    "deno task bench features-incremental",
    "deno task bench features-incremental --symbols 50 --days 2520 --history 130 --signals",
  ],
} as const;

/**
 * Runs the benchmark.
 * @param args Command-line arguments after `features-incremental`.
 */
export async function main(args: string[]): Promise<void> {
  const a = parseCommand(SPEC, args);
  const symbols = numberArg(a, "symbols", { min: 1, integer: true })!;
  const days = numberArg(a, "days", { min: 121, integer: true })!;
  const rounds = numberArg(a, "rounds", { min: 1, integer: true })!;
  const seed = numberArg(a, "seed", { integer: true })!;
  const set = a.set as FeatureSetName;
  const history = a.history === "full"
    ? "full" as const
    : numberArg(a, "history", { min: 1, integer: true })!;
  const signals = a.signals === true;
  // Rows per symbol: D bars of history, then R new ones (day-major within each symbol).
  const all = syntheticBarColumns(syntheticBars(symbols, days + rounds, seed));
  const total = days + rounds;
  const store = await openStore({ dataDir: "memory://" });
  try {
    await upsertPrices(store, "1 day", barDays(all, 0, days, total));
    const full = await refreshAll(store, { set });
    const steps: { ms: number; s: IncrementalSummary }[] = [];
    for (let k = 0; k < rounds; k++) {
      await upsertPrices(store, "1 day", barDays(all, days + k, days + k + 1, total));
      const t0 = performance.now();
      const s = await refreshFeaturesIncremental(store, { set, signals, history });
      const ms = performance.now() - t0;
      if (s.mode !== "incremental" || s.newBars !== symbols) {
        throw new Error(`round ${k}: expected ${symbols} new bars incrementally; ${s.message}`);
      }
      steps.push({ ms, s });
    }
    const ms = steps.map((x) => x.ms);
    const phase = (k: "frontier" | "read" | "compute" | "write") =>
      r1(median(steps.map((x) => x.s.seconds[k] * 1000)));
    console.log(JSON.stringify({
      impl: "nodejs-polars",
      workload: "features_incremental",
      store: store.kind,
      symbols,
      history_days: days,
      feature_set: set,
      signals,
      history,
      rounds,
      incremental_ms_median: r1(median(ms)),
      incremental_ms: ms.map(r1),
      phases_ms_median: {
        frontier: phase("frontier"),
        read: phase("read"),
        compute: phase("compute"),
        write: phase("write"),
      },
      rows_per_step: steps[0].s.rowsWritten + steps[0].s.signalRowsWritten,
      bars_read_per_step: steps[0].s.barsRead,
      target_ms: 200,
      full_refresh_seconds: Math.round(full.seconds.total * 1000) / 1000,
      full_refresh_rows: full.features.rowsWritten + full.signals.rowsWritten,
    }));
  } finally {
    await store.close();
  }
}
