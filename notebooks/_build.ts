/**
 * Builds the committed notebooks (`notebooks/NN_name.ipynb`) from their plain
 * TypeScript sources in `notebooks/_src/NN_name.ts` (jupytext "percent" format:
 * `// %%` starts a code cell, `// %% [markdown]` a markdown cell whose lines are
 * `// ` comments). The sources type-check as ordinary modules
 * (`deno check notebooks/_src/`), and the notebooks are written without outputs
 * and execution counts, so nothing stale is ever committed.
 *
 * Usage:
 *   deno run -A notebooks/_build.ts           # write every notebook
 *   deno run -A notebooks/_build.ts --check   # exit 1 when a notebook differs from its source
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const SRC = join(HERE, "_src");

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
    const marker = /^\/\/ %%( \[markdown\])?\s*$/.exec(line);
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

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  let stale = 0;
  const names: string[] = [];
  for await (const e of Deno.readDir(SRC)) {
    if (e.isFile && e.name.endsWith(".ts") && !e.name.startsWith("_")) names.push(e.name);
  }
  for (const file of names.sort()) {
    const name = basename(file, ".ts");
    const json = notebookJson(parseCells(await Deno.readTextFile(join(SRC, file)), name));
    const out = join(HERE, `${name}.ipynb`);
    const old = await Deno.readTextFile(out).catch(() => "");
    if (old === json) continue;
    if (check) {
      console.error(`${name}.ipynb is not built from _src/${file}`);
      stale++;
    } else {
      await Deno.writeTextFile(out, json);
      console.log(`wrote ${out}`);
    }
  }
  if (stale) {
    console.error("run: deno run -A notebooks/_build.ts");
    Deno.exit(1);
  }
}
