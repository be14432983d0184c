/**
 * What a model's config says about its lineage: the date ranges it was trained on
 * (across `--resume`) and the seed group it was trained in.
 *
 * @module
 */
import type { ModelConfig } from "../agents/model_io.ts";

/** An inclusive range of ISO dates. */
export interface DateRange {
  start: string;
  end: string;
}

/**
 * Every date range a model's lineage was trained on: its recorded `trainedRanges`
 * (this run's range and every ancestor's, across `--resume`), or `[dataRange]` for a
 * model saved before they were recorded. Out-of-sample evaluation must not overlap
 * any of them.
 * @param config A saved model's config.
 * @returns Sorted ranges, overlaps merged (a fresh array).
 * @example
 * ```ts
 * const ranges = trainedRangesOf(saved.manifest.config);
 * const overlaps = ranges.some((r) => r.start <= evalEnd && evalStart <= r.end);
 * ```
 */
export function trainedRangesOf(
  config: Pick<ModelConfig, "dataRange" | "trainedRanges">,
): DateRange[] {
  return mergeRanges(config.trainedRanges ?? [config.dataRange]);
}

/**
 * Sorts ranges by start and merges the overlapping ones.
 * @param ranges Inclusive ISO ranges.
 * @returns The union as disjoint sorted ranges (a fresh array).
 * @example
 * ```ts
 * mergeRanges([{ start: "2014-01-01", end: "2015-12-31" }, { start: "2013-01-01", end: "2014-06-30" }]);
 * // [{ start: "2013-01-01", end: "2015-12-31" }]
 * ```
 */
export function mergeRanges(ranges: readonly DateRange[]): DateRange[] {
  const sorted = [...ranges].sort((a, b) =>
    a.start < b.start ? -1 : a.start > b.start ? 1 : a.end < b.end ? -1 : 1
  );
  const out: DateRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && r.start <= last.end) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/**
 * The seed group a model was trained in (`deno task train --seeds …` gives every
 * model of one invocation the same group, recorded as `config.extra.seedGroup`).
 * @param config A saved model's config.
 * @returns The group, or null for a model trained alone.
 * @example
 * ```ts
 * const group = seedGroupOf(saved.manifest.config); // "ppo-portfolio-seeds-20250101T120000-1,2,3" or null
 * ```
 */
export function seedGroupOf(config: Pick<ModelConfig, "extra">): string | null {
  const g = config.extra?.seedGroup;
  return typeof g === "string" ? g : null;
}
