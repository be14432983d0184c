/**
 * Repository for the episodes that training, evaluation and benchmarks leave behind:
 * `tt_episode` with its `tt_action`, `tt_reward`, `tt_equity_curve` and
 * `tt_target_weights` rows. Training runs live in `train_runs_repo.ts`, the model
 * registry in `models_repo.ts`.
 *
 * Every episode is written in one transaction, the four detail tables through
 * batched {@linkcode upsertColumns}, so a killed process leaves either the whole
 * episode or nothing. Configs are passed through {@linkcode redactDeep} before they
 * are stored.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { upsertColumns } from "./bulk.ts";
import { redactDeep } from "../util/redact.ts";
import { jsonColumn } from "./_json.ts";

/** Why an episode was run. */
export const EPISODE_KINDS = ["train", "eval", "benchmark", "paper", "live"] as const;
/** One of {@linkcode EPISODE_KINDS}. */
export type EpisodeKind = typeof EPISODE_KINDS[number];

/** Everything needed to log one episode. Per-step arrays have one entry per `step`. */
export interface EpisodeLog {
  kind: EpisodeKind;
  /** The model that acted (`tt_models.id`), if any. */
  modelId?: number | null;
  /** The training run it belongs to (`tt_train_runs.id`), if any. */
  runId?: number | null;
  /** Why it ended: `"end_of_data"`, `"drawdown"`, `"max_steps"` … */
  stopReason: string;
  /** Largest peak-to-trough loss of the equity curve, as a positive fraction. */
  maxDrawdown: number;
  /** Annualised Sharpe ratio of the equity curve's returns. */
  sharpeRatio: number;
  /** Total traded notional / net worth over the episode. */
  turnover: number;
  /** Full configuration (seed, data range, code version …); redacted before storing. */
  config: Record<string, unknown>;
  /** Columns of `targetWeights`. */
  instruments: readonly string[];
  /** Columns of `actions`. Default: `instruments`. */
  actionLabels?: readonly string[];
  /** Epoch ms of the bar whose close produced each decision (one per step, unique). */
  decisionTimestamps: readonly number[];
  /** Raw policy output per step, `steps × actionLabels.length`, row-major. */
  actions: ArrayLike<number>;
  /** Target weights the action mapped to, `steps × instruments.length`, row-major. */
  targetWeights: ArrayLike<number>;
  /** Epoch ms at which each step's reward was realised (one per step, unique). */
  rewardTimestamps: readonly number[];
  /** Reward per step. */
  rewards: ArrayLike<number>;
  /** Commission paid per step, in currency (optional; stored next to the reward). */
  costs?: ArrayLike<number>;
  /** Slippage paid per step, in currency (optional). */
  slippage?: ArrayLike<number>;
  /** Traded notional / net worth per step (optional). */
  stepTurnover?: ArrayLike<number>;
  /** Epoch ms of each equity point (usually the start bar, then one per step; unique). */
  equityTimestamps: readonly number[];
  /** Net worth at each equity point. */
  netWorth: ArrayLike<number>;
  /** Who chose the weights, e.g. `"ppo"`, `"equal_weight_buy_and_hold"`. */
  strategy: string;
  /** Why: one text for every step, or one per step. */
  rationale?: string | readonly string[];
}

/** A stored `tt_episode` row. */
export interface EpisodeRecord {
  id: number;
  kind: EpisodeKind;
  modelId: number | null;
  runId: number | null;
  startTime: Date | null;
  endTime: Date | null;
  stopReason: string | null;
  maxDrawdown: number | null;
  sharpeRatio: number | null;
  turnover: number | null;
  config: Record<string, unknown>;
  createdAt: Date;
}

/** Long-form (one row per timestamp × label) values. */
export interface LongSeries {
  timestamp: number[];
  label: string[];
  value: number[];
}

/** An episode with its curves, as a report reads it. */
export interface EpisodeDetail {
  episode: EpisodeRecord;
  equity: { timestamp: number[]; netWorth: number[] };
  /** Per-step reward with the costs paid in that step (null when not logged). */
  rewards: {
    timestamp: number[];
    reward: number[];
    cost: (number | null)[];
    slippage: (number | null)[];
    turnover: (number | null)[];
  };
  /** `label` is the action label (usually the instrument). */
  actions: LongSeries;
  /** `label` is the instrument. */
  weights: LongSeries & { strategy: string[]; rationale: (string | null)[] };
}

const TS = "timestamptz";

/**
 * Logs one episode and its four detail tables in one transaction.
 *
 * @param store Anything with `transaction` (an open {@linkcode Store}).
 * @param log See {@linkcode EpisodeLog}.
 * @returns The new `tt_episode.id`.
 * @throws {TypeError} When array lengths disagree (nothing is written).
 * @example
 * ```ts
 * const id = await logEpisode(store, { kind: "eval", stopReason: "end_of_data", … });
 * ```
 */
export async function logEpisode(
  store: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  log: EpisodeLog,
): Promise<number> {
  const steps = log.decisionTimestamps.length;
  const n = log.instruments.length;
  const labels = log.actionLabels ?? log.instruments;
  const check = (what: string, got: number, want: number) => {
    if (got !== want) {
      throw new TypeError(`logEpisode(${log.kind}): ${what} has ${got} values, expected ${want}`);
    }
  };
  check("actions", log.actions.length, steps * labels.length);
  check("targetWeights", log.targetWeights.length, steps * n);
  check("rewardTimestamps", log.rewardTimestamps.length, steps);
  check("rewards", log.rewards.length, steps);
  if (log.costs) check("costs", log.costs.length, steps);
  if (log.slippage) check("slippage", log.slippage.length, steps);
  if (log.stepTurnover) check("stepTurnover", log.stepTurnover.length, steps);
  check("netWorth", log.netWorth.length, log.equityTimestamps.length);
  if (typeof log.rationale === "object") check("rationale", log.rationale.length, steps);
  if (!EPISODE_KINDS.includes(log.kind)) {
    throw new TypeError(`logEpisode: unknown kind "${log.kind}"`);
  }

  let start: number | null = null, end: number | null = null;
  for (const arr of [log.equityTimestamps, log.decisionTimestamps, log.rewardTimestamps]) {
    for (const t of arr) {
      if (start === null || t < start) start = t;
      if (end === null || t > end) end = t;
    }
  }

  return await store.transaction(async (tx) => {
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO tt_episode (kind, model_id, run_id, start_time, end_time, stop_reason, max_drawdown,
         sharpe_ratio, turnover, config_json)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb) RETURNING id`,
      [
        log.kind,
        log.modelId ?? null,
        log.runId ?? null,
        start === null ? null : new Date(start).toISOString(),
        end === null ? null : new Date(end).toISOString(),
        log.stopReason,
        finiteOrNull(log.maxDrawdown),
        finiteOrNull(log.sharpeRatio),
        finiteOrNull(log.turnover),
        JSON.stringify(redactDeep(log.config)),
      ],
    );
    const id = row.id;
    const idCol = (len: number) => new Array(len).fill(id);

    // Actions and weights: long form, one row per (step, column).
    const aTime: number[] = [], aLabel: string[] = [], aValue: number[] = [];
    for (let s = 0; s < steps; s++) {
      for (let j = 0; j < labels.length; j++) {
        aTime.push(log.decisionTimestamps[s]);
        aLabel.push(labels[j]);
        aValue.push(log.actions[s * labels.length + j]);
      }
    }
    const wTime: number[] = [],
      wInst: string[] = [],
      wValue: number[] = [],
      wWhy: (string | null)[] = [];
    for (let s = 0; s < steps; s++) {
      const why = log.rationale === undefined
        ? null
        : typeof log.rationale === "string"
        ? log.rationale
        : log.rationale[s];
      for (let i = 0; i < n; i++) {
        wTime.push(log.decisionTimestamps[s]);
        wInst.push(log.instruments[i]);
        wValue.push(log.targetWeights[s * n + i]);
        wWhy.push(why);
      }
    }
    await upsertColumns(tx, {
      table: "tt_action",
      key: ["episode_id", "timestamp", "instrument"],
      columns: [
        { name: "episode_id", type: "int8" },
        { name: "timestamp", type: TS },
        { name: "instrument", type: "text" },
        { name: "action_value", type: "float8" },
      ],
      data: [idCol(aTime.length), aTime, aLabel, aValue],
    });
    await upsertColumns(tx, {
      table: "tt_reward",
      key: ["episode_id", "timestamp"],
      columns: [
        { name: "episode_id", type: "int8" },
        { name: "timestamp", type: TS },
        { name: "reward_value", type: "float8" },
        { name: "cost", type: "float8" },
        { name: "slippage", type: "float8" },
        { name: "turnover", type: "float8" },
      ],
      data: [
        idCol(steps),
        log.rewardTimestamps,
        Array.from(log.rewards),
        log.costs ? Array.from(log.costs) : new Array(steps).fill(null),
        log.slippage ? Array.from(log.slippage) : new Array(steps).fill(null),
        log.stepTurnover ? Array.from(log.stepTurnover) : new Array(steps).fill(null),
      ],
    });
    await upsertColumns(tx, {
      table: "tt_equity_curve",
      key: ["episode_id", "timestamp"],
      columns: [
        { name: "episode_id", type: "int8" },
        { name: "timestamp", type: TS },
        { name: "net_worth", type: "float8" },
      ],
      data: [idCol(log.equityTimestamps.length), log.equityTimestamps, Array.from(log.netWorth)],
    });
    await upsertColumns(tx, {
      table: "tt_target_weights",
      key: ["episode_id", "timestamp", "instrument"],
      columns: [
        { name: "episode_id", type: "int8" },
        { name: "timestamp", type: TS },
        { name: "instrument", type: "text" },
        { name: "target_weight", type: "float8" },
        { name: "strategy", type: "text" },
        { name: "rationale", type: "text" },
      ],
      data: [
        idCol(wTime.length),
        wTime,
        wInst,
        wValue,
        new Array(wTime.length).fill(log.strategy),
        wWhy,
      ],
    });
    return id;
  });
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

interface EpisodeRow {
  id: number;
  kind: EpisodeKind;
  model_id: number | null;
  run_id: number | null;
  start_time: Date | null;
  end_time: Date | null;
  stop_reason: string | null;
  max_drawdown: number | null;
  sharpe_ratio: number | null;
  turnover: number | null;
  config_json: Record<string, unknown> | string;
  created_at: Date;
}

function toEpisode(r: EpisodeRow): EpisodeRecord {
  return {
    id: r.id,
    kind: r.kind,
    modelId: r.model_id,
    runId: r.run_id,
    startTime: r.start_time,
    endTime: r.end_time,
    stopReason: r.stop_reason,
    maxDrawdown: r.max_drawdown,
    sharpeRatio: r.sharpe_ratio,
    turnover: r.turnover,
    config: jsonColumn(r.config_json),
    createdAt: r.created_at,
  };
}

/** Filters of {@linkcode listEpisodes}. */
export interface EpisodeQuery {
  kind?: EpisodeKind;
  modelId?: number;
  runId?: number;
  /** Newest first; default 100. */
  limit?: number;
}

/**
 * Lists episodes, newest first.
 * @param q The store.
 * @param query See {@linkcode EpisodeQuery}.
 * @returns Episode rows without their curves.
 * @example
 * ```ts
 * const [latestEval] = await listEpisodes(store, { kind: "eval", modelId: 3, limit: 1 });
 * ```
 */
export async function listEpisodes(
  q: Queryable,
  query: EpisodeQuery = {},
): Promise<EpisodeRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (query.kind) {
    params.push(query.kind);
    where.push(`kind = $${params.length}`);
  }
  if (query.modelId !== undefined) {
    params.push(query.modelId);
    where.push(`model_id = $${params.length}`);
  }
  if (query.runId !== undefined) {
    params.push(query.runId);
    where.push(`run_id = $${params.length}`);
  }
  params.push(query.limit ?? 100);
  const rows = await q.query<EpisodeRow>(
    `SELECT * FROM tt_episode ${where.length ? "WHERE " + where.join(" AND ") : ""}
     ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(toEpisode);
}

/**
 * Reads one episode with its equity curve, rewards, actions and target weights.
 * @param q The store.
 * @param id `tt_episode.id`.
 * @returns The episode, or `null` when there is none with that id.
 * @example
 * ```ts
 * const ep = await readEpisode(store, 12);
 * ep?.equity.netWorth.at(-1);
 * ```
 */
export async function readEpisode(q: Queryable, id: number): Promise<EpisodeDetail | null> {
  const [row] = await q.query<EpisodeRow>("SELECT * FROM tt_episode WHERE id = $1", [id]);
  if (!row) return null;
  const eq = await q.query<{ timestamp: Date; net_worth: number }>(
    "SELECT timestamp, net_worth FROM tt_equity_curve WHERE episode_id = $1 ORDER BY timestamp",
    [id],
  );
  const rw = await q.query<
    {
      timestamp: Date;
      reward_value: number;
      cost: number | null;
      slippage: number | null;
      turnover: number | null;
    }
  >(
    "SELECT timestamp, reward_value, cost, slippage, turnover FROM tt_reward WHERE episode_id = $1 ORDER BY timestamp",
    [id],
  );
  const ac = await q.query<{ timestamp: Date; instrument: string; action_value: number }>(
    "SELECT timestamp, instrument, action_value FROM tt_action WHERE episode_id = $1 ORDER BY timestamp, instrument",
    [id],
  );
  const tw = await q.query<
    {
      timestamp: Date;
      instrument: string;
      target_weight: number;
      strategy: string;
      rationale: string | null;
    }
  >(
    `SELECT timestamp, instrument, target_weight, strategy, rationale FROM tt_target_weights
     WHERE episode_id = $1 ORDER BY timestamp, instrument`,
    [id],
  );
  const ms = (d: Date) => new Date(d).getTime();
  return {
    episode: toEpisode(row),
    equity: { timestamp: eq.map((r) => ms(r.timestamp)), netWorth: eq.map((r) => r.net_worth) },
    rewards: {
      timestamp: rw.map((r) => ms(r.timestamp)),
      reward: rw.map((r) => r.reward_value),
      cost: rw.map((r) => r.cost),
      slippage: rw.map((r) => r.slippage),
      turnover: rw.map((r) => r.turnover),
    },
    actions: {
      timestamp: ac.map((r) => ms(r.timestamp)),
      label: ac.map((r) => r.instrument),
      value: ac.map((r) => r.action_value),
    },
    weights: {
      timestamp: tw.map((r) => ms(r.timestamp)),
      label: tw.map((r) => r.instrument),
      value: tw.map((r) => r.target_weight),
      strategy: tw.map((r) => r.strategy),
      rationale: tw.map((r) => r.rationale),
    },
  };
}

/**
 * Links every episode of a training run to the model the run produced (training
 * episodes are logged while the model does not exist yet).
 * @param q The store or a transaction.
 * @param runId `tt_train_runs.id`.
 * @param modelId `tt_models.id`.
 * @returns How many episodes were linked.
 * @example
 * ```ts
 * await linkRunEpisodes(store, runId, saved.manifest.modelId!);
 * ```
 */
export async function linkRunEpisodes(
  q: Queryable,
  runId: number,
  modelId: number,
): Promise<number> {
  const rows = await q.query<{ id: number }>(
    "UPDATE tt_episode SET model_id = $1 WHERE run_id = $2 RETURNING id",
    [modelId, runId],
  );
  return rows.length;
}

/**
 * Finds the benchmark episode logged with an evaluation (a `benchmark` episode whose
 * config names the eval episode as `evalEpisodeId`); the newest when there are several.
 * @param q The store.
 * @param evalEpisodeId `tt_episode.id` of the evaluation.
 * @returns The benchmark episode's id, or `null` when none was logged with it.
 * @example
 * ```ts
 * const benchId = await findBenchmarkEpisode(store, evalId);
 * const bench = benchId === null ? null : await readEpisode(store, benchId);
 * ```
 */
export async function findBenchmarkEpisode(
  q: Queryable,
  evalEpisodeId: number,
): Promise<number | null> {
  const [row] = await q.query<{ id: number }>(
    `SELECT id FROM tt_episode WHERE kind = 'benchmark' AND config_json->>'evalEpisodeId' = $1
     ORDER BY id DESC LIMIT 1`,
    [String(evalEpisodeId)],
  );
  return row ? row.id : null;
}

/** One `tt_target_weights` row as {@linkcode readTargetWeights} returns it. */
export interface TargetWeightRow {
  /** Decision time, epoch ms. */
  timestamp: number;
  /** Instrument symbol. */
  instrument: string;
  /** Target weight of the instrument at that time. */
  weight: number;
}

/**
 * Reads an episode's target weights in long form (one row per time and instrument),
 * the input of `lib/eval`'s `pivotWeights`.
 * @param q The store.
 * @param episodeId `tt_episode.id`.
 * @returns Rows ordered by time, then instrument (empty for an unknown episode).
 * @example
 * ```ts
 * const w = pivotWeights(await readTargetWeights(store, 12));
 * ```
 */
export async function readTargetWeights(
  q: Queryable,
  episodeId: number,
): Promise<TargetWeightRow[]> {
  const rows = await q.query<{ timestamp: Date; instrument: string; target_weight: number }>(
    `SELECT timestamp, instrument, target_weight FROM tt_target_weights
     WHERE episode_id = $1 ORDER BY timestamp, instrument`,
    [episodeId],
  );
  return rows.map((r) => ({
    timestamp: new Date(r.timestamp).getTime(),
    instrument: r.instrument,
    weight: r.target_weight,
  }));
}
