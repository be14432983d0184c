/**
 * `deno task features`: reads bars from `tt_prices`, computes a feature set with
 * Polars and upserts the long form into `tt_features` (idempotent; one transaction per
 * batch). Prints a summary, or one JSON line with `--json`.
 *
 * @module
 */
import { BAR_SELECTION_OPTIONS, WRITE_OPTIONS } from "./_refresh_options.ts";
import { openStore } from "@lib/db/mod.ts";
import {
  FEATURE_SET_NAMES,
  FEATURE_SETS,
  type FeatureSetName,
  refreshFeatures,
  refreshFeaturesIncremental,
  resolveFeatureNames,
} from "@lib/features/mod.ts";
import {
  listArg,
  numberArg,
  parseCommand,
  type ParsedArgs,
  Progress,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC = {
  name: "features",
  summary:
    "Compute features from tt_prices and upsert them into tt_features (long form; reruns are idempotent).\n" +
    "Sets: " + FEATURE_SET_NAMES.map((s) => `${s} = ${FEATURE_SETS[s].join(" ")}`).join("; ") +
    ".\n" +
    "Series features use each instrument's own bars; cross-sectional ones the instruments with a bar that day.\n" +
    "--start limits what is written: earlier bars are still read as history, so values equal a full run's.\n" +
    "--incremental writes only the bars after each symbol's last stored features (bit-for-bit what a full\n" +
    "run writes; nothing new → nothing written). It only looks forward: after correcting older bars, run a full refresh.",
  options: {
    ...BAR_SELECTION_OPTIONS,
    set: { type: "string", description: "Feature set", choices: FEATURE_SET_NAMES, default: "all" },
    names: {
      type: "string",
      valueName: "F,G",
      description: "Extra feature names (added to --set)",
    },
    incremental: {
      type: "boolean",
      description:
        "Only the new bars (after each symbol's last stored features); not with --start/--end",
    },
    history: {
      type: "string",
      valueName: "full|N",
      description:
        "With --incremental: history read, full (exact) or N bars (≥ the derived warm-up; values close)",
      default: "full",
    },
    ...WRITE_OPTIONS,
  },
  examples: [
    "deno task features",
    "deno task features --set training --symbols AAPL,MSFT --json",
    "deno task features --set cross --start 2015-01-01 --end 2020-12-31",
    "deno task features --incremental --json",
  ],
} as const;

async function main() {
  const a = parseCommand(SPEC);
  const json = a.json === true;
  try {
    resolveFeatureNames({ set: a.set as FeatureSetName | undefined, names: listArg(a.names) });
  } catch (e) {
    throw new UsageError(`--names: ${(e as Error).message}`);
  }
  if (a.incremental === true) {
    if (a.start !== undefined || a.end !== undefined) {
      throw new UsageError("--incremental writes the new bars only; it takes no --start or --end");
    }
    await incremental(a, json);
    return;
  }
  const store = await openStore({ url: a["db-url"] as string | undefined });
  try {
    const bar = new Progress("features", { unit: "rows", silent: json });
    const summary = await refreshFeatures(store, {
      instruments: listArg(a.symbols),
      start: a.start as string | undefined,
      end: a.end as string | undefined,
      barSize: a["bar-size"] as string,
      set: a.set as FeatureSetName | undefined,
      names: listArg(a.names),
      rowsPerTransaction: numberArg(a, "batch-rows", { min: 1, integer: true }),
      onCommit: (done, total) => {
        bar.setTotal(total);
        bar.tick(done - bar.done);
      },
    });
    bar.finish();
    const out = { store: store.description, ...summary };
    if (json) console.log(JSON.stringify(out));
    else {
      console.log(
        `features: ${summary.rowsWritten} values of ${summary.features.length} features for ` +
          `${summary.instruments} instruments (${summary.bars} bars) → tt_features in ${store.description}\n` +
          `  read ${summary.seconds.read.toFixed(2)} s, compute ${
            summary.seconds.compute.toFixed(2)
          } s, ` +
          `write ${summary.seconds.write.toFixed(2)} s\n  features: ${summary.features.join(", ")}`,
      );
    }
  } finally {
    await store.close();
  }
}

async function incremental(a: ParsedArgs, json: boolean) {
  const history = a.history === "full"
    ? "full" as const
    : numberArg(a, "history", { min: 1, integer: true })!;
  const store = await openStore({ url: a["db-url"] as string | undefined });
  try {
    const s = await refreshFeaturesIncremental(store, {
      instruments: listArg(a.symbols),
      barSize: a["bar-size"] as string,
      set: a.set as FeatureSetName | undefined,
      names: listArg(a.names),
      history,
      rowsPerTransaction: numberArg(a, "batch-rows", { min: 1, integer: true }),
    });
    if (json) console.log(JSON.stringify({ store: store.description, ...s }));
    else {
      console.log(
        `features --incremental (${s.mode}): ${s.message} → tt_features in ${store.description}\n` +
          `  frontier ${s.seconds.frontier.toFixed(2)} s, read ${s.seconds.read.toFixed(2)} s ` +
          `(${s.barsRead} bars), compute ${s.seconds.compute.toFixed(2)} s, write ${
            s.seconds.write.toFixed(2)
          } s`,
      );
    }
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
