/**
 * The layering of `lib/`, read from the import statements themselves: no cycle
 * between domains, no two files with the same name, private `_` files used only in
 * their own folder, and nothing a task serves coming from `tests/`.
 */
import assert from "node:assert/strict";
import { basename, dirname, join, relative, resolve } from "node:path";
import { PROJECT_ROOT } from "@lib/util/paths.ts";

const LIB = join(PROJECT_ROOT, "lib");

/**
 * Domain cycles that another branch of the same change removes. An entry that no
 * longer exists fails the test too, so the list cannot outlive the cycle.
 */
const KNOWN_CYCLES: readonly string[] = [];

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await tsFiles(p));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(p);
  }
  return out.sort();
}

/** Absolute paths of the project files `file` imports (static, re-exports and dynamic literals). */
async function importsOf(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(file);
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[1];
    if (spec.startsWith("@lib/")) out.push(join(LIB, spec.slice("@lib/".length)));
    else if (spec.startsWith(".")) out.push(resolve(dirname(file), spec));
  }
  return out;
}

/** `lib/<domain>/…` → `<domain>`; undefined outside lib/. */
function domainOf(path: string): string | undefined {
  const rel = relative(LIB, path);
  if (rel.startsWith("..")) return undefined;
  const parts = rel.split("/");
  return parts.length > 1 ? parts[0] : undefined;
}

/** Every elementary cycle of a small directed graph, each as `a → b → … → a` starting at its smallest node. */
function cycles(edges: Map<string, Set<string>>): string[] {
  const found = new Set<string>();
  const walk = (start: string, node: string, path: string[]) => {
    for (const next of edges.get(node) ?? []) {
      if (next === start) {
        const c = [...path, start];
        if (path.every((p) => p >= start)) found.add(c.join(" → "));
      } else if (!path.includes(next) && next > start) {
        walk(start, next, [...path, next]);
      }
    }
  };
  for (const n of [...edges.keys()].sort()) walk(n, n, [n]);
  return [...found].sort();
}

Deno.test("lib/ domains import each other without a cycle (eval never imports viz)", async () => {
  const edges = new Map<string, Set<string>>();
  const where = new Map<string, string>();
  for (const file of await tsFiles(LIB)) {
    const from = domainOf(file);
    if (!from) continue;
    for (const target of await importsOf(file)) {
      const to = domainOf(target);
      if (!to || to === from) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
      if (!where.has(`${from}→${to}`)) where.set(`${from}→${to}`, relative(PROJECT_ROOT, file));
    }
  }
  assert.ok(edges.get("pipeline")?.has("eval"), "the import walk sees pipeline → eval");
  assert.equal(
    edges.get("eval")?.has("viz") ?? false,
    false,
    `eval imports viz in ${where.get("eval→viz")}`,
  );
  const found = cycles(edges);
  const unexpected = found.filter((c) => !KNOWN_CYCLES.includes(c));
  const described = (c: string) => {
    const d = c.split(" → ");
    return `${c} (${d.slice(1).map((to, i) => where.get(`${d[i]}→${to}`)).join(", ")})`;
  };
  assert.deepEqual(unexpected.map(described), [], "import cycles between lib/ domains");
  const gone = KNOWN_CYCLES.filter((c) => !found.includes(c));
  assert.deepEqual(gone, [], "these known cycles are gone: remove them from KNOWN_CYCLES");
});

Deno.test("no two lib/ files share a base name (mod.ts aside)", async () => {
  const byName = new Map<string, string[]>();
  for (const file of await tsFiles(LIB)) {
    const name = basename(file);
    if (name === "mod.ts") continue;
    byName.set(name, [...byName.get(name) ?? [], relative(PROJECT_ROOT, file)]);
  }
  const twins = [...byName.values()].filter((paths) => paths.length > 1);
  assert.deepEqual(twins, []);
});

Deno.test("no two lib/ files export the same name (one home per concept)", async () => {
  const byName = new Map<string, string[]>();
  const re =
    /^export\s+(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|class|interface|type|const|let|enum)\s+([A-Za-z_$][\w$]*)/gm;
  for (const file of await tsFiles(LIB)) {
    for (const m of (await Deno.readTextFile(file)).matchAll(re)) {
      byName.set(m[1], [...byName.get(m[1]) ?? [], relative(PROJECT_ROOT, file)]);
    }
  }
  assert.ok(byName.has("EpisodeTrace"), "the walk sees the exports");
  const twins = [...byName].filter(([, files]) => files.length > 1).map(([n, f]) => `${n}: ${f}`);
  assert.deepEqual(twins, []);
});

Deno.test("private _ files of lib/ are imported only from their folder (or below it) by lib/ and tasks/", async () => {
  const files = [...await tsFiles(LIB), ...await tsFiles(join(PROJECT_ROOT, "tasks"))];
  const bad: string[] = [];
  for (const file of files) {
    for (const target of await importsOf(file)) {
      const inside = !relative(dirname(target), file).startsWith("..");
      if (domainOf(target) && basename(target).startsWith("_") && !inside) {
        bad.push(`${relative(PROJECT_ROOT, file)} → ${relative(PROJECT_ROOT, target)}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("tasks import nothing from tests/ (what a task serves lives in lib/)", async () => {
  const tests = join(PROJECT_ROOT, "tests");
  const bad: string[] = [];
  for (const file of await tsFiles(join(PROJECT_ROOT, "tasks"))) {
    for (const target of await importsOf(file)) {
      if (!relative(tests, target).startsWith("..")) bad.push(relative(PROJECT_ROOT, file));
    }
  }
  assert.deepEqual(bad, []);
});
