/**
 * Administration of a PostgreSQL server (not PGlite): throwaway databases for tests
 * and benchmarks, and the server backends serving a database.
 *
 * @module
 */
import pg from "pg";
import type { Queryable } from "./store.ts";

/** A database made by {@linkcode createScratchDatabase}. */
export interface ScratchDatabase {
  /** URL of the new database (the server URL with its path replaced). */
  url: string;
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

/**
 * Creates an empty database with a unique name on the server of `serverUrl`.
 * @param serverUrl Any database URL on the server (its user needs `CREATEDB`).
 * @param options `prefix` of the database name (letters, digits, `_`; default `"tt_scratch"`).
 * @returns Its URL and a function that drops it.
 * @throws {TypeError} For a prefix that is not a plain SQL identifier.
 * @example
 * ```ts
 * const db = await createScratchDatabase("postgres://tt@127.0.0.1:55432/tt_test", { prefix: "tt_t" });
 * try { const store = await openStore({ url: db.url }); await store.close(); } finally { await db.drop(); }
 * ```
 */
export async function createScratchDatabase(
  serverUrl: string,
  options: { prefix?: string } = {},
): Promise<ScratchDatabase> {
  const prefix = options.prefix ?? "tt_scratch";
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) {
    throw new TypeError(
      `createScratchDatabase: prefix ${
        JSON.stringify(prefix)
      } must be lower-case letters, digits or "_"`,
    );
  }
  const name = `${prefix}_${Date.now().toString(36)}_${
    Math.floor(Math.random() * 1e9).toString(36)
  }`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * Process ids of the server backends connected to the current database (from
 * `pg_stat_activity`), e.g. to read their CPU time from `/proc` on the same machine.
 * @param q A store on a PostgreSQL server (PGlite has no such view of its own process).
 * @returns Backend pids.
 * @example
 * ```ts
 * const pids = await serverBackendPids(store);
 * ```
 */
export async function serverBackendPids(q: Queryable): Promise<number[]> {
  const rows = await q.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()",
  );
  return rows.map((r) => r.pid);
}
