/**
 * Feature drift of a registered model on the store's data: its observed features over
 * the ranges it was trained on against the most recent window, per feature and
 * instrument (measures and decision rule in `drift.ts`), stored in `tt_drift_runs`.
 *
 * @module
 */
import type { Queryable } from "../db/store.ts";
import type { ModelRecord } from "../db/models_repo.ts";
import { readFeatures } from "../db/features_repo.ts";
import { recordDriftRun } from "../db/drift_repo.ts";
import { parseModelConfig } from "../agents/model_io.ts";
import { trainedRangesOf } from "./lineage.ts";
import {
  type DriftThresholds,
  featureDrift,
  type FeatureDriftReport,
  groupFeatureRows,
} from "./drift.ts";

/** Options of {@linkcode computeModelDrift}. */
export interface ModelDriftOptions {
  /** Bars in the recent window, per instrument. Default 63 (a quarter of daily bars). */
  window?: number;
  /** Last date of the recent window (ISO, inclusive). Default: the newest stored feature bar. */
  end?: string;
  /** Overrides of the decision thresholds. */
  thresholds?: Partial<DriftThresholds>;
  /** Store the result in `tt_drift_runs` (default true). */
  record?: boolean;
}

/** What {@linkcode computeModelDrift} found. */
export interface ModelDriftResult extends FeatureDriftReport {
  modelId: number | null;
  /** First and last timestamp of the recent window (ms), null when it is empty. */
  window: { start: number | null; end: number | null; bars: number };
  /** The ranges the training sample came from. */
  trainedRanges: { start: string; end: string }[];
  /** `tt_drift_runs.id`, or null with `record: false`. */
  runId: number | null;
  warnings: string[];
}

/**
 * Measures the feature drift of a model (see the module notes).
 * @param q The store.
 * @param model The registry row (`lookupModelRef`).
 * @param options Window, end date, thresholds, whether to store it.
 * @returns Per-pair figures, the verdict and the window measured.
 * @throws {RangeError} When the store holds none of the model's features for its training ranges.
 * @example
 * ```ts
 * const d = await computeModelDrift(store, await lookupModelRef(store, "ppo@champion"), { window: 63 });
 * d.drifted; // true when ≥ 25 % of (feature, instrument) pairs shifted
 * ```
 */
export async function computeModelDrift(
  q: Queryable,
  model: ModelRecord,
  options: ModelDriftOptions = {},
): Promise<ModelDriftResult> {
  return await computeFeatureDrift(q, driftSubjectOf(model), options);
}

/** What the drift of a model is measured on. */
export interface DriftSubject {
  /** `tt_models.id` to record it under (null: not recorded under a model). */
  modelId: number | null;
  instruments: string[];
  /** Observed feature names. */
  features: string[];
  barSize: string;
  /** Training ranges (ISO dates, inclusive). */
  trainedRanges: { start: string; end: string }[];
}

/**
 * What a registered model observes and was trained on, from its config.
 * @param model The registry row.
 * @returns The drift subject.
 * @throws {TypeError} When the config is not a valid model config.
 * @example
 * ```ts
 * const subject = driftSubjectOf(row); // { instruments: ["AAPL", "SPX"], features: ["return_1", …], … }
 * ```
 */
export function driftSubjectOf(model: ModelRecord): DriftSubject {
  const cfg = parseModelConfig(model.config, `tt_models ${model.id} config`);
  return {
    modelId: model.id,
    instruments: cfg.instruments,
    features: cfg.features.names,
    barSize: cfg.barSize,
    trainedRanges: trainedRangesOf(cfg),
  };
}

/**
 * {@linkcode computeModelDrift} for an explicit subject (instruments, features, training
 * ranges), e.g. a model not yet registered.
 * @param q The store.
 * @param subject What to measure.
 * @param options Window, end date, thresholds, whether to store it.
 * @returns Per-pair figures, the verdict and the window measured.
 * @example
 * ```ts
 * const d = await computeFeatureDrift(store, { modelId: null, instruments: ["AAPL"], features: ["vol_20"], barSize: "1 day", trainedRanges: [{ start: "2014-01-02", end: "2016-12-30" }] });
 * ```
 */
export async function computeFeatureDrift(
  q: Queryable,
  subject: DriftSubject,
  options: ModelDriftOptions = {},
): Promise<ModelDriftResult> {
  const window = options.window ?? 63;
  if (!Number.isInteger(window) || window < 5) {
    throw new RangeError(`drift window = ${window} must be a whole number of bars ≥ 5`);
  }
  const names = subject.features;
  const ranges = subject.trainedRanges;
  const model = { id: subject.modelId };
  const base = { instruments: subject.instruments, names, barSize: subject.barSize };
  const trainRows = {
    instrument: [] as string[],
    timestamp: [] as number[],
    feature: [] as string[],
    value: [] as number[],
  };
  for (const r of ranges) {
    const rows = await readFeatures(q, { ...base, start: r.start, end: `${r.end}T23:59:59.999Z` });
    trainRows.instrument.push(...rows.instrument);
    trainRows.timestamp.push(...Array.from(rows.timestamp));
    trainRows.feature.push(...rows.feature);
    trainRows.value.push(...Array.from(rows.value));
  }
  if (trainRows.instrument.length === 0) {
    throw new RangeError(
      `No stored features (${
        names.join(", ")
      }) of model ${model.id}'s instruments in its training ` +
        `ranges ${
          ranges.map((r) => `${r.start}…${r.end}`).join(", ")
        }: run deno task features first`,
    );
  }
  const train = groupFeatureRows(trainRows);
  const recentRows = await readFeatures(q, {
    ...base,
    ...(options.end ? { end: `${options.end}T23:59:59.999Z` } : {}),
  });
  // The last `window` timestamps of each instrument.
  const lastStamps = new Map<string, Set<number>>();
  const byInstrument = new Map<string, number[]>();
  for (let i = 0; i < recentRows.instrument.length; i++) {
    const list = byInstrument.get(recentRows.instrument[i]) ?? [];
    if (list.at(-1) !== recentRows.timestamp[i]) list.push(recentRows.timestamp[i]);
    byInstrument.set(recentRows.instrument[i], list);
  }
  let start = Infinity, end = -Infinity, bars = 0;
  for (const [inst, stamps] of byInstrument) {
    const keep = stamps.slice(-window);
    lastStamps.set(inst, new Set(keep));
    if (keep.length) {
      start = Math.min(start, keep[0]);
      end = Math.max(end, keep.at(-1)!);
      bars = Math.max(bars, keep.length);
    }
  }
  const recent = groupFeatureRows(
    recentRows,
    (t, inst) => lastStamps.get(inst)?.has(t) ?? false,
  );
  const report = featureDrift(train, recent, options.thresholds);
  const warnings: string[] = [];
  const overlaps = Number.isFinite(start) &&
    ranges.some((r) => Date.parse(r.start) <= end && start <= Date.parse(`${r.end}T23:59:59.999Z`));
  if (overlaps) {
    warnings.push(
      `the recent window ${iso(start)}…${
        iso(end)
      } overlaps the training ranges: the comparison is partly in sample`,
    );
  }
  if (bars < window) {
    warnings.push(`only ${bars} recent bars (window ${window}): the measures are noisy`);
  }
  const windowOut = {
    start: Number.isFinite(start) ? start : null,
    end: Number.isFinite(end) ? end : null,
    bars,
  };
  let runId: number | null = null;
  if (options.record !== false) {
    runId = await recordDriftRun(q, {
      modelId: subject.modelId,
      kind: "feature",
      windowStart: windowOut.start,
      windowEnd: windowOut.end,
      drifted: report.drifted,
      summary: {
        pairs: report.pairs,
        driftedPairs: report.driftedPairs,
        share: Number.isFinite(report.share) ? report.share : null,
        thresholds: report.thresholds,
        window,
        trainedRanges: ranges,
        warnings,
      },
      rows: report.rows,
    });
  }
  return {
    ...report,
    modelId: model.id,
    window: windowOut,
    trainedRanges: ranges,
    runId,
    warnings,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
