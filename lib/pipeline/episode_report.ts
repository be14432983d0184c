/**
 * Reports read back from the store: an episode (its equity curve, target weights and
 * per-step costs), its benchmark (the `benchmark` episode logged with an evaluation,
 * or equal-weight buy & hold recomputed from stored prices with the episode's costs),
 * the training curves of its model and its configuration and data lineage, rendered
 * to one self-contained HTML file by `lib/viz`'s `renderReportHtml`.
 *
 * @module
 */
import { join } from "node:path";
import type { Queryable } from "../db/store.ts";
import {
  type EpisodeDetail,
  findBenchmarkEpisode,
  listEpisodes,
  readEpisode,
} from "../db/episodes_repo.ts";
import { readModel } from "../db/models_repo.ts";
import { listTrainRuns, readTrainMetrics } from "../db/train_runs_repo.ts";
import { listIngestRuns, readPrices } from "../db/prices_repo.ts";
import { panelFromBars } from "../data/panel.ts";
import { costOptionsFrom, describeCosts, resolveCostOptions } from "../env/costs.ts";
import { EXECUTION_TIMES } from "../env/simulator.ts";
import { equalWeightBuyAndHold } from "../eval/benchmarks.ts";
import type { EquityCurve } from "../eval/comparison.ts";
import {
  type ReportBaselineRow,
  type ReportInput,
  type ReportMetricRow,
  type ReportSeedRow,
  writeReportHtml,
} from "../viz/html_report.ts";
import {
  baselineSummaries,
  type BaselineSummary,
  type EvaluateModelsResult,
  type EvaluateResult,
  evaluationsSummary,
  evaluationSummary,
} from "./evaluate.ts";
import { dataDir } from "../util/paths.ts";
import { DEFAULT_SEED, deriveSeed } from "../util/rng.ts";
import { isoDate } from "./market.ts";

/** Which episode a report is about. */
export type ReportTarget = { episodeId: number } | { modelId: number };

/**
 * Resolves a report target to an episode id: the episode itself, or the model's latest
 * out-of-sample `eval` episode (its latest in-sample check when it has no other).
 * @param q The store.
 * @param target Episode or model.
 * @returns The episode id.
 * @throws {RangeError} When the episode or model does not exist, or the model was never evaluated.
 * @example
 * ```ts
 * const id = await resolveReportEpisode(store, { modelId: 3 });
 * ```
 */
export async function resolveReportEpisode(q: Queryable, target: ReportTarget): Promise<number> {
  if ("episodeId" in target) return target.episodeId;
  const model = await readModel(q, target.modelId);
  if (!model) throw new RangeError(`No model with id ${target.modelId} in tt_models`);
  // Prefer the latest out-of-sample evaluation over a labelled in-sample check.
  const evals = await listEpisodes(q, { kind: "eval", modelId: target.modelId, limit: 1000 });
  const ev = evals.find((e) => e.config.inSample !== true) ?? evals[0];
  if (!ev) {
    throw new RangeError(
      `Model ${target.modelId} has no evaluation episode yet: run deno task evaluate --model ${target.modelId}`,
    );
  }
  return ev.id;
}

function wideWeights(
  ep: EpisodeDetail,
): { instruments: string[]; timestamps: number[]; rows: Float64Array[] } {
  const instruments = [...new Set(ep.weights.label)].sort();
  const col = new Map(instruments.map((s, i) => [s, i]));
  const timestamps: number[] = [];
  const rows: Float64Array[] = [];
  for (let k = 0; k < ep.weights.timestamp.length; k++) {
    const t = ep.weights.timestamp[k];
    if (timestamps.length === 0 || timestamps[timestamps.length - 1] !== t) {
      timestamps.push(t);
      rows.push(new Float64Array(instruments.length));
    }
    rows[rows.length - 1][col.get(ep.weights.label[k])!] = ep.weights.value[k];
  }
  return { instruments, timestamps, rows };
}

async function benchmarkFor(
  q: Queryable,
  ep: EpisodeDetail,
): Promise<{ curve: EquityCurve; source: string } | null> {
  const benchId = await findBenchmarkEpisode(q, ep.episode.id);
  if (benchId !== null) {
    const b = (await readEpisode(q, benchId))!;
    const w = wideWeights(b);
    return {
      curve: {
        name: b.weights.strategy[0] === "equal_weight_buy_and_hold"
          ? `Equal-weight buy & hold (${w.instruments.join(", ")})`
          : b.weights.strategy[0] ?? "Benchmark",
        timestamps: b.equity.timestamp,
        equity: b.equity.netWorth,
        weights: w.rows,
        traded: b.rewards.turnover.every((c) => c !== null)
          ? (b.rewards.turnover as number[])
          : undefined,
        costs: b.rewards.cost.every((c) => c !== null)
          ? [0, ...(b.rewards.cost as number[])]
          : undefined,
        slippage: b.rewards.slippage.every((c) => c !== null)
          ? [0, ...(b.rewards.slippage as number[])]
          : undefined,
      },
      source: `benchmark episode ${benchId}`,
    };
  }
  // No logged benchmark (e.g. a training episode): recompute buy & hold from stored prices.
  const cfg = ep.episode.config as {
    env?: Record<string, unknown>;
    costs?: Record<string, unknown>;
    data?: { barSize?: string };
  };
  // The resolved costs an evaluation logged, else the env settings (defaults for what is absent).
  const costs = costOptionsFrom(cfg.costs ?? cfg.env, `episode ${ep.episode.id} config`);
  const executeAt = EXECUTION_TIMES.find((e) => e === cfg.env?.executeAt);
  const instruments = [...new Set(ep.weights.label)].sort();
  const from = ep.equity.timestamp[0], to = ep.equity.timestamp[ep.equity.timestamp.length - 1];
  if (instruments.length === 0 || from === undefined) return null;
  const bars = await readPrices(q, {
    instruments,
    barSize: cfg.data?.barSize ?? "1 day",
    start: new Date(from),
    end: new Date(to),
  });
  if (bars.instrument.length === 0) return null;
  const curve = equalWeightBuyAndHold(panelFromBars(bars, cfg.data?.barSize ?? "1 day"), {
    initialCash: ep.equity.netWorth[0],
    costs,
    executeAt,
    from,
    to,
  });
  return { curve, source: "recomputed from stored prices with the episode's costs" };
}

/**
 * Builds the report input of an episode from the store.
 * @param q The store.
 * @param episodeId `tt_episode.id`.
 * @returns Input for `renderReportHtml`.
 * @throws {RangeError} When the episode does not exist or has fewer than 2 equity points.
 * @example
 * ```ts
 * const input = await episodeReportInput(store, 12);
 * const html = await renderReportHtml(input);
 * ```
 */
export async function episodeReportInput(q: Queryable, episodeId: number): Promise<ReportInput> {
  const ep = await readEpisode(q, episodeId);
  if (!ep) throw new RangeError(`No episode with id ${episodeId} in tt_episode`);
  if (ep.equity.netWorth.length < 2) {
    throw new RangeError(
      `Episode ${episodeId} has ${ep.equity.netWorth.length} equity points; a report needs at least 2`,
    );
  }
  const e = ep.episode;
  const model = e.modelId === null ? null : await readModel(q, e.modelId);
  const w = wideWeights(ep);
  const bench = e.kind === "benchmark" ? null : await benchmarkFor(q, ep);
  let training: ReportInput["training"];
  let runId = e.runId;
  if (runId === null && model) runId = (await listTrainRuns(q, model.id)).at(-1)?.id ?? null;
  if (runId !== null) {
    const rows = await readTrainMetrics(q, runId);
    if (rows.length) {
      training = rows.map((r) => ({
        update: r.updateIndex + 1,
        timesteps: r.timesteps,
        policyLoss: r.policyLoss,
        valueLoss: r.valueLoss,
        entropy: r.entropy,
        approxKl: r.approxKl,
        meanEpisodeReturn: r.meanEpisodeReturn,
      }));
    }
  }
  const complete = (a: (number | null)[]) => a.length > 0 && a.every((v) => v !== null);
  const cfg = e.config as { seed?: number; codeVersion?: string; inSample?: boolean };
  const who = e.kind === "benchmark"
    ? ep.weights.strategy[0] ?? "Benchmark"
    : model
    ? `PPO ${model.name} v${model.version}`
    : "PPO";
  const range = `${isoDate(ep.equity.timestamp[0])} → ${isoDate(ep.equity.timestamp.at(-1)!)}`;
  const kindText = e.kind === "eval"
    ? (cfg.inSample ? "in-sample check" : "out of sample")
    : `${e.kind} episode`;
  const ingest = await listIngestRuns(q, { limit: 5 });
  return {
    title: `${who} on ${w.instruments.join(", ")} (${kindText})`,
    subtitle: `Episode ${e.id} (${e.kind}), ${range}, stop: ${e.stopReason ?? "n/a"}`,
    strategy: {
      name: who,
      timestamps: ep.equity.timestamp,
      equity: ep.equity.netWorth,
      weights: { instruments: w.instruments, rows: w.rows, timestamps: w.timestamps },
      costs: complete(ep.rewards.cost) ? (ep.rewards.cost as number[]) : undefined,
      slippage: complete(ep.rewards.slippage) ? (ep.rewards.slippage as number[]) : undefined,
      traded: complete(ep.rewards.turnover) ? (ep.rewards.turnover as number[]) : undefined,
    },
    benchmark: bench?.curve,
    bootstrap: { seed: deriveSeed(cfg.seed ?? DEFAULT_SEED, "bootstrap") },
    training,
    config: e.config,
    lineage: {
      episode: {
        id: e.id,
        kind: e.kind,
        createdAt: e.createdAt.toISOString(),
        stopReason: e.stopReason,
      },
      model: model
        ? { id: model.id, name: model.name, version: model.version, path: model.path }
        : null,
      trainRun: runId,
      instruments: w.instruments,
      range,
      benchmark: bench?.source ?? null,
      codeVersion: cfg.codeVersion ?? "unknown",
      ingestRuns: ingest.map((r) => ({
        id: r.id,
        source: r.source,
        startedAt: r.startedAt.toISOString(),
        rows: r.rowsWritten,
        status: r.status,
      })),
    },
    notes: e.kind === "train"
      ? ["A training episode: actions were sampled (exploration), not the deterministic policy."]
      : undefined,
    ...evaluationExtras(e.config, `episode ${e.id} config`),
  };
}

/** The baselines, costs and survivorship an evaluation logged in its config (older episodes: none). */
function evaluationExtras(
  config: Record<string, unknown>,
  where: string,
): Pick<ReportInput, "baselines" | "costs" | "survivorship"> {
  const out: Pick<ReportInput, "baselines" | "costs" | "survivorship"> = {};
  const rows = Array.isArray(config.baselines) ? config.baselines.flatMap(baselineRow) : [];
  if (rows.length > 0) {
    out.baselines = {
      rows,
      verdict: typeof config.baselineVerdict === "string" ? config.baselineVerdict : undefined,
    };
  }
  if (config.trainingCosts !== undefined && config.costs !== undefined) {
    out.costs = {
      training: describeCosts(resolveCostOptions(costOptionsFrom(config.trainingCosts, where))),
      evaluation: describeCosts(resolveCostOptions(costOptionsFrom(config.costs, where))),
      warning: typeof config.costWarning === "string" ? config.costWarning : null,
    };
  }
  const sv = config.survivorship;
  if (typeof sv === "object" && sv !== null && typeof Reflect.get(sv, "statement") === "string") {
    out.survivorship = Reflect.get(sv, "statement") as string;
  }
  return out;
}

const num = (v: unknown): number | null => (typeof v === "number" ? v : null);

function metricRow(m: unknown): ReportMetricRow {
  const get = (k: string) => (typeof m === "object" && m !== null ? num(Reflect.get(m, k)) : null);
  return {
    sharpe: get("sharpe"),
    totalReturn: get("totalReturn"),
    maxDrawdown: get("maxDrawdown"),
    annualizedTurnover: get("annualizedTurnover"),
    costsPaidFraction: get("costsPaidFraction"),
  };
}

function interval(d: unknown): ReportBaselineRow["sharpeDifference"] {
  if (typeof d !== "object" || d === null) return undefined;
  const [estimate, lower, upper] = ["estimate", "lower", "upper"].map((k) =>
    num(Reflect.get(d, k))
  );
  return estimate === null || lower === null || upper === null
    ? undefined
    : { estimate, lower, upper };
}

/** A logged {@linkcode BaselineSummary} (JSON) as a report row; nothing for a malformed entry. */
function baselineRow(b: unknown): ReportBaselineRow[] {
  if (typeof b !== "object" || b === null || typeof Reflect.get(b, "name") !== "string") return [];
  const description = Reflect.get(b, "description");
  return [{
    name: Reflect.get(b, "name") as string,
    description: typeof description === "string" ? description : undefined,
    ...metricRow(Reflect.get(b, "metrics")),
    sharpeDifference: interval(Reflect.get(b, "sharpeDifference")),
    best: Reflect.get(b, "best") === true,
  }];
}

function summaryRows(rows: readonly BaselineSummary[]): ReportBaselineRow[] {
  return rows.flatMap(baselineRow);
}

/**
 * The report input of an evaluation held in memory: one model ({@linkcode EvaluateResult})
 * or several ({@linkcode EvaluateModelsResult}: the median model's curves, the seed
 * table with the median and quartiles, the verdict on the median). Baselines, training
 * vs evaluation costs and the survivorship statement are included either way.
 * @param r The evaluation.
 * @returns Input for `renderReportHtml`.
 * @example
 * ```ts
 * const input = evaluationReportInput(await evaluateModels(store, { models: ["3", "4", "5"] }));
 * await writeReportHtml("data/reports/seeds.html", input);
 * ```
 */
export function evaluationReportInput(r: EvaluateResult | EvaluateModelsResult): ReportInput {
  const multi = "results" in r ? r : null;
  const one = multi ? multi.results[multi.medianIndex] : r as EvaluateResult;
  const m = one.model.manifest;
  const who = `PPO ${m.name}${m.version ? ` v${m.version}` : ""}`;
  const t = one.trace;
  const input: ReportInput = {
    title: multi
      ? `${multi.results.length} models on ${one.instruments.length} instruments (${
        one.inSample ? "in-sample check" : "out of sample"
      })`
      : `${who} on ${one.instruments.join(", ")} (${
        one.inSample ? "in-sample check" : "out of sample"
      })`,
    subtitle: `Episode ${one.episodeId}, ${one.range.start} → ${one.range.end}` +
      (multi ? `; charts: the median model by Sharpe, ${who}` : ""),
    strategy: {
      name: who,
      timestamps: t.equityTimestamps,
      equity: t.netWorth,
      weights: {
        instruments: t.instruments,
        rows: t.heldWeights,
        timestamps: t.equityTimestamps.slice(1),
      },
      costs: t.costs,
      slippage: t.slippage,
      traded: t.stepTurnover,
    },
    benchmark: one.benchmark,
    comparison: one.comparison,
    config: multi ? evaluationsSummary(multi) : evaluationSummary(one),
    lineage: {
      models: (multi ? multi.results : [one]).map((x) => ({
        id: x.model.manifest.modelId,
        dir: x.model.dir,
        seed: x.model.manifest.config.seed,
        trainedRanges: x.trainedRanges,
        evalEpisodeId: x.episodeId,
      })),
      instruments: one.instruments,
      range: `${one.range.start} → ${one.range.end}`,
    },
    baselines: {
      rows: summaryRows(baselineSummaries(one.baselines, one.baselineCurves)),
      verdict: one.baselines.verdict,
    },
    costs: {
      training: describeCosts(one.costs.training),
      evaluation: describeCosts(one.costs.evaluation),
      warning: one.costs.warning,
    },
    survivorship: one.survivorship.statement,
  };
  if (multi) {
    const rows: ReportSeedRow[] = multi.results.map((x, i) => ({
      label: `model ${
        x.model.manifest.modelId ?? x.model.dir
      } (seed ${x.model.manifest.config.seed})`,
      ...metricRow(x.comparison.strategy),
      sharpeDifference: interval(x.comparison.sharpeDifference),
      median: i === multi.medianIndex,
    }));
    const dist = multi.distribution;
    const pick = (k: keyof ReportMetricRow) => ({
      median: dist[k].median,
      q1: dist[k].q1,
      q3: dist[k].q3,
    });
    input.seeds = {
      rows,
      distribution: {
        sharpe: pick("sharpe"),
        totalReturn: pick("totalReturn"),
        maxDrawdown: pick("maxDrawdown"),
        annualizedTurnover: pick("annualizedTurnover"),
        costsPaidFraction: pick("costsPaidFraction"),
      },
      verdict: multi.verdict,
    };
  }
  return input;
}

/**
 * Writes the HTML report of an evaluation held in memory (see {@linkcode evaluationReportInput}).
 * @param r One or several models' evaluation.
 * @param out File to write. Default `<dataDir>/reports/evaluation-<episode id of the (median) model>.html`.
 * @returns The absolute path.
 * @example
 * ```ts
 * const path = await writeEvaluationReport(await evaluateModels(store, { models: ["3", "4"] }));
 * ```
 */
export async function writeEvaluationReport(
  r: EvaluateResult | EvaluateModelsResult,
  out?: string,
): Promise<string> {
  const one = "results" in r ? r.results[r.medianIndex] : r;
  return await writeReportHtml(
    out ?? join(dataDir(), "reports", `evaluation-${one.episodeId}.html`),
    evaluationReportInput(r),
  );
}

/**
 * Writes the HTML report of an episode (or a model's latest evaluation).
 * @param q The store.
 * @param target Episode or model.
 * @param out File to write. Default `<dataDir>/reports/episode-<id>.html`.
 * @returns The absolute path and the episode id.
 * @example
 * ```ts
 * const { path } = await writeEpisodeReport(store, { modelId: 3 });
 * ```
 */
export async function writeEpisodeReport(
  q: Queryable,
  target: ReportTarget,
  out?: string,
): Promise<{ path: string; episodeId: number }> {
  const episodeId = await resolveReportEpisode(q, target);
  const input = await episodeReportInput(q, episodeId);
  const path = await writeReportHtml(
    out ?? join(dataDir(), "reports", `episode-${episodeId}.html`),
    input,
  );
  return { path, episodeId };
}
