/**
 * What each dashboard page shows, as plain JSON built from the store: the endpoints
 * return these and the pages render them (tables as rows, charts as Vega-Lite specs from
 * `lib/viz`). Every function only reads.
 *
 * @module
 */
import type { Queryable } from "../db/store.ts";
import { listEpisodes, readEpisode } from "../db/episodes_repo.ts";
import { readTrainMetrics } from "../db/train_runs_repo.ts";
import { listTrainProgress, type TrainProgress } from "../db/dashboard_repo.ts";
import { readDataQuality } from "../db/quality_repo.ts";
import { listIngestRuns, readBarRanges, readPrices } from "../db/prices_repo.ts";
import { latestDriftRun } from "../db/drift_repo.ts";
import {
  listTradingRuns,
  readAccountCurve,
  readFills,
  readOrders,
  readPositions,
  readRiskDecisions,
  readTradingHalt,
  type StoredAccount,
  type StoredFill,
  type StoredOrder,
  type StoredPosition,
  type StoredRiskDecision,
  type TradingRunRecord,
} from "../db/execution_repo.ts";
import { listModelSummaries } from "../models/describe.ts";
import { costOptionsFrom } from "../env/costs.ts";
import { EXECUTION_TIMES } from "../env/simulator.ts";
import { runBaselines } from "../eval/baselines.ts";
import { riskAttribution } from "../eval/attribution.ts";
import { computeMetrics, inferPeriodsPerYear } from "../eval/metrics.ts";
import { seedDistribution } from "../eval/seeds.ts";
import { type CurveInput, equityChart, rollingSharpeChart } from "../viz/performance.ts";
import { reportCharts } from "../viz/html_report.ts";
import { trainingChart } from "../viz/training.ts";
import { dataQualityChart } from "../viz/panels.ts";
import { weightsChart } from "../viz/weights.ts";
import { attributionChart } from "../viz/attribution_chart.ts";
import type { VegaLiteSpec } from "../viz/theme.ts";
import { episodeReportInput } from "../pipeline/episode_report.ts";
import { loadMarket } from "../pipeline/market.ts";
import { interactive } from "./interactive.ts";

/** A chart on a page: an id, a caption and its Vega-Lite spec. */
export interface PageChart {
  id: string;
  caption: string;
  spec: VegaLiteSpec;
}

/** A visible warning on a page. */
export interface PageAlert {
  level: "warning" | "danger";
  text: string;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : {};
const numOrNull = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

function chart(id: string, caption: string, spec: VegaLiteSpec): PageChart {
  return { id, caption, spec: interactive(spec) };
}

/** One training run line with its progress fraction. */
export interface TrainingLine extends Omit<TrainProgress, "startedAt" | "finishedAt"> {
  startedAt: string;
  finishedAt: string | null;
  /** `timesteps / plannedSteps`, when planned steps are known. */
  progress: number | null;
  running: boolean;
}

function trainingLine(r: TrainProgress): TrainingLine {
  return {
    ...r,
    startedAt: r.startedAt.toISOString(),
    finishedAt: iso(r.finishedAt),
    progress: r.plannedSteps ? Math.min(1, r.timesteps / r.plannedSteps) : null,
    running: r.finishedAt === null,
  };
}

/** One evaluation line of the overview. */
export interface EvaluationLine {
  episodeId: number;
  modelId: number | null;
  createdAt: string;
  range: string | null;
  instruments: string[];
  inSample: boolean;
  sharpe: number | null;
  maxDrawdown: number | null;
  verdict: string | null;
}

/** What the overview page shows. */
export interface OverviewView {
  models: Awaited<ReturnType<typeof listModelSummaries>>;
  evaluations: EvaluationLine[];
  training: TrainingLine[];
  trading: TradingRunLine[];
}

/** One trading run line (overview, live page). */
export interface TradingRunLine {
  id: number;
  modelId: number | null;
  mode: string;
  accountId: string;
  dryRun: boolean;
  status: string;
  tradingState: "active" | "reducing" | "halted";
  stateReason: string | null;
  error: string | null;
  lastBar: string | null;
  startedAt: string;
  finishedAt: string | null;
}

function tradingRunLine(r: TradingRunRecord): TradingRunLine {
  return {
    id: r.id,
    modelId: r.modelId,
    mode: r.mode,
    accountId: r.accountId,
    dryRun: r.dryRun,
    status: r.status,
    tradingState: r.tradingState,
    stateReason: r.stateReason,
    error: r.error,
    lastBar: iso(r.lastBar),
    startedAt: new Date(r.startedAt).toISOString(),
    finishedAt: iso(r.finishedAt),
  };
}

/**
 * The overview: models with aliases, the latest evaluations, training runs (those
 * still running first) and trading runs.
 * @param q The store (read-only).
 * @returns The overview.
 * @example
 * ```ts
 * const o = await overviewView(store); // o.models[0].aliases
 * ```
 */
export async function overviewView(q: Queryable): Promise<OverviewView> {
  const models = (await listModelSummaries(q)).slice(0, 50);
  const evals = await listEpisodes(q, { kind: "eval", limit: 30 });
  const training = (await listTrainProgress(q, 20)).map(trainingLine);
  training.sort((a, b) => Number(b.running) - Number(a.running) || b.id - a.id);
  const trading = (await listTradingRuns(q)).slice(0, 20).map(tradingRunLine);
  return { models, evaluations: evals.map(evaluationLine), training, trading };
}

function evaluationLine(e: Awaited<ReturnType<typeof listEpisodes>>[number]): EvaluationLine {
  const data = obj(e.config.data);
  const comparison = obj(e.config.comparison);
  return {
    episodeId: e.id,
    modelId: e.modelId,
    createdAt: e.createdAt.toISOString(),
    range: typeof data.start === "string" ? `${data.start} → ${String(data.end)}` : null,
    instruments: Array.isArray(data.instruments) ? data.instruments.map(String) : [],
    inSample: e.config.inSample === true,
    sharpe: e.sharpeRatio,
    maxDrawdown: e.maxDrawdown,
    verdict: typeof comparison.verdict === "string" ? comparison.verdict : null,
  };
}

/** What the model / evaluation page shows. */
export interface EvaluationView {
  episodeId: number;
  modelId: number | null;
  title: string;
  subtitle: string;
  /** The verdict against the benchmark with its interval, as the evaluation logged it. */
  verdict: {
    text: string | null;
    benchmark: string | null;
    sharpeDifference:
      | { estimate: number; lower: number; upper: number; confidence?: number }
      | null;
    psrVsZero: number | null;
    psrVsBenchmark: number | null;
    baselines: string | null;
  };
  metrics: Record<string, number | null>;
  baselines: { name: string; sharpe: number | null; totalReturn: number | null; best: boolean }[];
  costs: { training: string; evaluation: string; warning?: string | null } | null;
  /** Other evaluations of the same range and instruments (seeds), with the distribution. */
  seeds: {
    rows: {
      episodeId: number;
      modelId: number | null;
      seed: number | null;
      sharpe: number | null;
    }[];
    sharpe: { median: number; q1: number; q3: number; min: number; max: number };
  } | null;
  charts: PageChart[];
  notes: string[];
}

/**
 * The evaluation page of an episode: equity against every baseline, drawdown, rolling
 * Sharpe, weights, training curves, the verdict with its interval, costs and the seed
 * distribution (other evaluations of the same range).
 * @param q The store (read-only).
 * @param episodeId `tt_episode.id` of an evaluation (any episode works).
 * @returns The page data.
 * @throws {RangeError} When the episode does not exist.
 * @example
 * ```ts
 * const v = await evaluationView(store, 12); // v.verdict.text
 * ```
 */
export async function evaluationView(q: Queryable, episodeId: number): Promise<EvaluationView> {
  const input = await episodeReportInput(q, episodeId);
  const cfg = input.config ?? {};
  const modelId = numOrNull(obj(obj(input.lineage).model).id);
  const notes: string[] = [...(input.notes ?? [])];
  const specs = reportCharts(input);
  const s = input.strategy;
  const strategy = { name: s.name, timestamps: s.timestamps, equity: s.equity };
  const others = await otherBaselines(q, cfg, input.benchmark?.name).catch((e) => {
    notes.push(`Other baselines not drawn: ${(e as Error).message}`);
    return [] as CurveInput[];
  });
  const charts: PageChart[] = [
    chart(
      "equity",
      "Growth of 1 for the strategy and every baseline (drag to zoom on time).",
      equityChart({ strategy, benchmark: input.benchmark, benchmarks: others }),
    ),
    chart("drawdown", "Fall below the running peak.", specs.drawdown),
  ];
  if (specs.rollingSharpe) {
    const ppy = inferPeriodsPerYear(s.timestamps);
    const window = Math.min(63, Math.floor((s.equity.length - 1) / 4));
    charts.push(chart(
      "rolling-sharpe",
      "Rolling annualised Sharpe ratio.",
      rollingSharpeChart({
        strategy,
        benchmark: input.benchmark,
        window,
        periodsPerYear: ppy,
      }),
    ));
  }
  if (specs.weights) charts.push(chart("weights", "Weights held after each step.", specs.weights));
  if (specs.training) {
    charts.push(chart("training", "PPO statistics per update.", specs.training));
  }
  const m = computeMetrics(s.equity, {
    timestamps: s.timestamps,
    weights: s.weights?.rows,
    costs: s.costs,
    slippage: s.slippage,
    traded: s.traded,
  });
  const comparison = obj(cfg.comparison);
  const diff = obj(comparison.sharpeDifference);
  const seeds = await seedRows(q, cfg);
  return {
    episodeId,
    modelId,
    title: input.title ?? `Episode ${episodeId}`,
    subtitle: input.subtitle ?? "",
    verdict: {
      text: typeof comparison.verdict === "string" ? comparison.verdict : null,
      benchmark: typeof comparison.benchmark === "string" ? comparison.benchmark : null,
      sharpeDifference: typeof diff.estimate === "number"
        ? {
          estimate: diff.estimate,
          lower: Number(diff.lower),
          upper: Number(diff.upper),
          confidence: numOrNull(diff.confidence) ?? undefined,
        }
        : null,
      psrVsZero: numOrNull(comparison.psrVsZero),
      psrVsBenchmark: numOrNull(comparison.psrVsBenchmark),
      baselines: typeof cfg.baselineVerdict === "string" ? cfg.baselineVerdict : null,
    },
    metrics: {
      totalReturn: numOrNull(m.totalReturn),
      sharpe: numOrNull(m.sharpe),
      maxDrawdown: numOrNull(m.maxDrawdown),
      annualizedTurnover: numOrNull(m.annualizedTurnover),
      costsPaidFraction: numOrNull(m.costsPaidFraction),
      periods: m.periods,
    },
    baselines: (input.baselines?.rows ?? []).map((b) => ({
      name: b.name,
      sharpe: b.sharpe,
      totalReturn: b.totalReturn,
      best: b.best === true,
    })),
    costs: input.costs ?? null,
    seeds,
    charts,
    notes,
  };
}

/** The baselines other than the logged benchmark, recomputed from stored prices. */
async function otherBaselines(
  q: Queryable,
  cfg: Record<string, unknown>,
  benchmarkName: string | undefined,
): Promise<CurveInput[]> {
  const data = obj(cfg.data);
  const env = obj(cfg.env);
  if (!Array.isArray(data.instruments) || typeof data.start !== "string") return [];
  const instruments = data.instruments.map(String);
  const market = await loadMarket(q, {
    symbols: instruments,
    start: data.start,
    end: String(data.end),
    barSize: typeof data.barSize === "string" ? data.barSize : "1 day",
    featureSet: "basic",
    historyBars: 80,
  });
  const ts = market.prices.timestamps;
  const from = ts[market.startIndex];
  const curves = runBaselines(market.prices, {
    from,
    to: ts[ts.length - 1],
    costs: costOptionsFrom(cfg.costs ?? env, "episode config"),
    executeAt: EXECUTION_TIMES.find((e) => e === env.executeAt),
    initialCash: typeof env.initialCash === "number" ? env.initialCash : undefined,
    rebalancing: {
      band: numOrNull(env.band) ?? undefined,
      rebalanceEvery: numOrNull(env.rebalanceEvery) ?? undefined,
      partialAdjustment: numOrNull(env.partialAdjustment) ?? undefined,
    },
  });
  return curves.slice(1).filter((c) => c.curve.name !== benchmarkName).map((c) => ({
    name: c.curve.name ?? c.key,
    timestamps: c.curve.timestamps,
    equity: c.curve.equity,
  }));
}

async function seedRows(
  q: Queryable,
  config: Record<string, unknown>,
): Promise<EvaluationView["seeds"]> {
  const key = (c: Record<string, unknown>) => {
    const d = obj(c.data);
    return JSON.stringify([d.start, d.end, d.instruments, d.barSize, c.inSample === true]);
  };
  if (!obj(config.data).start) return null;
  const mine = key(config);
  const same = (await listEpisodes(q, { kind: "eval", limit: 500 })).filter((e) =>
    key(e.config) === mine
  );
  // The newest evaluation of each model.
  const byModel = new Map<string, (typeof same)[number]>();
  for (const e of same) if (!byModel.has(String(e.modelId))) byModel.set(String(e.modelId), e);
  const rows = [...byModel.values()].map((e) => ({
    episodeId: e.id,
    modelId: e.modelId,
    seed: numOrNull(e.config.seed),
    sharpe: e.sharpeRatio,
  }));
  if (rows.length < 2) return null;
  const d = seedDistribution(rows.map((r) => r.sharpe ?? NaN));
  return { rows, sharpe: { median: d.median, q1: d.q1, q3: d.q3, min: d.min, max: d.max } };
}

/** What the risk attribution page shows. */
export interface RiskView {
  episodeId: number;
  title: string;
  portfolioVolatility: number;
  totalReturnContribution: number;
  periods: number;
  rows: ReturnType<typeof riskAttribution>["instruments"];
  charts: PageChart[];
  notes: string[];
}

/**
 * Risk attribution of an episode: each instrument's contribution to return (weight ×
 * return per bar, summed) and to volatility (weight × marginal contribution from the
 * covariance of returns), exposure over time, turnover and costs by instrument.
 * Returns are close to close over each held bar, from stored prices.
 * @param q The store (read-only).
 * @param episodeId `tt_episode.id`.
 * @returns The page data.
 * @throws {RangeError} When the episode does not exist or has no weights.
 * @example
 * ```ts
 * const r = await riskView(store, 12); // r.rows[0].volatilityContribution
 * ```
 */
export async function riskView(q: Queryable, episodeId: number): Promise<RiskView> {
  const ep = await readEpisode(q, episodeId);
  if (!ep) throw new RangeError(`No episode with id ${episodeId} in tt_episode`);
  const instruments = [...new Set(ep.weights.label)].sort();
  if (instruments.length === 0) throw new RangeError(`Episode ${episodeId} has no weights`);
  const col = new Map(instruments.map((s, i) => [s, i]));
  const times: number[] = [];
  const weights: Float64Array[] = [];
  for (let k = 0; k < ep.weights.timestamp.length; k++) {
    const t = ep.weights.timestamp[k];
    if (times.at(-1) !== t) {
      times.push(t);
      weights.push(new Float64Array(instruments.length));
    }
    weights[weights.length - 1][col.get(ep.weights.label[k])!] = ep.weights.value[k];
  }
  const barSize = String(obj(ep.episode.config.data).barSize ?? "1 day");
  const bars = await readPrices(q, {
    instruments,
    barSize,
    start: new Date(times[0]),
    end: new Date(Math.max(times.at(-1)!, ep.equity.timestamp.at(-1) ?? 0)),
  });
  const closes = new Map<string, number>();
  const barTimes = new Set<number>();
  for (let k = 0; k < bars.instrument.length; k++) {
    closes.set(`${bars.instrument[k]}\u0000${bars.timestamp[k]}`, bars.close[k]);
    barTimes.add(bars.timestamp[k]);
  }
  const sortedBars = [...barTimes].sort((a, b) => a - b);
  const next = (t: number) => sortedBars.find((b) => b > t);
  const rows: Float64Array[] = [];
  const rets: Float64Array[] = [];
  const keep: number[] = [];
  for (let k = 0; k < times.length; k++) {
    const t1 = next(times[k]);
    if (t1 === undefined) continue;
    const r = new Float64Array(instruments.length);
    instruments.forEach((s, i) => {
      const a = closes.get(`${s}\u0000${times[k]}`), b = closes.get(`${s}\u0000${t1}`);
      r[i] = a && b ? b / a - 1 : 0;
    });
    rows.push(weights[k]);
    rets.push(r);
    keep.push(k);
  }
  const costs = ep.rewards.cost.length === times.length &&
      ep.rewards.cost.every((c) => c !== null)
    ? keep.map((k) => (ep.rewards.cost[k] as number) + ((ep.rewards.slippage[k] as number) ?? 0))
    : undefined;
  const a = riskAttribution({
    instruments,
    weights: rows,
    returns: rets,
    costs,
    periodsPerYear: inferPeriodsPerYear(times),
  });
  const charts = [
    chart(
      "attribution",
      "Contribution of each instrument to return and to volatility, turnover and costs.",
      attributionChart(a.instruments),
    ),
    chart(
      "exposure",
      "Exposure by instrument over time (weights held).",
      weightsChart({ timestamps: times, instruments, rows: weights, title: "Exposure" }),
    ),
  ];
  const notes = [
    "Returns are close to close over each held bar; costs (commission + slippage) are split over " +
    "instruments in proportion to each bar's weight change.",
  ];
  if (!costs) notes.push("This episode has no per-step costs stored: costs are not attributed.");
  return {
    episodeId,
    title: `Risk attribution of episode ${episodeId} (${ep.episode.kind})`,
    portfolioVolatility: a.portfolioVolatility,
    totalReturnContribution: a.totalReturnContribution,
    periods: a.periods,
    rows: a.instruments,
    charts,
    notes,
  };
}

/** What the data page shows. */
export interface DataView {
  barSize: string;
  coverage: {
    instrument: string;
    first: string;
    last: string;
    bars: number;
    present: number;
    missing: number;
    suspicious: number;
    notListed: number;
  }[];
  ingestRuns: { id: number; source: string; status: string; rows: number; startedAt: string }[];
  charts: PageChart[];
  notes: string[];
}

/**
 * The data page: coverage per instrument (first and last bar, bars, day classes), the
 * quality heat map and the latest ingest runs.
 * @param q The store (read-only).
 * @param barSize Default `"1 day"`.
 * @returns The page data.
 * @example
 * ```ts
 * const d = await dataView(store); // d.coverage[0].missing
 * ```
 */
export async function dataView(q: Queryable, barSize = "1 day"): Promise<DataView> {
  const ranges = await readBarRanges(q, barSize);
  const quality = await readDataQuality(q, { barSize });
  const counts = new Map<string, Record<string, number>>();
  for (const r of quality) {
    const c = counts.get(r.instrument) ?? {};
    c[r.class] = (c[r.class] ?? 0) + 1;
    counts.set(r.instrument, c);
  }
  const notes: string[] = [];
  const charts: PageChart[] = [];
  if (quality.length > 0) {
    charts.push(chart(
      "quality",
      "Day classes per instrument (present, missing, not listed, suspicious).",
      dataQualityChart(quality),
    ));
  } else {
    notes.push(`No data-quality rows for ${barSize}: run deno task quality.`);
  }
  const runs = await listIngestRuns(q, { limit: 10 });
  return {
    barSize,
    coverage: ranges.map((r) => {
      const c = counts.get(r.instrument) ?? {};
      return {
        instrument: r.instrument,
        first: day(r.first),
        last: day(r.last),
        bars: r.bars,
        present: c.present ?? 0,
        missing: c.missing ?? 0,
        suspicious: c.suspicious ?? 0,
        notListed: c.not_listed ?? 0,
      };
    }),
    ingestRuns: runs.map((r) => ({
      id: r.id,
      source: r.source,
      status: r.status,
      rows: r.rowsWritten,
      startedAt: r.startedAt.toISOString(),
    })),
    charts,
    notes,
  };
}

/** Drift of one model, as the live page shows it. */
export interface DriftLine {
  modelId: number;
  model: string;
  kind: "feature" | "performance";
  computedAt: string;
  drifted: boolean;
  /** Drifted pairs / all pairs (feature drift). */
  driftedPairs: number;
  pairs: number;
}

/** The paper/IB book of one trading run, as the live page shows it. */
export interface TradingView {
  run: TradingRunLine | null;
  /** Trading runs to choose from (newest first). */
  runs: TradingRunLine[];
  /** The model's kill switch (`deno task trade --halt`). */
  killSwitch: { halted: boolean; reason: string | null } | null;
  account: (StoredAccount & { bar: string }) | null;
  positions: StoredPosition[];
  openOrders: StoredOrder[];
  /** The newest fills first (at most 50). */
  fills: (Omit<StoredFill, "time"> & { time: string })[];
  fillCount: number;
  /** The newest risk decisions first (at most 50). */
  riskDecisions: (Omit<StoredRiskDecision, "bar"> & { bar: string })[];
}

/** What the live monitoring page shows. */
export interface LiveView {
  /** Server time of this snapshot (ISO). */
  at: string;
  trading: TradingView;
  training: TrainingLine[];
  drift: DriftLine[];
  alerts: PageAlert[];
  charts: PageChart[];
}

/**
 * The live page: the book of a trading run (the given one, else the newest running, else
 * the newest: account, P&L, positions, open orders, fills, risk decisions, trading state and
 * kill switch, the account curve), training in progress (with the curves of the newest
 * run), drift of the models with aliases (or the newest), and alerts for a reducing or
 * halted run, a failed run, the kill switch and flagged drift.
 * @param q The store (read-only).
 * @param options `runId`: the trading run to show.
 * @returns The snapshot.
 * @example
 * ```ts
 * const live = await liveView(store); // live.alerts
 * ```
 */
export async function liveView(
  q: Queryable,
  options: { runId?: number } = {},
): Promise<LiveView> {
  const training = (await listTrainProgress(q, 5)).map(trainingLine);
  const charts: PageChart[] = [];
  const alerts: PageAlert[] = [];
  const trading = await tradingView(q, options.runId);
  const run = trading.run;
  if (run) {
    if (run.tradingState !== "active") {
      alerts.push({
        level: run.tradingState === "halted" ? "danger" : "warning",
        text: `Trading run ${run.id} is ${run.tradingState.toUpperCase()}` +
          (run.stateReason ? `: ${run.stateReason}` : ""),
      });
    }
    if (run.status === "failed") {
      alerts.push({ level: "danger", text: `Trading run ${run.id} failed: ${run.error ?? "?"}` });
    }
    if (trading.killSwitch?.halted) {
      alerts.push({
        level: "danger",
        text: `Kill switch ON for model ${run.modelId}` +
          (trading.killSwitch.reason ? `: ${trading.killSwitch.reason}` : ""),
      });
    }
    const curve = await readAccountCurve(q, run.id);
    if (curve.length >= 2) {
      charts.push(chart(
        "account",
        `Net liquidation of trading run ${run.id} (growth of 1).`,
        equityChart({
          strategy: {
            name: `${run.mode} ${run.accountId}`,
            timestamps: curve.map((c) => c.bar),
            equity: curve.map((c) => c.netLiquidation),
          },
          title: "Account",
          height: 160,
        }),
      ));
    }
  }
  const newest = training.find((t) => t.running) ?? training[0];
  if (newest && newest.updates > 0) {
    const rows = await readTrainMetrics(q, newest.id);
    charts.push(chart(
      "training-live",
      `Training run ${newest.id}${newest.running ? " (running)" : ""}: PPO statistics per update.`,
      trainingChart(
        rows.map((r) => ({
          update: r.updateIndex + 1,
          timesteps: r.timesteps,
          policyLoss: r.policyLoss,
          valueLoss: r.valueLoss,
          entropy: r.entropy,
          approxKl: r.approxKl,
          meanEpisodeReturn: r.meanEpisodeReturn,
        })),
        { height: 70 },
      ),
    ));
  }
  const models = await listModelSummaries(q);
  const watched = models.filter((m) => m.aliases.length > 0);
  const drift: DriftLine[] = [];
  for (const m of (watched.length ? watched : models).slice(0, 5)) {
    for (const kind of ["feature", "performance"] as const) {
      const run = await latestDriftRun(q, m.id, kind);
      if (!run) continue;
      drift.push({
        modelId: m.id,
        model: `${m.name}@v${m.version}${m.aliases.length ? ` (${m.aliases.join(", ")})` : ""}`,
        kind,
        computedAt: run.computedAt.toISOString(),
        drifted: run.drifted,
        driftedPairs: run.rows.filter((r) => r.drifted).length,
        pairs: run.rows.length,
      });
    }
  }
  for (const d of drift.filter((d) => d.drifted)) {
    alerts.push({
      level: "warning",
      text: `${d.kind} drift flagged for model ${d.model} (${d.computedAt.slice(0, 16)})` +
        (d.pairs ? `: ${d.driftedPairs} of ${d.pairs} feature × instrument pairs` : ""),
    });
  }
  return { at: new Date().toISOString(), trading, training, drift, alerts, charts };
}

const OPEN_STATUSES = ["planned", "submitted", "partially-filled"] as const;

/**
 * The book of one trading run: the given one, else the newest running, else the newest.
 * @param q The store (read-only).
 * @param runId The run to show.
 * @returns The book (`run` null when there are no trading runs).
 * @throws {RangeError} When `runId` names no trading run.
 * @example
 * ```ts
 * const t = await tradingView(store); // t.positions, t.fills
 * ```
 */
export async function tradingView(q: Queryable, runId?: number): Promise<TradingView> {
  const all = await listTradingRuns(q);
  const rec = runId !== undefined
    ? all.find((r) => r.id === runId)
    : all.find((r) => r.status === "running") ?? all[0];
  if (runId !== undefined && !rec) throw new RangeError(`No trading run with id ${runId}`);
  const runs = all.slice(0, 20).map(tradingRunLine);
  if (!rec) {
    return {
      run: null,
      runs,
      killSwitch: null,
      account: null,
      positions: [],
      openOrders: [],
      fills: [],
      fillCount: 0,
      riskDecisions: [],
    };
  }
  const curve = await readAccountCurve(q, rec.id);
  const last = curve.at(-1);
  const fills = await readFills(q, rec.id);
  const decisions = await readRiskDecisions(q, rec.id);
  const halt = rec.modelId === null ? null : await readTradingHalt(q, rec.modelId);
  return {
    run: tradingRunLine(rec),
    runs,
    killSwitch: halt ? { halted: halt.halted, reason: halt.reason } : null,
    account: last ? { ...last, bar: new Date(last.bar).toISOString() } : null,
    positions: (await readPositions(q, rec.id)).positions,
    openOrders: await readOrders(q, rec.id, { statuses: OPEN_STATUSES }),
    fills: fills.slice(-50).reverse().map((f) => ({ ...f, time: new Date(f.time).toISOString() })),
    fillCount: fills.length,
    riskDecisions: decisions.slice(-50).reverse().map((d) => ({
      ...d,
      bar: new Date(d.bar).toISOString(),
    })),
  };
}
