/**
 * The model registry's rules: how a model is named on a command line, what an alias
 * is, and what a rollback undoes.
 *
 * **References** ({@linkcode parseModelRef}): `12` (a `tt_models.id`), `NAME@v3` (a
 * version), `NAME@latest` (its newest version), `NAME@champion` (an alias: any name that
 * is not `vN` or `latest`), or a directory path (anything else; `lib/pipeline/models.ts`
 * decides whether digits name an existing directory first).
 *
 * **Aliases** (MLflow's registered-model aliases): per model name, an alias points at
 * one version; `champion` and `challenger` are conventions, any
 * {@linkcode ALIAS_PATTERN} name works. Every change is recorded in
 * `tt_model_alias_events` with who, when and why.
 *
 * **Rollback and restore** form an undo/redo stack per alias, replayed from the events:
 * `set` and `remove` push a change (and clear what could be restored); `rollback` undoes
 * the newest change still in effect (the alias moves back to what it pointed at before
 * it; repeated rollbacks go further back); `restore` re-applies the newest rolled-back
 * change. Nothing is ever deleted from the history, so every earlier state can be
 * reached again.
 *
 * @module
 */
import type { Queryable } from "../db/store.ts";
import { latestModel, type ModelRecord, readModel, readModelVersion } from "../db/models_repo.ts";
import {
  type AliasEvent,
  aliasEvents,
  listAliases,
  lockAlias,
  readAlias,
  recordAliasChange,
} from "../db/model_aliases_repo.ts";

/** What a model reference names. */
export type ModelRef =
  | { kind: "id"; id: number }
  | { kind: "version"; name: string; version: number }
  | { kind: "latest"; name: string }
  | { kind: "alias"; name: string; alias: string }
  | { kind: "path"; path: string };

/** Valid alias names: a letter, then letters, digits, `_` or `-` (at most 64); not `vN` or `latest`. */
export const ALIAS_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** A store that can run a transaction (the embedded store and the server both can). */
export interface Transactional {
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

/**
 * Parses a model reference (see the module notes). Digits are an id here; callers that
 * also accept directories check for one first.
 * @param ref The text a user typed.
 * @returns What it names.
 * @example
 * ```ts
 * parseModelRef("ppo-portfolio@champion"); // { kind: "alias", name: "ppo-portfolio", alias: "champion" }
 * parseModelRef("ppo-portfolio@v3"); // { kind: "version", name: "ppo-portfolio", version: 3 }
 * parseModelRef("12"); // { kind: "id", id: 12 }
 * ```
 */
export function parseModelRef(ref: string): ModelRef {
  const text = ref.trim();
  if (/^\d+$/.test(text)) return { kind: "id", id: Number(text) };
  const at = text.lastIndexOf("@");
  if (at > 0 && !text.slice(at + 1).includes("/")) {
    const name = text.slice(0, at);
    const tail = text.slice(at + 1);
    const v = /^v(\d+)$/.exec(tail);
    if (v) return { kind: "version", name, version: Number(v[1]) };
    if (tail === "latest") return { kind: "latest", name };
    if (ALIAS_PATTERN.test(tail)) return { kind: "alias", name, alias: tail };
  }
  return { kind: "path", path: text };
}

/**
 * Checks an alias name.
 * @param alias The proposed alias.
 * @returns The alias.
 * @throws {RangeError} For a name outside {@linkcode ALIAS_PATTERN}, `latest` or `vN`.
 * @example
 * ```ts
 * checkAliasName("champion"); // "champion"
 * ```
 */
export function checkAliasName(alias: string): string {
  if (!ALIAS_PATTERN.test(alias) || alias === "latest" || /^v\d+$/.test(alias)) {
    throw new RangeError(
      `"${alias}" is not a valid alias: use a letter then letters, digits, _ or - ` +
        `(e.g. champion, challenger); "latest" and vN are reserved`,
    );
  }
  return alias;
}

/**
 * Looks a registry reference up.
 * @param q The store.
 * @param ref A reference that is not a path (see {@linkcode parseModelRef}).
 * @returns The model row.
 * @throws {RangeError} Naming what does not exist (and the aliases that do, for an unknown alias).
 * @example
 * ```ts
 * const row = await lookupModel(store, parseModelRef("ppo-portfolio@champion"));
 * ```
 */
export async function lookupModel(
  q: Queryable,
  ref: Exclude<ModelRef, { kind: "path" }>,
): Promise<ModelRecord> {
  switch (ref.kind) {
    case "id": {
      const row = await readModel(q, ref.id);
      if (!row) throw new RangeError(`No model with id ${ref.id} in tt_models`);
      return row;
    }
    case "version": {
      const row = await readModelVersion(q, ref.name, ref.version);
      if (!row) throw new RangeError(`No model ${ref.name} version ${ref.version} in tt_models`);
      return row;
    }
    case "latest": {
      const row = await latestModel(q, ref.name);
      if (!row) throw new RangeError(`No model named ${ref.name} in tt_models`);
      return row;
    }
    case "alias": {
      const a = await readAlias(q, ref.name, ref.alias);
      if (!a) {
        const have = (await listAliases(q, { name: ref.name })).map((x) => x.alias);
        throw new RangeError(
          `No alias ${ref.name}@${ref.alias}` +
            (have.length
              ? ` (aliases of ${ref.name}: ${have.join(", ")})`
              : ` (${ref.name} has no aliases)`) +
            `; set one with: deno task models alias ${ref.name}@vN ${ref.alias}`,
        );
      }
      const row = await readModel(q, a.modelId);
      if (!row) {
        throw new RangeError(`Alias ${ref.name}@${ref.alias} points at missing model ${a.modelId}`);
      }
      return row;
    }
  }
}

/** Who and why of an alias change. */
export interface AliasChangeOptions {
  /** Recorded as who made the change. Default: `$USER`, else `"unknown"`. */
  who?: string;
  /** Recorded reason. */
  why?: string;
}

function whoOf(o: AliasChangeOptions): string {
  const w = o.who ?? Deno.env.get("USER") ?? Deno.env.get("USERNAME") ?? "unknown";
  return w.trim() || "unknown";
}

/**
 * Points `alias` of the model's name at the model (`models alias NAME@vN champion`).
 * Setting it to the model it already names records nothing and returns null.
 * @param store The store.
 * @param model The registry row to alias.
 * @param alias The alias (see {@linkcode checkAliasName}).
 * @param options Who and why.
 * @returns The recorded event, or null when nothing changed.
 * @example
 * ```ts
 * await setAlias(store, await lookupModel(store, parseModelRef("ppo@v3")), "champion", { why: "beat v2 out of sample" });
 * ```
 */
export async function setAlias(
  store: Transactional,
  model: ModelRecord,
  alias: string,
  options: AliasChangeOptions = {},
): Promise<AliasEvent | null> {
  checkAliasName(alias);
  return await store.transaction(async (tx) => {
    await lockAlias(tx, model.name, alias);
    const current = await readAlias(tx, model.name, alias);
    if (current?.modelId === model.id) return null;
    return await recordAliasChange(tx, {
      name: model.name,
      alias,
      action: "set",
      modelId: model.id,
      previousModelId: current?.modelId ?? null,
      who: whoOf(options),
      why: options.why,
    });
  });
}

/**
 * Removes an alias (recorded; a rollback brings it back).
 * @param store The store.
 * @param name Model name.
 * @param alias The alias.
 * @param options Who and why.
 * @returns The recorded event.
 * @throws {RangeError} When the alias is not set.
 * @example
 * ```ts
 * await removeAlias(store, "ppo", "challenger", { why: "lost the A/B" });
 * ```
 */
export async function removeAlias(
  store: Transactional,
  name: string,
  alias: string,
  options: AliasChangeOptions = {},
): Promise<AliasEvent> {
  return await store.transaction(async (tx) => {
    await lockAlias(tx, name, alias);
    const current = await readAlias(tx, name, alias);
    if (!current) throw new RangeError(`No alias ${name}@${alias} to remove`);
    return await recordAliasChange(tx, {
      name,
      alias,
      action: "remove",
      modelId: null,
      previousModelId: current.modelId,
      who: whoOf(options),
      why: options.why,
    });
  });
}

/** The undo and redo stacks of one alias, replayed from its events. */
export interface AliasStacks {
  /** Changes in effect, oldest first (the last one is what a rollback undoes). */
  applied: AliasEvent[];
  /** Rolled-back changes, the last one is what a restore re-applies. */
  undone: AliasEvent[];
}

/**
 * Replays an alias's events into its undo/redo stacks (see the module notes).
 * @param events The alias's events, oldest first.
 * @returns The stacks.
 * @example
 * ```ts
 * const { applied } = aliasStacks(await aliasEvents(store, "ppo", "champion"));
 * ```
 */
export function aliasStacks(events: readonly AliasEvent[]): AliasStacks {
  const byId = new Map(events.map((e) => [e.id, e]));
  const applied: AliasEvent[] = [];
  const undone: AliasEvent[] = [];
  for (const e of events) {
    if (e.action === "set" || e.action === "remove") {
      applied.push(e);
      undone.length = 0;
    } else if (e.action === "rollback") {
      const target = applied.pop();
      if (target) undone.push(target);
    } else {
      const target = undone.pop() ?? (e.targetEventId ? byId.get(e.targetEventId) : undefined);
      if (target) applied.push(target);
    }
  }
  return { applied, undone };
}

/**
 * Rolls an alias back: it moves to what it named before its newest change still in
 * effect (`models rollback NAME`); recorded with who and why.
 * @param store The store.
 * @param name Model name.
 * @param alias Default `"champion"`.
 * @param options Who and why.
 * @returns The recorded event (its `modelId` is where the alias points now; null: unset).
 * @throws {RangeError} When the alias has no change left to roll back.
 * @example
 * ```ts
 * const e = await rollbackAlias(store, "ppo", "champion", { why: "drawdown in paper" });
 * e.modelId; // the previous champion
 * ```
 */
export async function rollbackAlias(
  store: Transactional,
  name: string,
  alias = "champion",
  options: AliasChangeOptions = {},
): Promise<AliasEvent> {
  return await store.transaction(async (tx) => {
    await lockAlias(tx, name, alias);
    const { applied } = aliasStacks(await aliasEvents(tx, name, alias));
    const last = applied.at(-1);
    if (!last) {
      throw new RangeError(
        `Nothing to roll back: ${name}@${alias} has no recorded change in effect` +
          ` (see: deno task models history ${name})`,
      );
    }
    const current = await readAlias(tx, name, alias);
    return await recordAliasChange(tx, {
      name,
      alias,
      action: "rollback",
      modelId: last.previousModelId,
      previousModelId: current?.modelId ?? null,
      targetEventId: last.id,
      who: whoOf(options),
      why: options.why,
    });
  });
}

/**
 * Re-applies the newest rolled-back change of an alias (undoes a rollback).
 * @param store The store.
 * @param name Model name.
 * @param alias Default `"champion"`.
 * @param options Who and why.
 * @returns The recorded event.
 * @throws {RangeError} When no rollback is left to undo.
 * @example
 * ```ts
 * await restoreAlias(store, "ppo", "champion", { why: "the rollback was a mistake" });
 * ```
 */
export async function restoreAlias(
  store: Transactional,
  name: string,
  alias = "champion",
  options: AliasChangeOptions = {},
): Promise<AliasEvent> {
  return await store.transaction(async (tx) => {
    await lockAlias(tx, name, alias);
    const { undone } = aliasStacks(await aliasEvents(tx, name, alias));
    const target = undone.at(-1);
    if (!target) {
      throw new RangeError(`Nothing to restore: ${name}@${alias} has no rolled-back change`);
    }
    const current = await readAlias(tx, name, alias);
    return await recordAliasChange(tx, {
      name,
      alias,
      action: "restore",
      modelId: target.modelId,
      previousModelId: current?.modelId ?? null,
      targetEventId: target.id,
      who: whoOf(options),
      why: options.why,
    });
  });
}

/**
 * Parses and looks up a registry reference in one step (no directories).
 * @param q The store.
 * @param text `12`, `NAME@vN`, `NAME@latest` or `NAME@ALIAS`.
 * @returns The model row.
 * @throws {RangeError} For a path-like text or a reference that names nothing.
 * @example
 * ```ts
 * const champion = await lookupModelRef(store, "ppo-portfolio@champion");
 * ```
 */
export async function lookupModelRef(q: Queryable, text: string): Promise<ModelRecord> {
  const ref = parseModelRef(text);
  if (ref.kind === "path") {
    throw new RangeError(
      `"${text}" is not a registry reference: use an id, NAME@vN, NAME@latest or NAME@ALIAS`,
    );
  }
  return await lookupModel(q, ref);
}
