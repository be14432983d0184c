/**
 * `deno task signals`: reads bars from `tt_prices`, computes the momentum and
 * mean-reversion signals and their combination, and upserts them into
 * `tt_signal_scores` (scores in [-1, 1], rationale in meta_json; idempotent).
 *
 * @module
 */
import { BAR_SELECTION_OPTIONS, WRITE_OPTIONS } from "./_refresh_options.ts";
import { openStore } from "@lib/db/mod.ts";
import { refreshSignals } from "@lib/features/mod.ts";
import { listArg, numberArg, parseCommand, Progress, runTask, UsageError } from "@lib/util/mod.ts";

const SPEC = {
  name: "signals",
  summary:
    "Compute trading signals from tt_prices and upsert them into tt_signal_scores (reruns are idempotent).\n" +
    "momentum = tanh(mom_h / (vol_20·√h)); mean_reversion = −tanh(zscore_20 / 2); combined = their weighted\n" +
    "average (--method weighted) or the weighted average of their cross-sectional ranks mapped to [-1, 1] (rank).\n" +
    "Every score is in [-1, 1], positive = expect a rise; meta_json holds the rule and its inputs.",
  options: {
    ...BAR_SELECTION_OPTIONS,
    horizon: {
      type: "string",
      description: "Momentum horizon in bars",
      choices: ["20", "60", "120"],
      default: "20",
    },
    method: {
      type: "string",
      description: "Combination",
      choices: ["weighted", "rank"],
      default: "weighted",
    },
    weights: {
      type: "string",
      valueName: "M,R",
      description: "Weights of momentum and mean_reversion in the combination",
      default: "1,1",
    },
    ...WRITE_OPTIONS,
  },
  examples: [
    "deno task signals",
    "deno task signals --method rank --weights 2,1 --json",
  ],
} as const;

async function main() {
  const a = parseCommand(SPEC);
  const json = a.json === true;
  const w = (listArg(a.weights) ?? []).map(Number);
  if (w.length !== 2 || !w.every(Number.isFinite)) {
    throw new UsageError(`--weights must be two numbers "M,R"; got "${a.weights}"`);
  }
  const store = await openStore({ url: a["db-url"] as string | undefined });
  try {
    const bar = new Progress("signals", { unit: "rows", silent: json });
    const summary = await refreshSignals(store, {
      instruments: listArg(a.symbols),
      start: a.start as string | undefined,
      end: a.end as string | undefined,
      barSize: a["bar-size"] as string,
      horizon: Number(a.horizon) as 20 | 60 | 120,
      combine: {
        method: a.method as "weighted" | "rank",
        weights: { momentum: w[0], mean_reversion: w[1] },
      },
      rowsPerTransaction: numberArg(a, "batch-rows", { min: 1, integer: true }),
      onCommit: (done, total) => {
        bar.setTotal(total);
        bar.tick(done - bar.done);
      },
    });
    bar.finish();
    if (json) {
      console.log(
        JSON.stringify({ store: store.description, ...summary, signals: summary.features }),
      );
    } else {
      console.log(
        `signals: ${summary.rowsWritten} scores (${
          summary.features.join(", ")
        }) for ${summary.instruments} ` +
          `instruments → tt_signal_scores in ${store.description}\n` +
          `  read ${summary.seconds.read.toFixed(2)} s, compute ${
            summary.seconds.compute.toFixed(2)
          } s, ` +
          `write ${summary.seconds.write.toFixed(2)} s`,
      );
    }
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
