/**
 * `deno task evaluate`: runs a saved policy deterministically over a date range it
 * was not trained on, logs the episode (`kind = 'eval'`) and its equal-weight buy &
 * hold benchmark (`kind = 'benchmark'`), and prints the metrics side by side with the
 * probabilistic Sharpe ratio and the bootstrap interval of the Sharpe difference.
 *
 * A model can only be evaluated on the instruments it was trained on (the
 * observation and action sizes depend on their number and order); see
 * `lib/pipeline/evaluate.ts`.
 *
 * @module
 */
import { openStore } from "@lib/db/mod.ts";
import {
  BACKEND_NAMES,
  type BackendName,
  evaluateModel,
  evaluationSummary,
  InSampleError,
  UniverseMismatchError,
} from "@lib/pipeline/mod.ts";
import {
  type CommandSpec,
  DB_URL_OPTION,
  listArg,
  numberArg,
  parseCommand,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC: CommandSpec = {
  name: "evaluate",
  summary:
    "Runs a saved model deterministically out of sample (default: from the day after its training range " +
    "to the last date all its instruments have bars), logs the episode and an equal-weight buy & hold benchmark " +
    "with the same costs, and prints both sets of metrics with the probabilistic Sharpe ratio and a block-bootstrap " +
    "confidence interval for the Sharpe difference. Only the model's own instruments can be evaluated: its " +
    "observation and action sizes depend on them.",
  options: {
    model: {
      type: "string",
      valueName: "ID|DIR",
      description: "Model id (tt_models) or directory (required)",
    },
    start: {
      type: "string",
      valueName: "DATE",
      description: "First date (default: day after the training range)",
    },
    end: {
      type: "string",
      valueName: "DATE",
      description: "Last date (default: last common date of the instruments)",
    },
    symbols: {
      type: "string",
      valueName: "A,B",
      description: "Instruments (must be the model's; default the model's)",
    },
    backend: {
      type: "string",
      valueName: "NAME",
      description: "Network backend (default: the one it was trained on)",
      choices: BACKEND_NAMES,
    },
    "risk-free": {
      type: "string",
      valueName: "RATE",
      description: "Annual risk-free rate for Sharpe/Sortino/PSR",
      default: "0",
    },
    "allow-in-sample": {
      type: "boolean",
      description: "Allow a range overlapping training (labelled in-sample)",
    },
    "db-url": DB_URL_OPTION,
    json: { type: "boolean", description: "Print one JSON line" },
  },
  examples: [
    "deno task evaluate --model 1",
    "deno task evaluate --model data/models/ppo-portfolio-v1 --start 2017-03-01 --end 2018-05-11 --json",
  ],
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function pct(x: number | null): string {
  return x === null || !Number.isFinite(x) ? "n/a" : `${(x * 100).toFixed(2)} %`;
}

function num(x: number | null): string {
  return x === null || !Number.isFinite(x) ? "n/a" : x.toFixed(3);
}

async function main() {
  const args = parseCommand(SPEC);
  if (typeof args.model !== "string") {
    throw new UsageError("--model ID|DIR is required (see deno task evaluate --help)");
  }
  for (const k of ["start", "end"]) {
    const v = args[k];
    if (typeof v === "string" && !DATE.test(v)) {
      throw new UsageError(`--${k} must be a date YYYY-MM-DD; got "${v}"`);
    }
  }
  const store = await openStore({ url: args["db-url"] as string | undefined });
  try {
    const r = await evaluateModel(store, {
      model: args.model,
      start: args.start as string | undefined,
      end: args.end as string | undefined,
      symbols: listArg(args.symbols),
      backend: args.backend as BackendName | undefined,
      riskFreeRate: numberArg(args, "risk-free"),
      allowInSample: args["allow-in-sample"] === true,
    }).catch((e) => {
      if (e instanceof UniverseMismatchError || e instanceof InSampleError) {
        throw new UsageError(e.message);
      }
      throw e;
    });
    const s = evaluationSummary(r);
    if (args.json) {
      console.log(JSON.stringify(s));
      return;
    }
    const c = r.comparison;
    const rows: [string, (m: typeof c.strategy) => string][] = [
      ["total return", (m) => pct(m.totalReturn)],
      ["annualised return", (m) => pct(m.annualizedReturn)],
      ["annualised volatility", (m) => pct(m.annualizedVolatility)],
      ["Sharpe", (m) => num(m.sharpe)],
      ["Sortino", (m) => num(m.sortino)],
      ["max drawdown", (m) => pct(m.maxDrawdown)],
      ["Calmar", (m) => num(m.calmar)],
      ["turnover / step", (m) => num(m.turnover)],
      ["costs paid", (m) => pct(m.costsPaidFraction)],
    ];
    console.log(
      `${r.inSample ? "IN-SAMPLE" : "Out-of-sample"} evaluation of ${r.model.manifest.name} ` +
        `v${r.model.manifest.version ?? "?"} on ${
          r.instruments.join(", ")
        }, ${r.range.start}..${r.range.end} ` +
        `(${r.trace.rewards.length} steps, ${r.trace.stopReason})`,
    );
    const w = 24;
    console.log(`  ${"".padEnd(w)}${"policy".padStart(14)}${"buy & hold".padStart(14)}`);
    for (const [label, f] of rows) {
      console.log(
        `  ${label.padEnd(w)}${f(c.strategy).padStart(14)}${f(c.benchmark).padStart(14)}`,
      );
    }
    console.log(`  PSR (vs 0): ${pct(c.psrVsZero)}; ${c.verdict}`);
    console.log(
      `  episodes logged: eval ${r.episodeId}, benchmark ${r.benchmarkEpisodeId}; ` +
        `report: deno task report --episode ${r.episodeId}`,
    );
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
