/**
 * A small store for the dashboard tests, written through the repositories: two
 * instruments with 90 daily bars, one model (alias `champion`), a finished training run
 * with metrics, an evaluation episode with its benchmark episode, data-quality rows and a
 * flagged drift run. Deterministic.
 *
 * @module
 */
import {
  completeSweepJob,
  createSweep,
  failSweepJob,
  finishTrainRun,
  logEpisode,
  logTrainMetrics,
  type Queryable,
  recordBarSnapshot,
  recordDriftRun,
  recordFills,
  recordOrders,
  recordRiskDecisions,
  registerModel,
  replaceDataQuality,
  startTradingRun,
  startTrainRun,
  type Store,
  updateTradingRun,
  upsertPrices,
} from "@lib/db/mod.ts";
import { setAlias } from "@lib/models/mod.ts";

/** What {@linkcode seedDashboardStore} wrote. */
export interface DashboardSeed {
  modelId: number;
  runId: number;
  evalEpisodeId: number;
  benchmarkEpisodeId: number;
  tradingRunId: number;
  instruments: string[];
  /** Bar times, epoch ms. */
  days: number[];
}

/** Weekdays from 2021-01-04. */
function weekdays(n: number): number[] {
  const out: number[] = [];
  for (let t = Date.UTC(2021, 0, 4); out.length < n; t += 86_400_000) {
    const d = new Date(t).getUTCDay();
    if (d !== 0 && d !== 6) out.push(t);
  }
  return out;
}

/**
 * Seeds the store.
 * @param store An empty, migrated store.
 * @returns Ids of what was written.
 */
export async function seedDashboardStore(store: Store): Promise<DashboardSeed> {
  const instruments = ["AAA", "BBB"];
  const days = weekdays(90);
  const cols = {
    instrument: [] as string[],
    timestamp: [] as number[],
    open: [] as number[],
    high: [] as number[],
    low: [] as number[],
    close: [] as number[],
    volume: [] as number[],
  };
  instruments.forEach((s, i) => {
    days.forEach((t, k) => {
      const c = 100 * (1 + 0.002 * (i + 1) * k) + 3 * Math.sin(k / (3 + i));
      cols.instrument.push(s);
      cols.timestamp.push(t);
      cols.open.push(c * 0.998);
      cols.high.push(c * 1.01);
      cols.low.push(c * 0.99);
      cols.close.push(c);
      cols.volume.push(1e6);
    });
  });
  await upsertPrices(store, "1 day", cols);
  const closeOf = (i: number, k: number) => cols.close[i * days.length + k];

  const evalDays = days.slice(30);
  const range = {
    instruments,
    barSize: "1 day",
    start: iso(evalDays[0]),
    end: iso(evalDays.at(-1)!),
  };
  const model = await registerModel(store, {
    name: "ppo-dash",
    path: "/nonexistent/ppo-dash",
    config: {
      seed: 7,
      instruments,
      barSize: "1 day",
      dataRange: { start: iso(days[0]), end: iso(days[29]) },
    },
  });
  await setAlias(store, model, "champion", { who: "test", why: "seed" });
  const runId = await startTrainRun(store, {
    seed: 7,
    steps: 3 * 256,
    data: { instruments, barSize: "1 day", start: iso(days[0]), end: iso(days[29]) },
  });
  await logTrainMetrics(store, runId, [0, 1, 2].map((u) => trainRow(u)));
  await finishTrainRun(store, runId, { modelId: model.id });

  const evalId = await logPath(
    store,
    "eval",
    model.id,
    evalDays,
    (k) => [0.6, 0.3 + 0.001 * k],
    {
      seed: 7,
      data: range,
      env: { initialCash: 10_000, executeAt: "open" },
      costs: { costPerTurnBps: 5 },
      comparison: {
        benchmark: "Equal-weight buy & hold (AAA, BBB)",
        psrVsZero: 0.91,
        psrVsBenchmark: 0.42,
        sharpeDifference: { estimate: -0.2, lower: -1.1, upper: 0.7, confidence: 0.95 },
        verdict: "Undecided against equal-weight buy & hold: the interval contains 0",
      },
    },
    closeOf,
    30,
  );
  const benchId = await logPath(
    store,
    "benchmark",
    model.id,
    evalDays,
    () => [0.5, 0.5],
    {
      seed: 7,
      data: range,
      evalEpisodeId: evalId,
    },
    closeOf,
    30,
    "equal_weight_buy_and_hold",
  );

  await replaceDataQuality(
    store,
    "1 day",
    instruments,
    instruments.flatMap((s) =>
      days.map((t, k) => ({
        instrument: s,
        day: iso(t),
        class: s === "BBB" && k === 10 ? "missing" as const : "present" as const,
        detail: null,
      }))
    ),
  );
  await recordDriftRun(store, {
    modelId: model.id,
    kind: "feature",
    windowStart: evalDays[0],
    windowEnd: evalDays.at(-1)!,
    drifted: true,
    summary: { threshold: 0.25 },
    rows: [{
      instrument: "AAA",
      feature: "ret_1",
      psi: 0.4,
      psiP: 0.001,
      ksD: 0.3,
      ksP: 0.002,
      nTrain: 30,
      nRecent: 60,
      drifted: true,
    }],
  });
  const tradingRunId = await startTradingRun(store, {
    modelId: model.id,
    brokerKind: "paper",
    accountId: "PAPER-1",
    mode: "replay",
    settings: { cash: 10_000 },
  });
  for (let k = 0; k < 5; k++) {
    const bar = evalDays[k];
    const nlv = 10_000 + 40 * k - 15 * (k % 2);
    await recordBarSnapshot(store, tradingRunId, bar, {
      netLiquidation: nlv,
      cash: 4_000,
      grossPositionValue: nlv - 4_000,
      buyingPower: 8_000,
      realizedPnl: 0,
      unrealizedPnl: nlv - 10_000,
      dailyPnl: 10,
      pnl: k === 0 ? 0 : 25,
      commission: k === 0 ? 3 : 0,
    }, [{
      symbol: "AAA",
      quantity: 30,
      avgCost: 100,
      marketPrice: 100 + k,
      marketValue: 30 * (100 + k),
      unrealizedPnl: 30 * k,
      realizedPnl: 0,
      pnl: 30,
    }]);
  }
  await recordOrders(store, [
    {
      ref: "r1-AAA-1",
      runId: tradingRunId,
      decisionBar: evalDays[0],
      symbol: "AAA",
      side: "BUY",
      quantity: 30,
      type: "MOO",
      status: "filled",
      filled: 30,
      avgPrice: 100,
    },
    {
      ref: "r1-BBB-1",
      runId: tradingRunId,
      decisionBar: evalDays[4],
      symbol: "BBB",
      side: "BUY",
      quantity: 10,
      type: "MOO",
      status: "submitted",
    },
  ]);
  await appendFill(store, tradingRunId, 0);
  await recordRiskDecisions(store, [{
    runId: tradingRunId,
    bar: evalDays[4],
    ref: "r1-BBB-1",
    symbol: "BBB",
    allowed: true,
    reason: "within limits",
    tradingState: "active",
  }]);
  await updateTradingRun(store, tradingRunId, { lastBar: evalDays[4] });
  return {
    modelId: model.id,
    runId,
    evalEpisodeId: evalId,
    benchmarkEpisodeId: benchId,
    tradingRunId,
    instruments,
    days,
  };
}

/**
 * One training metrics row of update `u` (for tests that append a row to watch the live page).
 * @param u Update index.
 * @returns The row.
 */
export function trainRow(u: number) {
  return {
    updateIndex: u,
    timesteps: 256 * (u + 1),
    policyLoss: -0.01 * (u + 1),
    valueLoss: 0.5 / (u + 1),
    entropy: 1.4 - 0.05 * u,
    approxKl: 0.01,
    meanEpisodeReturn: 0.01 * u,
    stepsPerSecond: 500,
  };
}

/**
 * Appends a training metrics row to a (new, running) training run.
 * @param q The store.
 * @param runId The run.
 * @param u Update index.
 */
export async function appendTrainRow(q: Queryable, runId: number, u: number): Promise<void> {
  await logTrainMetrics(q, runId, [trainRow(u)]);
}

/**
 * Records fill number `k` of the seeded filled order (exec id `e-K`).
 * @param q The store.
 * @param runId The trading run.
 * @param k Fill number.
 */
export async function appendFill(q: Queryable, runId: number, k: number): Promise<void> {
  await recordFills(q, [{
    execId: `e-${k}`,
    runId,
    ref: "r1-AAA-1",
    brokerOrderId: 1,
    symbol: "AAA",
    side: "BUY",
    quantity: k === 0 ? 30 : 1,
    price: 100 + k,
    commission: 1,
    slippage: 0.05,
    time: Date.UTC(2021, 1, 16, 14, 30) + 60_000 * k,
  }]);
}

function iso(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

async function logPath(
  store: Store,
  kind: "eval" | "benchmark",
  modelId: number,
  days: number[],
  weightsAt: (k: number) => number[],
  config: Record<string, unknown>,
  closeOf: (i: number, k: number) => number,
  offset: number,
  strategy = "ppo",
): Promise<number> {
  const steps = days.length - 1;
  const netWorth = [10_000];
  const targetWeights: number[] = [];
  const costs: number[] = [];
  let prevW = [0, 0];
  for (let k = 0; k < steps; k++) {
    const w = weightsAt(k);
    targetWeights.push(...w);
    const turn = Math.abs(w[0] - prevW[0]) + Math.abs(w[1] - prevW[1]);
    const cost = netWorth[k] * turn * 0.0005;
    costs.push(cost);
    const r = w.reduce(
      (s, wi, i) => s + wi * (closeOf(i, offset + k + 1) / closeOf(i, offset + k) - 1),
      0,
    );
    netWorth.push(netWorth[k] * (1 + r) - cost);
    prevW = w;
  }
  return await logEpisode(store, {
    kind,
    modelId,
    stopReason: "end_of_data",
    maxDrawdown: 0.05,
    sharpeRatio: kind === "eval" ? 1.2 : 1.4,
    turnover: 1,
    config,
    instruments: ["AAA", "BBB"],
    decisionTimestamps: days.slice(0, steps),
    actions: targetWeights,
    targetWeights,
    rewardTimestamps: days.slice(1),
    rewards: netWorth.slice(1).map((v, k) => Math.log(v / netWorth[k])),
    costs,
    slippage: costs.map(() => 0),
    stepTurnover: costs.map((c, k) => c / (netWorth[k] * 0.0005)),
    equityTimestamps: days,
    netWorth,
    strategy,
  });
}

/**
 * Seeds a finished sweep for the Sweeps page: 2 settings × 2 seeds, three jobs completed
 * with out-of-sample results (setting 1 better), one failed with its error.
 * @param store A migrated store.
 * @returns The sweep id and its job keys.
 */
export async function seedSweep(store: Store): Promise<{ sweepId: number; keys: string[] }> {
  const settings = [{ lr: 3e-4 }, { lr: 1e-3 }];
  const { id, jobs } = await createSweep(store, {
    name: "lr-dash",
    definition: { grid: { lr: [3e-4, 1e-3] }, seeds: "1..2" },
    configurations: 2,
    mode: "in-process",
    jobs: settings.flatMap((setting, i) =>
      [1, 2].map((seed) => ({
        keySuffix: `${i}/s${seed}/f0`,
        settingIndex: i,
        settingKey: `lr=${setting.lr}`,
        seed,
        fold: 0,
        spec: { setting, seed },
      }))
    ),
  });
  const result = (sharpe: number) => ({
    modelId: 1,
    modelDir: "/m",
    weightsSha256: "x",
    runId: 1,
    evalEpisodeId: 1,
    benchmarkEpisodeId: null,
    train: { start: "2021-01-04", end: "2021-03-31" },
    test: { start: "2021-04-01", end: "2021-05-07" },
    sharpe,
    metrics: { sharpe },
    psr: 0.5,
    vsBuyAndHold: { estimate: sharpe - 0.5, lower: -1, upper: 1 },
    bestBaseline: "equal-weight-buy-and-hold",
    returns: { n: 252, sharpe: sharpe / Math.sqrt(252), skewness: 0, kurtosis: 3 },
    steps: 256,
    seconds: 1,
  });
  await completeSweepJob(store, jobs[0].key, { modelId: null, result: result(0.4) });
  await completeSweepJob(store, jobs[1].key, { modelId: null, result: result(0.6) });
  await completeSweepJob(store, jobs[2].key, { modelId: null, result: result(1.2) });
  await failSweepJob(store, jobs[3].key, { error: "No 1 day bars for NOPE", final: true });
  return { sweepId: id, keys: jobs.map((j) => j.key) };
}
