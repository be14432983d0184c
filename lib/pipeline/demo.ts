/**
 * The whole research path on the embedded sample data, as `deno task demo` runs it:
 * ingest → data-quality report → features and signals → PPO training (seeded) →
 * deterministic out-of-sample evaluation against equal-weight buy & hold → HTML report.
 *
 * The sample is the S&P 500 index (SPX, daily 2000-01-03…2020-04-17) and Apple (AAPL,
 * daily 2013-05-13…2018-05-11). The two overlap from 2013-05-13 to 2018-05-11; the demo
 * trains on 2013-05-13…2016-12-30 (3.6 years, warm-up included) and evaluates on
 * 2017-01-03…2018-05-11 (1.4 years the policy never saw).
 *
 * The demo keeps to a store of its own (`<dataDir>/demo/pgdata`, see `openSampleStore`),
 * with its models in `<dataDir>/demo/models` and its report in `<dataDir>/demo/reports`:
 * the sample never lands in a user's series or registry.
 *
 * @module
 */
import { join } from "node:path";
import type { Store } from "../db/store.ts";
import { ingestSample } from "../data/sample.ts";
import { runQualityReport } from "../data/quality.ts";
import { refreshFeatures, refreshSignals } from "../features/refresh.ts";
import { sampleDataDir } from "./sample_store.ts";
import { DEFAULT_SEED } from "../util/rng.ts";
import { evaluateModel, evaluationSummary } from "./evaluate.ts";
import { writeEpisodeReport } from "./episode_report.ts";
import { type TrainHooks, trainModel } from "./train.ts";

/** The demo's fixed choices (see the module documentation). */
export const DEMO_DEFAULTS = Object.freeze({
  symbols: ["AAPL", "SPX"],
  trainStart: "2013-05-13",
  trainEnd: "2016-12-30",
  testStart: "2017-01-03",
  testEnd: "2018-05-11",
  // 20k steps: 5 PPO updates of 1,000 steps × 4 envs (planSteps), about 6 s on the kernel
  // backend; fewer than the 100k training default, to keep the demo short. The settings
  // are the training defaults (per-asset policy, allocation from equal weight, band).
  steps: 20_000,
  seed: DEFAULT_SEED,
});

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /** PPO env steps. Default {@linkcode DEMO_DEFAULTS}.steps. */
  steps?: number;
  /** Seed. Default {@linkcode DEMO_DEFAULTS}.seed. */
  seed?: number;
  /**
   * The demo's data directory: models go to `<dir>/models`, the report to
   * `<dir>/reports/demo.html`. Default `sampleDataDir("demo")` (`<dataDir>/demo`).
   */
  dir?: string;
  /** Report file. Default `<dir>/reports/demo.html`. */
  out?: string;
  /** A line per stage (default: nothing). */
  log?: (line: string) => void;
  /** Training progress hooks. */
  trainHooks?: TrainHooks;
}

/** What {@linkcode runDemo} returns. */
export interface DemoResult {
  reportPath: string;
  modelId: number;
  modelDir: string;
  evalEpisodeId: number;
  /** The evaluation's one-line summary (as `deno task evaluate --json`). */
  evaluation: Record<string, unknown>;
  /** Seconds per stage. */
  seconds: Record<string, number>;
}

/**
 * Runs the demo against an open store: the demo's own, from `openSampleStore("demo")`
 * (it writes the sample's prices, features, models and episodes into it).
 * @param store The store (`deno task demo` opens `<dataDir>/demo/pgdata`).
 * @param options Steps, seed, report path, logging.
 * @returns Where the report and model are, the evaluation and stage timings.
 * @example
 * ```ts
 * const { store, dir } = await openSampleStore("demo");
 * try {
 *   const r = await runDemo(store, { dir, log: console.log });
 *   console.log(r.reportPath);
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export async function runDemo(store: Store, options: DemoOptions = {}): Promise<DemoResult> {
  const log = options.log ?? (() => {});
  const d = DEMO_DEFAULTS;
  const dir = options.dir ?? sampleDataDir("demo");
  const seconds: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    seconds[name] = Math.round((now - t) / 10) / 100;
    t = now;
    return seconds[name];
  };

  log("[1/6] ingest: embedded sample data (S&P 500 index 2000–2020, AAPL 2013–2018)");
  const ing = await ingestSample(store, { silent: true });
  log(`      ${ing.rowsWritten} bars of ${ing.symbols.join(", ")} upserted (${lap("ingest")} s)`);

  log("[2/6] quality: classify every day × symbol");
  const q = await runQualityReport(store, { barSize: "1 day" });
  for (const s of q.summary.symbols) {
    log(
      `      ${s.symbol}: ${s.present} present, ${s.missing} missing, ${s.suspicious} suspicious (coverage ${s.coveragePct} %)`,
    );
  }
  lap("quality");

  log("[3/6] features and signals");
  const f = await refreshFeatures(store, { set: "basic", instruments: [...d.symbols] });
  const sg = await refreshSignals(store, { instruments: [...d.symbols] });
  log(
    `      ${f.rowsWritten} feature values (${f.features.join(", ")}), ` +
      `${sg.rowsWritten} signal scores (${sg.features.join(", ")}) (${lap("features")} s)`,
  );

  const steps = options.steps ?? d.steps;
  const seed = options.seed ?? d.seed;
  log(`[4/6] train PPO: ${steps} steps, seed ${seed}, ${d.trainStart}..${d.trainEnd}`);
  const trained = await trainModel(
    store,
    {
      symbols: [...d.symbols],
      start: d.trainStart,
      end: d.trainEnd,
      steps,
      seed,
      modelsDir: join(dir, "models"),
    },
    options.trainHooks,
  );
  log(
    `      model ${trained.model.manifest.name} v${trained.version} (id ${trained.modelId}) → ${trained.model.dir} (${
      lap("train")
    } s)`,
  );

  log(`[5/6] evaluate out of sample: ${d.testStart}..${d.testEnd} vs equal-weight buy & hold`);
  const ev = await evaluateModel(store, {
    model: String(trained.modelId),
    start: d.testStart,
    end: d.testEnd,
  });
  const c = ev.comparison;
  log(
    `      policy return ${(c.strategy.totalReturn * 100).toFixed(2)} %, Sharpe ${
      c.strategy.sharpe.toFixed(2)
    }; ` +
      `buy & hold ${(c.benchmark.totalReturn * 100).toFixed(2)} %, Sharpe ${
        c.benchmark.sharpe.toFixed(2)
      } (${lap("evaluate")} s)`,
  );
  log(`      ${c.verdict}`);

  log("[6/6] report");
  const { path } = await writeEpisodeReport(
    store,
    { episodeId: ev.episodeId },
    options.out ?? join(dir, "reports", "demo.html"),
  );
  lap("report");
  return {
    reportPath: path,
    modelId: trained.modelId,
    modelDir: trained.model.dir,
    evalEpisodeId: ev.episodeId,
    evaluation: evaluationSummary(ev),
    seconds,
  };
}
