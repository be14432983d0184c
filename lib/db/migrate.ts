/**
 * Versioned migrations: every `lib/db/migrations/NNNN_name.sql` runs once, in order,
 * recorded in `tt_schema_migrations`. Safe to call from several processes at once.
 *
 * @module
 */
import type { Store } from "./store.ts";

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);

/** A migration file. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Lists the migrations shipped with the code, sorted by version.
 * @returns Every `NNNN_name.sql` under `lib/db/migrations/`.
 */
export async function listMigrations(): Promise<Migration[]> {
  const out: Migration[] = [];
  for await (const e of Deno.readDir(MIGRATIONS_DIR)) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(e.name);
    if (!e.isFile || !m) continue;
    out.push({
      version: Number(m[1]),
      name: m[2],
      sql: await Deno.readTextFile(new URL(e.name, MIGRATIONS_DIR)),
    });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i].version === out[i - 1].version) {
      throw new Error(
        `Two migrations share version ${out[i].version}: ${out[i - 1].name}, ${out[i].name}`,
      );
    }
  }
  return out;
}

/**
 * Applies the migrations not yet recorded in `tt_schema_migrations`.
 * @param store An open store.
 * @returns The versions applied by this call.
 * @example
 * ```ts
 * await migrate(store); // [] when up to date
 * ```
 */
export async function migrate(store: Store): Promise<number[]> {
  const migrations = await listMigrations();
  return await store.transaction(async (tx) => {
    // One migrator at a time on a shared server.
    await tx.query("SELECT pg_advisory_xact_lock(727274)");
    await tx.exec(`CREATE TABLE IF NOT EXISTS tt_schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await tx.query<{ version: number }>("SELECT version FROM tt_schema_migrations")).map((r) =>
        r.version
      ),
    );
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query("INSERT INTO tt_schema_migrations (version, name) VALUES ($1, $2)", [
        m.version,
        m.name,
      ]);
      applied.push(m.version);
    }
    return applied;
  });
}
