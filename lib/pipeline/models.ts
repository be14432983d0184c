/**
 * Saved models and the registry together: {@linkcode saveAndRegisterModel} writes a
 * model directory (`lib/agents/model_io.ts`) and registers it in `tt_models`
 * (`lib/db/models_repo.ts`) in one transaction; {@linkcode resolveModel} turns what a
 * user types (`--model 12` or `--model data/models/ppo-portfolio-v1`) into the loaded
 * model.
 *
 * Identity comes from the registry, never from the number inside `model.json`: a
 * directory is the model of a `tt_models` row when the row's path is that directory
 * and the row's checksums are the directory's files (a row registered before
 * checksums were recorded: its path and the manifest's id). Any other directory, e.g.
 * one copied from another store, is an unregistered model: it evaluates, its episodes
 * are logged with `model_id` null, and {@linkcode resolveModel} says so in `warnings`.
 * (Refusing it would block sharing a model between machines; attaching it to the row
 * its file names would put results on an unrelated model.) An id or `NAME@vN` whose
 * directory no longer holds the registered files is refused.
 *
 * @module
 */
import { resolve } from "node:path";
import type { Queryable } from "../db/store.ts";
import {
  type ModelRecord,
  modelsAtPath,
  readModel,
  registerModel,
  updateModelFiles,
} from "../db/models_repo.ts";
import { lookupModel, parseModelRef } from "../models/aliases.ts";
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
 * `<dataDir>/models/<name>-v<version>`, and `model.json` records the id and version;
 * the row records the directory and the SHA-256 of its files. A `dir` that holds
 * files is refused (`DirectoryNotEmptyError`, a `RangeError`), so no two rows share a path.
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
    await updateModelFiles(tx, row.id, { path: saved.dir, checksums: saved.fileChecksums });
    return { ...saved, record: { ...row, path: saved.dir, checksums: saved.fileChecksums } };
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
  return (await registryRow(store, ref))?.path ?? resolve(ref);
}

/** The row a reference names (id, `NAME@vN`, `NAME@latest` or `NAME@ALIAS` that is not a directory), or null for a directory. */
async function registryRow(store: Queryable, ref: string): Promise<ModelRecord | null> {
  const parsed = parseModelRef(ref);
  if (parsed.kind === "path" || await isDirectory(ref)) return null;
  return await lookupModel(store, parsed);
}

/** A loaded model and the registry row it is (null: unregistered). */
export interface ResolvedModel extends SavedModel {
  /** The `tt_models` row this directory is, or null when it is not a registered model. */
  record: ModelRecord | null;
}

/** The directory of a registry row no longer holds the files registered under it. */
export class ModelIdentityError extends Error {
  /**
   * @param message Names the row, the directory and what differs.
   */
  constructor(message: string) {
    super(message);
    this.name = "ModelIdentityError";
  }
}

/**
 * Loads a model by registry id, `NAME@vN` or directory (see {@linkcode resolveModelDir})
 * and finds which registry row it is (see the module notes). The returned manifest's
 * `modelId` and `version` are the row's, or null for an unregistered directory, so
 * episodes logged with them attach to the right model or to none.
 * @param store The store, to look up ids.
 * @param ref `"12"` (a `tt_models.id`), `"ppo-portfolio@v3"` or a directory path.
 * @returns The saved model, its registry row (or null) and warnings to print.
 * @throws {RangeError} For an id that is not registered.
 * @throws {ModelIdentityError} For an id whose directory holds other files than registered.
 * @throws {Error} When the directory holds no model or a damaged one (from `loadModelDir`).
 * @example
 * ```ts
 * const saved = await resolveModel(store, args.model);
 * for (const w of saved.warnings) console.error(`WARNING: ${w}`);
 * saved.manifest.modelId; // the registry id, or null for an unregistered directory
 * ```
 */
export async function resolveModel(store: Queryable, ref: string): Promise<ResolvedModel> {
  const named = await registryRow(store, ref);
  const saved = await loadModelDir(named?.path ?? resolve(ref));
  if (named) {
    const row = named;
    const why = mismatch(row, saved);
    if (why) {
      throw new ModelIdentityError(
        `Model ${ref} (tt_models id ${row.id}, ${row.name} v${row.version}) is registered at ${saved.dir}, ` +
          `but the row ${why}: the directory was replaced or edited after it was registered. To use ` +
          `what is there, pass the directory itself (it is then evaluated as an unregistered model)`,
      );
    }
    return registered(saved, row);
  }
  const paths = [saved.dir];
  const real = await Deno.realPath(saved.dir).catch(() => saved.dir);
  if (real !== saved.dir) paths.push(real);
  const rows = (await Promise.all(paths.map((p) => modelsAtPath(store, p)))).flat();
  const row = rows.find((r) => mismatch(r, saved) === null);
  if (row) return registered(saved, row);
  const claimed = saved.manifest.modelId;
  const warnings = [...saved.warnings];
  if (claimed !== null || rows.length > 0) {
    const claimedRow = claimed === null ? null : await readModel(store, claimed);
    const reason = rows.length > 0
      ? `tt_models row ${rows[0].id} registered at this path ${mismatch(rows[0], saved)}`
      : claimedRow === null
      ? `its model.json claims tt_models id ${claimed}, which this store does not have`
      : claimedRow.path !== saved.dir && claimedRow.path !== real
      ? `its model.json claims tt_models id ${claimed}, which is registered at ${claimedRow.path}`
      : `its model.json claims tt_models id ${claimed}, whose ${mismatch(claimedRow, saved)}`;
    warnings.push(
      `${saved.dir} is not a registered model of this store (${reason}): ` +
        `treated as unregistered; its episodes are logged with model_id null`,
    );
  }
  return {
    ...saved,
    manifest: { ...saved.manifest, modelId: null, version: null },
    record: null,
    warnings,
  };
}

function registered(saved: SavedModel, row: ModelRecord): ResolvedModel {
  const warnings = [...saved.warnings];
  if (row.checksums === null) {
    warnings.push(
      `tt_models row ${row.id} has no checksums (registered before they were recorded): ` +
        `${saved.dir} is taken as that model by its path and model.json's id`,
    );
  }
  return {
    ...saved,
    manifest: { ...saved.manifest, modelId: row.id, version: row.version },
    record: row,
    warnings,
  };
}

/** Why `saved` is not the model of `row`, or null when it is. */
function mismatch(row: ModelRecord, saved: SavedModel): string | null {
  if (row.checksums === null) {
    return saved.manifest.modelId === row.id
      ? null
      : `its model.json claims id ${saved.manifest.modelId}, not ${row.id}`;
  }
  const files = new Set([...Object.keys(row.checksums), ...Object.keys(saved.fileChecksums)]);
  const differ = [...files].filter((f) => row.checksums![f] !== saved.fileChecksums[f]).sort();
  return differ.length === 0
    ? null
    : `records other checksums for ${differ.join(", ")} than the directory holds`;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
