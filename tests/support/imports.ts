/**
 * The one import walker of the architecture test (tests/layering_test.ts): source
 * files, their import specifiers resolved to project files, the domain of a `lib/`
 * file, cycles of the domain graph, exported names and SQL in string literals — all
 * read from the source text, without type-checking or running it.
 *
 * Paths are project-relative with `/` separators (`lib/db/store.ts`).
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { PROJECT_ROOT } from "@lib/util/paths.ts";

/** One import of one file: `from` imports `to` (both relative to the project root). */
export interface FileEdge {
  from: string;
  to: string;
}

/**
 * The source files (`.ts`, `.tsx`, `.js`, `.mjs`) under a project folder, recursively.
 * @param dir a project-relative folder, e.g. `"lib"`
 * @returns project-relative paths, sorted
 * @example
 * ```ts
 * const libFiles = await sourceFiles("lib"); // ["lib/agents/…", …]
 * ```
 */
export async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(PROJECT_ROOT, dir))) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await sourceFiles(p));
    else if (e.isFile && /\.(ts|tsx|js|mjs)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** Reads a project file given by its project-relative path. */
export function readSource(rel: string): Promise<string> {
  return Deno.readTextFile(join(PROJECT_ROOT, rel));
}

/**
 * Import and re-export specifiers of a module: `import … from "x"`, `import "x"`,
 * `export … from "x"`, `import("x")` and `import type … from "x"`; imports inside
 * comments and string literals are not counted.
 * @param text the module's source text
 * @returns the specifiers in source order
 * @example
 * ```ts
 * importSpecifiers('import type { A } from "./a.ts";\nexport * from "@lib/b.ts";');
 * // ["./a.ts", "@lib/b.ts"]
 * ```
 */
export function importSpecifiers(text: string): string[] {
  const { literals, masked } = literalsAndCode(text);
  const out: string[] = [];
  const re =
    /(?:^|[;\s}])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?"(\d+)"|\bimport\(\s*"(\d+)"\s*\)/g;
  for (const m of masked.matchAll(re)) out.push(literals[Number(m[1] ?? m[2])].value);
  return out;
}

/**
 * Resolves a specifier of a project file to a project-relative path.
 * @param file the importing file, project-relative
 * @param spec a specifier from {@link importSpecifiers}
 * @returns the imported file, or undefined for npm:, jsr:, node: and bare specifiers
 * @example
 * ```ts
 * resolveSpecifier("lib/db/store.ts", "../util/mod.ts"); // "lib/util/mod.ts"
 * resolveSpecifier("tasks/train.ts", "@lib/agents/ppo.ts"); // "lib/agents/ppo.ts"
 * ```
 */
export function resolveSpecifier(file: string, spec: string): string | undefined {
  let abs: string;
  if (spec.startsWith("@lib/")) abs = join(PROJECT_ROOT, "lib", spec.slice("@lib/".length));
  else if (spec.startsWith(".")) abs = resolve(PROJECT_ROOT, dirname(file), spec);
  else return undefined;
  return relative(PROJECT_ROOT, abs);
}

/**
 * Every import of project files by the given files, one edge per (importer, imported) pair.
 * @param files project-relative source files, e.g. from {@link sourceFiles}
 * @returns the edges, in file order
 * @example
 * ```ts
 * const edges = await importEdges(await sourceFiles("tasks"));
 * const fromTests = edges.filter((e) => e.to.startsWith("tests/"));
 * ```
 */
export async function importEdges(files: readonly string[]): Promise<FileEdge[]> {
  const edges: FileEdge[] = [];
  for (const from of files) {
    const seen = new Set<string>();
    for (const spec of importSpecifiers(await readSource(from))) {
      const to = resolveSpecifier(from, spec);
      if (to && !seen.has(to)) {
        seen.add(to);
        edges.push({ from, to });
      }
    }
  }
  return edges;
}

/**
 * The domain of a `lib/` file: the folder directly under `lib/`.
 * @param rel a project-relative path
 * @returns the domain, or undefined outside `lib/` and for files directly in `lib/`
 * @example
 * ```ts
 * domainOf("lib/db/store.ts"); // "db"
 * domainOf("tasks/train.ts"); // undefined
 * ```
 */
export function domainOf(rel: string): string | undefined {
  return /^lib\/([^/]+)\//.exec(rel)?.[1];
}

/**
 * Cycles of a directed graph given as edges, one per strongly connected component
 * with more than one node: the shortest cycle through the component's first node
 * (alphabetically), as the node sequence `[a, b, …, a]`. Self-loops are ignored. The
 * result is empty exactly when the graph (without self-loops) has no cycle.
 * @param edges `[from, to]` pairs
 * @returns one cycle per component, sorted by first node
 * @example
 * ```ts
 * domainCycles([["db", "data"], ["data", "db"], ["util", "db"]]); // [["data", "db", "data"]]
 * ```
 */
export function domainCycles(edges: Iterable<[string, string]>): string[][] {
  const adj = new Map<string, Set<string>>();
  for (const [a, b] of edges) {
    if (a === b) continue;
    if (!adj.has(a)) adj.set(a, new Set());
    if (!adj.has(b)) adj.set(b, new Set());
    adj.get(a)!.add(b);
  }
  // Tarjan's strongly connected components.
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>();
  const sccs: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of [...adj.get(v)!].sort()) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) sccs.push(scc.sort());
    }
  };
  for (const v of [...adj.keys()].sort()) if (!idx.has(v)) visit(v);
  // The shortest cycle through the first node, by breadth-first search inside the component.
  return sccs.sort((x, y) => x[0].localeCompare(y[0])).map((scc) => {
    const inScc = new Set(scc), start = scc[0];
    const prev = new Map<string, string>();
    const queue = [start];
    let end: string | undefined;
    while (queue.length && end === undefined) {
      const v = queue.shift()!;
      for (const w of [...adj.get(v)!].sort()) {
        if (!inScc.has(w)) continue;
        if (w === start) {
          end = v;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = end!; v !== start; v = prev.get(v)!) path.splice(1, 0, v);
    path.push(start);
    return path;
  });
}

/**
 * Explains a domain cycle with the file imports behind each of its steps, the step
 * with the fewest imports first (the likely cut).
 * @param cycle a cycle from {@link domainCycles}
 * @param edges the file imports the domain graph was built from
 * @returns a multi-line message
 * @example
 * ```ts
 * describeCycle(["data", "db", "data"], edges);
 * // "cycle data → db → data:\n  db → data (1 import):\n    lib/db/x.ts imports lib/data/y.ts\n…"
 * ```
 */
export function describeCycle(cycle: string[], edges: readonly FileEdge[]): string {
  const steps: { label: string; files: FileEdge[] }[] = [];
  for (let i = 0; i + 1 < cycle.length; i++) {
    const [a, b] = [cycle[i], cycle[i + 1]];
    const files = edges.filter((e) => domainOf(e.from) === a && domainOf(e.to) === b);
    steps.push({ label: `${a} → ${b}`, files });
  }
  steps.sort((x, y) => x.files.length - y.files.length);
  const lines = [`cycle ${cycle.join(" → ")}:`];
  for (const s of steps) {
    lines.push(`  ${s.label} (${s.files.length} import${s.files.length === 1 ? "" : "s"}):`);
    for (const e of s.files) lines.push(`    ${e.from} imports ${e.to}`);
  }
  return lines.join("\n");
}

/**
 * Names a module declares with a top-level `export function|class|interface|type|
 * const|let|enum` (re-exports and `export { … }` lists are not declarations).
 * @param text the module's source text
 * @returns the declared names in source order
 * @example
 * ```ts
 * exportedNames("export async function load() {}\nexport type Id = string;"); // ["load", "Id"]
 * ```
 */
export function exportedNames(text: string): string[] {
  const re =
    /^export\s+(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|class|interface|type|const|let|enum)\s+([A-Za-z_$][\w$]*)/gm;
  return [...literalsAndCode(text).masked.matchAll(re)].map((m) => m[1]);
}

/** A string literal or a block comment, with the line it starts on. */
interface Located {
  value: string;
  line: number;
}

/**
 * String literals (quotes and template literals), block comments, and the code without
 * comments in which string literal number i reads `"i"` (template literals `` `i` ``),
 * so that an import written inside a string is not read as one; `literals[i]` holds
 * its text.
 */
function literalsAndCode(
  text: string,
): { literals: Located[]; comments: Located[]; masked: string } {
  const literals: Located[] = [], comments: Located[] = [];
  let masked = "";
  let i = 0, line = 1, lastSignificant = "";
  const n = text.length;
  while (i < n) {
    const ch = text[i], next = text[i + 1];
    if (ch === "/" && next === "/") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    if (ch === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      comments.push({ value: text.slice(i + 2, stop - 2), line });
      // Keep the newlines so that `^` in a multiline pattern still finds line starts.
      const blank = text.slice(i, stop).replace(/[^\n]/g, "") + " ";
      masked += blank;
      for (let k = i; k < stop; k++) if (text[k] === "\n") line++;
      i = stop;
      continue;
    }
    if (ch === "/" && /^$|[(,=:[!&|?{};+\-*%<>~^]$/.test(lastSignificant)) {
      // A regular expression literal: skip to its closing slash (classes may hold "/").
      let k = i + 1, inClass = false;
      while (k < n && text[k] !== "\n") {
        if (text[k] === "\\") k++;
        else if (text[k] === "[") inClass = true;
        else if (text[k] === "]") inClass = false;
        else if (text[k] === "/" && !inClass) break;
        k++;
      }
      masked += text.slice(i, k + 1);
      i = k + 1;
      lastSignificant = "/";
      continue;
    }
    if (ch === '"' || ch === "'" || ch === "`") {
      const startLine = line;
      let k = i + 1, value = "", depth = 0;
      while (k < n) {
        const c = text[k];
        if (c === "\\") {
          value += text.slice(k, k + 2);
          k += 2;
          continue;
        }
        if (c === "\n") line++;
        if (ch === "`" && c === "$" && text[k + 1] === "{") depth++;
        else if (ch === "`" && c === "}" && depth > 0) depth--;
        else if (c === ch && depth === 0) break;
        value += c;
        k++;
      }
      // A template literal stays one (`import(\`./${name}.ts\`)` names no file).
      masked += ch === "`" ? `\`${literals.length}\`` : `"${literals.length}"`;
      literals.push({ value, line: startLine });
      i = k + 1;
      lastSignificant = ch;
      continue;
    }
    if (ch === "\n") line++;
    if (!/\s/.test(ch)) lastSignificant = ch;
    masked += ch;
    i++;
  }
  return { literals, comments, masked };
}

const SQL = /\b(SELECT|INSERT|UPDATE|DELETE)\b[\s\S]*?\b(FROM|INTO|SET)\b/;

/**
 * SQL statements (`SELECT|INSERT|UPDATE|DELETE … FROM|INTO|SET` in one string literal)
 * in a module, including those in the code blocks of its JSDoc examples (an example
 * is code a reader copies); prose and `//` comments are not counted.
 * @param text the module's source text
 * @returns `line N: first words` for each literal that holds one, by line
 * @example
 * ```ts
 * sqlLiterals("const n = 1;\nconst q = 'DELETE FROM t';"); // ["line 2: DELETE FROM t"]
 * ```
 */
export function sqlLiterals(text: string): string[] {
  const { literals, comments } = literalsAndCode(text);
  const all = [...literals];
  for (const c of comments) {
    const lines = c.value.split("\n").map((l) => l.replace(/^\s*\* ?/, ""));
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trimStart().startsWith("```")) continue;
      const end = lines.findIndex((l, k) => k > i && l.trimStart().startsWith("```"));
      if (end < 0) break;
      const block = literalsAndCode(lines.slice(i + 1, end).join("\n")).literals;
      for (const l of block) all.push({ value: l.value, line: c.line + i + l.line });
      i = end;
    }
  }
  return all.filter((l) => SQL.test(l.value)).sort((a, b) => a.line - b.line).map((l) =>
    `line ${l.line}: ${l.value.trim().replace(/\s+/g, " ").slice(0, 60)}`
  );
}
