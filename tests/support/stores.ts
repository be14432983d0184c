/**
 * Store factories for contract suites: embedded PGlite (always) and a fresh,
 * throwaway database on the server named by `TEST_DATABASE_URL` (when set).
 *
 * @module
 */
import { createScratchDatabase, openStore, type ScratchDatabase, type Store } from "@lib/db/mod.ts";

/** A way to open an empty store; `close()` of the store it returns also removes it. */
export interface StoreFactory {
  /** `pglite` or `postgres`. */
  name: string;
  open(): Promise<Store>;
}

/** The server URL for tests, or undefined. */
export const TEST_DATABASE_URL: string | undefined = Deno.env.get("TEST_DATABASE_URL") || undefined;

/** Printed once by suites that skip the server half. */
export const SERVER_SKIP_REASON =
  "TEST_DATABASE_URL is not set: PostgreSQL-server cases skipped (PGlite cases still run)";

/**
 * Creates an empty database on the test server and returns its URL.
 * @returns URL of the new database and a function that drops it.
 */
export async function createTempDatabase(): Promise<ScratchDatabase> {
  if (!TEST_DATABASE_URL) throw new Error(SERVER_SKIP_REASON);
  return await createScratchDatabase(TEST_DATABASE_URL, { prefix: "tt_t" });
}

/**
 * The factories to run a contract suite against.
 * @returns PGlite in memory, plus the server when `TEST_DATABASE_URL` is set.
 */
export function storeFactories(): StoreFactory[] {
  const out: StoreFactory[] = [{ name: "pglite", open: () => openStore({ dataDir: "memory://" }) }];
  if (TEST_DATABASE_URL) {
    out.push({
      name: "postgres",
      async open() {
        const tmp = await createTempDatabase();
        const store = await openStore({ url: tmp.url });
        const close = store.close.bind(store);
        return Object.assign(Object.create(null), store, {
          query: store.query,
          exec: store.exec,
          transaction: store.transaction,
          kind: store.kind,
          description: store.description,
          async close() {
            await close();
            await tmp.drop();
          },
        }) as Store;
      },
    });
  } else {
    console.log(`skip: ${SERVER_SKIP_REASON}`);
  }
  return out;
}
