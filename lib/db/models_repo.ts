/**
 * The model registry (`tt_models`): every saved model directory under a name with a
 * version number (1, 2, … per name). The files themselves are written and read by
 * `lib/agents/model_io.ts`; `lib/pipeline/models.ts` ties the two together.
 *
 * Configs are passed through {@linkcode redactDeep} before they are stored.
 *
 * @module
 */
import type { Queryable } from "./store.ts";
import { redactDeep } from "../util/redact.ts";
import { jsonColumn } from "./_json.ts";

/** A stored `tt_models` row. */
export interface ModelRecord {
  id: number;
  name: string;
  version: number;
  /** Directory of the saved model. */
  path: string;
  config: Record<string, unknown>;
  /**
   * SHA-256 of every file of the directory (`model.json` included) by file name, as
   * saved; null for a model registered before checksums were recorded.
   */
  checksums: Record<string, string> | null;
  createdAt: Date;
}

interface ModelRow {
  id: number;
  name: string;
  version: number;
  path: string;
  config_json: Record<string, unknown> | string;
  checksums: Record<string, string> | string | null;
  created_at: Date;
}

function toModel(r: ModelRow): ModelRecord {
  return {
    id: r.id,
    name: r.name,
    version: r.version,
    path: r.path,
    config: jsonColumn(r.config_json),
    checksums: jsonColumn(r.checksums ?? null),
    createdAt: r.created_at,
  };
}

/** What {@linkcode registerModel} stores. */
export interface NewModel {
  /** Registry name, e.g. `"ppo-portfolio"`. */
  name: string;
  /** Directory of the saved model. */
  path: string;
  /** The model's configuration (any JSON-serialisable object; redacted before storing). */
  config: object;
}

/**
 * Registers a saved model under `name` with the next version number (1 for a new
 * name, else the largest stored version + 1; safe when two processes register at once).
 *
 * @param q The store or a transaction.
 * @param model See {@linkcode NewModel}.
 * @returns The stored row with its id and version.
 * @example
 * ```ts
 * const m = await registerModel(store, { name: "ppo-portfolio", path: "/data/models/x", config });
 * m.version; // 1, 2, …
 * ```
 */
export async function registerModel(q: Queryable, model: NewModel): Promise<ModelRecord> {
  // Inside a transaction a duplicate version aborts it (the retry below cannot help there):
  // concurrent registrations of one name wait for each other until commit instead.
  await q.query("SELECT pg_advisory_xact_lock(hashtext('tt_models:' || $1))", [model.name]);
  for (let attempt = 0;; attempt++) {
    try {
      const [row] = await q.query<ModelRow>(
        `INSERT INTO tt_models (name, version, path, config_json)
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3::jsonb FROM tt_models WHERE name = $1
         RETURNING *`,
        [model.name, model.path, JSON.stringify(redactDeep(model.config))],
      );
      return toModel(row);
    } catch (e) {
      // A concurrent registration took the same version: try the next one.
      if (attempt < 5 && /duplicate key|unique/i.test((e as Error).message)) continue;
      throw e;
    }
  }
}

/**
 * Changes where a registered model lives (e.g. after its directory is named by its version).
 * @param q The store or a transaction.
 * @param id `tt_models.id`.
 * @param path The new directory.
 * @returns Nothing; an unknown id changes nothing.
 * @example
 * ```ts
 * await updateModelPath(store, 3, "/data/models/ppo-portfolio-v3");
 * ```
 */
export async function updateModelPath(q: Queryable, id: number, path: string): Promise<void> {
  await q.query("UPDATE tt_models SET path = $2 WHERE id = $1", [id, path]);
}

/**
 * Records where a registered model lives and the SHA-256 of its files (once the
 * directory is written).
 * @param q The store or a transaction.
 * @param id `tt_models.id`.
 * @param files `path`: the directory; `checksums`: file name → SHA-256 hex.
 * @returns Nothing; an unknown id changes nothing.
 * @example
 * ```ts
 * await updateModelFiles(tx, 3, { path: saved.dir, checksums: saved.fileChecksums });
 * ```
 */
export async function updateModelFiles(
  q: Queryable,
  id: number,
  files: { path: string; checksums: Record<string, string> },
): Promise<void> {
  await q.query("UPDATE tt_models SET path = $2, checksums = $3::jsonb WHERE id = $1", [
    id,
    files.path,
    JSON.stringify(files.checksums),
  ]);
}

/**
 * The registered models whose directory is `path` (normally one; several only for
 * rows written before a model directory could not be reused), newest first.
 * @param q The store.
 * @param path An absolute directory, as stored.
 * @returns Model rows.
 * @example
 * ```ts
 * const [row] = await modelsAtPath(store, "/data/models/ppo-portfolio-v3");
 * ```
 */
export async function modelsAtPath(q: Queryable, path: string): Promise<ModelRecord[]> {
  const rows = await q.query<ModelRow>("SELECT * FROM tt_models WHERE path = $1 ORDER BY id DESC", [
    path,
  ]);
  return rows.map(toModel);
}

/**
 * Reads one registered model by id.
 * @param q The store.
 * @param id `tt_models.id`.
 * @returns The model, or `null` when there is none with that id.
 * @example
 * ```ts
 * const m = await readModel(store, 3);
 * ```
 */
export async function readModel(q: Queryable, id: number): Promise<ModelRecord | null> {
  const [row] = await q.query<ModelRow>("SELECT * FROM tt_models WHERE id = $1", [id]);
  return row ? toModel(row) : null;
}

/**
 * Reads one registered model by name and version.
 * @param q The store.
 * @param name Registry name.
 * @param version Version within `name` (1, 2, …).
 * @returns The model, or `null` when that name has no such version.
 * @example
 * ```ts
 * const m = await readModelVersion(store, "ppo-portfolio", 2);
 * ```
 */
export async function readModelVersion(
  q: Queryable,
  name: string,
  version: number,
): Promise<ModelRecord | null> {
  const [row] = await q.query<ModelRow>(
    "SELECT * FROM tt_models WHERE name = $1 AND version = $2",
    [name, version],
  );
  return row ? toModel(row) : null;
}

/**
 * Reads the latest registered model: the highest version of `name`, or without a
 * name the most recently registered model of any name.
 * @param q The store.
 * @param name Registry name; omit for any name.
 * @returns The model, or `null` when none is registered (under that name).
 * @example
 * ```ts
 * const m = await latestModel(store, "ppo-portfolio"); // m?.version is the largest
 * ```
 */
export async function latestModel(q: Queryable, name?: string): Promise<ModelRecord | null> {
  const [row] = name === undefined
    ? await q.query<ModelRow>("SELECT * FROM tt_models ORDER BY id DESC LIMIT 1")
    : await q.query<ModelRow>(
      "SELECT * FROM tt_models WHERE name = $1 ORDER BY version DESC LIMIT 1",
      [name],
    );
  return row ? toModel(row) : null;
}

/**
 * Lists registered models, newest first.
 * @param q The store.
 * @param options `name` filters by name.
 * @returns Model rows.
 * @example
 * ```ts
 * const versions = (await listModels(store, { name: "ppo-portfolio" })).map((m) => m.version);
 * ```
 */
export async function listModels(
  q: Queryable,
  options: { name?: string } = {},
): Promise<ModelRecord[]> {
  const rows = options.name
    ? await q.query<ModelRow>("SELECT * FROM tt_models WHERE name = $1 ORDER BY id DESC", [
      options.name,
    ])
    : await q.query<ModelRow>("SELECT * FROM tt_models ORDER BY id DESC");
  return rows.map(toModel);
}

/**
 * Removes a model from the registry, if it is registered. Episodes, training runs and
 * trading runs that name it are kept and unlinked (their `model_id` becomes null), and its
 * kill-switch row is dropped, in the same statement. The model's directory is not touched.
 * @param q The store or a transaction.
 * @param id `tt_models.id`.
 * @returns Whether a model was removed (false for an unknown id).
 * @example
 * ```ts
 * if (!(await deleteModel(store, 3))) console.log("model 3 was not registered");
 * ```
 */
export async function deleteModel(q: Queryable, id: number): Promise<boolean> {
  const rows = await q.query<{ id: number }>(
    `WITH episodes AS (UPDATE tt_episode SET model_id = NULL WHERE model_id = $1),
          runs AS (UPDATE tt_train_runs SET model_id = NULL WHERE model_id = $1),
          trading AS (UPDATE tt_trading_runs SET model_id = NULL WHERE model_id = $1),
          controls AS (DELETE FROM tt_trading_controls WHERE model_id = $1)
     DELETE FROM tt_models WHERE id = $1 RETURNING id`,
    [id],
  );
  return rows.length > 0;
}
