/**
 * One owner per embedded store. PGlite is a single-process database: two processes that
 * open one data directory overwrite each other's pages and lose data. Before a PGlite
 * directory is opened, {@linkcode acquireStoreLock} creates a lock file beside it
 * (`<dir>.tt-lock`, e.g. `data/pgdata.tt-lock`) holding `{pid, task, host, startedAt}`:
 *
 * - the file is created atomically (written to a private file, then hard-linked into
 *   place, which fails when the lock exists), so exactly one opener wins;
 * - a lock left by a dead process on the same host is taken over, with a message;
 * - a live owner (another process, or another open store in this process) makes the
 *   opener fail with a {@linkcode StoreInUseError} before anything is read or written;
 * - the lock is released on `close()`, on normal process exit (`unload`), and on
 *   SIGTERM/SIGHUP (and SIGINT outside a Jupyter kernel) where the platform allows.
 *   A `kill -9` leaves a stale lock, which the next opener takes over.
 *
 * Sharing one store between processes is what a PostgreSQL server is for (`DATABASE_URL`).
 *
 * @module
 */
import { basename, dirname, join, relative, resolve } from "node:path";

/** What a lock file holds. */
export interface StoreLockInfo {
  pid: number;
  /** What opened the store, e.g. `deno task ingest`. */
  task: string;
  host: string;
  /** ISO time the lock was taken. */
  startedAt: string;
  /**
   * A brief holder (the dashboard's per-request reads): another opener waits for it (up to
   * `briefWaitMs`) instead of failing.
   */
  brief?: boolean;
}

/** An embedded store is open in another process (or already in this one). */
export class StoreInUseError extends Error {
  /** The lock's current owner. */
  readonly owner: StoreLockInfo;
  /**
   * @param dir The store directory as shown to the user.
   * @param owner The lock's owner.
   */
  constructor(dir: string, owner: StoreLockInfo) {
    const since = owner.startedAt.slice(11, 19) || owner.startedAt;
    const self = owner.pid === Deno.pid && owner.host === hostname();
    super(
      `store ${dir} is in use by ${
        self ? "this process, " : ""
      }PID ${owner.pid} (${owner.task}, since ${since}` +
        `${
          owner.host === hostname() ? "" : ` on ${owner.host}`
        }); wait for it, or use a PostgreSQL ` +
        "server (DATABASE_URL) to share the store between processes",
    );
    this.name = "StoreInUseError";
    this.owner = owner;
  }
}

/** A held lock; `release()` is idempotent. */
export interface StoreLock {
  /** The lock file. */
  readonly path: string;
  readonly info: StoreLockInfo;
  /** Removes the lock file if it is still this lock's. */
  release(): void;
}

/** Options of {@linkcode acquireStoreLock}. */
export interface StoreLockOptions {
  /** What to record as the owner. Default: derived from the main module (`deno task ingest`). */
  task?: string;
  /** Where to say a stale lock was taken over. Default `console.error`. */
  log?: (line: string) => void;
  /** Record this holder as brief (see {@linkcode StoreLockInfo.brief}). Default false. */
  brief?: boolean;
  /** How long to wait for a brief holder to release the lock. Default 10 000 ms. */
  briefWaitMs?: number;
}

/**
 * The lock file of a PGlite directory: `<dir>.tt-lock`, beside it (a file inside the
 * data directory could confuse PostgreSQL's initdb).
 * @param dir The PGlite data directory.
 * @returns The absolute lock path.
 * @example
 * ```ts
 * storeLockPath("data/pgdata"); // …/data/pgdata.tt-lock
 * ```
 */
export function storeLockPath(dir: string): string {
  const abs = resolve(dir);
  return join(dirname(abs), `${basename(abs)}.tt-lock`);
}

/**
 * Reads the lock of a PGlite directory, if any.
 * @param dir The PGlite data directory.
 * @returns The owner, or null when unlocked (or the file is unreadable).
 * @example
 * ```ts
 * const owner = await readStoreLock("data/pgdata");
 * if (owner) console.log(`in use by PID ${owner.pid}`);
 * ```
 */
export async function readStoreLock(dir: string): Promise<StoreLockInfo | null> {
  return parseLock(await Deno.readTextFile(storeLockPath(dir)).catch(() => null));
}

/**
 * Takes the exclusive lock of a PGlite directory, or throws who holds it.
 * @param dir The PGlite data directory (its parent is created if missing).
 * @param options Owner description and logging.
 * @returns The held lock; release it when the store closes.
 * @throws {StoreInUseError} When a live process (or this one) holds it.
 * @example
 * ```ts
 * const lock = await acquireStoreLock("data/pgdata");
 * try {
 *   // … open PGlite on data/pgdata …
 * } finally {
 *   lock.release();
 * }
 * ```
 */
export async function acquireStoreLock(
  dir: string,
  options: StoreLockOptions = {},
): Promise<StoreLock> {
  const path = storeLockPath(dir);
  const shown = displayPath(resolve(dir));
  const log = options.log ?? ((line: string) => console.error(line));
  await Deno.mkdir(dirname(path), { recursive: true });
  const info: StoreLockInfo = {
    pid: Deno.pid,
    task: options.task ?? currentTask(),
    host: hostname(),
    startedAt: new Date().toISOString(),
    ...(options.brief ? { brief: true } : {}),
  };
  const text = JSON.stringify(info) + "\n";
  const briefDeadline = Date.now() + (options.briefWaitMs ?? 10_000);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await tryCreate(path, text)) return held(path, info, text);
    const existingText = await Deno.readTextFile(path).catch(() => null);
    if (existingText === null) continue; // released meanwhile: try again
    const existing = parseLock(existingText);
    if (existing === null) {
      // Half-written by a process killed between create and write (we never do that:
      // the file is linked complete), or foreign: only take it over when it is old.
      const age = await Deno.stat(path).then(
        (s) => Date.now() - (s.mtime?.getTime() ?? 0),
        () => 0,
      );
      if (age < 10_000) {
        throw new Error(
          `store ${shown} is being locked by another process (lock file ${path} is being written); try again`,
        );
      }
      log(`store: taking over unreadable lock ${path}`);
    } else if (existing.host !== hostname() || (await processAlive(existing.pid))) {
      if (existing.brief && existing.pid !== Deno.pid && Date.now() < briefDeadline) {
        // A brief reader (the dashboard) lets go within a moment: wait, do not fail.
        await new Promise((r) => setTimeout(r, 50));
        attempt--;
        continue;
      }
      throw new StoreInUseError(shown, existing);
    } else {
      log(
        `store: taking over the lock of ${shown} left by PID ${existing.pid} (${existing.task}, ` +
          `since ${existing.startedAt}), which is no longer running`,
      );
    }
    // Remove the stale lock only if it is still the one we judged stale.
    const again = await Deno.readTextFile(path).catch(() => null);
    if (again === existingText) await Deno.remove(path).catch(() => undefined);
  }
  const owner = await readStoreLock(dir);
  if (owner) throw new StoreInUseError(shown, owner);
  throw new Error(`store ${shown}: could not take the lock ${path}`);
}

async function tryCreate(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, text, { createNew: true });
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    if (e instanceof Deno.errors.NotSupported || e instanceof Deno.errors.PermissionDenied) {
      // No hard links (some file systems): createNew is atomic too, the content follows.
      try {
        const f = await Deno.open(path, { createNew: true, write: true });
        await f.write(new TextEncoder().encode(text));
        f.close();
        return true;
      } catch (e2) {
        if (e2 instanceof Deno.errors.AlreadyExists) return false;
        throw e2;
      }
    }
    throw e;
  } finally {
    await Deno.remove(tmp).catch(() => undefined);
  }
}

const HELD = new Map<string, { text: string }>();
let exitHooksInstalled = false;

function held(path: string, info: StoreLockInfo, text: string): StoreLock {
  HELD.set(path, { text });
  installExitHooks();
  let released = false;
  return {
    path,
    info,
    release() {
      if (released) return;
      released = true;
      releaseSync(path, text);
      HELD.delete(path);
    },
  };
}

function releaseSync(path: string, text: string): void {
  try {
    if (Deno.readTextFileSync(path) === text) Deno.removeSync(path);
  } catch { /* gone already */ }
}

function releaseAll(): void {
  for (const [path, { text }] of HELD) releaseSync(path, text);
  HELD.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  globalThis.addEventListener("unload", releaseAll);
  const signals: [Deno.Signal, number][] = [["SIGTERM", 143], ["SIGHUP", 129]];
  // A Jupyter kernel is interrupted with SIGINT and must survive it.
  if (!inJupyter()) signals.push(["SIGINT", 130]);
  for (const [sig, code] of signals) {
    try {
      Deno.addSignalListener(sig, () => {
        releaseAll();
        Deno.exit(code);
      });
    } catch { /* signal not supported here (Windows) */ }
  }
}

function inJupyter(): boolean {
  try {
    return (Deno as unknown as { jupyter?: unknown }).jupyter !== undefined;
  } catch {
    return false;
  }
}

function parseLock(text: string | null): StoreLockInfo | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text);
    if (
      v && typeof v === "object" && Number.isInteger(v.pid) && typeof v.host === "string" &&
      typeof v.task === "string" && typeof v.startedAt === "string"
    ) {
      return {
        pid: v.pid,
        task: v.task,
        host: v.host,
        startedAt: v.startedAt,
        ...(v.brief === true ? { brief: true } : {}),
      };
    }
  } catch { /* not JSON */ }
  return null;
}

async function processAlive(pid: number): Promise<boolean> {
  if (pid === Deno.pid) return true;
  if (Deno.build.os === "linux") {
    return await Deno.stat(`/proc/${pid}`).then(() => true, () => false);
  }
  if (Deno.build.os === "windows") return true; // cannot tell: be safe
  try {
    const out = await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" })
      .output();
    return out.success;
  } catch {
    return true;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown-host";
  }
}

function currentTask(): string {
  let main = "";
  try {
    main = Deno.mainModule;
  } catch { /* no main module */ }
  const m = /\/tasks\/([a-z_]+)\.ts$/.exec(main);
  if (m) return `deno task ${m[1].replaceAll("_", "-")}`;
  if (inJupyter()) return "a Jupyter notebook kernel";
  if (main.startsWith("file:")) return displayPath(new URL(main).pathname);
  return main || "deno";
}

function displayPath(abs: string): string {
  const rel = relative(Deno.cwd(), abs);
  return rel && !rel.startsWith("..") ? rel : abs;
}
