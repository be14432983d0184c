/**
 * `deno task bench trade`: issue 12's speed targets for the live trading cycle. A scratch
 * in-memory PGlite gets S synthetic symbols × D bars (`lib/features/synthetic.ts`) and a
 * tiny per-asset model trained on a few of them (a per-asset policy trades any universe).
 * Then, R times, one new bar per symbol is upserted and:
 *
 * - **the daily cycle** runs: `tradeOnce` against the paper broker on all S symbols (bars
 *   read, the incremental feature step, the policy, reconciliation, risk seam, orders,
 *   fills, positions, the paper state and the P&L written to the store). Target < 1 s;
 * - **the incremental feature step** alone: `loadCycleMarket` with the cycle's request
 *   (bars read, features over the newest bars only). Target < 200 ms;
 *   `feature_compute_ms` is its compute part (the rest is reading the bars);
 * - for comparison, the features recomputed over the whole stored history in memory
 *   (`loadMarket` over every bar), and once, the full refresh of `tt_features`
 *   (`refreshAll`, the store's feature table, which the env does not read).
 *
 * Prints one JSON line: medians and every round. The first cycle of a process also pays
 * for loading the backends; it is reported apart (`first_cycle_ms`) and the medians are
 * over the later rounds. Nothing is written outside the scratch store and a temporary
 * model directory (removed afterwards).
 *
 * @module
 */
import { numberArg, parseCommand } from "@lib/util/mod.ts";
import { openStore, upsertPrices } from "@lib/db/mod.ts";
import {
  computeFeaturePanel,
  computeFeaturePanelTail,
  FEATURE_SET_NAMES,
  type FeatureSetName,
  featureTailBars,
  refreshAll,
  syntheticBarColumns,
  syntheticBars,
} from "@lib/features/mod.ts";
import { resolveCostOptions } from "@lib/env/mod.ts";
import {
  historyBarsFor,
  isoDate,
  loadCycleMarket,
  loadMarket,
  resolveModel,
  tradeOnce,
  trainModel,
} from "@lib/pipeline/mod.ts";
import { barDays, median, r1 } from "./_util.ts";

const SPEC = {
  name: "bench trade",
  summary:
    "Issue 12: a daily paper-trading cycle for S symbols on PGlite (incremental features, policy, orders, " +
    "fills, store writes; target < 1 s) and its feature step alone (target < 200 ms), next to a " +
    "full-history recompute and a full refresh. Median of R rounds, one JSON line. Scratch store.",
  options: {
    symbols: { type: "string", description: "Symbols S", default: "50", valueName: "S" },
    days: { type: "string", description: "Bars of history D", default: "252", valueName: "D" },
    rounds: {
      type: "string",
      description: "New bars, one cycle each (median of all but the first)",
      default: "10",
      valueName: "R",
    },
    seed: { type: "string", description: "Seed of the synthetic data and the model", default: "7" },
    set: {
      type: "string",
      description: "Feature set the model observes",
      choices: FEATURE_SET_NAMES,
      default: "basic",
    },
    "train-steps": {
      type: "string",
      description: "Env steps of the tiny model trained in the setup",
      default: "512",
      valueName: "N",
    },
    "no-refresh": { type: "boolean", description: "Skip the full tt_features refresh" },
  },
  examples: [
    "deno task bench trade",
    "deno task bench trade --symbols 50 --days 1260 --set technical",
  ],
} as const;

/**
 * Runs the benchmark.
 * @param args Command-line arguments after `trade`.
 * @example
 * ```ts
 * await main(["--symbols", "4", "--days", "60", "--rounds", "2"]);
 * ```
 */
export async function main(args: string[]): Promise<void> {
  const a = parseCommand(SPEC, args);
  const S = numberArg(a, "symbols", { min: 1, integer: true })!;
  const D = numberArg(a, "days", { min: 40, integer: true })!;
  const R = numberArg(a, "rounds", { min: 2, integer: true })!;
  const seed = numberArg(a, "seed", { integer: true })!;
  const steps = numberArg(a, "train-steps", { min: 16, integer: true })!;
  const set = a.set as FeatureSetName;
  const wall0 = performance.now();
  const syn = syntheticBars(S, D + R, seed);
  const all = syntheticBarColumns(syn);
  const total = D + R;
  const dir = await Deno.makeTempDir({ prefix: "tt_bench_trade_" });
  const store = await openStore({ dataDir: "memory://" });
  try {
    await upsertPrices(store, "1 day", barDays(all, 0, D, total));
    const trainSymbols = syn.symbols.slice(0, Math.min(S, 5));
    const t0 = performance.now();
    const m = await trainModel(store, {
      symbols: trainSymbols,
      start: isoDate(syn.days[0]),
      end: isoDate(syn.days[D - 1]),
      steps,
      numEnvs: 2,
      policy: "per-asset",
      featureSet: set,
      seed,
      out: `${dir}/model`,
    });
    const trainSeconds = (performance.now() - t0) / 1000;
    const model = String(m.modelId);
    const cfg = (await resolveModel(store, model)).manifest.config;
    const fullRefresh = a["no-refresh"] === true ? null : await refreshAll(store, { set });

    const cycles: number[] = [], featureStep: number[] = [], fullFeatures: number[] = [];
    const featureCompute: number[] = [], fullCompute: number[] = [];
    const tail = featureTailBars(cfg.features.names, cfg.env.window);
    const orders: number[] = [];
    let equity = NaN;
    let barsRead = 0, fullBars = 0;
    for (let k = 0; k < R; k++) {
      await upsertPrices(store, "1 day", barDays(all, D + k, D + k + 1, total));
      let t = performance.now();
      const r = await tradeOnce(store, { model, symbols: syn.symbols });
      cycles.push(performance.now() - t);
      if (!r.cycle.reconciliation.ok) {
        throw new Error(`round ${k}: ${r.cycle.reconciliation.differences.join("; ")}`);
      }
      orders.push(r.cycle.sent.length);
      equity = r.cycle.equity;
      // The cycle's feature step alone, with the request tradeOnce makes for this run.
      const start = isoDate(r.cycle.state.episodeStart ?? r.cycle.bar);
      t = performance.now();
      const cm = await loadCycleMarket(store, {
        symbols: syn.symbols,
        start,
        end: isoDate(r.cycle.bar),
        barSize: cfg.barSize,
        featureSet: set,
        window: cfg.env.window,
        historyBars: historyBarsFor(cfg.features.names, cfg.env.window) +
          resolveCostOptions({}).impactLookback + 2,
      });
      featureStep.push(performance.now() - t);
      barsRead = cm.prices.timestamps.length;
      t = performance.now();
      computeFeaturePanelTail(cm.prices, { names: cfg.features.names }, tail);
      featureCompute.push(performance.now() - t);
      t = performance.now();
      const fm = await loadMarket(store, { symbols: syn.symbols, featureSet: set });
      fullFeatures.push(performance.now() - t);
      fullBars = fm.prices.timestamps.length;
      t = performance.now();
      computeFeaturePanel(fm.prices, { names: cfg.features.names });
      fullCompute.push(performance.now() - t);
    }
    const later = (xs: number[]) => xs.slice(1);
    console.log(JSON.stringify({
      bench: "trade",
      impl: "deno-ts",
      store: store.kind,
      symbols: S,
      history_days: D,
      feature_set: set,
      rounds: R,
      cycle_ms_median: r1(median(later(cycles))),
      cycle_ms: cycles.map(r1),
      first_cycle_ms: r1(cycles[0]),
      cycle_target_ms: 1000,
      feature_step_ms_median: r1(median(later(featureStep))),
      feature_step_ms: featureStep.map(r1),
      feature_step_target_ms: 200,
      feature_compute_ms_median: r1(median(later(featureCompute))),
      feature_step_bars: tail,
      feature_step_bars_read: barsRead,
      full_history_features_ms_median: r1(median(later(fullFeatures))),
      full_history_compute_ms_median: r1(median(later(fullCompute))),
      full_history_bars: fullBars,
      full_refresh_seconds: fullRefresh
        ? Math.round(fullRefresh.seconds.total * 1000) / 1000
        : null,
      full_refresh_rows: fullRefresh
        ? fullRefresh.features.rowsWritten + fullRefresh.signals.rowsWritten
        : null,
      orders_sent: orders,
      equity: Math.round(equity * 100) / 100,
      model: { policy: "per-asset", trainedOn: trainSymbols.length, steps, trainSeconds },
      wallSeconds: Math.round((performance.now() - wall0) / 100) / 10,
    }));
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}
