/**
 * `deno task build`: regenerates what is generated (the WebAssembly kernel, the
 * notebooks from `notebooks/_src`); `--check` writes nothing and exits 1 naming each
 * committed file that is stale; `--from-ipynb NAME` carries a notebook edited in Jupyter
 * back to its `_src` file.
 *
 * @module
 */
import { parseCommand, runTask, UsageError } from "@lib/util/mod.ts";
import { adoptNotebook, buildGenerated } from "../tools/build.ts";

const SPEC = {
  name: "build",
  summary: "Regenerate the generated files from their sources: lib/agents/_kernel_wasm.ts from\n" +
    "lib/agents/_kernel_wat.ts, and notebooks/NN_name.ipynb from notebooks/_src/NN_name.ts (the\n" +
    "source of truth). --check writes nothing and exits 1 naming each stale file (CI runs it).\n" +
    "Edited a notebook in Jupyter? --from-ipynb NN_name writes its cells back into _src.",
  options: {
    check: { type: "boolean", description: "Write nothing; exit 1 when a committed file is stale" },
    "from-ipynb": {
      type: "string",
      valueName: "NAME",
      description:
        "Rewrite notebooks/_src/NAME.ts from notebooks/NAME.ipynb (outputs dropped), then build",
    },
    json: { type: "boolean", description: "Print one JSON line" },
  },
  examples: [
    "deno task build",
    "deno task build --check",
    "deno task build --check --json",
    "deno task build --from-ipynb 03_environment   # after editing 03_environment.ipynb in Jupyter",
  ],
} as const;

/** Runs the task with `args` (default `Deno.args`); exits 1 when `--check` finds a stale file. */
export async function main(args: string[] = Deno.args): Promise<void> {
  const a = parseCommand(SPEC, args);
  const from = typeof a["from-ipynb"] === "string" ? a["from-ipynb"].replace(/\.ipynb$/, "") : "";
  if (from && a.check) {
    throw new UsageError("--from-ipynb writes a source; it cannot be combined with --check");
  }
  const started = performance.now();
  const adopted = from ? await adoptNotebook(from) : undefined;
  const results = await buildGenerated({ check: a.check === true });
  const stale = results.filter((r) => r.status === "stale");
  const seconds = Number(((performance.now() - started) / 1000).toFixed(2));
  if (a.json) {
    console.log(
      JSON.stringify({
        check: a.check === true,
        adopted,
        files: results,
        stale: stale.length,
        seconds,
      }),
    );
  } else {
    if (adopted) {
      console.log(`wrote ${adopted} from notebooks/${from}.ipynb (review: git diff ${adopted})`);
    }
    for (const r of results) {
      if (r.status === "written") console.log(`wrote ${r.path} from ${r.source}`);
    }
    for (const r of stale) console.error(`stale: ${r.message}`);
    const fresh = results.filter((r) => r.status === "fresh").length;
    console.log(
      `${results.length} generated files: ${fresh} up to date, ` +
        (a.check ? `${stale.length} stale` : `${results.length - fresh} written`) +
        ` (${seconds} s)`,
    );
  }
  if (stale.length) Deno.exit(1);
}

if (import.meta.main) await runTask(main);
