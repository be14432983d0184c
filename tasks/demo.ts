/**
 * `deno task demo`: the README's first command. On the demo's own embedded store
 * (`data/demo/pgdata`, or `$TT_DATA_DIR/demo/pgdata`; never the user's store or a
 * `DATABASE_URL` server), with no account and no network: ingest the sample data →
 * quality report → features and signals → train PPO (seeded) → evaluate out of sample
 * vs buy & hold → write the HTML report to `data/demo/reports/demo.html` and print where it is.
 *
 * @module
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { DEMO_DEFAULTS, openSampleStore, runDemo, sampleDataDir } from "@lib/pipeline/mod.ts";
import {
  type CommandSpec,
  dataDir,
  numberArg,
  parseCommand,
  PROJECT_ROOT,
  runTask,
} from "@lib/util/mod.ts";
import { trainProgress } from "./train.ts";

const SPEC: CommandSpec = {
  name: "demo",
  summary:
    "Runs the whole path on the embedded sample data (S&P 500 index 2000–2020 and AAPL 2013–2018; " +
    `they overlap 2013-05..2018-05): ingest → quality → features and signals → train PPO on ` +
    `${DEMO_DEFAULTS.trainStart}..${DEMO_DEFAULTS.trainEnd} → evaluate on ${DEMO_DEFAULTS.testStart}..` +
    `${DEMO_DEFAULTS.testEnd} (never seen in training) against equal-weight buy & hold with the same costs → ` +
    "HTML report. Needs no account and no network. Keeps to a store of its own, data/demo/pgdata " +
    "(TT_DATA_DIR/demo), with its models and report beside it: your data and DATABASE_URL are not touched.",
  options: {
    steps: {
      type: "string",
      valueName: "N",
      description: "PPO env steps",
      default: String(DEMO_DEFAULTS.steps),
    },
    seed: {
      type: "string",
      valueName: "S",
      description: "Seed",
      default: String(DEMO_DEFAULTS.seed),
    },
    out: {
      type: "string",
      valueName: "FILE",
      description: "Report file (default: data/demo/reports/demo.html)",
    },
    json: {
      type: "boolean",
      description: "Print one JSON line at the end (progress still goes to stderr)",
    },
  },
  examples: ["deno task demo", "deno task demo --steps 20000 --seed 7"],
};

async function createEmbeddedStore(dir: string): Promise<void> {
  const storeModule = pathToFileURL(join(PROJECT_ROOT, "lib", "db", "store.ts")).href;
  const code = `const { openStore } = await import(${JSON.stringify(storeModule)});
    const s = await openStore({ url: "", dataDir: ${
    JSON.stringify(dir)
  }, owner: "deno task demo" });
    await s.close();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: PROJECT_ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) {
    throw new Error(`Could not create the embedded database in ${dir} (exit ${out.code})`);
  }
}

async function main() {
  const args = parseCommand(SPEC);
  const started = performance.now();
  const demoDir = sampleDataDir("demo");
  const pgdata = join(demoDir, "pgdata");
  console.error(
    `demo: its own store and files in ${demoDir} (your store ${join(dataDir(), "pgdata")}` +
      `${Deno.env.get("DATABASE_URL") ? " and DATABASE_URL are" : " is"} not touched)`,
  );
  if (!(await Deno.stat(pgdata).then(() => true, () => false))) {
    // Creating the embedded database (initdb + migrations) leaves a few hundred MB of
    // WebAssembly heap behind in the process that did it; doing it in a short-lived
    // child keeps this process's peak RSS well under 1 GB.
    console.error(`store: creating the embedded database in ${pgdata}`);
    await createEmbeddedStore(pgdata);
  }
  const { store, dir } = await openSampleStore("demo");
  const progress = trainProgress(false, "      train");
  try {
    console.error(`store: ${store.description}`);
    const r = await runDemo(store, {
      steps: numberArg(args, "steps", { min: 1, integer: true }),
      seed: numberArg(args, "seed", { integer: true }),
      dir,
      out: args.out as string | undefined,
      log: (line) => {
        if (line.startsWith("      model")) progress.finish();
        console.error(line);
      },
      trainHooks: { onStart: progress.onStart, onProgress: progress.onProgress },
    });
    const total = Math.round((performance.now() - started) / 100) / 10;
    if (args.json) {
      console.log(JSON.stringify({ ...r, totalSeconds: total }));
    } else {
      console.log(`\nReport: ${r.reportPath}`);
      console.log(`Model ${r.modelId}: ${r.modelDir}`);
      console.log(
        `Done in ${total} s. Next: TT_DATA_DIR=${dir} deno task evaluate --model ${r.modelId} --help ` +
          "(the demo's store), deno task train --help (yours)",
      );
    }
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
