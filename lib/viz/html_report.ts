/**
 * One self-contained HTML report of an evaluation: the verdict against the
 * benchmark (bootstrap confidence interval and probabilistic Sharpe ratio), a
 * metrics table strategy vs benchmark, inline SVG charts (equity, drawdown, rolling
 * Sharpe, weights, training curves), the configuration and the data lineage
 * (credentials redacted). No scripts, no external files: it opens anywhere.
 *
 * Feeding it from stored episodes: `tt_equity_curve` gives `strategy.timestamps` and
 * `strategy.equity`; `tt_target_weights` pivoted to one row per timestamp gives
 * `strategy.weights`; per-step costs and slippage go to `strategy.costs` /
 * `strategy.slippage`; a benchmark episode or {@linkcode equalWeightBuyAndHold}
 * gives `benchmark`; `tt_train_metrics` rows map to {@linkcode TrainingMetricRecord}.
 *
 * @module
 */
import { resolve } from "node:path";
import { writeFileAtomic } from "../util/atomic.ts";
import { redact, redactDeep } from "../util/redact.ts";
import {
  type BenchmarkComparison,
  compareWithBenchmark,
  type EquityCurve,
} from "../eval/comparison.ts";
import { computeMetrics, inferPeriodsPerYear, type PerformanceMetrics } from "../eval/metrics.ts";
import type { BootstrapOptions } from "../eval/statistics.ts";
import type { FoldAggregate } from "../eval/folds.ts";
import { dataQualityChart, type PanelRow, type QualityRow, signalPanelChart } from "./panels.ts";
import { drawdownChart, equityChart, rollingSharpeChart } from "./performance.ts";
import { renderSvg } from "./render.ts";
import type { VegaLiteSpec } from "./theme.ts";
import { trainingChart, type TrainingMetricRecord } from "./training.ts";
import { weightsChart } from "./weights.ts";

/** One walk-forward fold's out-of-sample result, for the report's fold table. */
export interface ReportFold {
  /** Fold number. */
  index: number;
  /** Training window, epoch ms (first and last bar). */
  train: { startTime: number; endTime: number };
  /** Test window, epoch ms (first and last bar). */
  test: { startTime: number; endTime: number };
  /** Strategy metrics on the test window. */
  strategy: PerformanceMetrics;
  /** Benchmark metrics on the test window. */
  benchmark?: PerformanceMetrics;
}

/** Weights per step for the report: one row per time, instrument columns. */
export interface ReportWeights {
  /** Instruments in column order. */
  instruments: readonly string[];
  /** `rows[t][i]`: weight of instrument i at step t. */
  rows: readonly ArrayLike<number>[];
  /**
   * Time of each row, epoch ms. Default: the last `rows.length` strategy timestamps
   * (so T rows for T + 1 equity points are the weights after each step's trade).
   */
  timestamps?: ArrayLike<number>;
}

/** Headline metrics of one curve (fractions; max drawdown positive), null where undefined. */
export interface ReportMetricRow {
  sharpe: number | null;
  totalReturn: number | null;
  maxDrawdown: number | null;
  annualizedTurnover: number | null;
  costsPaidFraction: number | null;
}

/** One baseline in the report's baselines table. */
export interface ReportBaselineRow extends ReportMetricRow {
  name: string;
  /** How it trades. */
  description?: string;
  /** Sharpe(strategy) − Sharpe(baseline) with its bootstrap interval. */
  sharpeDifference?: { estimate: number; lower: number; upper: number };
  /** The highest Sharpe among the baselines. */
  best?: boolean;
}

/** One model (seed) in the report's seed table. */
export interface ReportSeedRow extends ReportMetricRow {
  /** E.g. `"model 4 (seed 2)"`. */
  label: string;
  /** Against equal-weight buy & hold. */
  sharpeDifference?: { estimate: number; lower: number; upper: number };
  /** The median model (the one the verdict is about). */
  median?: boolean;
}

/** What {@linkcode renderReportHtml} needs. Only `strategy` is required. */
export interface ReportInput {
  /** Page title. Default "Evaluation report". */
  title?: string;
  /** Line under the title, e.g. "PPO model 12 on daily_sp41, 2019-01-02 → 2020-12-31". */
  subtitle?: string;
  /** Time printed as "generated"; pass a fixed value for a byte-reproducible file. Default now. */
  generatedAt?: Date | string;
  /** The evaluated strategy: its equity curve and, when known, weights and per-step costs. */
  strategy: {
    /** Display name. Default "Strategy". */
    name?: string;
    /** Bar times, epoch ms, one per equity point. */
    timestamps: ArrayLike<number>;
    /** Net worth at each bar, first entry the starting capital. */
    equity: ArrayLike<number>;
    /** Weights per step. */
    weights?: ReportWeights;
    /** Commissions/fees paid per step, in currency. */
    costs?: ArrayLike<number>;
    /** Slippage paid per step, in currency. */
    slippage?: ArrayLike<number>;
    /** Fraction of net worth traded per step; gives exact turnover (else derived from weights). */
    traded?: ArrayLike<number>;
  };
  /** Benchmark curve (e.g. from {@linkcode equalWeightBuyAndHold}); read at the strategy's bar times. */
  benchmark?: EquityCurve;
  /** Precomputed comparison; computed from strategy and benchmark when absent. */
  comparison?: BenchmarkComparison;
  /** Precomputed strategy metrics, used when there is no benchmark; computed when absent. */
  metrics?: PerformanceMetrics;
  /** Periods per year; default inferred from the strategy's timestamps. */
  periodsPerYear?: number;
  /** Annual risk-free rate. Default 0. */
  riskFreeRate?: number;
  /** Bootstrap settings for the Sharpe-difference interval (seed default 0). */
  bootstrap?: Partial<Omit<BootstrapOptions, "periodsPerYear" | "riskFreeRate">>;
  /** Rolling Sharpe window in bars. Default 63, or a quarter of the bars when shorter. */
  rollingWindow?: number;
  /** PPO training statistics per update, for the training-curves chart. */
  training?: readonly TrainingMetricRecord[];
  /** Walk-forward folds (and their aggregate), shown as a table. */
  walkForward?: { folds: readonly ReportFold[]; aggregate?: FoldAggregate };
  /** Data-quality classes per instrument and day (`tt_data_quality`), shown as a heat map. */
  dataQuality?: readonly QualityRow[];
  /** Signal scores (long rows), shown as heat maps. */
  signals?: readonly PanelRow[];
  /** Run configuration (env, agent, costs, seeds); redacted before printing. */
  config?: Record<string, unknown>;
  /** Data lineage (source, symbols, date ranges, ingest runs, model id, commit); redacted before printing. */
  lineage?: Record<string, unknown>;
  /** Free-text remarks shown under the verdict. */
  notes?: readonly string[];
  /** Every baseline the strategy was compared with, and the verdict against the best. */
  baselines?: { rows: readonly ReportBaselineRow[]; verdict?: string };
  /** Several models (seeds) evaluated on the same range: each, the median and quartiles. */
  seeds?: {
    rows: readonly ReportSeedRow[];
    /** Median, first and third quartile of each metric. */
    distribution: Record<keyof ReportMetricRow, { median: number; q1: number; q3: number }>;
    verdict: string;
  };
  /** Training and evaluation costs, in words, and the warning when they differ. */
  costs?: { training: string; evaluation: string; warning?: string | null };
  /** When the universe was fixed relative to the evaluated range (survivorship). */
  survivorship?: string;
}

/** The chart specs of a report, see {@linkcode reportCharts}. */
export interface ReportCharts {
  /** Equity vs benchmark. */
  equity: VegaLiteSpec;
  /** Underwater chart. */
  drawdown: VegaLiteSpec;
  /** Rolling Sharpe, when there are enough bars. */
  rollingSharpe?: VegaLiteSpec;
  /** Weights over time, when weights were given. */
  weights?: VegaLiteSpec;
  /** Training curves, when training records were given. */
  training?: VegaLiteSpec;
  /** Data-quality heat map, when quality rows were given. */
  dataQuality?: VegaLiteSpec;
  /** Signal heat maps, when signal rows were given. */
  signals?: VegaLiteSpec;
}

/**
 * The Vega-Lite specs the report draws, for notebooks that want the same charts.
 * @param input The report input.
 * @returns The specs, optional ones only when their data is present.
 * @example
 * ```ts
 * const { equity } = reportCharts({ strategy: { timestamps, equity: netWorth } });
 * ```
 */
export function reportCharts(input: ReportInput): ReportCharts {
  const s = input.strategy;
  const strategy = { name: s.name ?? "Strategy", timestamps: s.timestamps, equity: s.equity };
  const benchmark = input.benchmark
    ? {
      name: input.benchmark.name ?? "Benchmark",
      timestamps: input.benchmark.timestamps,
      equity: input.benchmark.equity,
    }
    : undefined;
  const base = { strategy, benchmark };
  const charts: ReportCharts = { equity: equityChart(base), drawdown: drawdownChart(base) };
  const bars = s.equity.length - 1;
  const window = input.rollingWindow ?? Math.min(63, Math.floor(bars / 4));
  if (window >= 5 && bars > window) {
    charts.rollingSharpe = rollingSharpeChart({
      ...base,
      window,
      periodsPerYear: input.periodsPerYear ?? inferPeriodsPerYear(s.timestamps),
      riskFreeRate: input.riskFreeRate,
    });
  }
  if (s.weights && s.weights.rows.length > 0) {
    const rows = s.weights.rows;
    if (!s.weights.timestamps && rows.length > s.timestamps.length) {
      throw new RangeError(
        `Got ${rows.length} weight rows for ${s.timestamps.length} equity points; pass weights.timestamps`,
      );
    }
    const ts = s.weights.timestamps ??
      Array.from(s.timestamps).slice(s.timestamps.length - rows.length);
    charts.weights = weightsChart({ timestamps: ts, instruments: s.weights.instruments, rows });
  }
  if (input.training && input.training.length > 0) charts.training = trainingChart(input.training);
  if (input.dataQuality && input.dataQuality.length > 0) {
    charts.dataQuality = dataQualityChart(input.dataQuality);
  }
  if (input.signals && input.signals.length > 0) charts.signals = signalPanelChart(input.signals);
  return charts;
}

/**
 * Renders the report as one self-contained HTML document.
 * @param input Equity curve (+ weights, costs), benchmark, training records, config, lineage.
 * @returns The HTML text (inline SVG, inline CSS, no scripts).
 * @throws {RangeError} When the strategy curve has fewer than 4 points (2 without a benchmark),
 *   or there are more weight rows than equity points and no `weights.timestamps`.
 * @example
 * ```ts
 * const html = await renderReportHtml({
 *   title: "PPO on daily_sp41 (out of sample)",
 *   strategy: { name: "PPO", timestamps, equity: netWorth, weights: { instruments, rows }, costs },
 *   benchmark: equalWeightBuyAndHold(panel, { costs: env.costs, from: timestamps[0], to: timestamps.at(-1) }),
 *   training: trainMetrics,
 *   config, lineage,
 * });
 * await Deno.writeTextFile("data/reports/eval.html", html);
 * ```
 */
export async function renderReportHtml(input: ReportInput): Promise<string> {
  const s = input.strategy;
  const name = s.name ?? "Strategy";
  const ppy = input.periodsPerYear ?? inferPeriodsPerYear(s.timestamps);
  const comparison = input.comparison ??
    (input.benchmark
      ? compareWithBenchmark(
        {
          name,
          timestamps: s.timestamps,
          equity: s.equity,
          weights: s.weights?.rows,
          costs: s.costs,
          slippage: s.slippage,
          traded: s.traded,
        },
        { ...input.benchmark, name: input.benchmark.name ?? "Benchmark" },
        { ...input.bootstrap, periodsPerYear: ppy, riskFreeRate: input.riskFreeRate },
      )
      : undefined);
  const metrics = comparison?.strategy ?? input.metrics ?? computeMetrics(s.equity, {
    timestamps: s.timestamps,
    periodsPerYear: ppy,
    riskFreeRate: input.riskFreeRate,
    weights: s.weights?.rows,
    costs: s.costs,
    slippage: s.slippage,
    traded: s.traded,
  });
  const specs = reportCharts(input);
  const svg = async (spec: VegaLiteSpec | undefined) => (spec ? await renderSvg(spec) : undefined);
  const charts = {
    equity: await svg(specs.equity),
    drawdown: await svg(specs.drawdown),
    rollingSharpe: await svg(specs.rollingSharpe),
    weights: await svg(specs.weights),
    training: await svg(specs.training),
    dataQuality: await svg(specs.dataQuality),
    signals: await svg(specs.signals),
  };
  const title = redact(input.title ?? "Evaluation report");
  const generated = input.generatedAt === undefined
    ? new Date().toISOString()
    : typeof input.generatedAt === "string"
    ? input.generatedAt
    : input.generatedAt.toISOString();
  const first = s.timestamps[0], last = s.timestamps[s.timestamps.length - 1];
  const period = `${day(first)} → ${day(last)} · ${metrics.periods} bars · ${
    fmtNum(ppy, 0)
  } bars/year`;

  const parts: string[] = [];
  parts.push(`<header><h1>${esc(title)}</h1>`);
  if (input.subtitle) parts.push(`<p class="subtitle">${esc(redact(input.subtitle))}</p>`);
  parts.push(`<p class="meta">${esc(period)} · generated ${esc(generated)}</p></header>`);

  parts.push(verdictSection(comparison, metrics, name, input.notes));
  parts.push(section("Metrics", metricsTable(metrics, comparison, name)));
  if (input.baselines && input.baselines.rows.length > 0) {
    parts.push(section("Baselines", baselinesTable(input.baselines, metrics, name)));
  }
  if (input.seeds && input.seeds.rows.length > 0) {
    parts.push(section("Seeds", seedsTable(input.seeds)));
  }
  if (input.costs || input.survivorship) {
    parts.push(section("Costs and universe", costsAndUniverse(input.costs, input.survivorship)));
  }
  if (comparison) parts.push(section("Benchmark comparison", comparisonTable(comparison)));
  const figures = [
    figure(
      charts.equity,
      `Growth of 1 for ${name}${comparison ? ` and ${comparison.benchmarkName}` : ""}.`,
    ),
    figure(charts.drawdown, "Fall below the running peak."),
    figure(charts.rollingSharpe, "Rolling annualised Sharpe ratio over a trailing window."),
    figure(charts.weights, "Weights held after each step; cash is what is not invested."),
  ].join("");
  parts.push(section("Charts", figures));
  if (charts.training) {
    parts.push(section("Training", figure(charts.training, "PPO statistics per update.")));
  }
  if (input.walkForward && input.walkForward.folds.length > 0) {
    parts.push(
      section(
        "Walk-forward folds",
        foldsTable(input.walkForward.folds, input.walkForward.aggregate),
      ),
    );
  }
  if (charts.signals) {
    parts.push(
      section("Signals", figure(charts.signals, "Signal scores per instrument over time.")),
    );
  }
  if (charts.dataQuality) {
    parts.push(
      section(
        "Data quality",
        figure(
          charts.dataQuality,
          "Each instrument's days: present, missing, not listed, suspicious.",
        ),
      ),
    );
  }
  if (input.config) parts.push(section("Configuration", kvTable(redactDeep(input.config))));
  if (input.lineage) parts.push(section("Data lineage", kvTable(redactDeep(input.lineage))));
  parts.push(section("Method", methodNotes(metrics, comparison)));

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tensortrade-mvp lib/viz/html_report.ts">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${parts.join("\n")}
<footer>tensortrade-mvp · self-contained report · no scripts, no external resources</footer>
</main>
</body>
</html>
`;
}

/**
 * Renders the report and writes it, creating the folder. The write is all or nothing
 * (a temporary file in the same folder, then renamed): a failed render or write, a
 * kill or a full disk leaves the previous report at `path` as it was.
 * @param path Where to write, e.g. `data/reports/episode-12.html`.
 * @param input The report input.
 * @returns The absolute path written.
 * @example
 * ```ts
 * console.log(`Report: ${await writeReportHtml(join(dataDir(), "reports", "eval.html"), input)}`);
 * ```
 */
export async function writeReportHtml(path: string, input: ReportInput): Promise<string> {
  const html = await renderReportHtml(input);
  return await writeFileAtomic(resolve(path), html);
}

function verdictSection(
  c: BenchmarkComparison | undefined,
  m: PerformanceMetrics,
  name: string,
  notes: readonly string[] | undefined,
): string {
  let cls = "neutral", head: string, body: string;
  if (c) {
    const d = c.sharpeDifference;
    cls = d.lower > 0 ? "win" : d.upper < 0 ? "loss" : "neutral";
    head = d.lower > 0
      ? `${name} beats ${c.benchmarkName}, distinguishably from luck`
      : d.upper < 0
      ? `${c.benchmarkName} beats ${name}, distinguishably from luck`
      : `Not distinguishable from luck at ${pctLabel(d.confidence)}`;
    body = c.verdict;
  } else {
    head = "No benchmark given";
    body = `${name}: Sharpe ratio ${fmtNum(m.sharpe)}, total return ${
      fmtPct(m.totalReturn)
    }, max drawdown ${
      fmtPct(m.maxDrawdown)
    }. Without a benchmark the report cannot say whether this beats a passive alternative.`;
  }
  const noteList = notes && notes.length > 0
    ? `<ul class="notes">${notes.map((n) => `<li>${esc(redact(n))}</li>`).join("")}</ul>`
    : "";
  return `<section class="verdict ${cls}"><h2>${esc(head)}</h2><p>${
    esc(body)
  }</p>${noteList}</section>`;
}

type Fmt = (v: number | null) => string;

function metricsTable(
  m: PerformanceMetrics,
  c: BenchmarkComparison | undefined,
  name: string,
): string {
  const b = c?.benchmark;
  const rows: [string, keyof PerformanceMetrics, Fmt, string][] = [
    ["Total return", "totalReturn", fmtPct, ""],
    ["Annualised return", "annualizedReturn", fmtPct, "compound annual growth rate"],
    ["Annualised volatility", "annualizedVolatility", fmtPct, ""],
    ["Sharpe ratio", "sharpe", fmtNum, "annualised, excess of the risk-free rate"],
    ["Sortino ratio", "sortino", fmtNum, "annualised, downside deviation"],
    ["Max drawdown", "maxDrawdown", (v) => v === null ? "—" : fmtPct(-v), "peak to trough"],
    [
      "Longest drawdown",
      "maxDrawdownDurationPeriods",
      (v) => fmtNum(v, 0) + " bars",
      "peak to recovery",
    ],
    ["Longest drawdown (days)", "maxDrawdownDurationDays", (v) => fmtNum(v, 0), "calendar days"],
    ["Calmar ratio", "calmar", fmtNum, "annualised return / max drawdown"],
    ["Hit rate", "hitRate", fmtPct, "winning bars among bars that moved"],
    ["Turnover (annualised)", "annualizedTurnover", fmtPct, "Σ|Δw| per bar × bars per year"],
    ["Exposure", "exposure", fmtPct, "mean Σ|w|"],
    ["Time in market", "timeInMarket", fmtPct, ""],
    ["Costs paid", "costsPaid", (v) => fmtNum(v), "commissions, currency"],
    ["Slippage paid", "slippagePaid", (v) => fmtNum(v), "currency"],
    ["Costs + slippage", "costsPaidFraction", fmtPct, "of starting capital"],
    ["Skewness", "skewness", fmtNum, "of bar returns"],
    ["Excess kurtosis", "excessKurtosis", fmtNum, "of bar returns (normal = 0)"],
    ["Start value", "startValue", (v) => fmtNum(v), ""],
    ["End value", "endValue", (v) => fmtNum(v), ""],
  ];
  const head = `<tr><th>Metric</th><th class="num">${esc(name)}</th>${
    b ? `<th class="num">${esc(c!.benchmarkName)}</th>` : ""
  }<th class="note">Definition</th></tr>`;
  const body = rows.map(([label, key, f, note]) =>
    `<tr><td>${esc(label)}</td><td class="num">${esc(f(m[key] as number | null))}</td>${
      b ? `<td class="num">${esc(f(b[key] as number | null))}</td>` : ""
    }<td class="note">${esc(note)}</td></tr>`
  ).join("");
  return `<table class="metrics"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

const METRIC_COLUMNS: [string, keyof ReportMetricRow, Fmt][] = [
  ["Sharpe", "sharpe", fmtNum],
  ["Return", "totalReturn", fmtPct],
  ["Max drawdown", "maxDrawdown", (v) => v === null ? "—" : fmtPct(-v)],
  ["Turnover / year", "annualizedTurnover", fmtPct],
  ["Costs paid", "costsPaidFraction", fmtPct],
];

function metricCells(m: ReportMetricRow): string {
  return METRIC_COLUMNS.map(([, k, f]) => `<td class="num">${esc(f(m[k]))}</td>`).join("");
}

function intervalText(d: { estimate: number; lower: number; upper: number } | undefined): string {
  return d ? `${fmtSigned(d.estimate)} [${fmtSigned(d.lower)}, ${fmtSigned(d.upper)}]` : "—";
}

function baselinesTable(
  b: NonNullable<ReportInput["baselines"]>,
  m: PerformanceMetrics,
  name: string,
): string {
  const head = `<tr><th>Strategy</th>${
    METRIC_COLUMNS.map(([l]) => `<th class="num">${esc(l)}</th>`).join("")
  }<th class="num">Sharpe difference [CI]</th><th class="note">How it trades</th></tr>`;
  const own: ReportMetricRow = {
    sharpe: m.sharpe,
    totalReturn: m.totalReturn,
    maxDrawdown: m.maxDrawdown,
    annualizedTurnover: m.annualizedTurnover,
    costsPaidFraction: m.costsPaidFraction,
  };
  const rows = [
    `<tr class="total"><td>${esc(name)}</td>${
      metricCells(own)
    }<td></td><td class="note">the evaluated policy</td></tr>`,
    ...b.rows.map((r) =>
      `<tr><td>${esc(r.name)}${r.best ? " (best)" : ""}</td>${metricCells(r)}<td class="num">${
        esc(intervalText(r.sharpeDifference))
      }</td><td class="note">${esc(r.description ?? "")}</td></tr>`
    ),
  ].join("");
  const verdict = b.verdict ? `<p>${esc(redact(b.verdict))}</p>` : "";
  return `${verdict}<table class="metrics"><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

function seedsTable(s: NonNullable<ReportInput["seeds"]>): string {
  const head = `<tr><th>Model</th>${
    METRIC_COLUMNS.map(([l]) => `<th class="num">${esc(l)}</th>`).join("")
  }<th class="num">vs buy &amp; hold [CI]</th></tr>`;
  const rows = s.rows.map((r) =>
    `<tr><td>${esc(r.label)}${r.median ? " (median)" : ""}</td>${metricCells(r)}<td class="num">${
      esc(intervalText(r.sharpeDifference))
    }</td></tr>`
  ).join("");
  const stat = (k: "median" | "q1" | "q3") =>
    METRIC_COLUMNS.map(([, key, f]) => `<td class="num">${esc(f(s.distribution[key][k]))}</td>`)
      .join("");
  const foot = `<tr class="total"><td>Median</td>${stat("median")}<td></td></tr>` +
    `<tr><td>First quartile</td>${stat("q1")}<td></td></tr>` +
    `<tr><td>Third quartile</td>${stat("q3")}<td></td></tr>`;
  return `<p>${
    esc(redact(s.verdict))
  }</p><table class="metrics"><thead>${head}</thead><tbody>${rows}${foot}</tbody></table>`;
}

function costsAndUniverse(
  c: ReportInput["costs"],
  survivorship: string | undefined,
): string {
  const items: string[] = [];
  if (c) {
    items.push(`Training costs: ${c.training}.`, `Evaluation costs: ${c.evaluation}.`);
    if (c.warning) items.push(`Warning: ${c.warning}.`);
  }
  if (survivorship) items.push(`Survivorship: ${survivorship}`);
  return `<ul class="method">${items.map((i) => `<li>${esc(redact(i))}</li>`).join("")}</ul>`;
}

function foldsTable(folds: readonly ReportFold[], agg: FoldAggregate | undefined): string {
  const withBench = folds.some((f) => f.benchmark);
  const head =
    `<tr><th>Fold</th><th>Train</th><th>Test</th><th class="num">Return</th><th class="num">Sharpe</th>${
      withBench ? `<th class="num">Benchmark Sharpe</th>` : ""
    }<th class="num">Max drawdown</th></tr>`;
  const rows = folds.map((f) =>
    `<tr><td>${f.index}</td><td>${day(f.train.startTime)} → ${day(f.train.endTime)}</td><td>${
      day(f.test.startTime)
    } → ${day(f.test.endTime)}</td><td class="num">${
      esc(fmtPct(f.strategy.totalReturn))
    }</td><td class="num">${esc(fmtNum(f.strategy.sharpe))}</td>${
      withBench ? `<td class="num">${esc(fmtNum(f.benchmark?.sharpe ?? null))}</td>` : ""
    }<td class="num">${esc(fmtPct(-f.strategy.maxDrawdown))}</td></tr>`
  ).join("");
  let foot = "";
  if (agg) {
    const m = agg.metrics;
    foot =
      `<tr class="total"><td colspan="3">Mean over ${agg.folds} folds (${
        fmtPct(agg.positiveFolds)
      } positive)</td>` +
      `<td class="num">${esc(fmtPct(m.totalReturn?.mean ?? null))}</td><td class="num">${
        esc(fmtNum(m.sharpe?.mean ?? null))
      }</td>${withBench ? "<td></td>" : ""}<td class="num">${
        esc(fmtPct(m.maxDrawdown ? -m.maxDrawdown.mean : null))
      }</td></tr>`;
  }
  return `<table class="metrics"><thead>${head}</thead><tbody>${rows}${foot}</tbody></table>`;
}

function comparisonTable(c: BenchmarkComparison): string {
  const d = c.sharpeDifference;
  const rows: [string, string, string][] = [
    [
      "Sharpe difference",
      `${fmtSigned(d.estimate)}  [${fmtSigned(d.lower)}, ${fmtSigned(d.upper)}]`,
      `${
        pctLabel(d.confidence)
      } ${d.method} block bootstrap, ${d.resamples} resamples, mean block ${d.blockLength} bars, seed ${d.seed}`,
    ],
    ["Bootstrap p-value", fmtNum(d.pValue, 3), "two-sided, approximate"],
    [
      "PSR vs benchmark Sharpe",
      fmtPct(c.psrVsBenchmark),
      "P(true Sharpe > benchmark's observed Sharpe)",
    ],
    ["PSR vs 0", fmtPct(c.psrVsZero), "P(true Sharpe > 0), skewness and kurtosis adjusted"],
    ["Alpha (arithmetic)", fmtPct(c.alphaBeta.alpha), "OLS intercept × bars per year"],
    [
      "Alpha (compounded)",
      fmtPct(c.alphaBeta.alphaCompounded),
      "(1 + intercept)^bars per year − 1, as empyrical",
    ],
    ["Beta", fmtNum(c.alphaBeta.beta), "OLS slope on benchmark excess returns"],
    ["R²", fmtNum(c.alphaBeta.rSquared), ""],
    [
      "Information ratio",
      fmtNum(c.activeRisk.informationRatio),
      "annualised active return / tracking error",
    ],
    ["Tracking error", fmtPct(c.activeRisk.trackingError), "annualised"],
    [
      "Active return",
      fmtPct(c.activeRisk.activeReturn),
      "mean (strategy − benchmark) × bars per year",
    ],
  ];
  const body = rows.map(([a, v, n]) =>
    `<tr><td>${esc(a)}</td><td class="num">${esc(v)}</td><td class="note">${esc(n)}</td></tr>`
  )
    .join("");
  return `<table class="metrics"><thead><tr><th>Statistic</th><th class="num">Value</th><th class="note">Definition</th></tr></thead><tbody>${body}</tbody></table>`;
}

function kvTable(obj: unknown): string {
  if (!obj || typeof obj !== "object") return `<pre>${esc(JSON.stringify(obj, null, 2))}</pre>`;
  const rows = Object.entries(obj as Record<string, unknown>).map(([k, v]) => {
    const text = typeof v === "string"
      ? v
      : typeof v === "number" || typeof v === "boolean" || v === null
      ? String(v)
      : JSON.stringify(v, null, 2);
    const cell = typeof v === "object" && v !== null ? `<pre>${esc(text)}</pre>` : esc(text);
    return `<tr><td>${esc(k)}</td><td>${cell}</td></tr>`;
  }).join("");
  return `<table class="kv"><tbody>${rows}</tbody></table>`;
}

function methodNotes(m: PerformanceMetrics, c: BenchmarkComparison | undefined): string {
  const items = [
    `Returns are bar-to-bar changes of net worth after costs and slippage; annualised with ${
      fmtNum(m.periodsPerYear, 0)
    } bars per year and an annual risk-free rate of ${fmtPct(m.riskFreeRate)}.`,
    "Sharpe and Sortino use sample standard deviations of excess returns; the Sortino denominator is the root mean square of negative excess returns over all bars.",
    "Max drawdown is the largest fall from a running peak; its duration runs from the peak to the first bar back at the peak (or to the end).",
  ];
  if (c) {
    items.push(
      `The benchmark (${c.benchmarkName}) is read at the strategy's bars. Buy & hold benchmarks buy equal amounts at the first bar, pay the same commission and slippage on that buy, and never rebalance.`,
      "The probabilistic Sharpe ratio (Bailey & López de Prado) is the probability that the true Sharpe ratio exceeds a threshold given the sample length, skewness and kurtosis.",
      "The Sharpe-difference interval resamples the same blocks of bars for strategy and benchmark (keeping their correlation and short-range autocorrelation); if it contains 0 the difference is not distinguishable from luck at that level.",
    );
  }
  return `<ul class="method">${items.map((i) => `<li>${esc(i)}</li>`).join("")}</ul>`;
}

function section(title: string, body: string): string {
  return `<section><h2>${esc(title)}</h2>${body}</section>`;
}

function figure(svg: string | undefined, caption: string): string {
  return svg ? `<figure>${svg}<figcaption>${esc(caption)}</figcaption></figure>` : "";
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function day(t: number): string {
  return Number.isFinite(t) ? new Date(t).toISOString().slice(0, 10) : "?";
}

function fmtNum(v: number | null, digits = 2): string {
  if (v === null || Number.isNaN(v)) return "—";
  if (v === Infinity) return "∞";
  if (v === -Infinity) return "−∞";
  const s = v.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return s.replace(/^-/, "−");
}

function fmtSigned(v: number): string {
  return (v > 0 ? "+" : "") + fmtNum(v);
}

function fmtPct(v: number | null): string {
  if (v === null || Number.isNaN(v)) return "—";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  return `${fmtNum(v * 100, Math.abs(v) < 0.001 && v !== 0 ? 3 : 2)} %`;
}

function pctLabel(p: number): string {
  return `${Math.round(p * 1000) / 10} %`;
}

const CSS = `
:root { color-scheme: light dark; --bg: #f7f8fa; --card: #ffffff; --fg: #1d2228; --muted: #69717c;
  --line: #dfe3e8; --win: #2e8b57; --loss: #c0392b; --neutral: #8a919c; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171b; --card: #1c2026; --fg: #e6e9ed; --muted: #9aa2ad; --line: #2e343c; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 32px 24px 48px; }
header h1 { font-size: 24px; margin: 0 0 4px; letter-spacing: -0.01em; }
.subtitle { margin: 0; font-size: 15px; }
.meta { margin: 4px 0 0; color: var(--muted); font-size: 12px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; margin: 18px 0; }
h2 { font-size: 16px; margin: 0 0 12px; }
.verdict { border-left: 6px solid var(--neutral); }
.verdict.win { border-left-color: var(--win); }
.verdict.loss { border-left-color: var(--loss); }
.verdict p { margin: 0; }
.notes { margin: 10px 0 0; padding-left: 18px; color: var(--muted); }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.note, th.note { color: var(--muted); font-size: 12px; }
tr.total td { font-weight: 600; }
table.kv td:first-child { width: 28%; color: var(--muted); }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
figure { margin: 0 0 18px; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 2px; }
.method { margin: 0; padding-left: 18px; color: var(--muted); font-size: 13px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 24px; }
`;
