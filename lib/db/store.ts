/**
 * One store interface over two PostgreSQL implementations: embedded PGlite (default,
 * a directory under `data/`) and a real server through `npm:pg` when a URL is given.
 * The SQL is the same for both.
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { from as copyFromStdin } from "pg-copy-streams";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { join } from "node:path";
import { dataDir } from "../util/paths.ts";
import { redact } from "../util/redact.ts";
import { migrate } from "./migrate.ts";
import { acquireStoreLock, type StoreLock } from "./store_lock.ts";

/** Anything that runs SQL: the store itself or a transaction. */
export interface Queryable {
  /**
   * Runs one statement with `$1…` parameters.
   * @returns The rows (int8 and numeric come back as JS numbers, timestamptz as `Date`).
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs one or more statements without parameters. */
  exec(sql: string): Promise<void>;
  /**
   * Loads rows with `COPY table (columns) FROM … (FORMAT binary)`: from `'/dev/blob'` on
   * PGlite, from STDIN on a server. Optional (both stores implement it); bulk writers
   * fall back to plain SQL without it.
   * @param table Table name (a trusted identifier from code).
   * @param columns Column names (trusted identifiers), in the order of the data.
   * @param data A complete PostgreSQL binary COPY stream (header, tuples, trailer).
   */
  copyBinary?(table: string, columns: readonly string[], data: Uint8Array): Promise<void>;
}

/** An open database. */
export interface Store extends Queryable {
  /** Which implementation is behind it. */
  readonly kind: "pglite" | "postgres";
  /** Where it is, with any password redacted (safe to print or store). */
  readonly description: string;
  /**
   * Runs `fn` in one transaction: committed if it resolves, rolled back if it throws.
   * @param fn The work; use only the `tx` it receives.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Closes connections (and flushes PGlite to disk). */
  close(): Promise<void>;
}

/** Options of {@linkcode openStore}. */
export interface OpenStoreOptions {
  /** `postgres://…` URL. Default: `DATABASE_URL` from the environment; none → PGlite. */
  url?: string;
  /** PGlite directory. Default: `TT_DATA_DIR/pgdata` (`data/pgdata`). `"memory://"` for in-memory. */
  dataDir?: string;
  /** Run migrations on open. Default true. */
  migrate?: boolean;
  /**
   * What to record as the owner in the PGlite directory's lock (see `store_lock.ts`).
   * Default: derived from the main module, e.g. `deno task ingest`.
   */
  owner?: string;
  /** Hold the PGlite lock as a brief reader, whom other openers wait for (`store_lock.ts`). */
  briefLock?: boolean;
}

// pg returns int8/numeric as strings by default; the store speaks JS numbers.
pg.types.setTypeParser(20, (v: string) => Number(v));
pg.types.setTypeParser(1700, (v: string) => Number(v));

/**
 * Opens the store: a PostgreSQL server when a URL is given (option or `DATABASE_URL`),
 * otherwise embedded PGlite in a directory. Creates the schema when missing.
 *
 * A PGlite directory has one owner at a time: opening takes an exclusive lock
 * (`<dir>.tt-lock`, released by `close()` and at process exit) and a second opener — another
 * process, or a second `openStore` on the same directory in this one — fails with a
 * `StoreInUseError` naming the owner's PID and task, before touching the data. A lock left
 * by a dead process on the same host is taken over. `memory://` stores are not locked; a
 * server (`DATABASE_URL`) is how processes share a store.
 *
 * @param options See {@linkcode OpenStoreOptions}.
 * @returns An open {@linkcode Store}; close it when done.
 * @throws {StoreInUseError} When the PGlite directory is in use.
 * @example
 * ```ts
 * const store = await openStore();               // data/pgdata
 * const mem = await openStore({ dataDir: "memory://" });
 * const srv = await openStore({ url: "postgres://u:p@127.0.0.1/tt" });
 * ```
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const url = options.url ?? Deno.env.get("DATABASE_URL") ?? undefined;
  const store = url ? await openServer(url) : await openPglite(
    options.dataDir ?? join(dataDir(), "pgdata"),
    options.owner,
    options.briefLock,
  );
  if (options.migrate ?? true) {
    try {
      await migrate(store);
    } catch (e) {
      await store.close();
      throw e;
    }
  }
  return store;
}

async function openPglite(dir: string, owner?: string, brief?: boolean): Promise<Store> {
  const memory = dir.startsWith("memory://");
  // The lock comes first: a refused opener must not create, read or write anything inside.
  const lock: StoreLock | null = memory
    ? null
    : await acquireStoreLock(dir, { task: owner, brief });
  let db: PGlite;
  try {
    if (!memory) await Deno.mkdir(dir, { recursive: true });
    db = await PGlite.create(memory ? undefined : dir, {
      parsers: { 20: (v: string) => Number(v), 1700: (v: string) => Number(v) },
    });
    await db.exec("SET TIME ZONE 'UTC'");
  } catch (e) {
    lock?.release();
    throw e;
  }
  let queue: Promise<unknown> = Promise.resolve();
  // PGlite is one connection: serialise transactions so they never interleave.
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };
  const q: Queryable = {
    async query<T>(sql: string, params?: unknown[]) {
      try {
        return (await db.query<T>(sql, params)).rows;
      } catch (e) {
        throw sqlError(e, sql);
      }
    },
    async exec(sql: string) {
      try {
        await db.exec(sql);
      } catch (e) {
        throw sqlError(e, sql);
      }
    },
    copyBinary: (table, columns, data) => pgliteCopy(db, table, columns, data),
  };
  return {
    kind: "pglite",
    description: `PGlite ${dir}`,
    query: (sql, params) => serial(() => q.query(sql, params)),
    exec: (sql) => serial(() => q.exec(sql)),
    copyBinary: (table, columns, data) => serial(() => q.copyBinary!(table, columns, data)),
    transaction: (fn) =>
      serial(() =>
        db.transaction((tx) =>
          fn({
            async query<T>(sql: string, params?: unknown[]) {
              try {
                return (await tx.query<T>(sql, params)).rows;
              } catch (e) {
                throw sqlError(e, sql);
              }
            },
            async exec(sql: string) {
              try {
                await tx.exec(sql);
              } catch (e) {
                throw sqlError(e, sql);
              }
            },
            copyBinary: (table, columns, data) => pgliteCopy(tx, table, columns, data),
          })
        )
      ),
    async close() {
      try {
        await queue;
        await db.close();
      } finally {
        lock?.release();
      }
    },
  };
}

async function openServer(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("connect", (client: pg.PoolClient) => {
    client.query("SET TIME ZONE 'UTC'").catch(() => undefined);
  });
  pool.on("error", () => undefined);
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new Error(`Cannot connect to ${redact(url)}: ${redact((e as Error).message)}`);
  }
  const wrap = (c: pg.Pool | pg.PoolClient): Queryable => ({
    async copyBinary(table, columns, data) {
      const client = c instanceof pg.Pool ? await c.connect() : c;
      const sql = copySql(table, columns, "STDIN");
      try {
        await pipeline(Readable.from([data]), client.query(copyFromStdin(sql)));
      } catch (e) {
        throw sqlError(e, sql);
      } finally {
        if (client !== c) (client as pg.PoolClient).release();
      }
    },
    async query<T>(sql: string, params?: unknown[]) {
      try {
        return (await c.query(sql, params as unknown[])).rows as T[];
      } catch (e) {
        throw sqlError(e, sql);
      }
    },
    async exec(sql: string) {
      try {
        await c.query(sql);
      } catch (e) {
        throw sqlError(e, sql);
      }
    },
  });
  const base = wrap(pool);
  return {
    kind: "postgres",
    description: `PostgreSQL ${redact(url)}`,
    query: base.query,
    exec: base.exec,
    copyBinary: base.copyBinary,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const out = await fn(wrap(client));
        await client.query("COMMIT");
        return out;
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    async close() {
      await pool.end();
    },
  };
}

/** `COPY table (columns) FROM source (FORMAT binary)`, with the identifiers checked. */
function copySql(table: string, columns: readonly string[], source: string): string {
  for (const id of [table, ...columns]) {
    if (!/^[a-z_][a-z0-9_]*$/.test(id)) {
      throw new TypeError(`COPY: not a plain SQL identifier: ${JSON.stringify(id)}`);
    }
  }
  return `COPY ${table} (${columns.join(", ")}) FROM ${source} (FORMAT binary)`;
}

async function pgliteCopy(
  db: Pick<PGlite, "query">,
  table: string,
  columns: readonly string[],
  data: Uint8Array,
): Promise<void> {
  const sql = copySql(table, columns, "'/dev/blob'");
  try {
    await db.query(sql, [], { blob: new Blob([data as Uint8Array<ArrayBuffer>]) });
  } catch (e) {
    throw sqlError(e, sql);
  }
}

function sqlError(e: unknown, sql: string): Error {
  const msg = redact((e as Error)?.message ?? String(e));
  const head = sql.replace(/\s+/g, " ").trim().slice(0, 120);
  return new Error(`${msg} (in SQL: ${head})`, { cause: e });
}
