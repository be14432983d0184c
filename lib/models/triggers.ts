/**
 * Retraining triggers: rules over the store's state that say when a model should be
 * retrained — every N new bars since its training data ended (or since the last job),
 * the newest feature drift run drifted, the newest performance drift run drifted. The
 * rules only decide; enqueuing and running the job is `lib/pipeline/retrain.ts`.
 *
 * @module
 */
import type { Queryable } from "../db/store.ts";
import type { ModelRecord } from "../db/models_repo.ts";
import { latestDriftRun } from "../db/drift_repo.ts";
import { listRetrainJobs } from "../db/model_ab_repo.ts";
import { readBarCalendar, readBarRanges } from "../db/prices_repo.ts";
import { parseModelConfig } from "../agents/model_io.ts";
import { trainedRangesOf } from "./lineage.ts";

/** The rules; a rule left out does not fire. */
export interface TriggerRules {
  /** Retrain after this many new bars (since the training data's end or the last job). */
  everyBars?: number;
  /** Fire when the newest feature drift run of the model is drifted. */
  featureDrift?: boolean;
  /** Fire when the newest performance drift run of the model is drifted. */
  performanceDrift?: boolean;
  /**
   * Promote the retrained challenger to champion when `compareModels` on the held-back
   * tail says `promote` (and only then). Default false.
   */
  autoPromote?: boolean;
}

/** What the rules read. */
export interface TriggerState {
  /** Bars stored after `since`. */
  newBars: number;
  /** ISO date the bar count starts after: the newest of training end and last job. */
  since: string;
  featureDrift: { runId: number; drifted: boolean; at: string } | null;
  performanceDrift: { runId: number; drifted: boolean; at: string } | null;
}

/** One rule that fired. */
export interface TriggerReason {
  rule: "every-bars" | "feature-drift" | "performance-drift";
  detail: string;
}

/**
 * Reads what the rules look at for a model.
 * @param q The store.
 * @param model The registry row.
 * @returns New bars since training (or the last retraining job of the name), newest drift verdicts.
 * @throws {TypeError} When the model's config is not a valid model config.
 * @example
 * ```ts
 * const state = await readTriggerState(store, await lookupModelRef(store, "ppo@champion"));
 * ```
 */
export async function readTriggerState(q: Queryable, model: ModelRecord): Promise<TriggerState> {
  const cfg = parseModelConfig(model.config, `tt_models ${model.id} config`);
  const ranges = trainedRangesOf(cfg);
  let since = ranges.map((r) => r.end).sort().at(-1) ?? "1970-01-01";
  // The newest job that did not fail (a failed one retrained nothing).
  const job = (await listRetrainJobs(q, model.name)).find((j) => j.status !== "failed");
  if (job) {
    const dataEnd = typeof job.spec.dataEnd === "string" ? job.spec.dataEnd : null;
    if (dataEnd && dataEnd > since) since = dataEnd;
  }
  const cal = await commonBarCalendar(
    q,
    cfg.instruments,
    cfg.barSize,
    new Date(Date.parse(`${since}T00:00:00Z`) + 86_400_000),
  );
  const drift = async (kind: "feature" | "performance") => {
    const d = await latestDriftRun(q, model.id, kind);
    return d ? { runId: d.id, drifted: d.drifted, at: d.computedAt.toISOString() } : null;
  };
  return {
    newBars: cal.length,
    since,
    featureDrift: await drift("feature"),
    performanceDrift: await drift("performance"),
  };
}

/**
 * Which rules fire on a state.
 * @param rules The rules.
 * @param state What {@linkcode readTriggerState} read.
 * @returns The rules that fired, with why (empty: nothing to do).
 * @throws {RangeError} For an `everyBars` that is not a whole number ≥ 1.
 * @example
 * ```ts
 * evaluateTriggers({ everyBars: 63 }, { newBars: 70, since: "2016-12-30", featureDrift: null, performanceDrift: null });
 * // [{ rule: "every-bars", detail: "70 new bars since 2016-12-30 (every 63)" }]
 * ```
 */
export function evaluateTriggers(rules: TriggerRules, state: TriggerState): TriggerReason[] {
  const out: TriggerReason[] = [];
  if (rules.everyBars !== undefined) {
    if (!Number.isInteger(rules.everyBars) || rules.everyBars < 1) {
      throw new RangeError(`everyBars = ${rules.everyBars} must be a whole number ≥ 1`);
    }
    if (state.newBars >= rules.everyBars) {
      out.push({
        rule: "every-bars",
        detail: `${state.newBars} new bars since ${state.since} (every ${rules.everyBars})`,
      });
    }
  }
  if (rules.featureDrift && state.featureDrift?.drifted) {
    out.push({
      rule: "feature-drift",
      detail: `feature drift run ${state.featureDrift.runId} (${state.featureDrift.at}) drifted`,
    });
  }
  if (rules.performanceDrift && state.performanceDrift?.drifted) {
    out.push({
      rule: "performance-drift",
      detail:
        `performance drift run ${state.performanceDrift.runId} (${state.performanceDrift.at}) drifted`,
    });
  }
  return out;
}

/**
 * The bars every one of the instruments has a price for: the calendar between the latest
 * first bar and the earliest last bar (what training and evaluation can use).
 * @param q The store.
 * @param instruments The universe.
 * @param barSize Bar size.
 * @param start Only bars at or after it.
 * @returns Epoch ms, ascending (empty when an instrument has no bars).
 * @example
 * ```ts
 * const cal = await commonBarCalendar(store, ["AAPL", "SPX"], "1 day");
 * ```
 */
export async function commonBarCalendar(
  q: Queryable,
  instruments: readonly string[],
  barSize: string,
  start?: Date,
): Promise<number[]> {
  const spans = (await readBarRanges(q, barSize)).filter((r) => instruments.includes(r.instrument));
  if (spans.length < new Set(instruments).size) return [];
  const first = Math.max(...spans.map((r) => r.first), start?.getTime() ?? -Infinity);
  const last = Math.min(...spans.map((r) => r.last));
  if (first > last) return [];
  return await readBarCalendar(q, {
    instruments: [...instruments],
    barSize,
    start: new Date(first),
    end: new Date(last),
  });
}
