/**
 * `deno task notebooks`: executes every notebook in `notebooks/` with a real Jupyter
 * kernel (Deno's) through `jupyter nbconvert --execute`, and writes the rendered HTML
 * reports to `data/reports/notebooks/`.
 *
 * @module
 */
import { basename, join } from "node:path";
import {
  dataDir,
  listArg,
  parseCommand,
  Progress,
  PROJECT_ROOT,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC = {
  name: "notebooks",
  summary:
    "Execute the notebooks in notebooks/ top to bottom with the Deno Jupyter kernel and write HTML reports.\n" +
    "Needs Jupyter's kernelspec and nbconvert (Debian: jupyter-client jupyter-nbconvert python3-nbclient) and the kernel (`deno jupyter --install`).",
  options: {
    only: {
      type: "string",
      valueName: "NAMES",
      description: "Comma-separated notebook names (e.g. 01_ingest,05_evaluate)",
    },
    out: {
      type: "string",
      valueName: "DIR",
      description: "Where the HTML goes",
      default: "data/reports/notebooks",
    },
    timeout: {
      type: "string",
      valueName: "SECONDS",
      description: "Per-cell timeout",
      default: "900",
    },
    json: { type: "boolean", description: "Print a one-line JSON summary" },
  },
  examples: ["deno task notebooks", "deno task notebooks --only 01_ingest"],
} as const;

/**
 * Why notebooks cannot run here, or undefined when they can. Checks, in order: `jupyter`
 * on PATH, its `kernelspec` subcommand (Debian's jupyter-client), `nbconvert`, and the
 * Deno kernel among the registered kernels.
 * @param options `path`: the PATH to search (default the process's).
 * @returns The first missing piece and how to install it.
 * @example
 * ```ts
 * const missing = await notebookToolsMissing();
 * if (missing) console.log(`skip: ${missing}`);
 * ```
 */
export async function notebookToolsMissing(
  options: { path?: string } = {},
): Promise<string | undefined> {
  const path = options.path ?? Deno.env.get("PATH") ?? "";
  const jupyter = await which("jupyter", path);
  if (!jupyter) {
    return "jupyter is not installed (Debian: apt-get install jupyter-client jupyter-nbconvert python3-nbclient)";
  }
  const run = (args: string[]) =>
    new Deno.Command(jupyter, { args, env: { PATH: path }, stdout: "piped", stderr: "piped" })
      .output().catch(() => undefined);
  const specs = await run(["kernelspec", "list"]);
  if (!specs?.success) {
    return "the `jupyter kernelspec` command is missing (Debian: apt-get install jupyter-client)";
  }
  if (!(await run(["nbconvert", "--version"]))?.success) {
    return "the `jupyter nbconvert` command is missing (Debian: apt-get install jupyter-nbconvert python3-nbclient)";
  }
  if (!/^\s*deno\s/m.test(new TextDecoder().decode(specs.stdout))) {
    return "the Deno Jupyter kernel is not registered (run `deno jupyter --install`)";
  }
  return undefined;
}

async function which(cmd: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    try {
      const p = join(dir, cmd);
      if ((await Deno.stat(p)).isFile) return p;
    } catch { /* next */ }
  }
  return undefined;
}

/**
 * Lists the notebooks to run, sorted by name.
 * @param only Names to keep (without `.ipynb`); all when undefined.
 * @returns Absolute paths.
 */
export async function listNotebooks(only?: string[]): Promise<string[]> {
  const dir = join(PROJECT_ROOT, "notebooks");
  const all: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ipynb") && !e.name.startsWith("_")) {
      all.push(join(dir, e.name));
    }
  }
  all.sort();
  if (!only) return all;
  const unknown = only.filter((n) => !all.some((p) => basename(p, ".ipynb") === n));
  if (unknown.length) throw new UsageError(`No such notebook: ${unknown.join(", ")}`);
  return all.filter((p) => only.includes(basename(p, ".ipynb")));
}

async function main() {
  const args = parseCommand(SPEC);
  const missing = await notebookToolsMissing();
  if (missing) throw new Error(`Cannot run notebooks: ${missing}`);
  const notebooks = await listNotebooks(listArg(args.only));
  const outDir = String(args.out).startsWith("/")
    ? String(args.out)
    : join(PROJECT_ROOT, String(args.out));
  const out = String(args.out) === SPEC.options.out.default
    ? join(dataDir(), "reports", "notebooks")
    : outDir;
  await Deno.mkdir(out, { recursive: true });
  const bar = new Progress("notebooks", {
    total: notebooks.length,
    unit: "notebooks",
    silent: !!args.json,
    lineEvery: 0,
  });
  const results: { notebook: string; html: string; seconds: number }[] = [];
  const t0 = performance.now();
  for (const nb of notebooks) {
    const name = basename(nb, ".ipynb");
    bar.note(`running ${name}`);
    const started = performance.now();
    const res = await new Deno.Command("jupyter", {
      args: [
        "nbconvert",
        "--to",
        "html",
        "--execute",
        `--ExecutePreprocessor.timeout=${args.timeout}`,
        "--ExecutePreprocessor.kernel_name=deno",
        "--output-dir",
        out,
        nb,
      ],
      cwd: join(PROJECT_ROOT, "notebooks"),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!res.success) {
      const err = new TextDecoder().decode(res.stderr).split("\n").filter((l) =>
        !/Warning|unstable/.test(l)
      );
      throw new Error(`Notebook ${name} failed:\n${err.slice(-40).join("\n")}`);
    }
    const seconds = (performance.now() - started) / 1000;
    results.push({
      notebook: name,
      html: join(out, `${name}.html`),
      seconds: Number(seconds.toFixed(1)),
    });
    bar.tick(1, `${name} ${seconds.toFixed(1)}s`);
  }
  bar.finish();
  const seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  if (args.json) console.log(JSON.stringify({ notebooks: results, seconds }));
  else {
    for (const r of results) {
      console.log(`${r.notebook.padEnd(28)} ${String(r.seconds).padStart(6)}s  ${r.html}`);
    }
    console.log(`${results.length} notebooks executed in ${seconds}s; reports in ${out}`);
  }
}

if (import.meta.main) await runTask(main);
