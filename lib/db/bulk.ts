/**
 * Batched, idempotent bulk upserts, the same SQL on PGlite and on a server.
 *
 * Each batch travels as one binary `COPY` (no text parsing on the database side, which
 * is where PGlite spent most of its time with array literals): straight into the table
 * inside a savepoint when none of its keys exist yet (a first load), otherwise into a
 * temporary staging table followed by one `INSERT … SELECT … ON CONFLICT … DO UPDATE`
 * that skips rows equal to the stored ones. Stores without `copyBinary`, and values the
 * binary encoder does not take (e.g. ISO strings for timestamps), use the older
 * `INSERT … SELECT FROM unnest($1::t[], …) ON CONFLICT …` statement instead.
 *
 * @module
 */
import type { Queryable, Store } from "./store.ts";

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
  /** Rows per statement. Default 50,000. */
  batchSize?: number;
  /** `update` (default) overwrites non-key columns on conflict; `nothing` keeps the stored row. */
  onConflict?: "update" | "nothing";
  /**
   * Non-key columns that are written with a row but not compared (e.g. `ingest_run_id`,
   * the writer of a bar): a row whose other columns equal the stored ones is left as it is,
   * stamp included; a row that really changes gets the new stamp. Default none.
   */
  stamp?: readonly string[];
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

/**
 * Upserts column arrays in batches. Run it inside `store.transaction` to make the
 * whole write atomic with the caller's other work; given the store itself it opens
 * one transaction for the whole call (a killed process then leaves nothing of it).
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
  for (const c of spec.stamp ?? []) {
    if (!spec.columns.some((col) => col.name === c) || spec.key.includes(c)) {
      throw new TypeError(
        `${spec.table}: stamp column ${JSON.stringify(c)} is not a non-key column`,
      );
    }
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
  if (isStore(q)) return await q.transaction((tx) => upsertColumns(tx, spec));
  if (q.copyBinary && spec.columns.every((c) => ENCODERS[normalType(c.type)])) {
    await upsertByCopy(q, spec, n);
    return n;
  }
  await upsertByUnnest(q, spec, 0, n);
  return n;
}

function isStore(q: Queryable): q is Store {
  return typeof (q as Partial<Store>).transaction === "function";
}

/** Non-key columns, and those of them compared to decide whether a row changed. */
function nonKeyColumns(spec: UpsertSpec): { nonKey: string[]; compared: string[] } {
  const nonKey = spec.columns.map((c) => c.name).filter((c) => !spec.key.includes(c));
  const stamp = spec.stamp ?? [];
  return { nonKey, compared: nonKey.filter((c) => !stamp.includes(c)) };
}

/** The `ON CONFLICT …` action shared by both paths. */
function conflictAction(spec: UpsertSpec): string {
  const { nonKey, compared } = nonKeyColumns(spec);
  // Rows identical to the stored ones are not rewritten: a rerun then costs index
  // lookups only (no new row versions, no WAL), and "changes nothing" literally.
  return spec.onConflict === "nothing" || compared.length === 0
    ? "DO NOTHING"
    : `DO UPDATE SET ${nonKey.map((c) => `${c} = EXCLUDED.${c}`).join(", ")}
       WHERE (${compared.map((c) => `${spec.table}.${c}`).join(", ")}) IS DISTINCT FROM (${
      compared.map((c) => `EXCLUDED.${c}`).join(", ")
    })`;
}

async function upsertByCopy(q: Queryable, spec: UpsertSpec, n: number): Promise<void> {
  const cols = spec.columns.map((c) => c.name);
  const { compared } = nonKeyColumns(spec);
  const stage = `tt_stage_${spec.table}_${
    hash(spec.columns.map((c) => `${c.name}:${c.type}`).join(","))
  }`;
  const keyMatch = spec.key.map((k) => `t.${k} = s.${k}`).join(" AND ");
  // Skip stored rows that already hold these values before ON CONFLICT sees them:
  // ON CONFLICT DO UPDATE … WHERE false still locks (and so rewrites) each row.
  // The anti join is forced to probe the primary key index per staged row (hash and
  // merge joins off for this statement only): left alone, the planner hashes or sorts
  // the whole table for every batch, so a rerun cost grew with table size × batches
  // (PGlite, 236k staged rows against 236k stored: hash/merge 3.0–3.7 s, probes 2.2 s;
  // per 50k batch the difference is several-fold). Probes cost O(batch · log table).
  const same = spec.onConflict === "nothing" || compared.length === 0
    ? keyMatch
    : `${keyMatch} AND (${compared.map((c) => `t.${c}`).join(", ")}) IS NOT DISTINCT FROM (${
      compared.map((c) => `s.${c}`).join(", ")
    })`;
  const merge = `INSERT INTO ${spec.table} (${cols.join(", ")})
    SELECT ${cols.map((c) => `s.${c}`).join(", ")} FROM ${stage} s
    WHERE NOT EXISTS (SELECT 1 FROM ${spec.table} t WHERE ${same})
    ON CONFLICT (${spec.key.join(", ")}) ${conflictAction(spec)}`;
  const batch = spec.batchSize ?? 50_000;
  let staged = false;
  let direct = true;
  for (let start = 0; start < n; start += batch) {
    const end = Math.min(n, start + batch);
    const data = encodeBinaryCopy(spec, start, end);
    if (!data) {
      await upsertByUnnest(q, spec, start, end);
      continue;
    }
    if (direct) {
      // A first load: no key exists yet, so COPY straight into the table. A unique
      // violation undoes just this attempt; this batch and the rest then go through
      // the staging table.
      await q.exec("SAVEPOINT tt_bulk_copy");
      try {
        await q.copyBinary!(spec.table, cols, data);
        await q.exec("RELEASE SAVEPOINT tt_bulk_copy");
        continue;
      } catch (e) {
        await q.exec("ROLLBACK TO SAVEPOINT tt_bulk_copy; RELEASE SAVEPOINT tt_bulk_copy");
        if (!isUniqueViolation(e)) throw e;
        direct = false;
      }
    }
    if (!staged) {
      // Dropped at commit (or rollback) of the caller's transaction.
      await q.exec(
        `CREATE TEMP TABLE IF NOT EXISTS ${stage} (${
          spec.columns.map((c) => `${c.name} ${c.type}`).join(", ")
        }) ON COMMIT DROP; TRUNCATE ${stage}`,
      );
      staged = true;
    } else await q.exec(`TRUNCATE ${stage}`);
    await q.copyBinary!(stage, cols, data);
    await q.exec(
      `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; ${merge};
       SET LOCAL enable_hashjoin TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT`,
    );
  }
}

function isUniqueViolation(e: unknown): boolean {
  for (let c: unknown = e; c && typeof c === "object"; c = (c as { cause?: unknown }).cause) {
    if ((c as { code?: unknown }).code === "23505") return true;
  }
  return false;
}

/** A short stable name part for a column signature (FNV-1a, base 36). */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}

async function upsertByUnnest(
  q: Queryable,
  spec: UpsertSpec,
  from: number,
  to: number,
): Promise<void> {
  const cols = spec.columns.map((c) => c.name);
  const conflict = conflictAction(spec);
  const batch = spec.batchSize ?? 50_000;
  for (let start = from; start < to; start += batch) {
    const end = Math.min(to, start + batch);
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

// --- binary COPY encoding -------------------------------------------------------------
//
// Column by column: each encoder first measures its field sizes (−1 for NULL) for the
// batch, then writes its fields at each row's current position. One tight loop per
// column and type keeps this cheap (it runs before every COPY, on the critical path).

/** A batch's output buffer and each row's next write position. */
interface Out {
  view: DataView;
  bytes: Uint8Array;
  pos: Int32Array;
}

/** Encodes one column of a batch; made fresh per batch (it may keep per-row state). */
interface ColumnEncoder {
  /** Fills `sizes` for rows `[start, end)`; false when a value needs the SQL path. */
  measure(col: ArrayLike<unknown>, start: number, end: number, sizes: Int32Array): boolean;
  /** Writes each row's field (length, then bytes) at `out.pos[row]` and advances it. */
  write(col: ArrayLike<unknown>, start: number, end: number, sizes: Int32Array, out: Out): void;
}

const UTF8 = new TextEncoder();
/** Milliseconds from 1970-01-01 to PostgreSQL's epoch 2000-01-01 (UTC). */
const PG_EPOCH_MS = 946_684_800_000;
const MS_PER_DAY = 86_400_000;
const TWO_32 = 4294967296;

/** An int64 from a safe integer, as two 32-bit halves (no BigInt per value). */
function writeInt64(view: DataView, offset: number, x: number): void {
  const hi = Math.floor(x / TWO_32);
  view.setInt32(offset, hi);
  view.setUint32(offset + 4, x - hi * TWO_32);
}

/** Epoch ms of a Date or a finite number; NaN for anything else. */
function timeMs(v: unknown): number {
  const ms = v instanceof Date ? v.getTime() : typeof v === "number" ? v : NaN;
  return Number.isFinite(ms) ? ms : NaN;
}

function float8(): ColumnEncoder {
  return {
    measure(col, start, end, sizes) {
      for (let i = start; i < end; i++) {
        const v = col[i];
        if (typeof v === "number") sizes[i - start] = v === v ? 8 : -1;
        else if (v === null || v === undefined) sizes[i - start] = -1;
        else return false;
      }
      return true;
    },
    write(col, start, end, sizes, { view, pos }) {
      for (let i = start, j = 0; i < end; i++, j++) {
        const o = pos[j];
        if (sizes[j] < 0) {
          view.setInt32(o, -1);
          pos[j] = o + 4;
        } else {
          view.setInt32(o, 8);
          view.setFloat64(o + 4, col[i] as number);
          pos[j] = o + 12;
        }
      }
    },
  };
}

/** Timestamps (epoch ms or Date) as int64 µs since 2000; `date` as int32 days since 2000. */
function timeEncoder(kind: "timestamp" | "date"): ColumnEncoder {
  let ms = new Float64Array(0);
  return {
    measure(col, start, end, sizes) {
      ms = new Float64Array(end - start);
      for (let i = start, j = 0; i < end; i++, j++) {
        const v = col[i];
        if (v === null || v === undefined || (typeof v === "number" && v !== v)) {
          sizes[j] = -1;
          continue;
        }
        const t = timeMs(v);
        if (t !== t) return false; // a string or ±Infinity: SQL path
        ms[j] = t;
        sizes[j] = kind === "date" ? 4 : 8;
      }
      return true;
    },
    write(_col, _start, _end, sizes, { view, pos }) {
      for (let j = 0; j < sizes.length; j++) {
        const o = pos[j], size = sizes[j];
        view.setInt32(o, size);
        if (size < 0) {
          pos[j] = o + 4;
          continue;
        }
        if (kind === "date") view.setInt32(o + 4, Math.floor((ms[j] - PG_EPOCH_MS) / MS_PER_DAY));
        else writeInt64(view, o + 4, Math.round((ms[j] - PG_EPOCH_MS) * 1000));
        pos[j] = o + 4 + size;
      }
    },
  };
}

/** Text (any value via `String`) or JSON (`jsonb` adds its version byte 1). */
function textEncoder(json: "" | "json" | "jsonb"): ColumnEncoder {
  const cache = new Map<string, Uint8Array>();
  let encoded: (Uint8Array | undefined)[] = [];
  const prefix = json === "jsonb" ? 1 : 0;
  return {
    measure(col, start, end, sizes) {
      encoded = new Array(end - start);
      for (let i = start, j = 0; i < end; i++, j++) {
        const v = col[i];
        if (v === null || v === undefined || (typeof v === "number" && v !== v)) {
          sizes[j] = -1;
          continue;
        }
        const s = json && typeof v !== "string" ? JSON.stringify(v) : String(v);
        let b = cache.get(s);
        if (b === undefined) {
          b = UTF8.encode(s);
          if (cache.size < 100_000) cache.set(s, b);
        }
        encoded[j] = b;
        sizes[j] = prefix + b.length;
      }
      return true;
    },
    write(_col, _start, _end, sizes, { view, bytes, pos }) {
      for (let j = 0; j < sizes.length; j++) {
        const o = pos[j], size = sizes[j];
        view.setInt32(o, size);
        if (size < 0) {
          pos[j] = o + 4;
          continue;
        }
        if (prefix) bytes[o + 4] = 1;
        bytes.set(encoded[j]!, o + 4 + prefix);
        pos[j] = o + 4 + size;
      }
    },
  };
}

/** Fixed-width integers and booleans (rarely bulk-heavy: one generic loop). */
function fixedEncoder(
  width: number,
  accept: (v: unknown) => boolean,
  put: (view: DataView, offset: number, v: unknown) => void,
): ColumnEncoder {
  return {
    measure(col, start, end, sizes) {
      for (let i = start, j = 0; i < end; i++, j++) {
        const v = col[i];
        if (v === null || v === undefined || (typeof v === "number" && v !== v)) sizes[j] = -1;
        else if (accept(v)) sizes[j] = width;
        else return false;
      }
      return true;
    },
    write(col, start, _end, sizes, { view, pos }) {
      for (let j = 0; j < sizes.length; j++) {
        const o = pos[j], size = sizes[j];
        view.setInt32(o, size);
        if (size > 0) put(view, o + 4, col[start + j]);
        pos[j] = o + 4 + (size > 0 ? size : 0);
      }
    },
  };
}

const intIn = (lo: number, hi: number) => (v: unknown) =>
  typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;

/** Encoder factories by PostgreSQL type name; types not listed use the SQL path. */
const ENCODERS: Record<string, (() => ColumnEncoder) | undefined> = {
  text: () => textEncoder(""),
  json: () => textEncoder("json"),
  jsonb: () => textEncoder("jsonb"),
  float8: float8,
  float4: () =>
    fixedEncoder(4, (v) => typeof v === "number", (view, o, v) => view.setFloat32(o, v as number)),
  int8: () =>
    fixedEncoder(
      8,
      intIn(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
      (view, o, v) => writeInt64(view, o, v as number),
    ),
  int4: () =>
    fixedEncoder(4, intIn(-2147483648, 2147483647), (view, o, v) => view.setInt32(o, v as number)),
  int2: () => fixedEncoder(2, intIn(-32768, 32767), (view, o, v) => view.setInt16(o, v as number)),
  bool: () =>
    fixedEncoder(1, (v) => typeof v === "boolean", (view, o, v) => view.setUint8(o, v ? 1 : 0)),
  timestamptz: () => timeEncoder("timestamp"),
  // A session in UTC (the store sets it) stores epoch ms as UTC wall-clock time.
  timestamp: () => timeEncoder("timestamp"),
  date: () => timeEncoder("date"),
};

const ALIASES: Record<string, string> = {
  "double precision": "float8",
  real: "float4",
  bigint: "int8",
  integer: "int4",
  int: "int4",
  smallint: "int2",
  boolean: "bool",
  "timestamp with time zone": "timestamptz",
  "timestamp without time zone": "timestamp",
};

function normalType(type: string): string {
  const t = type.trim().toLowerCase();
  return ALIASES[t] ?? t;
}

/**
 * The binary COPY stream of rows `[start, end)`, or `undefined` when some value needs
 * the SQL path (e.g. a string in a float8 or timestamptz column).
 */
function encodeBinaryCopy(spec: UpsertSpec, start: number, end: number): Uint8Array | undefined {
  const rows = end - start;
  const k = spec.columns.length;
  const encoders = spec.columns.map((c) => ENCODERS[normalType(c.type)]!());
  const data = spec.data as ArrayLike<unknown>[];
  const sizes: Int32Array[] = [];
  for (let c = 0; c < k; c++) {
    sizes.push(new Int32Array(rows));
    if (!encoders[c].measure(data[c], start, end, sizes[c])) return undefined;
  }
  // Row j starts at pos[j]: a field count (int16), then per field a length and its bytes.
  const pos = new Int32Array(rows);
  let total = 19; // PGCOPY\n\377\r\n\0, flags, header extension length
  for (let j = 0; j < rows; j++) {
    pos[j] = total;
    let size = 2 + 4 * k;
    for (let c = 0; c < k; c++) if (sizes[c][j] > 0) size += sizes[c][j];
    total += size;
  }
  const bytes = new Uint8Array(total + 2); // + trailer
  const out: Out = { view: new DataView(bytes.buffer), bytes, pos };
  bytes.set([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);
  for (let j = 0; j < rows; j++) {
    out.view.setInt16(pos[j], k);
    pos[j] += 2;
  }
  for (let c = 0; c < k; c++) encoders[c].write(data[c], start, end, sizes[c], out);
  out.view.setInt16(total, -1);
  return bytes;
}
