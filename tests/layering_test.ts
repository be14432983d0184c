/**
 * The layering rules of CONVENTIONS.md ("Dependencies point down", "SQL lives in
 * `lib/db/` repositories"), checked on the source text:
 *
 * - no import cycle between `lib/` domains (the folders directly under `lib/`); a
 *   failure names every file import that forms the cycle;
 * - no SQL statement (`SELECT|INSERT|UPDATE|DELETE … FROM|INTO|SET` in one string
 *   literal, in code or in a JSDoc example's code block) in `lib/` outside `lib/db/`.
 *
 * Type-only imports count: a type is a dependency of the module that names it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { PROJECT_ROOT } from "@lib/util/mod.ts";

const LIB = join(PROJECT_ROOT, "lib");

/** One import of one file: `from` imports `to` (both relative to the project root). */
interface FileEdge {
  from: string;
  to: string;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await sourceFiles(p));
    else if (/\.(ts|tsx|js|mjs)$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

/**
 * Import and re-export specifiers of a module: `import … from "x"`, `import "x"`,
 * `export … from "x"`, `import("x")` and `import type … from "x"`.
 */
function importSpecifiers(text: string): string[] {
  const code = stripComments(text);
  const out: string[] = [];
  const re =
    /(?:^|[;\s}])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of code.matchAll(re)) out.push(m[1] ?? m[2]);
  return out;
}

/** Removes `//` and `/* *\/` comments outside string literals (good enough for imports). */
function stripComments(text: string): string {
  return literalsAndCode(text).code;
}

/** The domain of a `lib/` file (`lib/db/x.ts` → `db`), or undefined outside `lib/`. */
function domainOf(rel: string): string | undefined {
  const m = /^lib\/([^/]+)\//.exec(rel);
  return m?.[1];
}

/** Resolves a specifier of `file` to a project-relative path, or undefined for npm/jsr/node. */
function resolveSpecifier(file: string, spec: string): string | undefined {
  let abs: string;
  if (spec.startsWith("@lib/")) abs = join(LIB, spec.slice("@lib/".length));
  else if (spec.startsWith(".")) abs = resolve(dirname(file), spec);
  else return undefined;
  return relative(PROJECT_ROOT, abs);
}

/**
 * Cycles of a directed graph given as labelled edges, one per strongly connected
 * component with more than one node: the shortest cycle through the component's
 * first node (alphabetically), as the node sequence `[a, b, …, a]`.
 */
function domainCycles(edges: Iterable<[string, string]>): string[][] {
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

/** Every import edge between two files of different `lib/` domains. */
async function crossDomainEdges(): Promise<FileEdge[]> {
  const edges: FileEdge[] = [];
  for (const file of await sourceFiles(LIB)) {
    const from = relative(PROJECT_ROOT, file);
    for (const spec of importSpecifiers(await Deno.readTextFile(file))) {
      const to = resolveSpecifier(file, spec);
      if (!to) continue;
      const a = domainOf(from), b = domainOf(to);
      if (a && b && a !== b && !edges.some((e) => e.from === from && e.to === to)) {
        edges.push({ from, to });
      }
    }
  }
  return edges;
}

/** Explains a domain cycle with the file imports behind each of its steps (fewest first: the likely cut). */
function describeCycle(cycle: string[], edges: FileEdge[]): string {
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

/** A string literal or a block comment, with the line it starts on. */
interface Located {
  value: string;
  line: number;
}

/** String literals (quotes and template literals), block comments, and the code without comments. */
function literalsAndCode(text: string): { literals: Located[]; comments: Located[]; code: string } {
  const literals: Located[] = [], comments: Located[] = [];
  let code = "";
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
      for (let k = i; k < stop; k++) if (text[k] === "\n") line++;
      i = stop;
      code += " ";
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
      code += text.slice(i, k + 1);
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
      literals.push({ value, line: startLine });
      code += text.slice(i, k + 1);
      i = k + 1;
      lastSignificant = ch;
      continue;
    }
    if (ch === "\n") line++;
    if (!/\s/.test(ch)) lastSignificant = ch;
    code += ch;
    i++;
  }
  return { literals, comments, code };
}

const SQL = /\b(SELECT|INSERT|UPDATE|DELETE)\b[\s\S]*?\b(FROM|INTO|SET)\b/;

/**
 * SQL statements in the string literals of a module, including those in the code
 * blocks of its JSDoc examples (an example is code a reader copies).
 * @returns `line N: first words` for each literal that holds one.
 */
function sqlLiterals(text: string): string[] {
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

Deno.test("domainCycles() finds a two-domain and a three-domain cycle and ignores a chain", () => {
  assert.deepEqual(
    domainCycles([["db", "data"], ["data", "db"], ["util", "db"], ["features", "data"]]),
    [["data", "db", "data"]],
  );
  assert.deepEqual(domainCycles([["a", "b"], ["b", "c"], ["c", "a"], ["c", "d"]]), [[
    "a",
    "b",
    "c",
    "a",
  ]]);
  assert.deepEqual(domainCycles([["a", "b"], ["b", "c"], ["a", "a"]]), []);
});

Deno.test("importSpecifiers() reads static, type-only, re-export and dynamic imports, not comments", () => {
  const text = [
    'import { a } from "./a.ts";',
    'import type { B } from "@lib/data/panel.ts";',
    'export * from "./c.ts";',
    "export {",
    "  d,",
    '} from "../d/mod.ts";',
    'const e = await import("./e.ts");',
    '// import { x } from "./commented.ts";',
    '/* import "./block.ts"; */',
    'const s = "import { y } from \\"./in_string.ts\\"";',
  ].join("\n");
  const specs = importSpecifiers(text);
  for (const s of ["./a.ts", "@lib/data/panel.ts", "./c.ts", "../d/mod.ts", "./e.ts"]) {
    assert.ok(specs.includes(s), `missed ${s} in ${JSON.stringify(specs)}`);
  }
  assert.ok(!specs.includes("./commented.ts") && !specs.includes("./block.ts"));
});

Deno.test("sqlLiterals() flags statements in strings and templates, not prose or comments", () => {
  const text = [
    'const q = "SELECT close FROM tt_prices WHERE instrument = $1";',
    "const t = `INSERT INTO tt_models (id)",
    "  VALUES ($1)`;",
    "// SELECT x FROM y in a comment is fine",
    'const prose = "select the best model from the list";',
    'const re = /"SELECT a FROM b"/;',
    "const u = 'UPDATE tt_models SET name = $1';",
    "/**",
    " * Prose: we SELECT rows FROM the store through a repository.",
    " * @example",
    " * ```ts",
    ' * await store.query("DELETE FROM tt_action WHERE episode_id = $1", [id]);',
    " * ```",
    " */",
  ].join("\n");
  assert.deepEqual(sqlLiterals(text).map((s) => s.split(":")[0]), [
    "line 1",
    "line 2",
    "line 7",
    "line 12",
  ]);
});

Deno.test("no import cycle between lib/ domains (each cycle is listed with the file imports that form it)", async () => {
  const edges = await crossDomainEdges();
  assert.ok(
    edges.length > 10,
    `only ${edges.length} cross-domain imports found: is the walk broken?`,
  );
  const cycles = domainCycles(edges.map((e) => [domainOf(e.from)!, domainOf(e.to)!]));
  assert.deepEqual(
    cycles.map((c) => c.join(" → ")),
    [],
    `lib/ domains import each other in a cycle (CONVENTIONS.md: dependencies point down):\n${
      cycles.map((c) => describeCycle(c, edges)).join("\n")
    }`,
  );
});

Deno.test("no SQL outside lib/db/: the rest of lib/ reaches the database through lib/db repositories", async () => {
  const found: string[] = [];
  for (const file of await sourceFiles(LIB)) {
    const rel = relative(PROJECT_ROOT, file);
    if (rel.startsWith("lib/db/")) continue;
    for (const hit of sqlLiterals(await Deno.readTextFile(file))) found.push(`${rel} ${hit}`);
  }
  assert.deepEqual(
    found,
    [],
    `SQL outside lib/db/ (move it into a lib/db repository):\n${found.join("\n")}`,
  );
});
