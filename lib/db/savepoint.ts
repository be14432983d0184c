/**
 * Savepoints inside a transaction: undo part of it and carry on.
 *
 * @module
 */
import type { Queryable } from "./store.ts";

/** An open savepoint of a transaction. */
export interface Savepoint {
  /** Undoes everything since the savepoint was set; the savepoint stays, to roll back to again. */
  rollback(): Promise<void>;
  /** Forgets the savepoint (what was done since stays in the transaction). */
  release(): Promise<void>;
}

/**
 * Sets a savepoint in the transaction `tx`.
 * @param tx A transaction (from `store.transaction`).
 * @param name A plain SQL identifier (code, never user input).
 * @returns The savepoint.
 * @throws {TypeError} When `name` is not a plain identifier.
 * @example
 * ```ts
 * await store.transaction(async (tx) => {
 *   const sp = await savepoint(tx, "tt_file");
 *   await upsertPrices(tx, "1 day", bars);
 *   await sp.rollback(); // the upsert is undone, the transaction goes on
 *   await sp.release();
 * });
 * ```
 */
export async function savepoint(tx: Queryable, name: string): Promise<Savepoint> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
    throw new TypeError(`Not a plain SQL identifier: ${JSON.stringify(name)}`);
  }
  await tx.exec(`SAVEPOINT ${name}`);
  return {
    rollback: () => tx.exec(`ROLLBACK TO SAVEPOINT ${name}`),
    release: () => tx.exec(`RELEASE SAVEPOINT ${name}`),
  };
}
