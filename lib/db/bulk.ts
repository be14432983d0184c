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
    throw new TypeError(
      `${spec.table}: ${spec.columns.length} columns but ${spec.data.length} data arrays`,
    );
  }
  const n = spec.data[0]?.length ?? 0;
  for (let i = 0; i < spec.data.length; i++) {
    if (spec.data[i].length !== n) {
      throw new TypeError(
        `${spec.table}.${spec.columns[i].name}: ${spec.data[i].length} values, expected ${n}`,
      );
    }
  }
  if (n === 0) return 0;
  const cols = spec.columns.map((c) => c.name);
  const nonKey = cols.filter((c) => !spec.key.includes(c));
  // Rows identical to the stored ones are not rewritten: a rerun then costs index
  // lookups only (no new row versions, no WAL), and "changes nothing" literally.
  const conflict = spec.onConflict === "nothing" || nonKey.length === 0
    ? "DO NOTHING"
    : `DO UPDATE SET ${nonKey.map((c) => `${c} = EXCLUDED.${c}`).join(", ")}
       WHERE (${nonKey.map((c) => `${spec.table}.${c}`).join(", ")}) IS DISTINCT FROM (${
      nonKey.map((c) => `EXCLUDED.${c}`).join(", ")
    })`;
  const batch = spec.batchSize ?? 20_000;
  for (let start = 0; start < n; start += batch) {
    const end = Math.min(n, start + batch);
    // Per batch: a column holding one value is sent once as a scalar; numeric
    // timestamps travel as float8 epoch ms (cheaper to parse than ISO text); arrays are
    // sent as ready-made PostgreSQL array literals.
    const params: unknown[] = [];
    const arrays: string[] = [];
    const aliases: string[] = [];
    const select: string[] = [];
    const constant = spec.columns.map((_, i) => isConstant(spec.data[i], start, end));
    if (constant.every(Boolean)) constant[0] = false; // unnest needs one array to give the row count
    spec.columns.forEach((c, i) => {
      const values = spec.data[i];
      if (constant[i]) {
        params.push(toParam(values, start, start + 1, c.type)[0]);
        select.push(`$${params.length}::${c.type}`);
        return;
      }
      const epoch = isTimeType(c.type) && allNumbers(values, start, end);
      params.push(
        epoch
          ? arrayLiteral(values, start, end)
          : arrayLiteral(toParam(values, start, end, c.type), 0, end - start),
      );
      arrays.push(`$${params.length}::${epoch ? "float8" : c.type}[]`);
      aliases.push(`c${i}`);
      select.push(epoch ? `to_timestamp(u.c${i} / 1000.0)::${c.type}` : `u.c${i}`);
    });
    const from = arrays.length
      ? ` FROM unnest(${arrays.join(", ")}) AS u(${aliases.join(", ")})`
      : "";
    await q.query(
      `INSERT INTO ${spec.table} (${cols.join(", ")}) SELECT ${select.join(", ")}${from}
       ON CONFLICT (${spec.key.join(", ")}) ${conflict}`,
      params,
    );
  }
  return n;
}

function isTimeType(type: string): boolean {
  return type.startsWith("timestamp");
}

/** Whether `values[start…end)` hold one primitive value (at least two of them). */
function isConstant(
  values: readonly unknown[] | ArrayLike<number>,
  start: number,
  end: number,
): boolean {
  if (end - start < 2) return false;
  const v = (values as ArrayLike<unknown>)[start];
  if (v === null || v === undefined || typeof v === "object") return false;
  if (typeof v === "number" && Number.isNaN(v)) return false;
  for (let i = start + 1; i < end; i++) if ((values as ArrayLike<unknown>)[i] !== v) return false;
  return true;
}

function allNumbers(
  values: readonly unknown[] | ArrayLike<number>,
  start: number,
  end: number,
): boolean {
  for (let i = start; i < end; i++) {
    const v = (values as ArrayLike<unknown>)[i];
    if (typeof v !== "number" || !Number.isFinite(v)) return false;
  }
  return true;
}

/**
 * The PostgreSQL array literal of `values[start…end)`: numbers as JS prints them,
 * null/undefined/NaN as NULL, anything else double-quoted with `"` and `\` escaped.
 */
function arrayLiteral(
  values: readonly unknown[] | ArrayLike<number>,
  start: number,
  end: number,
): string {
  const parts = new Array<string>(end - start);
  for (let i = start; i < end; i++) {
    const v = (values as ArrayLike<unknown>)[i];
    let out: string;
    if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) out = "NULL";
    else if (typeof v === "number") {
      out = Number.isFinite(v) ? String(v) : v > 0 ? '"Infinity"' : '"-Infinity"';
    } else if (typeof v === "boolean") out = v ? "t" : "f";
    else {
      const t = String(v);
      out = `"${t.includes("\\") || t.includes('"') ? t.replace(/[\\"]/g, "\\$&") : t}"`;
    }
    parts[i - start] = out;
  }
  return `{${parts.join(",")}}`;
}

function toParam(
  values: readonly unknown[] | ArrayLike<number>,
  start: number,
  end: number,
  type: string,
): unknown[] {
  const out = new Array(end - start);
  const isTime = type.startsWith("timestamp") || type === "date";
  const isJson = type === "jsonb" || type === "json";
  for (let i = start; i < end; i++) {
    const v = (values as ArrayLike<unknown>)[i];
    if (v === null || v === undefined || (typeof v === "number" && Number.isNaN(v))) {
      out[i - start] = null;
    } else if (isTime) {
      out[i - start] = v instanceof Date
        ? v.toISOString()
        : typeof v === "number"
        ? new Date(v).toISOString()
        : v;
    } else if (isJson) out[i - start] = typeof v === "string" ? v : JSON.stringify(v);
    else out[i - start] = v;
  }
  return out;
}
