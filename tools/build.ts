/**
 * Everything in the repository that is generated, in one list, so `deno task build`
 * regenerates it and `deno task build --check` names each committed copy that is stale:
 *
 * - `lib/agents/_kernel_wasm.ts`, assembled from `lib/agents/_kernel_wat.ts` (tools/build_kernel.ts);
 * - `notebooks/NN_name.ipynb`, built from `notebooks/_src/NN_name.ts` (notebooks/_build.ts).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { kernelFiles } from "./build_kernel.ts";
import { notebookFiles, notebookSource, sourceHeader } from "../notebooks/_build.ts";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

/** One generated file. Paths are relative to the project root. */
export interface GeneratedFile {
  /** The committed file, e.g. `notebooks/01_ingest.ipynb`. */
  path: string;
  /** The file it is generated from: the source of truth. */
  source: string;
  /** What the generator makes now. */
  text: string;
  /** What to tell a user whose committed copy differs, and how to carry an edit back. */
  stale: string;
}

/** What {@linkcode buildGenerated} did with one file. */
export interface BuildResult {
  path: string;
  source: string;
  /** `fresh`: unchanged; `written`: regenerated; `stale`: differs (with `check`, nothing written). */
  status: "fresh" | "written" | "stale";
  /** For `stale`: the file's {@linkcode GeneratedFile.stale} message. */
  message?: string;
}

/**
 * Every generated file, freshly generated (the kernel's assembly takes about a second).
 * @returns Kernel first, then the notebooks in name order.
 * @example
 * ```ts
 * for (const f of await generatedFiles()) console.log(`${f.path} ← ${f.source}`);
 * ```
 */
export async function generatedFiles(): Promise<GeneratedFile[]> {
  return [...await kernelFiles(), ...await notebookFiles()];
}

/**
 * Regenerates every generated file, or with `check` only compares.
 * @param options `check`: write nothing, report differing files as `stale`;
 *   `root`: where the committed copies are read and written (default this repository;
 *   the sources are always this repository's).
 * @returns One result per generated file.
 * @example
 * ```ts
 * const stale = (await buildGenerated({ check: true })).filter((r) => r.status === "stale");
 * ```
 */
export async function buildGenerated(
  options: { check?: boolean; root?: string } = {},
): Promise<BuildResult[]> {
  const root = options.root ?? ROOT;
  const out: BuildResult[] = [];
  for (const f of await generatedFiles()) {
    const target = join(root, f.path);
    const committed = await Deno.readTextFile(target).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    });
    if (committed === f.text) out.push({ path: f.path, source: f.source, status: "fresh" });
    else if (options.check) {
      const message = committed === undefined ? `${f.path} is missing. ${f.stale}` : f.stale;
      out.push({ path: f.path, source: f.source, status: "stale", message });
    } else {
      await Deno.writeTextFile(target, f.text);
      out.push({ path: f.path, source: f.source, status: "written" });
    }
  }
  return out;
}

/**
 * Carries a notebook edited in Jupyter back to its source: rewrites
 * `notebooks/_src/NAME.ts` from the cells of `notebooks/NAME.ipynb` (keeping the
 * source's header lines, dropping outputs), so `deno task build` reproduces the notebook.
 * @param name Notebook name without extension, e.g. `03_environment`.
 * @param options `root`: where `notebooks/` is (default this repository).
 * @returns The rewritten source's project-relative path.
 * @throws {Deno.errors.NotFound} When `notebooks/NAME.ipynb` does not exist.
 * @example
 * ```ts
 * await adoptNotebook("03_environment"); // then: deno task build, git diff notebooks/_src
 * ```
 */
export async function adoptNotebook(
  name: string,
  options: { root?: string } = {},
): Promise<string> {
  const root = options.root ?? ROOT;
  const ipynb = join(root, "notebooks", `${name}.ipynb`);
  const text = await Deno.readTextFile(ipynb).catch((e) => {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`No notebook notebooks/${name}.ipynb to carry back`);
    }
    throw e;
  });
  const rel = join("notebooks", "_src", `${name}.ts`);
  const old = await Deno.readTextFile(join(root, rel)).catch(() => "");
  const header = sourceHeader(old) ||
    `// Source of notebooks/${name}.ipynb (build: deno task build).\n/// <reference lib="deno.unstable" />`;
  await Deno.writeTextFile(join(root, rel), notebookSource(text, name, header));
  return rel;
}
