/**
 * How the dashboard reaches the store without taking it from the tasks.
 *
 * - **A PostgreSQL server** (`DATABASE_URL` / `--db-url`): one pool, opened at start; every
 *   request reads in its own `READ ONLY` transaction, concurrently with any task.
 * - **Embedded PGlite** is single-process (`lib/db/store_lock.ts`), so the dashboard never keeps
 *   it: a request opens the directory (about 0.2 s), reads in a `READ ONLY` transaction and
 *   the store is closed again once no request has come for `holdMs` (default 300 ms; the
 *   requests of one page share one open), and after at most `maxHoldMs` (2 s) however busy,
 *   followed by a `gapMs` (250 ms) pause. While open, the lock is marked *brief*: a task that
 *   starts then waits for the dashboard to let go (up to 10 s) instead of failing, and takes
 *   the store in the pause. While a task holds the
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
  /** PGlite: close the store after this long open, however busy. Default 2000 ms. */
  maxHoldMs?: number;
  /** PGlite: after a close, wait this long before opening again (a waiting task's turn). Default 250 ms. */
  gapMs?: number;
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
    options.maxHoldMs ?? 2000,
    options.gapMs ?? 250,
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

/** One open of the embedded store, shared by the requests that arrive while it is open. */
interface Lease {
  store: Promise<Store>;
  active: number;
  openedAt: number;
  retired: boolean;
  /** Resolves once the store is closed and the gap after it has passed. */
  closed: Promise<void>;
  markClosed: () => void;
}

class EmbeddedAccess implements StoreAccess {
  readonly kind = "pglite" as const;
  readonly description: string;
  #dir: string;
  #holdMs: number;
  #maxHoldMs: number;
  #gapMs: number;
  #lease: Lease | null = null;
  #closing: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(dir: string, holdMs: number, maxHoldMs: number, gapMs: number) {
    this.#dir = dir;
    this.#holdMs = holdMs;
    this.#maxHoldMs = maxHoldMs;
    this.#gapMs = gapMs;
    this.description = `PGlite ${dir} (opened per request)`;
  }

  async read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    clearTimeout(this.#timer);
    let lease = this.#lease;
    // Never hold the store longer than maxHoldMs, however busy the pages are: a task
    // waiting for the lock takes it in the gap after the close.
    if (lease && Date.now() - lease.openedAt > this.#maxHoldMs) {
      this.#retire(lease);
      lease = null;
    }
    lease ??= this.#lease = this.#newLease();
    lease.active++;
    try {
      return await readOnly(await lease.store, fn);
    } finally {
      lease.active--;
      if (lease.retired) {
        if (lease.active === 0) this.#close(lease);
      } else if (lease.active === 0 && lease === this.#lease) {
        const idle = lease;
        this.#timer = setTimeout(() => this.#retire(idle), this.#holdMs);
      }
    }
  }

  #newLease(): Lease {
    let markClosed = () => {};
    const closed = new Promise<void>((r) => (markClosed = r));
    const store = this.#closing.then(async () => {
      await this.#checkFree();
      try {
        const opened = await openStore({
          dataDir: this.#dir,
          migrate: false,
          owner: "deno task dashboard",
          briefLock: true,
        });
        lease.openedAt = Date.now();
        return opened;
      } catch (e) {
        if (e instanceof StoreInUseError) throw busy(this.#dir, e.owner);
        throw e;
      }
    });
    const lease: Lease = {
      store,
      active: 0,
      openedAt: Date.now(),
      retired: false,
      closed,
      markClosed,
    };
    lease.store.catch(() => {
      // A failed open holds nothing: the next request tries again.
      if (this.#lease === lease) this.#lease = null;
      lease.retired = true;
      lease.markClosed();
    });
    return lease;
  }

  #retire(lease: Lease): void {
    if (lease.retired) return;
    lease.retired = true;
    if (this.#lease === lease) this.#lease = null;
    this.#closing = lease.closed;
    if (lease.active === 0) this.#close(lease);
  }

  #close(lease: Lease): void {
    lease.store
      .then((s) => s.close(), () => undefined)
      .catch(() => undefined)
      .then(() => new Promise((r) => setTimeout(r, this.#gapMs)))
      .then(() => lease.markClosed());
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

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    const lease = this.#lease;
    if (lease) this.#retire(lease);
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
