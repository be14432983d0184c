/**
 * Batched, idempotent bulk upserts: one `INSERT … SELECT FROM unnest($1::t[], …)
 * ON CONFLICT … DO UPDATE` per batch, the same SQL on PGlite and on a server.
 *
 * @module
 */
import type { Queryable } from "./store.ts";

/** A column of a bulk write: its name and PostgreSQL type (`text`, `float8`, `timestamptz`, `jsonb` …). */
export interface BulkColumn {
  name: string;
  type: string;
}

/** What {@linkcode upsertColumns} writes. */
export interface UpsertSpec {
  /** Table name (a trusted identifier from code, never user input). */
  table: string;
  /** Columns in the order of `data`. */
  columns: readonly BulkColumn[];
  /** The conflict target (the table's primary key). */
  key: readonly string[];
  /** One array per column, all the same length. Dates may be `Date`, epoch ms or ISO strings. */
  data: readonly (readonly unknown[] | ArrayLike<number>)[];
  /** Rows per statement. Default 20,000. */
  batchSize?: number;
  /** `update` (default) overwrites non-key columns on conflict; `nothing` keeps the stored row. */
  onConflict?: "update" | "nothing";
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

/**
 * Upserts column arrays in batches. Run it inside `store.transaction` to make the
 * whole write atomic (a killed process then leaves nothing of it).
 *
 * @param q The store or a transaction.
 * @param spec See {@linkcode UpsertSpec}.
 * @returns Rows sent (inserted or updated).
 * @example
 * ```ts
 * await store.transaction((tx) => upsertColumns(tx, {
 *   table: "tt_reward", key: ["episode_id", "timestamp"],
 *   columns: [{ name: "episode_id", type: "int8" }, { name: "timestamp", type: "timestamptz" }, { name: "reward_value", type: "float8" }],
 *   data: [[1, 1], [t0, t1], [0.01, -0.02]],
 * }));
 * ```
 */
export async function upsertColumns(q: Queryable, spec: UpsertSpec): Promise<number> {
  for (const id of [spec.table, ...spec.columns.map((c) => c.name), ...spec.key]) {
    if (!IDENT.test(id)) throw new TypeError(`Not a plain SQL identifier: ${JSON.stringify(id)}`);
  }
  if (spec.data.length !== spec.columns.length) {
    throw new TypeError(`${spec.table}: ${spec.columns.length} columns but ${spec.data.length} data arrays`);
  }
  const n = spec.data[0]?.length ?? 0;
  for (let i = 0; i < spec.data.length; i++) {
    if (spec.data[i].length !== n) {
      throw new TypeError(`${spec.table}.${spec.columns[i].name}: ${spec.data[i].length} values, expected ${n}`);
    }
  }
  if (n === 0) return 0;
  const cols = spec.columns.map((c) => c.name);
  const nonKey = cols.filter((c) => !spec.key.includes(c));
  const conflict = spec.onConflict === "nothing" || nonKey.length === 0
    ? "DO NOTHING"
    : `DO UPDATE SET ${nonKey.map((c) => `${c} = EXCLUDED.${c}`).join(", ")}`;
  const sql = `INSERT INTO ${spec.table} (${cols.join(", ")})
    SELECT * FROM unnest(${spec.columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(", ")})
    ON CONFLICT (${spec.key.join(", ")}) ${conflict}`;
  const batch = spec.batchSize ?? 20_000;
  for (let start = 0; start < n; start += batch) {
    const end = Math.min(n, start + batch);
    const params = spec.columns.map((c, i) => toParam(spec.data[i], start, end, c.type));
    await q.query(sql, params);
  }
  return n;
}

function toParam(values: readonly unknown[] | ArrayLike<number>, start: number, end: number, type: string): unknown[] {
  const out = new Array(end - start);
  const isTime = type.startsWith("timestamp") || type === "date";
  const isJson = type === "jsonb" || type === "json";
  for (let i = start; i < end; i++) {
    const v = (values as ArrayLike<unknown>)[i];
    if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) out[i - start] = null;
    else if (isTime) out[i - start] = v instanceof Date ? v.toISOString() : typeof v === "number" ? new Date(v).toISOString() : v;
    else if (isJson) out[i - start] = typeof v === "string" ? v : JSON.stringify(v);
    else out[i - start] = v;
  }
  return out;
}
