/**
 * Where the project keeps things: its root, the data directory, npm package files.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of the project root (the folder holding `deno.json`). */
export const PROJECT_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The data directory: `TT_DATA_DIR` if set, else `<project>/data`.
 * @returns An absolute path (not created).
 * @example
 * ```ts
 * const reports = join(dataDir(), "reports");
 * ```
 */
export function dataDir(): string {
  const env = Deno.env.get("TT_DATA_DIR");
  return env ? resolve(env) : join(PROJECT_ROOT, "data");
}

/**
 * Absolute path of a file shipped inside an npm package of the import map, e.g.
 * `packageFile("vega-datasets", "data/sp500-2000.csv")`. Works whether or not the
 * package's `exports` allow the sub-path.
 * @param pkg Package name.
 * @param file Path inside the package.
 * @returns Absolute path to the file.
 * @throws {Error} When the package is not installed (run `deno install`).
 */
export function packageFile(pkg: string, file: string): string {
  const candidates = [join(PROJECT_ROOT, "node_modules", pkg, file)];
  for (const c of candidates) {
    try {
      Deno.statSync(c);
      return c;
    } catch { /* next */ }
  }
  throw new Error(
    `Cannot find ${file} in npm package ${pkg}; run \`deno install\` in ${PROJECT_ROOT}`,
  );
}
