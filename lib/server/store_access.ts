/**
 * How the dashboard reaches the store without taking it from the tasks.
 *
 * - **A PostgreSQL server** (`DATABASE_URL` / `--db-url`): one pool, opened at start; every
 *   request reads in its own `READ ONLY` transaction, concurrently with any task.
 * - **Embedded PGlite** is single-process (`lib/db/store_lock.ts`), so the dashboard never keeps
 *   it: a request opens the directory (about 0.2 s), reads in a `READ ONLY` transaction and
 *   the store is closed again once no request has come for `holdMs` (default 300 ms; the
 *   requests of one page share one open). While open, the lock is marked *brief*: a task that
 *   starts then waits for the dashboard to let go instead of failing. While a task holds the
 *   store, requests are answered with {@linkcode StoreBusyError} (HTTP 503 "store in use by
 *   PID N (deno task train)", `Retry-After`), and the pages retry by themselves.
 *
 * The dashboard never runs migrations and never creates a missing store.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { openStore, type Queryable, type Store } from "../db/store.ts";
import { readStoreLock, StoreInUseError, type StoreLockInfo } from "../db/store_lock.ts";
import { dataDir } from "../util/paths.ts";
import { redact } from "../util/redact.ts";

/** The embedded store is held by a task (or missing): the request cannot be answered now. */
export class StoreBusyError extends Error {
  override name = "StoreBusyError";
  /** Who holds the store, when it is held. */
  readonly owner: StoreLockInfo | null;
  /** Seconds after which a retry is sensible. */
  readonly retryAfter: number;
  /**
   * @param message What to show.
   * @param owner The lock's owner, if any.
   * @param retryAfter Seconds before retrying.
   */
  constructor(message: string, owner: StoreLockInfo | null, retryAfter = 5) {
    super(message);
    this.owner = owner;
    this.retryAfter = retryAfter;
  }
}

/** Options of {@linkcode openStoreAccess}. */
export interface StoreAccessOptions {
  /** PostgreSQL URL. Default `DATABASE_URL`; none → PGlite. */
  url?: string;
  /** PGlite directory. Default `TT_DATA_DIR/pgdata`. */
  dataDir?: string;
  /** PGlite: close the store after this long without a request. Default 300 ms. */
  holdMs?: number;
}

/** Read access to the store for the dashboard. */
export interface StoreAccess {
  /** `pglite` or `postgres`. */
  readonly kind: "pglite" | "postgres";
  /** Where the store is, password redacted. */
  readonly description: string;
  /**
   * Runs `fn` in one read-only transaction.
   * @throws {StoreBusyError} When the embedded store is held by a task or does not exist.
   */
  read<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Closes the pool or the open embedded store. */
  close(): Promise<void>;
}

/**
 * Opens the dashboard's read access: a pool on a server, per-request opens on PGlite.
 * @param options URL or PGlite directory, hold time.
 * @returns The access; close it when the dashboard stops.
 * @example
 * ```ts
 * const access = await openStoreAccess({ dataDir: "data/demo/pgdata" });
 * const models = await access.read((q) => listModels(q));
 * await access.close();
 * ```
 */
export async function openStoreAccess(options: StoreAccessOptions = {}): Promise<StoreAccess> {
  const url = options.url ?? Deno.env.get("DATABASE_URL") ?? undefined;
  if (url) {
    const store = await openStore({ url, migrate: false });
    return {
      kind: "postgres",
      description: redact(store.description),
      read: (fn) => readOnly(store, fn),
      close: () => store.close(),
    };
  }
  return new EmbeddedAccess(
    resolve(options.dataDir ?? join(dataDir(), "pgdata")),
    options.holdMs ?? 300,
  );
}

/**
 * Read access through a store this process already holds (a notebook's, a task's): the
 * dashboard then serves from the process that owns the store, which is how it runs beside
 * an open embedded store. Closing the access does not close the store.
 * @param store An open store.
 * @returns The access.
 * @example
 * ```ts
 * const store = await openSampleStore();
 * const dash = await startDashboard({ access: storeAccessFrom(store), port: 0 });
 * ```
 */
export function storeAccessFrom(store: Store): StoreAccess {
  return {
    kind: store.kind,
    description: redact(store.description),
    read: (fn) => readOnly(store, fn),
    close: () => Promise.resolve(),
  };
}

async function readOnly<T>(store: Store, fn: (q: Queryable) => Promise<T>): Promise<T> {
  return await store.transaction(async (tx) => {
    await tx.exec("SET TRANSACTION READ ONLY");
    return await fn(tx);
  });
}

class EmbeddedAccess implements StoreAccess {
  readonly kind = "pglite" as const;
  readonly description: string;
  #dir: string;
  #holdMs: number;
  #store: Promise<Store> | null = null;
  #active = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closing: Promise<void> = Promise.resolve();

  constructor(dir: string, holdMs: number) {
    this.#dir = dir;
    this.#holdMs = holdMs;
    this.description = `PGlite ${dir} (opened per request)`;
  }

  async read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    clearTimeout(this.#timer);
    this.#active++;
    try {
      const store = await this.#open();
      return await readOnly(store, fn);
    } finally {
      this.#active--;
      if (this.#active === 0) {
        this.#timer = setTimeout(() => this.#release(), this.#holdMs);
      }
    }
  }

  #open(): Promise<Store> {
    if (this.#store) return this.#store;
    const opening = this.#closing.then(async () => {
      await this.#checkFree();
      try {
        return await openStore({
          dataDir: this.#dir,
          migrate: false,
          owner: "deno task dashboard",
          briefLock: true,
        });
      } catch (e) {
        if (e instanceof StoreInUseError) throw busy(this.#dir, e.owner);
        throw e;
      }
    });
    this.#store = opening;
    opening.catch(() => {
      if (this.#store === opening) this.#store = null;
    });
    return opening;
  }

  async #checkFree(): Promise<void> {
    const exists = await Deno.stat(join(this.#dir, "PG_VERSION")).then(() => true, () => false);
    if (!exists) {
      throw new StoreBusyError(
        `no store at ${this.#dir} yet: run a task first (deno task demo, deno task ingest)`,
        null,
        30,
      );
    }
    const owner = await readStoreLock(this.#dir);
    if (owner && owner.pid !== Deno.pid) throw busy(this.#dir, owner);
  }

  #release(): void {
    const store = this.#store;
    if (!store || this.#active > 0) return;
    this.#store = null;
    this.#closing = store.then((s) => s.close(), () => undefined).catch(() => undefined);
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    const store = this.#store;
    this.#store = null;
    if (store) await store.then((s) => s.close(), () => undefined);
    await this.#closing;
  }
}

function busy(dir: string, owner: StoreLockInfo): StoreBusyError {
  const since = owner.startedAt.slice(11, 19) || owner.startedAt;
  return new StoreBusyError(
    `store ${dir} in use by PID ${owner.pid} (${owner.task}, since ${since}): the dashboard ` +
      "reads it again when it is released; to watch a running task, use a PostgreSQL server " +
      "(DATABASE_URL)",
    owner,
    owner.brief ? 1 : 5,
  );
}
