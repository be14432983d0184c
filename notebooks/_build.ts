/**
 * Builds the committed notebooks (`notebooks/NN_name.ipynb`) from their plain
 * TypeScript sources in `notebooks/_src/NN_name.ts` (jupytext "percent" format:
 * `// %%` starts a code cell, `// %% [markdown]` a markdown cell whose lines are
 * `// ` comments). The sources type-check as ordinary modules
 * (`deno check notebooks/_src/`), and the notebooks are written without outputs
 * and execution counts, so nothing stale is ever committed.
 *
 * The `_src` file is the source of truth. A notebook edited in Jupyter is carried
 * back with {@linkcode notebookSource} (`deno task build --from-ipynb NN_name`).
 *
 * Usage (`deno task build` runs this together with the other generators):
 *   deno task build                          # write every generated file
 *   deno task build --check                  # exit 1 naming each stale file
 *   deno task build --from-ipynb 03_environment   # .ipynb edited in Jupyter → _src/03_environment.ts
 *   deno run -A notebooks/_build.ts [--check]     # the notebooks alone
 *
 * @module
 */
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SRC = join(HERE, "_src");
const ROOT = dirname(HERE);
const MARKER = /^\/\/ %%( \[markdown\])?\s*$/;

/** One notebook cell in nbformat 4.5. */
interface Cell {
  cell_type: "code" | "markdown";
  id: string;
  metadata: Record<string, unknown>;
  source: string[];
  outputs?: unknown[];
  execution_count?: null;
}

/**
 * Splits a percent-format source into cells.
 * @param text The source file.
 * @param name Notebook name, for cell ids and messages.
 * @returns Cells, in order (empty cells dropped).
 * @throws {SyntaxError} When a markdown cell holds a line that is not a `//` comment.
 */
export function parseCells(text: string, name: string): Cell[] {
  const cells: Cell[] = [];
  let kind: "code" | "markdown" | null = null;
  let lines: string[] = [];
  let lineNo = 0;
  const flush = () => {
    while (lines.length && lines[0].trim() === "") lines.shift();
    while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
    if (kind && lines.length) {
      const id = `${name.slice(0, 2)}-${String(cells.length + 1).padStart(2, "0")}`;
      const source = lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l));
      cells.push(
        kind === "code"
          ? { cell_type: "code", id, metadata: {}, source, outputs: [], execution_count: null }
          : { cell_type: "markdown", id, metadata: {}, source },
      );
    }
    lines = [];
  };
  for (const line of text.split("\n")) {
    lineNo++;
    const marker = MARKER.exec(line);
    if (marker) {
      flush();
      kind = marker[1] ? "markdown" : "code";
      continue;
    }
    if (kind === null) continue; // file header before the first cell
    if (kind === "markdown") {
      if (line.trim() === "") lines.push("");
      else if (line === "//") lines.push("");
      else if (line.startsWith("// ")) lines.push(line.slice(3));
      else throw new SyntaxError(`${name}.ts line ${lineNo}: markdown cells hold only // comments`);
    } else lines.push(line);
  }
  flush();
  return cells;
}

/**
 * The notebook JSON for some cells (Deno kernel, no outputs).
 * @param cells From {@linkcode parseCells}.
 * @returns The `.ipynb` text.
 */
export function notebookJson(cells: Cell[]): string {
  const nb = {
    cells,
    metadata: {
      kernelspec: { display_name: "Deno", language: "typescript", name: "deno" },
      language_info: {
        codemirror_mode: "typescript",
        file_extension: ".ts",
        mimetype: "text/x.typescript",
        name: "typescript",
        nbconvert_exporter: "script",
        pygments_lexer: "typescript",
      },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
  return JSON.stringify(nb, null, 1) + "\n";
}

/**
 * Why a committed notebook differs from its source, and how to carry an edit either way.
 * @param name Notebook name without extension, e.g. `03_environment`.
 * @returns A message naming both files and the commands.
 * @example
 * ```ts
 * console.error(notebookStaleMessage("03_environment"));
 * ```
 */
export function notebookStaleMessage(name: string): string {
  return `notebooks/${name}.ipynb is not what notebooks/_src/${name}.ts builds. ` +
    `The source of truth is notebooks/_src/${name}.ts. ` +
    `If you edited the .ipynb (e.g. in Jupyter), carry the change back with ` +
    `\`deno task build --from-ipynb ${name}\` (rewrites _src/${name}.ts from the notebook's cells, ` +
    `outputs dropped; review with git diff); if you edited _src/${name}.ts, run \`deno task build\`.`;
}

/**
 * Every notebook as built from its `_src` file, with where it goes and where it comes from.
 * @returns Project-relative `path` and `source`, the built `text`, and the `stale` message.
 * @example
 * ```ts
 * for (const f of await notebookFiles()) console.log(f.path, f.text.length);
 * ```
 */
export async function notebookFiles(): Promise<
  { path: string; source: string; text: string; stale: string }[]
> {
  const names: string[] = [];
  for await (const e of Deno.readDir(SRC)) {
    if (e.isFile && e.name.endsWith(".ts") && !e.name.startsWith("_")) names.push(e.name);
  }
  const out = [];
  for (const file of names.sort()) {
    const name = basename(file, ".ts");
    out.push({
      path: relative(ROOT, join(HERE, `${name}.ipynb`)),
      source: relative(ROOT, join(SRC, file)),
      text: notebookJson(parseCells(await Deno.readTextFile(join(SRC, file)), name)),
      stale: notebookStaleMessage(name),
    });
  }
  return out;
}

/**
 * The percent-format source of a notebook (the inverse of {@linkcode parseCells}), for
 * carrying an edit made in Jupyter back to `_src`. Outputs and execution counts are dropped;
 * `parseCells` of the result gives the notebook's cells again.
 * @param ipynb The notebook's JSON text.
 * @param name Notebook name, for messages.
 * @param header Lines before the first cell (the `_src` file's own header is kept by callers).
 * @returns The `_src/NN_name.ts` text.
 * @throws {SyntaxError} When the JSON is not a notebook, or a code cell holds a `// %%` line.
 * @example
 * ```ts
 * const ts = notebookSource(await Deno.readTextFile("notebooks/03_environment.ipynb"), "03_environment");
 * ```
 */
export function notebookSource(ipynb: string, name: string, header = ""): string {
  let nb: { cells?: { cell_type?: string; source?: string | string[] }[] };
  try {
    nb = JSON.parse(ipynb);
  } catch (e) {
    throw new SyntaxError(`${name}.ipynb is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(nb.cells)) throw new SyntaxError(`${name}.ipynb has no "cells" array`);
  const parts: string[] = [];
  nb.cells.forEach((cell, i) => {
    const text = Array.isArray(cell.source) ? cell.source.join("") : cell.source ?? "";
    const lines = text.replace(/\s+$/, "").split("\n");
    if (cell.cell_type === "markdown") {
      parts.push(
        ["// %% [markdown]", ...lines.map((l) => (l.trim() === "" ? "//" : `// ${l}`))].join("\n"),
      );
    } else if (cell.cell_type === "code") {
      const bad = lines.findIndex((l) => MARKER.test(l));
      if (bad >= 0) {
        throw new SyntaxError(
          `${name}.ipynb cell ${i + 1} line ${bad + 1}: a code line "// %%" would start a new cell`,
        );
      }
      parts.push(["// %%", ...lines].join("\n"));
    }
  });
  const head = header.replace(/\s+$/, "");
  return `${head ? `${head}\n\n` : ""}${parts.join("\n\n")}\n`;
}

/**
 * The lines of a `_src` file before its first cell marker (comments, references).
 * @param text The `_src` file.
 * @returns The header, possibly empty.
 * @example
 * ```ts
 * sourceHeader("// Source of …\n\n// %%\n1;\n"); // "// Source of …\n"
 * ```
 */
export function sourceHeader(text: string): string {
  const lines = text.split("\n");
  const first = lines.findIndex((l) => MARKER.test(l));
  return first < 0 ? "" : lines.slice(0, first).join("\n");
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  let stale = 0;
  for (const f of await notebookFiles()) {
    const out = join(ROOT, f.path);
    const old = await Deno.readTextFile(out).catch(() => "");
    if (old === f.text) continue;
    if (check) {
      console.error(f.stale);
      stale++;
    } else {
      await Deno.writeTextFile(out, f.text);
      console.log(`wrote ${f.path}`);
    }
  }
  if (stale) Deno.exit(1);
}
