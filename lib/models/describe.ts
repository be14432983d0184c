/**
 * What `deno task models list|show` prints about a registered model: its identity and
 * aliases, lineage (parent, train run, data range, seed group), settings, the latest
 * training and evaluation figures, and the state of its files on disk (checked against
 * the registry's checksums).
 *
 * @module
 */
import { latestDriftRun } from "../db/drift_repo.ts";
import { join } from "node:path";
import type { Queryable } from "../db/store.ts";
import { deleteModel, listModels, type ModelRecord } from "../db/models_repo.ts";
import { listAliases } from "../db/model_aliases_repo.ts";
import { listEpisodes } from "../db/episodes_repo.ts";
import { listTrainRuns, readTrainMetrics } from "../db/train_runs_repo.ts";
import { listTradingRuns } from "../db/execution_repo.ts";
import { ingestRunsOfRange } from "../db/prices_repo.ts";
import { parseModelConfig, sha256Hex } from "../agents/model_io.ts";
import { seedGroupOf, trainedRangesOf } from "./lineage.ts";

/** The files of a model directory against the registry's checksums. */
export type FilesState =
  | { status: "ok"; bytes: number }
  | { status: "missing"; reason: string }
  | { status: "changed"; bytes: number; files: string[] }
  | { status: "unverified"; bytes: number; reason: string };

/** One line of `models list`. */
export interface ModelSummary {
  id: number;
  name: string;
  version: number;
  aliases: string[];
  createdAt: string;
  path: string;
  /** Training data range of this run (ISO dates). */
  trainRange: { start: string; end: string } | null;
  instruments: string[];
  /** `config.resumedFrom`: the parent model, if resumed. */
  parent: string | null;
  seed: number | null;
  seedGroup: string | null;
}

/** What `models show` prints. */
export interface ModelDescription extends ModelSummary {
  barSize: string | null;
  /** Every range the lineage trained on. */
  trainedRanges: { start: string; end: string }[];
  featureSet: string | null;
  features: string[];
  env: Record<string, unknown> | null;
  policy: Record<string, unknown> | null;
  backend: string | null;
  timesteps: number | null;
  codeVersion: string | null;
  /** Other models of the same seed group (ids), this one excluded. */
  seedSiblings: number[];
  /** The train runs that produced it, newest first, with their last metrics row. */
  trainRuns: {
    id: number;
    startedAt: string;
    finishedAt: string | null;
    lastMetrics: Record<string, number | null> | null;
  }[];
  /** Its latest evaluation episodes (newest first, at most 5). */
  evaluations: {
    episodeId: number;
    start: string | null;
    end: string | null;
    sharpe: number | null;
    maxDrawdown: number | null;
    turnover: number | null;
    createdAt: string;
  }[];
  /**
   * The ingest runs that last wrote the bars it was trained on (instruments × trained
   * ranges), with bar counts; a run id of null stands for bars from before lineage was kept.
   */
  data: {
    runId: number | null;
    source: string | null;
    bars: number;
    first: string;
    last: string;
  }[];
  files: FilesState;
  /** The newest stored drift verdicts (`deno task models drift REF [--performance]`), null when never measured. */
  drift: {
    feature: { runId: number; drifted: boolean; computedAt: string } | null;
    performance:
      | { runId: number; drifted: boolean; computedAt: string; reasons: string[] }
      | null;
  };
  /** Config problems found while reading it (an unparsable config is described as far as possible). */
  warnings: string[];
}

function isoDate(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

function summaryOf(m: ModelRecord, aliases: string[]): ModelSummary & { _cfg: unknown } {
  const c = m.config as Record<string, unknown>;
  const range = c.dataRange as { start?: unknown; end?: unknown } | undefined;
  return {
    id: m.id,
    name: m.name,
    version: m.version,
    aliases,
    createdAt: m.createdAt.toISOString(),
    path: m.path,
    trainRange: range && typeof range.start === "string" && typeof range.end === "string"
      ? { start: range.start, end: range.end }
      : null,
    instruments: Array.isArray(c.instruments) ? c.instruments.map(String) : [],
    parent: c.resumedFrom === undefined || c.resumedFrom === null ? null : String(c.resumedFrom),
    seed: typeof c.seed === "number" ? c.seed : null,
    seedGroup: typeof (c.extra as Record<string, unknown> | undefined)?.seedGroup === "string"
      ? String((c.extra as Record<string, unknown>).seedGroup)
      : null,
    _cfg: c,
  };
}

/**
 * Lists registered models with their aliases, newest first.
 * @param q The store.
 * @param options `name` filters by model name.
 * @returns One summary per model.
 * @example
 * ```ts
 * for (const m of await listModelSummaries(store)) console.log(m.id, `${m.name}@v${m.version}`, m.aliases.join(","));
 * ```
 */
export async function listModelSummaries(
  q: Queryable,
  options: { name?: string } = {},
): Promise<ModelSummary[]> {
  const [models, aliases] = await Promise.all([
    listModels(q, options),
    listAliases(q, options),
  ]);
  return models.map((m) => {
    const { _cfg: _, ...s } = summaryOf(
      m,
      aliases.filter((a) => a.modelId === m.id).map((a) => a.alias),
    );
    return s;
  });
}

/**
 * Checks a model directory against the registry's checksums, without loading it.
 * @param m The registry row.
 * @returns `ok` with the size, `missing`, `changed` (naming the files), or `unverified`
 *   for a row registered before checksums were recorded.
 * @example
 * ```ts
 * const f = await checkModelFiles(row); // { status: "ok", bytes: 48211 }
 * ```
 */
export async function checkModelFiles(m: ModelRecord): Promise<FilesState> {
  const present = new Map<string, Uint8Array>();
  try {
    for await (const e of Deno.readDir(m.path)) {
      if (e.isFile) present.set(e.name, await Deno.readFile(join(m.path, e.name)));
    }
  } catch (e) {
    return { status: "missing", reason: `${m.path}: ${(e as Error).message}` };
  }
  const bytes = [...present.values()].reduce((a, b) => a + b.length, 0);
  if (m.checksums === null) {
    return { status: "unverified", bytes, reason: "registered before checksums were recorded" };
  }
  const changed: string[] = [];
  for (const [file, sum] of Object.entries(m.checksums)) {
    const data = present.get(file);
    if (!data) changed.push(`${file} (missing)`);
    else if (await sha256Hex(data) !== sum) changed.push(file);
  }
  return changed.length ? { status: "changed", bytes, files: changed.sort() } : {
    status: "ok",
    bytes,
  };
}

/**
 * Describes one registered model for `models show`.
 * @param q The store.
 * @param m The registry row (from `lookupModel`).
 * @returns The description.
 * @example
 * ```ts
 * const d = await describeModel(store, await lookupModel(store, parseModelRef("ppo@champion")));
 * d.files.status; // "ok"
 * ```
 */
export async function describeModel(q: Queryable, m: ModelRecord): Promise<ModelDescription> {
  const aliases = (await listAliases(q, { name: m.name }))
    .filter((a) => a.modelId === m.id).map((a) => a.alias);
  const { _cfg, ...summary } = summaryOf(m, aliases);
  const warnings: string[] = [];
  let trainedRanges: { start: string; end: string }[] = summary.trainRange
    ? [summary.trainRange]
    : [];
  let cfg: ReturnType<typeof parseModelConfig> | null = null;
  try {
    cfg = parseModelConfig(_cfg, `tt_models ${m.id} config`);
    trainedRanges = trainedRangesOf(cfg);
  } catch (e) {
    warnings.push((e as Error).message);
  }
  const group = cfg ? seedGroupOf(cfg) : summary.seedGroup;
  const siblings = group === null ? [] : (await listModels(q, { name: m.name }))
    .filter((o) =>
      o.id !== m.id && (o.config.extra as Record<string, unknown>)?.seedGroup === group
    )
    .map((o) => o.id).sort((a, b) => a - b);
  const runs = await listTrainRuns(q, m.id);
  const trainRuns = [];
  for (const r of runs) {
    const metrics = await readTrainMetrics(q, r.id);
    const last = metrics.at(-1);
    trainRuns.push({
      id: r.id,
      startedAt: r.startedAt.toISOString(),
      finishedAt: isoDate(r.finishedAt),
      lastMetrics: last
        ? Object.fromEntries(
          Object.entries(last).map(([k, v]) => [k, typeof v === "number" ? v : null]),
        )
        : null,
    });
  }
  const evals = await listEpisodes(q, { kind: "eval", modelId: m.id, limit: 5 });
  return {
    ...summary,
    barSize: cfg?.barSize ?? null,
    trainedRanges,
    featureSet: cfg?.features.set ?? null,
    features: cfg?.features.names ?? [],
    env: cfg ? { ...cfg.env } as Record<string, unknown> : null,
    policy: cfg ? { ...cfg.policy } as Record<string, unknown> : null,
    backend: cfg?.backend ?? null,
    timesteps: cfg?.timesteps ?? null,
    codeVersion: cfg?.codeVersion ?? null,
    seedSiblings: siblings,
    trainRuns,
    evaluations: evals.map((e) => ({
      episodeId: e.id,
      start: isoDate(e.startTime),
      end: isoDate(e.endTime),
      sharpe: e.sharpeRatio,
      maxDrawdown: e.maxDrawdown,
      turnover: e.turnover,
      createdAt: e.createdAt.toISOString(),
    })),
    data: cfg
      ? (await Promise.all(trainedRanges.map((r) =>
        ingestRunsOfRange(q, {
          instruments: cfg!.instruments,
          barSize: cfg!.barSize,
          start: r.start,
          end: r.end,
        })
      ))).flat().map((w) => ({
        runId: w.runId,
        source: w.source,
        bars: w.bars,
        first: w.first.toISOString().slice(0, 10),
        last: w.last.toISOString().slice(0, 10),
      }))
      : [],
    files: await checkModelFiles(m),
    drift: await driftOf(q, m.id),
    warnings,
  };
}

async function driftOf(q: Queryable, id: number): Promise<ModelDescription["drift"]> {
  const f = await latestDriftRun(q, id, "feature");
  const p = await latestDriftRun(q, id, "performance");
  const reasons = p?.summary.reasons;
  return {
    feature: f ? { runId: f.id, drifted: f.drifted, computedAt: f.computedAt.toISOString() } : null,
    performance: p
      ? {
        runId: p.id,
        drifted: p.drifted,
        computedAt: p.computedAt.toISOString(),
        reasons: Array.isArray(reasons) ? reasons.map(String) : [],
      }
      : null,
  };
}

/** A model that must not be deleted, with the reasons. */
export class ModelInUseError extends Error {
  override name = "ModelInUseError";
}

/**
 * Removes a model from the registry, refusing one that an alias names (move or remove
 * the alias first) or that a live trading run uses (a paper or IB run that is not a dry
 * run: its book and P&L stay tied to the model). Its directory is kept; episodes,
 * training runs and replays are unlinked.
 * @param q The store.
 * @param m The registry row.
 * @throws {ModelInUseError} Naming the aliases and trading runs that use it.
 * @example
 * ```ts
 * await deleteRegisteredModel(store, await lookupModelRef(store, "ppo@v1"));
 * ```
 */
export async function deleteRegisteredModel(q: Queryable, m: ModelRecord): Promise<void> {
  const uses = (await listAliases(q, { modelId: m.id })).map((a) => `${a.name}@${a.alias}`);
  if (uses.length) {
    throw new ModelInUseError(
      `Model ${m.id} (${m.name}@v${m.version}) is used by alias ${uses.join(", ")}: ` +
        `move it (deno task models alias ${m.name}@vN ALIAS) or remove it (deno task models unalias ${
          uses[0]
        }) first`,
    );
  }
  const live = (await listTradingRuns(q, { modelId: m.id }))
    .filter((r) => r.mode !== "replay" && !r.dryRun);
  if (live.length) {
    throw new ModelInUseError(
      `Model ${m.id} (${m.name}@v${m.version}) is used by live trading run${
        live.length > 1 ? "s" : ""
      } ${
        live.map((r) => `${r.id} (${r.mode}, account ${r.accountId})`).join(", ")
      }: its book and P&L stay tied to it, so it stays registered`,
    );
  }
  await deleteModel(q, m.id);
}
