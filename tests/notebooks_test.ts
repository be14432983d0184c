import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import { listNotebooks, notebookToolsMissing } from "../tasks/notebooks.ts";

const EXPECTED = [
  "01_ingest",
  "02_features_and_signals",
  "03_environment",
  "04_train",
  "05_evaluate",
  "06_your_own_data",
  "07_agent_evidence",
  "08_model_registry",
  "09_paper_trading",
  "10_dashboard",
  "11_sweeps",
  "12_alternative_data",
];

Deno.test("notebooks/ holds the chapter notebooks, committed without outputs", async () => {
  const paths = await listNotebooks();
  const names = paths.map((p) => p.split("/").pop()!.replace(/\.ipynb$/, ""));
  for (const n of EXPECTED) assert.ok(names.includes(n), `missing notebook ${n}`);
  for (const p of paths) {
    const nb = JSON.parse(await Deno.readTextFile(p));
    assert.equal(nb.metadata?.kernelspec?.name, "deno", `${p}: kernel must be deno`);
    for (const cell of nb.cells) {
      if (cell.cell_type !== "code") continue;
      assert.deepEqual(cell.outputs, [], `${p}: a code cell carries stale outputs`);
      assert.equal(cell.execution_count, null, `${p}: a code cell carries an execution count`);
    }
  }
});

Deno.test("notebookToolsMissing() names the missing piece: jupyter, its kernelspec command, or the Deno kernel", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_fake_jupyter_" });
  const fake = async (kernelspec: string) => {
    await Deno.writeTextFile(
      join(dir, "jupyter"),
      `#!/bin/sh\ncase "$1" in\n  kernelspec) ${kernelspec} ;;\n  nbconvert) echo 6.5.3 ;;\nesac\n`,
    );
    await Deno.chmod(join(dir, "jupyter"), 0o755);
  };
  try {
    assert.match(
      (await notebookToolsMissing({ path: dir }))!,
      /jupyter is not installed.*jupyter-client/,
    );
    // Debian's jupyter-core without jupyter-client: `jupyter kernelspec` does not exist.
    await fake("echo 'Jupyter command `jupyter-kernelspec` not found.' >&2; exit 1");
    const noClient = (await notebookToolsMissing({ path: dir }))!;
    assert.match(
      noClient,
      /`jupyter kernelspec` command is missing.*apt-get install jupyter-client/,
    );
    assert.doesNotMatch(noClient, /not registered/, "the old message blamed the kernel");
    await fake("printf 'Available kernels:\\n  python3    /usr/share/jupyter/kernels/python3\\n'");
    assert.match(
      (await notebookToolsMissing({ path: dir }))!,
      /Deno Jupyter kernel is not registered/,
    );
    await fake(
      "printf 'Available kernels:\\n  deno    /root/.local/share/jupyter/kernels/deno\\n'",
    );
    assert.equal(await notebookToolsMissing({ path: dir }), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const missing = await notebookToolsMissing();
if (missing) console.log(`skip: notebook execution tests: ${missing}`);

Deno.test({
  name: "deno task notebooks executes every notebook with the Deno kernel and writes HTML reports",
  ignore: missing !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "tt-nb-" });
    try {
      const res = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(PROJECT_ROOT, "tasks/notebooks.ts"), "--json"],
        env: { TT_DATA_DIR: tmp, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(res.stderr);
      assert.ok(res.success, `notebooks task failed:\n${stderr.slice(-4000)}`);
      const summary = JSON.parse(new TextDecoder().decode(res.stdout).trim().split("\n").pop()!);
      assert.equal(summary.notebooks.length, (await listNotebooks()).length);
      for (const r of summary.notebooks) {
        const html = await Deno.readTextFile(r.html);
        assert.ok(html.length > 10_000, `${r.notebook}: report is suspiciously small`);
        assert.ok(
          !/Traceback|Uncaught|error: /.test(html.replace(/<style[\s\S]*?<\/style>/g, "")),
          `${r.notebook}: the rendered report shows an error`,
        );
      }
      const all = await Promise.all(
        summary.notebooks.map((r: { html: string }) => Deno.readTextFile(r.html)),
      );
      assert.ok(
        all.some((h) => h.includes("<table")),
        "no notebook rendered a Polars frame as a table",
      );
      // nbconvert strips the elements of image/svg+xml outputs: check that drawn marks survive.
      assert.ok(
        all.some((h) => /<svg[\s\S]*?class="mark-/.test(h)),
        "no notebook rendered a chart's marks as SVG",
      );
      // The notebooks keep to their own store and models: nothing in the user's.
      const exists = (p: string) => Deno.stat(join(tmp, p)).then(() => true, () => false);
      assert.ok(await exists("notebooks/pgdata"), "the notebooks' store is data/notebooks/pgdata");
      assert.ok(await exists("notebooks/models"), "their models are in data/notebooks/models");
      assert.equal(
        await exists("pgdata"),
        false,
        "the notebooks created or wrote the user's store",
      );
      assert.equal(await exists("models"), false, "the notebooks wrote into the user's models");
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
    }
  },
});
