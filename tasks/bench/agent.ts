/**
 * `deno task bench agent`: does a trained agent hold up out of sample? The workload of
 * issue 10: `../shared/data/daily_sp41` imported with `--adjust` into a scratch store,
 * every symbol, trained 2005-01-03…2014-12-31 with the default (sound by design) settings
 * and evaluated 2015-01-02…2021-04-20 at 10 bps commission + 5 bps slippage, five seeds.
 * Prints one JSON line: every seed's metrics, the median, every baseline's metrics (all
 * through the same simulator and costs), the two "must" checks, the "aim" and the wall
 * time. Nothing is written to the user's store or `data/` folder: the store, the models
 * and the episodes live in a temporary directory that is removed afterwards (`--keep`
 * keeps it and prints where it is).
 *
 * The figures are measured, never tuned: the defaults of `deno task train` are used
 * unless a flag says otherwise, and the line says which settings ran.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { listArg, numberArg, parseCommand, PROJECT_ROOT, UsageError } from "@lib/util/mod.ts";
import { openStore } from "@lib/db/mod.ts";
import { ingestCsv } from "@lib/data/mod.ts";
import { DEFAULT_COSTS } from "@lib/env/mod.ts";
import { DEFAULT_TRAIN_OPTIONS, trainSeeds } from "@lib/pipeline/train.ts";
import { evaluateModels, evaluationsSummary } from "@lib/pipeline/evaluate.ts";

const DEFAULT_DATA = resolve(PROJECT_ROOT, "..", "shared", "data", "daily_sp41");

const SPEC = {
  name: "bench agent",
  summary:
    "Issue 10's agent workload: train one model per seed on the 41 large caps (2005–2014, default settings), " +
    "evaluate each 2015-01-02…2021-04-20 at the realistic costs against every baseline, print one JSON line " +
    "with every seed, the median, the baselines, the must checks and the wall time. Uses a scratch store.",
  options: {
    data: {
      type: "string",
      description: "Folder of daily CSV files (imported with --adjust)",
      default: DEFAULT_DATA,
      valueName: "DIR",
    },
    symbols: {
      type: "string",
      description: "Comma-separated symbols (default: every file in the folder)",
      valueName: "LIST",
    },
    seeds: {
      type: "string",
      description: "Number of seeds (1..N) or a list",
      default: "5",
      valueName: "N|A,B",
    },
    steps: {
      type: "string",
      description: "Env steps per seed",
      default: String(DEFAULT_TRAIN_OPTIONS.steps),
      valueName: "N",
    },
    "train-start": { type: "string", description: "First training date", default: "2005-01-03" },
    "train-end": { type: "string", description: "Last training date", default: "2014-12-31" },
    "eval-start": { type: "string", description: "First evaluation date", default: "2015-01-02" },
    "eval-end": { type: "string", description: "Last evaluation date", default: "2021-04-20" },
    keep: { type: "boolean", description: "Keep the scratch store and models; print where" },
  },
  examples: [
    "deno task bench agent",
    "deno task bench agent --seeds 2 --steps 20000 --symbols AAPL,MSFT,JPM,XOM",
  ],
} as const;

/** Seeds from `--seeds`: a count `N` (1..N) or a list `A,B,…`. */
function seedList(v: string): number[] {
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1) throw new UsageError(`--seeds ${v}: at least one seed`);
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const list = (listArg(v) ?? []).map(Number);
  if (list.length === 0 || !list.every(Number.isInteger)) {
    throw new UsageError(`--seeds ${v}: a count or a comma-separated list of integers`);
  }
  return list;
}

const round = (x: number, d = 4) => Number.isFinite(x) ? Number(x.toFixed(d)) : x;

/**
 * Runs the benchmark.
 * @param args Command-line arguments (after `agent`).
 * @example
 * ```ts
 * await main(["--seeds", "2", "--steps", "20000"]);
 * ```
 */
export async function main(args: string[]): Promise<void> {
  const a = parseCommand(SPEC, args);
  const data = String(a.data);
  if (!existsSync(data)) {
    throw new UsageError(
      `${data} does not exist: bench agent reads ../shared/data/daily_sp41 (or --data DIR)`,
    );
  }
  const seeds = seedList(String(a.seeds));
  const steps = numberArg(a, "steps", { integer: true, min: 1 })!;
  const symbols = listArg(a.symbols)?.map((s) => s.toUpperCase());
  const started = performance.now();
  const scratch = await Deno.makeTempDir({ prefix: "tt_bench_agent_" });
  const previousDataDir = Deno.env.get("TT_DATA_DIR");
  // Models, episodes and the store all go to the scratch folder, never the user's data/.
  Deno.env.set("TT_DATA_DIR", scratch);
  const store = await openStore({ dataDir: resolve(scratch, "pgdata"), url: "" });
  try {
    const ingest = await ingestCsv(store, data, { adjust: true, symbols, silent: true });
    const trained = await trainSeeds(store, {
      symbols,
      start: String(a["train-start"]),
      end: String(a["train-end"]),
      steps,
      logEpisodes: "none",
    }, seeds);
    const trainSeconds = (performance.now() - started) / 1000;
    const ev = await evaluateModels(store, {
      models: trained.map((t) => String(t.modelId)),
      start: String(a["eval-start"]),
      end: String(a["eval-end"]),
      costs: { ...DEFAULT_COSTS },
    });
    const summary = evaluationsSummary(ev);
    const medianCi = ev.results[ev.medianIndex].comparison.sharpeDifference;
    const line = {
      bench: "agent",
      data,
      symbols: ingest.symbols,
      bars: ingest.rowsWritten,
      train: { start: String(a["train-start"]), end: String(a["train-end"]), stepsPerSeed: steps },
      evaluation: ev.range,
      costs: {
        commissionBps: DEFAULT_COSTS.costPerTurnBps,
        slippageBps: DEFAULT_COSTS.slippageBps,
      },
      settings: trained[0].model.manifest.config.env,
      policy: trained[0].policy,
      seedList: trained.map((t) => ({ seed: t.seed, modelId: t.modelId })),
      ...summary,
      must: {
        medianSharpeAtLeast05: ev.distribution.sharpe.median >= 0.5,
        noSeedWorseThanBuyAndHold: ev.worseThanBuyAndHold.length === 0,
      },
      aim: {
        medianBeatsBuyAndHold: medianCi.lower > 0,
        medianSharpeVsBuyAndHold: medianCi,
      },
      verdict: ev.verdict,
      trainSeconds: round(trainSeconds, 1),
      wallSeconds: round((performance.now() - started) / 1000, 1),
      ...(a.keep ? { kept: scratch } : {}),
    };
    console.log(JSON.stringify(line));
  } finally {
    await store.close();
    if (previousDataDir === undefined) Deno.env.delete("TT_DATA_DIR");
    else Deno.env.set("TT_DATA_DIR", previousDataDir);
    if (!a.keep) await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}
