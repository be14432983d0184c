/**
 * `deno task evaluate`: runs a saved policy deterministically over a date range it
 * was not trained on, next to every baseline (equal-weight buy & hold, equal weight
 * rebalanced, inverse volatility, combined-signal tilt, cash) at the evaluator's costs,
 * logs the episode (`kind = 'eval'`) and its equal-weight buy & hold benchmark
 * (`kind = 'benchmark'`), and prints the metrics side by side with the bootstrap
 * interval of the Sharpe difference and the verdict against the best baseline.
 * `--model 3,4,5` evaluates several models (seeds) and reports the distribution.
 *
 * A per-asset model can be evaluated on any universe; an mlp model only on its own
 * instruments; see `lib/pipeline/evaluate.ts`.
 *
 * @module
 */
import { openStore } from "@lib/db/mod.ts";
import { FEE_MODELS, type FeeModel } from "@lib/env/mod.ts";
import {
  BACKEND_NAMES,
  type BackendName,
  evaluateModel,
  evaluateModels,
  type EvaluateModelsResult,
  type EvaluateResult,
  type EvaluationCosts,
  evaluationsSummary,
  evaluationSummary,
  InSampleError,
  SEED_METRICS,
  UniverseMismatchError,
  writeEvaluationReport,
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
    "Runs a saved model deterministically out of sample (default: from the day after its last training range " +
    "to the last date all its instruments have bars) next to every baseline (equal-weight buy & hold, equal " +
    "weight rebalanced with the model's band, inverse volatility, the combined signal as a long-only tilt, " +
    "cash), all through the same simulator at the same costs, and prints the metrics with a block-bootstrap " +
    "confidence interval for each Sharpe difference and the verdict against the best baseline by Sharpe. " +
    "Costs are the evaluator's: default 10 bps commission + 5 bps slippage, whatever the model was trained " +
    "with (a difference is printed as a warning). A per-asset model takes any --symbols; an mlp model only " +
    "its own instruments. --model A,B,C evaluates several models (e.g. seeds) on the same range and costs " +
    "and reports each, the median and the inter-quartile range, with the verdict on the median model.",
  options: {
    model: {
      type: "string",
      valueName: "ID|NAME@vN|DIR[,…]",
      description:
        "Model id(s) (tt_models), NAME@vN or directory; a comma list for several (required)",
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
      description:
        "Instruments (any for a per-asset model, the model's for an mlp; default the model's)",
    },
    "cost-bps": {
      type: "string",
      valueName: "BPS",
      description: "Commission, bps of traded notional (fee model bps)",
      default: "10",
    },
    "slippage-bps": {
      type: "string",
      valueName: "BPS",
      description: "Fixed slippage, bps of traded notional",
      default: "5",
    },
    "fee-model": {
      type: "string",
      valueName: "NAME",
      description: "Commission schedule",
      choices: FEE_MODELS,
      default: "bps",
    },
    "impact-k": {
      type: "string",
      valueName: "K",
      description: "Square-root impact coefficient (0 = off)",
      default: "0",
    },
    report: {
      type: "string",
      valueName: "FILE",
      description:
        "Also write the HTML report of this evaluation (baselines, seeds, costs) to FILE",
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
    "deno task evaluate --model 3,4,5,6,7 --cost-bps 10 --slippage-bps 5 --report data/reports/seeds.html",
  ],
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function pct(x: number | null): string {
  return x === null || !Number.isFinite(x) ? "n/a" : `${(x * 100).toFixed(2)} %`;
}

function num(x: number | null): string {
  return x === null || !Number.isFinite(x) ? "n/a" : x.toFixed(3);
}

const ROWS: [string, (m: EvaluateResult["comparison"]["strategy"]) => string][] = [
  ["total return", (m) => pct(m.totalReturn)],
  ["annualised return", (m) => pct(m.annualizedReturn)],
  ["annualised volatility", (m) => pct(m.annualizedVolatility)],
  ["Sharpe", (m) => num(m.sharpe)],
  ["Sortino", (m) => num(m.sortino)],
  ["max drawdown", (m) => pct(m.maxDrawdown)],
  ["Calmar", (m) => num(m.calmar)],
  ["turnover / year", (m) => pct(m.annualizedTurnover)],
  ["costs paid", (m) => pct(m.costsPaidFraction)],
];

/** A model's warnings (unverified files, not registered in this store) go to stderr. */
function modelWarnings(results: readonly EvaluateResult[]): void {
  for (const w of new Set(results.flatMap((r) => r.model.warnings))) {
    console.error(`WARNING: ${w}`);
  }
}

function costLines(r: EvaluateResult): void {
  console.log(`  evaluation costs: ${describeCostsShort(r.costs.evaluation)}`);
  if (r.costs.warning) console.log(`  WARNING: ${r.costs.warning}`);
  console.log(`  survivorship: ${r.survivorship.statement}`);
}

function describeCostsShort(c: EvaluateResult["costs"]["evaluation"]): string {
  return c.feeModel === "ibkr-fixed"
    ? `IBKR fixed commission + ${c.slippageBps} bps slippage`
    : `${c.costPerTurnBps} bps commission + ${c.slippageBps} bps slippage` +
      (c.impactK > 0 ? `, impact k ${c.impactK}` : "");
}

function printOne(r: EvaluateResult): void {
  console.log(
    `${r.inSample ? "IN-SAMPLE" : "Out-of-sample"} evaluation of ${r.model.manifest.name} ` +
      `v${r.model.manifest.version ?? "?"} on ${
        r.instruments.length <= 8 ? r.instruments.join(", ") : `${r.instruments.length} instruments`
      }, ${r.range.start}..${r.range.end} ` +
      `(${r.trace.rewards.length} steps, ${r.trace.stopReason})`,
  );
  costLines(r);
  const w = 22, col = 13;
  const heads = ["policy", ...r.baselines.baselines.map((b) => shortName(b.key))];
  console.log(`  ${"".padEnd(w)}${heads.map((h) => h.padStart(col)).join("")}`);
  for (const [label, f] of ROWS) {
    console.log(
      `  ${label.padEnd(w)}${f(r.comparison.strategy).padStart(col)}${
        r.baselines.baselines.map((b) => f(b.comparison.benchmark).padStart(col)).join("")
      }`,
    );
  }
  console.log(
    `  ${"Sharpe diff (+ − ~)".padEnd(w)}${"".padStart(col)}${
      r.baselines.baselines.map((b) => {
        const d = b.comparison.sharpeDifference;
        return `${d.estimate.toFixed(2)}${
          b.outcome === "win" ? "+" : b.outcome === "loss" ? "−" : "~"
        }`
          .padStart(col);
      }).join("")
    }`,
  );
  console.log(
    "  (+ / − / ~: the 95 % bootstrap interval of the Sharpe difference is above 0 / below 0 / contains 0)",
  );
  console.log(
    `  PSR (vs 0): ${pct(r.comparison.psrVsZero)}; vs buy & hold: ${r.comparison.verdict}`,
  );
  console.log(`  ${r.baselines.verdict}`);
  console.log(
    `  episodes logged: eval ${r.episodeId}, benchmark ${r.benchmarkEpisodeId}; ` +
      `report: deno task report --episode ${r.episodeId}`,
  );
}

function shortName(key: string): string {
  return ({
    "equal-weight-buy-and-hold": "EW hold",
    "equal-weight-rebalanced": "EW rebal.",
    "inverse-volatility": "inv. vol",
    "signal-tilt": "signal tilt",
    "cash": "cash",
  } as Record<string, string>)[key] ?? key;
}

function printMany(m: EvaluateModelsResult): void {
  const r0 = m.results[0];
  console.log(
    `Evaluation of ${m.results.length} models on ${
      m.instruments.length <= 8 ? m.instruments.join(", ") : `${m.instruments.length} instruments`
    }, ${m.range.start}..${m.range.end}${r0.inSample ? " (IN-SAMPLE)" : " (out of sample)"}`,
  );
  costLines(r0);
  const others = new Set(m.results.flatMap((r) => (r.costs.warning ? [r.costs.warning] : [])));
  if (r0.costs.warning) others.delete(r0.costs.warning);
  for (const w of others) console.log(`  WARNING (other models): ${w}`);
  const col = 13;
  const labels: Record<string, string> = {
    sharpe: "Sharpe",
    totalReturn: "return",
    maxDrawdown: "max DD",
    annualizedTurnover: "turnover/yr",
    costsPaidFraction: "costs paid",
  };
  const fmt = (k: string, v: number | null) => (k === "sharpe" ? num(v) : pct(v));
  console.log(
    `  ${"model (seed)".padEnd(22)}${SEED_METRICS.map((k) => labels[k].padStart(col)).join("")}`,
  );
  m.results.forEach((r, i) => {
    const id = `${r.model.manifest.modelId ?? r.model.dir} (${r.model.manifest.config.seed})${
      i === m.medianIndex ? " *" : ""
    }`;
    console.log(
      `  ${id.padEnd(22)}${
        SEED_METRICS.map((k) => fmt(k, r.comparison.strategy[k]).padStart(col)).join("")
      }`,
    );
  });
  for (const q of ["median", "q1", "q3"] as const) {
    console.log(
      `  ${
        (q === "median" ? "median" : q === "q1" ? "first quartile" : "third quartile").padEnd(22)
      }${SEED_METRICS.map((k) => fmt(k, m.distribution[k][q]).padStart(col)).join("")}`,
    );
  }
  for (const b of m.median.baselines) {
    console.log(
      `  ${b.name.slice(0, 21).padEnd(22)}${
        SEED_METRICS.map((k) => fmt(k, b.comparison.benchmark[k]).padStart(col)).join("")
      }`,
    );
  }
  console.log(`  ${m.verdict}`);
}

async function main() {
  const args = parseCommand(SPEC);
  const models = listArg(args.model);
  if (!models) {
    throw new UsageError("--model ID|DIR is required (see deno task evaluate --help)");
  }
  for (const k of ["start", "end"]) {
    const v = args[k];
    if (typeof v === "string" && !DATE.test(v)) {
      throw new UsageError(`--${k} must be a date YYYY-MM-DD; got "${v}"`);
    }
  }
  const costs: EvaluationCosts = {
    costPerTurnBps: numberArg(args, "cost-bps", { min: 0 }),
    slippageBps: numberArg(args, "slippage-bps", { min: 0 }),
    impactK: numberArg(args, "impact-k", { min: 0 }),
    feeModel: args["fee-model"] as FeeModel,
  };
  const store = await openStore({ url: args["db-url"] as string | undefined });
  try {
    const shared = {
      start: args.start as string | undefined,
      end: args.end as string | undefined,
      symbols: listArg(args.symbols),
      backend: args.backend as BackendName | undefined,
      riskFreeRate: numberArg(args, "risk-free"),
      allowInSample: args["allow-in-sample"] === true,
      costs,
    };
    const usage = (e: unknown) => {
      if (e instanceof UniverseMismatchError || e instanceof InSampleError) {
        throw new UsageError(e.message);
      }
      throw e;
    };
    const report = typeof args.report === "string" ? args.report : undefined;
    if (models.length > 1) {
      const m = await evaluateModels(store, { ...shared, models }).catch(usage);
      modelWarnings(m.results);
      const path = report ? await writeEvaluationReport(m, report) : null;
      if (args.json) console.log(JSON.stringify({ ...evaluationsSummary(m), report: path }));
      else {
        printMany(m);
        if (path) console.log(`  report: ${path}`);
      }
      return;
    }
    const r = await evaluateModel(store, { ...shared, model: models[0] }).catch(usage);
    modelWarnings([r]);
    const path = report ? await writeEvaluationReport(r, report) : null;
    if (args.json) {
      console.log(JSON.stringify({ ...evaluationSummary(r), ...(path ? { report: path } : {}) }));
      return;
    }
    printOne(r);
    if (path) console.log(`  report: ${path}`);
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
