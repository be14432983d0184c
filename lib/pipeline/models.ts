/**
 * Saved models and the registry together: {@linkcode saveAndRegisterModel} writes a
 * model directory (`lib/agents/model_io.ts`) and registers it in `tt_models`
 * (`lib/db/models_repo.ts`) in one transaction; {@linkcode resolveModel} turns what a
 * user types (`--model 12` or `--model data/models/ppo-portfolio-v1`) into the loaded
 * model.
 *
 * @module
 */
import { resolve } from "node:path";
import type { Queryable } from "../db/store.ts";
import {
  type ModelRecord,
  readModel,
  readModelVersion,
  registerModel,
  updateModelPath,
} from "../db/models_repo.ts";
import {
  loadModelDir,
  type ModelConfig,
  type SavedModel,
  saveModel,
  type SaveModelOptions,
} from "../agents/model_io.ts";
import type { PolicyBackend } from "../agents/policy.ts";

/** Options of {@linkcode saveAndRegisterModel}: those of `saveModel` without `registration`. */
export type RegisterModelOptions = Omit<SaveModelOptions, "registration">;

/** A model written to disk and registered; `record` is its `tt_models` row. */
export interface RegisteredModel extends SavedModel {
  record: ModelRecord;
}

/**
 * Writes a model directory and registers it with the next version of its name, in one
 * transaction: a failed write leaves no row. The directory defaults to
 * `<dataDir>/models/<name>-v<version>`, and `model.json` records the id and version.
 *
 * @param store Anything with `transaction` (an open `Store`).
 * @param backend The trained network.
 * @param config The model's configuration.
 * @param options Name, directory and observation-normaliser statistics (see `SaveModelOptions`).
 * @returns The saved model with its registry row.
 * @example
 * ```ts
 * const m = await saveAndRegisterModel(store, backend, config, { obsNorm });
 * console.log(m.dir, m.record.id, m.record.version);
 * ```
 */
export async function saveAndRegisterModel(
  store: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  backend: PolicyBackend,
  config: ModelConfig,
  options: RegisterModelOptions = {},
): Promise<RegisteredModel> {
  const name = options.name ?? "ppo-portfolio";
  return await store.transaction(async (tx) => {
    // The path is known once the version is: register, write, then record where it went.
    const row = await registerModel(tx, {
      name,
      path: options.dir === undefined ? "" : resolve(options.dir),
      config,
    });
    const saved = await saveModel(backend, config, {
      ...options,
      name,
      registration: { modelId: row.id, version: row.version },
    });
    if (saved.dir !== row.path) await updateModelPath(tx, row.id, saved.dir);
    return { ...saved, record: { ...row, path: saved.dir } };
  });
}

/**
 * Where a model reference points: a registry id (digits that are not an existing
 * directory) or `NAME@vN` (a name and version) is looked up in `tt_models`; anything
 * else is a directory.
 * @param store The store, to look up ids.
 * @param ref `"12"` (a `tt_models.id`), `"ppo-portfolio@v3"` or a directory path.
 * @returns The model's absolute directory.
 * @throws {RangeError} For an id or name and version that is not registered.
 * @example
 * ```ts
 * const dir = await resolveModelDir(store, "12"); // "/…/data/models/ppo-portfolio-v3"
 * ```
 */
export async function resolveModelDir(store: Queryable, ref: string): Promise<string> {
  const named = /^(.+)@v(\d+)$/.exec(ref);
  if (named && !(await isDirectory(ref))) {
    const row = await readModelVersion(store, named[1], Number(named[2]));
    if (!row) throw new RangeError(`No model ${named[1]} version ${named[2]} in tt_models`);
    return row.path;
  }
  if (/^\d+$/.test(ref) && !(await isDirectory(ref))) {
    const row = await readModel(store, Number(ref));
    if (!row) throw new RangeError(`No model with id ${ref} in tt_models`);
    return row.path;
  }
  return resolve(ref);
}

/**
 * Loads a model by registry id or by directory (see {@linkcode resolveModelDir}).
 * @param store The store, to look up ids.
 * @param ref `"12"` (a `tt_models.id`) or a directory path.
 * @returns The saved model.
 * @throws {RangeError} For an id that is not registered.
 * @throws {Error} When the directory holds no model (from `loadModelDir`).
 * @example
 * ```ts
 * const saved = await resolveModel(store, args.model);
 * ```
 */
export async function resolveModel(store: Queryable, ref: string): Promise<SavedModel> {
  return await loadModelDir(await resolveModelDir(store, ref));
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

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
