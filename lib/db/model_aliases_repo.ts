/**
 * Model aliases (`tt_model_aliases`) and their history (`tt_model_alias_events`): an
 * alias such as `champion` names one version of a model name; every change is an event
 * with who, when and why. The rules (what a rollback undoes, what a restore re-applies)
 * live in `lib/models/aliases.ts`; this file only stores and reads.
 *
 * @module
 */
import type { Queryable } from "./store.ts";

/** A current alias. */
export interface AliasRecord {
  /** Model name (`tt_models.name`). */
  name: string;
  alias: string;
  /** `tt_models.id` it points at. */
  modelId: number;
  updatedAt: Date;
}

/** The kinds of alias change. */
export const ALIAS_ACTIONS = ["set", "remove", "rollback", "restore"] as const;
/** One of {@linkcode ALIAS_ACTIONS}. */
export type AliasAction = typeof ALIAS_ACTIONS[number];

/** One recorded alias change. */
export interface AliasEvent {
  id: number;
  name: string;
  alias: string;
  action: AliasAction;
  /** What the alias pointed at after the change (null: no longer set). */
  modelId: number | null;
  /** What it pointed at before (null: it was not set). */
  previousModelId: number | null;
  /** The event a rollback undid or a restore re-applied. */
  targetEventId: number | null;
  who: string;
  why: string | null;
  at: Date;
}

/** What {@linkcode recordAliasChange} stores. */
export interface NewAliasEvent {
  name: string;
  alias: string;
  action: AliasAction;
  modelId: number | null;
  previousModelId: number | null;
  targetEventId?: number | null;
  who: string;
  why?: string | null;
}

interface AliasRow {
  name: string;
  alias: string;
  model_id: number;
  updated_at: Date;
}

interface EventRow {
  id: number;
  name: string;
  alias: string;
  action: AliasAction;
  model_id: number | null;
  previous_model_id: number | null;
  target_event_id: number | null;
  who: string;
  why: string | null;
  at: Date;
}

function toAlias(r: AliasRow): AliasRecord {
  return { name: r.name, alias: r.alias, modelId: r.model_id, updatedAt: r.updated_at };
}

function toEvent(r: EventRow): AliasEvent {
  return {
    id: r.id,
    name: r.name,
    alias: r.alias,
    action: r.action,
    modelId: r.model_id,
    previousModelId: r.previous_model_id,
    targetEventId: r.target_event_id,
    who: r.who,
    why: r.why,
    at: r.at,
  };
}

/**
 * Serialises changes of one alias until the transaction ends (a transaction-scoped
 * advisory lock), so two processes moving the same alias cannot interleave.
 * @param tx An open transaction.
 * @param name Model name.
 * @param alias Alias.
 * @example
 * ```ts
 * await store.transaction(async (tx) => { await lockAlias(tx, "ppo", "champion"); … });
 * ```
 */
export async function lockAlias(tx: Queryable, name: string, alias: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`tt_model_alias:${name}@${alias}`]);
}

/**
 * Reads one alias.
 * @param q The store or a transaction.
 * @param name Model name.
 * @param alias Alias.
 * @returns The alias, or null when it is not set.
 * @example
 * ```ts
 * const champ = await readAlias(store, "ppo-portfolio", "champion"); // champ?.modelId
 * ```
 */
export async function readAlias(
  q: Queryable,
  name: string,
  alias: string,
): Promise<AliasRecord | null> {
  const [row] = await q.query<AliasRow>(
    "SELECT * FROM tt_model_aliases WHERE name = $1 AND alias = $2",
    [name, alias],
  );
  return row ? toAlias(row) : null;
}

/**
 * Lists current aliases, by name then alias.
 * @param q The store.
 * @param filter `name` and/or `modelId` to narrow the list.
 * @returns The aliases.
 * @example
 * ```ts
 * const onModel = await listAliases(store, { modelId: 12 }); // [{ alias: "champion", … }]
 * ```
 */
export async function listAliases(
  q: Queryable,
  filter: { name?: string; modelId?: number } = {},
): Promise<AliasRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.name !== undefined) {
    params.push(filter.name);
    where.push(`name = $${params.length}`);
  }
  if (filter.modelId !== undefined) {
    params.push(filter.modelId);
    where.push(`model_id = $${params.length}`);
  }
  const rows = await q.query<AliasRow>(
    `SELECT * FROM tt_model_aliases ${where.length ? "WHERE " + where.join(" AND ") : ""}
     ORDER BY name, alias`,
    params,
  );
  return rows.map(toAlias);
}

/**
 * Points an alias at a model (or removes it with `null`) and records the change, in the
 * caller's transaction.
 * @param tx An open transaction (hold {@linkcode lockAlias} first).
 * @param event The change; `modelId` is the new target.
 * @returns The recorded event.
 * @example
 * ```ts
 * await recordAliasChange(tx, { name: "ppo", alias: "champion", action: "set", modelId: 12, previousModelId: 9, who: "ana", why: "won the A/B" });
 * ```
 */
export async function recordAliasChange(tx: Queryable, event: NewAliasEvent): Promise<AliasEvent> {
  if (event.modelId === null) {
    await tx.query("DELETE FROM tt_model_aliases WHERE name = $1 AND alias = $2", [
      event.name,
      event.alias,
    ]);
  } else {
    await tx.query(
      `INSERT INTO tt_model_aliases (name, alias, model_id, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (name, alias) DO UPDATE SET model_id = EXCLUDED.model_id, updated_at = now()`,
      [event.name, event.alias, event.modelId],
    );
  }
  const [row] = await tx.query<EventRow>(
    `INSERT INTO tt_model_alias_events
       (name, alias, action, model_id, previous_model_id, target_event_id, who, why)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [
      event.name,
      event.alias,
      event.action,
      event.modelId,
      event.previousModelId,
      event.targetEventId ?? null,
      event.who,
      event.why ?? null,
    ],
  );
  return toEvent(row);
}

/**
 * The recorded changes of a model name's aliases, oldest first.
 * @param q The store or a transaction.
 * @param name Model name.
 * @param alias Only this alias (all when omitted).
 * @returns The events.
 * @example
 * ```ts
 * for (const e of await aliasEvents(store, "ppo", "champion")) console.log(e.at, e.action, e.modelId, e.why);
 * ```
 */
export async function aliasEvents(
  q: Queryable,
  name: string,
  alias?: string,
): Promise<AliasEvent[]> {
  const rows = alias === undefined
    ? await q.query<EventRow>(
      "SELECT * FROM tt_model_alias_events WHERE name = $1 ORDER BY id",
      [name],
    )
    : await q.query<EventRow>(
      "SELECT * FROM tt_model_alias_events WHERE name = $1 AND alias = $2 ORDER BY id",
      [name, alias],
    );
  return rows.map(toEvent);
}
