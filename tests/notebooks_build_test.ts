import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import { notebookJson, parseCells } from "../notebooks/_build.ts";

Deno.test("parseCells() splits percent-format sources into markdown and code cells without outputs", () => {
  const cells = parseCells(
    [
      "// header, not a cell",
      "// %% [markdown]",
      "// # Title",
      "//",
      "// text",
      "",
      "// %%",
      "const x = 1;",
      "",
      "x + 1;",
      "",
      "// %%",
      "",
    ].join("\n"),
    "01_demo",
  );
  assert.equal(cells.length, 2, "the empty last cell is dropped");
  assert.deepEqual(cells[0], {
    cell_type: "markdown",
    id: "01-01",
    metadata: {},
    source: ["# Title\n", "\n", "text"],
  });
  assert.deepEqual(cells[1], {
    cell_type: "code",
    id: "01-02",
    metadata: {},
    source: ["const x = 1;\n", "\n", "x + 1;"],
    outputs: [],
    execution_count: null,
  });
});

Deno.test("parseCells() refuses a markdown line that is not a // comment, naming the line", () => {
  assert.throws(
    () => parseCells("// %% [markdown]\n// ok\nnot a comment\n", "02_x"),
    (e: unknown) => e instanceof SyntaxError && /02_x\.ts line 3/.test(e.message),
  );
});

Deno.test("notebookJson() writes nbformat 4.5 with the Deno kernelspec", () => {
  const nb = JSON.parse(notebookJson(parseCells("// %%\n1;\n", "03_y")));
  assert.equal(nb.nbformat, 4);
  assert.equal(nb.nbformat_minor, 5);
  assert.deepEqual(nb.metadata.kernelspec, {
    display_name: "Deno",
    language: "typescript",
    name: "deno",
  });
  assert.equal(nb.metadata.language_info.name, "typescript");
});

Deno.test("every committed notebook is exactly what notebooks/_build.ts makes from its _src file", async () => {
  const src = join(PROJECT_ROOT, "notebooks", "_src");
  const names: string[] = [];
  for await (const e of Deno.readDir(src)) {
    if (e.name.endsWith(".ts")) names.push(e.name.slice(0, -3));
  }
  assert.ok(names.length >= 5, `only ${names.length} notebook sources in ${src}`);
  for (const name of names.sort()) {
    const built = notebookJson(parseCells(await Deno.readTextFile(join(src, `${name}.ts`)), name));
    const committed = await Deno.readTextFile(join(PROJECT_ROOT, "notebooks", `${name}.ipynb`));
    assert.equal(committed, built, `${name}.ipynb is stale: run deno run -A notebooks/_build.ts`);
  }
});
