/**
 * Stores of their own for the demo and the notebooks, so the embedded sample (SPX, AAPL)
 * and the models trained on it never land in a user's series or registry. Each area is a
 * data directory of its own under the data directory:
 *
 * | area        | directory               | store                    | models, reports          |
 * | ----------- | ----------------------- | ------------------------ | ------------------------ |
 * | `demo`      | `<dataDir>/demo`        | `<dataDir>/demo/pgdata`      | `…/demo/models`, `…/demo/reports` |
 * | `notebooks` | `<dataDir>/notebooks`   | `<dataDir>/notebooks/pgdata` | `…/notebooks/models`, `…/notebooks/reports` |
 *
 * The area is always an embedded PGlite store, whatever `DATABASE_URL` says: a server holds
 * the user's data. Running a task against an area is `TT_DATA_DIR=data/demo deno task …`.
 *
 * @module
 */
import { join } from "node:path";
import { openStore, type Store } from "../db/store.ts";
import { dataDir } from "../util/paths.ts";

/** The areas that keep sample data apart from the user's. */
export type SampleArea = "demo" | "notebooks";

/**
 * The data directory of a sample area: `<dataDir>/<area>`.
 * @param area `"demo"` or `"notebooks"`.
 * @returns An absolute path (not created).
 * @example
 * ```ts
 * sampleDataDir("demo"); // …/data/demo
 * ```
 */
export function sampleDataDir(area: SampleArea): string {
  if (area !== "demo" && area !== "notebooks") {
    throw new TypeError(`sample area must be "demo" or "notebooks"; got ${JSON.stringify(area)}`);
  }
  return join(dataDir(), area);
}

/** An open sample-area store and where the area keeps its files. */
export interface SampleStore {
  /** The area's embedded store (`<dir>/pgdata`); close it when done. */
  store: Store;
  /** The area's data directory (`<dataDir>/<area>`). */
  dir: string;
  /** Where its models go: pass as `TrainOptions.modelsDir`. */
  modelsDir: string;
  /** Where its reports go. */
  reportsDir: string;
}

/**
 * Opens the embedded store of a sample area (creating it when missing), never the user's
 * store and never a `DATABASE_URL` server. The area's directory has one owner at a time,
 * like any embedded store.
 * @param area `"demo"` or `"notebooks"`.
 * @returns The store and the area's directories.
 * @throws {StoreInUseError} When another process has the area's store open.
 * @example
 * ```ts
 * const { store, modelsDir } = await openSampleStore("notebooks");
 * try {
 *   await trainModel(store, { symbols: ["AAPL", "SPX"], modelsDir });
 * } finally {
 *   await store.close();
 * }
 * ```
 */
export async function openSampleStore(area: SampleArea): Promise<SampleStore> {
  const dir = sampleDataDir(area);
  // `url: ""` is falsy: openStore takes the embedded path even with DATABASE_URL set.
  const store = await openStore({ url: "", dataDir: join(dir, "pgdata") });
  return { store, dir, modelsDir: join(dir, "models"), reportsDir: join(dir, "reports") };
}
