/**
 * The architecture of the code base (CONVENTIONS.md: "Dependencies point down",
 * "SQL lives in `lib/db/` repositories", "One home per concept"), checked on the
 * source text with the one import walker of tests/support/imports.ts:
 *
 * - no import cycle between `lib/` domains (the folders directly under `lib/`), and
 *   eval never imports viz; a failure names every file import that forms the cycle;
 * - no SQL statement (`SELECT|INSERT|UPDATE|DELETE … FROM|INTO|SET` in one string
 *   literal, in code or in a JSDoc example's code block) in `lib/` outside `lib/db/`
 *   or in `tasks/`;
 * - no two `lib/` files share a base name (`mod.ts` aside) or export the same name;
 * - private `_` files of `lib/` are imported by `lib/` and `tasks/` only from their
 *   own folder (or below it);
 * - tasks import nothing from `tests/`.
 *
 * Type-only imports count: a type is a dependency of the module that names it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { basename, dirname, relative } from "node:path";
import {
  describeCycle,
  domainCycles,
  domainOf,
  exportedNames,
  importEdges,
  importSpecifiers,
  readSource,
  resolveSpecifier,
  sourceFiles,
  sqlLiterals,
} from "./support/imports.ts";

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
    'import "./side_effect.ts";',
    '// import { x } from "./commented.ts";',
    '/* import "./block.ts"; */',
    'const s = "import { y } from \\"./in_string.ts\\"";',
    'const t = "/* import \\"./in_block_string.ts\\"; */";',
  ].join("\n");
  const specs = importSpecifiers(text);
  for (
    const s of [
      "./a.ts",
      "@lib/data/panel.ts",
      "./c.ts",
      "../d/mod.ts",
      "./e.ts",
      "./side_effect.ts",
    ]
  ) {
    assert.ok(specs.includes(s), `missed ${s} in ${JSON.stringify(specs)}`);
  }
  for (const s of ["./commented.ts", "./block.ts", "./in_string.ts", "./in_block_string.ts"]) {
    assert.ok(!specs.includes(s), `read ${s} in ${JSON.stringify(specs)}`);
  }
});

Deno.test("resolveSpecifier() resolves @lib/ and relative specifiers to project paths, not packages", () => {
  assert.equal(resolveSpecifier("lib/db/store.ts", "../util/mod.ts"), "lib/util/mod.ts");
  assert.equal(resolveSpecifier("tasks/bench/ppo.ts", "@lib/agents/ppo.ts"), "lib/agents/ppo.ts");
  assert.equal(resolveSpecifier("tasks/bench/ppo.ts", "../../tests/x.ts"), "tests/x.ts");
  assert.equal(resolveSpecifier("lib/db/store.ts", "npm:pg@8"), undefined);
  assert.equal(resolveSpecifier("lib/db/store.ts", "node:path"), undefined);
});

Deno.test("exportedNames() reads declared exports at line start, not comments or re-exports", () => {
  const text = [
    "export async function load() {}",
    "export type Id = string;",
    "export abstract class Base {}",
    "export function* gen() {}",
    "/**",
    "export const inComment = 1;",
    " */",
    'export { other } from "./other.ts";',
    "const local = `",
    "export const inTemplate = 1;",
    "`;",
  ].join("\n");
  assert.deepEqual(exportedNames(text), ["load", "Id", "Base", "gen"]);
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

Deno.test("no import cycle between lib/ domains, and eval never imports viz (cycles list the file imports that form them)", async () => {
  const edges = (await importEdges(await sourceFiles("lib"))).filter((e) => {
    const a = domainOf(e.from), b = domainOf(e.to);
    return a !== undefined && b !== undefined && a !== b;
  });
  assert.ok(
    edges.length > 10,
    `only ${edges.length} cross-domain imports found: is the walk broken?`,
  );
  const between = (a: string, b: string) =>
    edges.filter((e) => domainOf(e.from) === a && domainOf(e.to) === b);
  assert.ok(between("pipeline", "eval").length > 0, "the import walk sees pipeline → eval");
  assert.deepEqual(
    between("eval", "viz").map((e) => `${e.from} imports ${e.to}`),
    [],
    "eval imports viz (a metric must not depend on how it is drawn)",
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

Deno.test("no SQL outside lib/db/: the rest of lib/ and tasks/ reach the database through lib/db repositories", async () => {
  const files = [...await sourceFiles("lib"), ...await sourceFiles("tasks")];
  assert.ok(files.some((f) => f.startsWith("tasks/bench/")), "the walk sees tasks/bench/");
  const found: string[] = [];
  for (const file of files) {
    if (file.startsWith("lib/db/")) continue;
    for (const hit of sqlLiterals(await readSource(file))) found.push(`${file} ${hit}`);
  }
  assert.deepEqual(
    found,
    [],
    `SQL outside lib/db/ (move it into a lib/db repository):\n${found.join("\n")}`,
  );
});

Deno.test("no two lib/ files share a base name (mod.ts aside)", async () => {
  const byName = new Map<string, string[]>();
  for (const file of await sourceFiles("lib")) {
    const name = basename(file);
    if (name === "mod.ts") continue;
    byName.set(name, [...byName.get(name) ?? [], file]);
  }
  assert.ok(byName.has("store.ts"), "the walk sees lib/db/store.ts");
  const twins = [...byName.values()].filter((paths) => paths.length > 1);
  assert.deepEqual(twins, []);
});

Deno.test("no two lib/ files export the same name (one home per concept)", async () => {
  const byName = new Map<string, string[]>();
  for (const file of await sourceFiles("lib")) {
    for (const name of exportedNames(await readSource(file))) {
      byName.set(name, [...byName.get(name) ?? [], file]);
    }
  }
  assert.ok(byName.has("EpisodeTrace"), "the walk sees the exports");
  const twins = [...byName].filter(([, files]) => files.length > 1).map(([n, f]) => `${n}: ${f}`);
  assert.deepEqual(twins, []);
});

Deno.test("private _ files of lib/ are imported only from their folder (or below it) by lib/ and tasks/", async () => {
  const edges = await importEdges([...await sourceFiles("lib"), ...await sourceFiles("tasks")]);
  const toPrivate = edges.filter((e) => domainOf(e.to) && basename(e.to).startsWith("_"));
  assert.ok(toPrivate.length > 0, "the walk sees the imports of lib/'s private files");
  const bad = toPrivate.filter((e) => relative(dirname(e.to), e.from).startsWith(".."))
    .map((e) => `${e.from} → ${e.to}`);
  assert.deepEqual(bad, []);
});

Deno.test("tasks import nothing from tests/ (what a task serves lives in lib/)", async () => {
  const edges = await importEdges(await sourceFiles("tasks"));
  assert.ok(edges.some((e) => e.to.startsWith("lib/")), "the walk sees the tasks' lib imports");
  const bad = edges.filter((e) => e.to.startsWith("tests/")).map((e) => `${e.from} → ${e.to}`);
  assert.deepEqual(bad, []);
});
