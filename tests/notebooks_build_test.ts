import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import {
  notebookJson,
  notebookSource,
  notebookStaleMessage,
  parseCells,
} from "../notebooks/_build.ts";
import { adoptNotebook, buildGenerated } from "../tools/build.ts";

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
    assert.ok(committed === built, notebookStaleMessage(name));
  }
});

Deno.test("notebookSource() carries a Jupyter edit back: parseCells of its output gives the edited cells", async () => {
  for (const name of ["03_environment", "05_evaluate"]) {
    const nb = JSON.parse(
      await Deno.readTextFile(join(PROJECT_ROOT, "notebooks", `${name}.ipynb`)),
    );
    // What Jupyter does: outputs, an execution count, a string source, an edited line.
    const code = nb.cells.find((c: { cell_type: string }) => c.cell_type === "code");
    code.source = code.source.join("") + "\nconsole.log('edited in Jupyter');";
    code.outputs = [{ output_type: "stream", name: "stdout", text: ["edited\n"] }];
    code.execution_count = 7;
    const src = notebookSource(JSON.stringify(nb), name, "// header");
    assert.ok(src.startsWith("// header\n\n// %%"), src.slice(0, 80));
    const cells = parseCells(src, name);
    assert.equal(cells.length, nb.cells.length);
    cells.forEach((c, i) => {
      const want = nb.cells[i].source;
      assert.equal(
        c.source.join(""),
        Array.isArray(want) ? want.join("") : want,
        `${name} cell ${i}`,
      );
      if (c.cell_type === "code") assert.deepEqual(c.outputs, [], "outputs are dropped");
    });
  }
});

Deno.test("notebookSource() refuses a code cell holding a '// %%' line, naming the cell", () => {
  const nb = JSON.stringify({ cells: [{ cell_type: "code", source: ["1;\n", "// %%\n", "2;"] }] });
  assert.throws(
    () => notebookSource(nb, "07_x"),
    (e: unknown) => e instanceof SyntaxError && /07_x\.ipynb cell 1 line 2/.test(e.message),
  );
});

Deno.test("buildGenerated({ check }) names a notebook edited in Jupyter as stale with how to carry it back; adoptNotebook() fixes it", async () => {
  const root = await Deno.makeTempDir({ prefix: "tt_build_" });
  try {
    await Deno.mkdir(join(root, "notebooks", "_src"), { recursive: true });
    await Deno.mkdir(join(root, "lib", "agents"), { recursive: true });
    const fresh = await buildGenerated({ root });
    assert.ok(fresh.every((r) => r.status === "written"), "an empty root gets every file written");
    assert.ok(
      fresh.some((r) => r.path === "lib/agents/_kernel_wasm.ts"),
      "the kernel is generated",
    );
    assert.ok((await buildGenerated({ root, check: true })).every((r) => r.status === "fresh"));

    const path = join(root, "notebooks", "04_train.ipynb");
    const nb = JSON.parse(await Deno.readTextFile(path));
    nb.cells[0].source.push("\n\nA sentence added in Jupyter.");
    await Deno.writeTextFile(path, JSON.stringify(nb, null, 1));
    const stale = (await buildGenerated({ root, check: true })).filter((r) => r.status === "stale");
    assert.deepEqual(stale.map((r) => r.path), ["notebooks/04_train.ipynb"]);
    for (const part of ["notebooks/_src/04_train.ts", "source of truth", "--from-ipynb 04_train"]) {
      assert.ok(stale[0].message!.includes(part), `message lacks "${part}": ${stale[0].message}`);
    }

    await Deno.copyFile(
      join(PROJECT_ROOT, "notebooks", "_src", "04_train.ts"),
      join(root, "notebooks", "_src", "04_train.ts"),
    );
    assert.equal(await adoptNotebook("04_train", { root }), "notebooks/_src/04_train.ts");
    const adopted = await Deno.readTextFile(join(root, "notebooks", "_src", "04_train.ts"));
    assert.match(adopted, /^\/\/ Source of notebooks\/04_train\.ipynb/, "the header is kept");
    assert.match(adopted, /\/\/ A sentence added in Jupyter\./);
    const text = (c: { source: string[] }) => c.source.join("");
    assert.deepEqual(
      parseCells(adopted, "04_train").map(text),
      nb.cells.map(text),
      "the adopted source builds the edited notebook's cells",
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task build --check --json reports every generated file fresh in this commit", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(PROJECT_ROOT, "tasks", "build.ts"), "--check", "--json"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.ok(out.success, dec.decode(out.stderr));
  const summary = JSON.parse(dec.decode(out.stdout).trim().split("\n").pop()!);
  assert.equal(summary.stale, 0);
  assert.ok(summary.files.length >= 7, `only ${summary.files.length} generated files`);
});

Deno.test("deno task build --help prints usage with examples", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(PROJECT_ROOT, "tasks", "build.ts"), "--help"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0);
  assert.match(text, /^Usage: deno task build \[options\]/);
  assert.match(text, /Examples:\n.*deno task build --check/s);
});
