/**
 * `deno task sweep`: submits a hyperparameter sweep (a grid or `--random N` of it ×
 * `--seeds` × optional walk-forward folds), one job per (setting, seed, fold). On a
 * PostgreSQL server (`DATABASE_URL`) the jobs go to the pg-boss queue for
 * `deno task worker` on any machine; on the embedded store they run here, one after
 * another. `deno task sweep status ID` prints progress, every job's state and the
 * leaderboard (out-of-sample median over seeds, with the deflated Sharpe ratio of the
 * winner).
 *
 * @module
 */
import { openStore, type Store } from "@lib/db/mod.ts";
import {
  DEFAULT_LEASE,
  type LeaseOptions,
  openSweepQueue,
  parseGrid,
  parseSeedList,
  parseSweepDefinition,
  planSweep,
  submitSweep,
  SWEEP_PARAMS,
  SWEEP_TRAIN_EPISODES,
  type SweepStatus,
  sweepStatus,
} from "@lib/jobs/mod.ts";
import { TRAIN_EPISODE_LOGGING } from "@lib/pipeline/mod.ts";
import {
  type CommandSpec,
  DB_URL_OPTION,
  listArg,
  numberArg,
  parseCommandWithPositionals,
  type ParsedArgs,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC: CommandSpec = {
  name: "sweep",
  summary:
    "Submits a sweep: every setting of --grid (or --random N of them, or the grid of --config FILE) is trained " +
    "with every seed of --seeds, on one training range or on walk-forward folds, and evaluated out of sample " +
    "exactly as `deno task train` + `deno task evaluate` do: one job per (setting, seed, fold). With a PostgreSQL " +
    "server (DATABASE_URL or --db-url) the jobs are queued (pg-boss) for `deno task worker` on any machine and the " +
    "sweep id is printed at once; on the embedded store (or with --mode in-process) they run here, one after " +
    "another, with the same results.\n" +
    "  status ID   progress, every job's state, and the leaderboard ranked by the out-of-sample Sharpe ratio's " +
    "median over seeds (IQR as its interval), with the number of configurations tried and the deflated Sharpe " +
    "ratio of the winner.\n" +
    "Grid parameters: " + Object.entries(SWEEP_PARAMS).map(([k, p]) => `${k} (${p.description})`)
      .join(", ") +
    ".",
  positionals: "[status ID]",
  options: {
    grid: {
      type: "string",
      valueName: '"P=A,B Q=C,D"',
      description: "Parameter values; every combination is a setting",
    },
    config: {
      type: "string",
      valueName: "FILE",
      description:
        "A JSON sweep definition: grid, seeds, random, randomSeed, walkForward, symbols, start, end, evalEnd, " +
        "steps, numEnvs, barSize, featureSet, policy, backend, trainEpisodes, name (flags given override it)",
    },
    random: {
      type: "string",
      valueName: "N",
      description: "Try N settings drawn from the grid (seeded by --random-seed) instead of all",
    },
    "random-seed": {
      type: "string",
      valueName: "S",
      description: "Seed of the random draw",
      default: "0",
    },
    seeds: {
      type: "string",
      valueName: "A..B|N|A,B",
      description: "Seeds of every setting: a range 1..5, a count 5 or a list",
      default: "1",
    },
    "walk-forward": { type: "boolean", description: "One job per walk-forward fold too" },
    "train-years": {
      type: "string",
      valueName: "Y",
      description: "Walk-forward training window",
      default: "5",
    },
    "test-years": {
      type: "string",
      valueName: "Y",
      description: "Walk-forward test window",
      default: "1",
    },
    "step-years": {
      type: "string",
      valueName: "Y",
      description: "Walk-forward step (default: --test-years)",
    },
    anchored: {
      type: "boolean",
      description: "Walk-forward: grow the training window from the start",
    },
    symbols: {
      type: "string",
      valueName: "A,B",
      description: "Instruments (default: every stored one)",
    },
    start: {
      type: "string",
      valueName: "DATE",
      description: "Training start (walk-forward: calendar start; default: the common start)",
    },
    end: {
      type: "string",
      valueName: "DATE",
      description: "Training end (walk-forward: calendar end; default: 75 % into the common range)",
    },
    "eval-end": {
      type: "string",
      valueName: "DATE",
      description: "Last evaluation date without walk-forward (default: the last common date)",
    },
    steps: { type: "string", valueName: "N", description: "Env steps per job (default: train's)" },
    "num-envs": {
      type: "string",
      valueName: "K",
      description: "Envs stepped together (default: train's)",
    },
    "train-episodes": {
      type: "string",
      valueName: "WHICH",
      description:
        `Training episodes each job logs (default ${SWEEP_TRAIN_EPISODES}: jobs are ranked out of sample)`,
      choices: TRAIN_EPISODE_LOGGING,
    },
    name: {
      type: "string",
      valueName: "NAME",
      description: "Registry name of the models (default ppo-sweep)",
    },
    mode: {
      type: "string",
      valueName: "MODE",
      description: "auto: queue on a server, in-process on the embedded store",
      choices: ["auto", "queue", "in-process"],
      default: "auto",
    },
    "lease-seconds": {
      type: "string",
      valueName: "S",
      description:
        "Queue: a job whose worker sends no heartbeat for S seconds (killed, lost) goes to another worker (≥ 10)",
      default: String(DEFAULT_LEASE.leaseSeconds),
    },
    retries: {
      type: "string",
      valueName: "N",
      description: "Queue: retries of a failing job before it is marked failed",
      default: String(DEFAULT_LEASE.retryLimit),
    },
    "retry-delay": {
      type: "string",
      valueName: "S",
      description: "Queue: seconds before a retry",
      default: String(DEFAULT_LEASE.retryDelaySeconds),
    },
    "db-url": DB_URL_OPTION,
    json: { type: "boolean", description: "Print one JSON line" },
  },
  examples: [
    'deno task sweep --grid "lr=3e-4,1e-3 ent=0,0.01" --seeds 1..5 --symbols AAPL,SPX --steps 20000',
    'deno task sweep --grid "lr=3e-4,1e-3" --seeds 1..3 --walk-forward --train-years 2 --test-years 1 --json',
    'deno task sweep --grid "lr=1e-4,3e-4,1e-3 ent=0,0.005,0.01 gamma=0.95,0.99" --random 5 --seeds 1..5',
    "deno task sweep --config sweep.json",
    'DATABASE_URL=postgres://tt@db-host:5432/tt deno task sweep --grid "ent=0,0.01" --seeds 1..5',
    "deno task sweep status 3",
    "deno task sweep status 3 --json",
  ],
};

/** The definition JSON: the file's, with every flag given on top. */
async function definitionFrom(args: ParsedArgs, given: Set<string>): Promise<unknown> {
  let json: Record<string, unknown> = {};
  if (typeof args.config === "string") {
    let text: string;
    try {
      text = await Deno.readTextFile(args.config);
    } catch (e) {
      throw new UsageError(`--config ${args.config}: ${(e as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new SyntaxError("not a JSON object");
      }
      json = parsed;
    } catch (e) {
      throw new UsageError(`--config ${args.config}: ${(e as Error).message}`);
    }
  }
  const set = (k: string, v: unknown) => {
    if (v !== undefined) json[k] = v;
  };
  if (typeof args.grid === "string") set("grid", parseGrid(args.grid));
  if (given.has("seeds") || json.seeds === undefined) {
    set("seeds", parseSeedList(String(args.seeds)));
  }
  set("random", numberArg(args, "random", { min: 1, integer: true }));
  if (given.has("random-seed")) {
    set("randomSeed", numberArg(args, "random-seed", { integer: true }));
  }
  if (args["walk-forward"]) {
    set("walkForward", {
      trainYears: numberArg(args, "train-years", { min: 0 }),
      testYears: numberArg(args, "test-years", { min: 0 }),
      ...(args["step-years"] === undefined ? {} : { stepYears: numberArg(args, "step-years") }),
      ...(args.anchored ? { anchored: true } : {}),
    });
  } else if (args.anchored || given.has("train-years") || given.has("test-years")) {
    throw new UsageError(
      "--train-years, --test-years, --step-years and --anchored need --walk-forward",
    );
  }
  set("symbols", listArg(args.symbols));
  for (const [flag, key] of [["start", "start"], ["end", "end"], ["eval-end", "evalEnd"]]) {
    if (typeof args[flag] === "string") set(key, args[flag]);
  }
  set("steps", numberArg(args, "steps", { min: 1, integer: true }));
  set("numEnvs", numberArg(args, "num-envs", { min: 1, integer: true }));
  if (typeof args["train-episodes"] === "string") set("trainEpisodes", args["train-episodes"]);
  if (typeof args.name === "string") set("name", args.name);
  return json;
}

function fmt(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? "n/a" : x.toFixed(digits);
}

function printStatus(s: SweepStatus): void {
  const p = s.progress;
  const states = Object.entries(p).filter(([k]) => k !== "total").map(([k, v]) => `${v} ${k}`);
  console.log(
    `Sweep ${s.sweep.id} (${s.sweep.name}, ${s.sweep.mode}): ${p.total} jobs, ${states.join(", ")}`,
  );
  console.log(
    `  ${"job".padEnd(14)}${"state".padEnd(11)}${"setting".padEnd(28)}${"runs".padStart(5)}${
      "OOS Sharpe".padStart(12)
    }  worker / error`,
  );
  for (const j of s.jobs) {
    console.log(
      `  ${j.key.padEnd(14)}${j.state.padEnd(11)}${j.settingKey.slice(0, 27).padEnd(28)}${
        String(j.runs).padStart(5)
      }${fmt(j.sharpe).padStart(12)}  ${j.error ? `error: ${j.error}` : j.worker ?? ""}`,
    );
  }
  const b = s.leaderboard;
  console.log(`Leaderboard (${b.metric}):`);
  console.log(
    `  ${"rank".padEnd(5)}${"setting".padEnd(28)}${"median".padStart(9)}${"IQR".padStart(16)}${
      "vs B&H".padStart(9)
    }${"done".padStart(8)}`,
  );
  for (const r of b.rows) {
    console.log(
      `  ${String(r.rank).padEnd(5)}${r.settingKey.slice(0, 27).padEnd(28)}${
        fmt(r.median).padStart(9)
      }${`${fmt(r.interval.q1, 2)}..${fmt(r.interval.q3, 2)}`.padStart(16)}${
        fmt(r.medianVsBuyAndHold, 2).padStart(9)
      }${`${r.jobs.completed}/${r.jobs.total}`.padStart(8)}`,
    );
  }
  console.log(`  ${b.note}`);
}

async function status(args: ParsedArgs, id: string | undefined, url: string | undefined) {
  if (id === undefined || !/^\d+$/.test(id)) {
    throw new UsageError("Usage: deno task sweep status ID (the id `deno task sweep` printed)");
  }
  const store = await openStore({ url });
  try {
    const queue = store.kind === "postgres" && url
      ? await openSweepQueue(url, { supervise: false })
      : undefined;
    let s: SweepStatus;
    try {
      s = await sweepStatus(store, Number(id), { queue }).catch((e) => {
        throw e instanceof RangeError ? new UsageError(e.message) : e;
      });
    } finally {
      await queue?.close();
    }
    if (args.json) console.log(JSON.stringify(s));
    else printStatus(s);
  } finally {
    await store.close();
  }
}

async function submit(args: ParsedArgs, given: Set<string>, url: string | undefined) {
  let def;
  try {
    def = parseSweepDefinition(
      await definitionFrom(args, given),
      args.config ? String(args.config) : "sweep",
    );
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
  const lease: LeaseOptions = {
    leaseSeconds: numberArg(args, "lease-seconds", { min: 10, integer: true }),
    retryLimit: numberArg(args, "retries", { min: 0, integer: true }),
    retryDelaySeconds: numberArg(args, "retry-delay", { min: 0 }),
  };
  const store: Store = await openStore({ url });
  const json = args.json === true;
  try {
    const plan = await planSweep(store, def);
    const mode = args.mode as "auto" | "queue" | "in-process";
    if (!json) {
      console.error(
        `sweep: ${plan.configurations} setting${
          plan.configurations === 1 ? "" : "s"
        } × ${def.seeds.length} ` +
          `seed${def.seeds.length === 1 ? "" : "s"} × ${plan.folds} fold${
            plan.folds === 1 ? "" : "s"
          } = ` +
          `${plan.jobs.length} jobs`,
      );
    }
    const t0 = performance.now();
    const s = await submitSweep(store, plan, {
      mode,
      url,
      lease,
      onJob(i, total, key) {
        if (!json) console.error(`  job ${i + 1}/${total} ${key} …`);
      },
      onJobDone(key, o) {
        if (json) return;
        console.error(
          "error" in o
            ? `  job ${key} failed: ${o.error}`
            : `  job ${key} done: model ${o.result.modelId}, out-of-sample Sharpe ${
              fmt(o.result.sharpe)
            }`,
        );
      },
    }).catch((e) => {
      throw e instanceof TypeError ? new UsageError(e.message) : e;
    });
    if (json) {
      console.log(JSON.stringify({
        sweepId: s.sweepId,
        mode: s.mode,
        jobs: s.keys.length,
        configurations: s.configurations,
        folds: s.folds,
        ...(s.mode === "in-process" ? { completed: s.completed, failed: s.failed } : {}),
      }));
      return;
    }
    if (s.mode === "queue") {
      console.log(`Sweep ${s.sweepId}: ${s.keys.length} jobs queued on ${store.description}`);
      console.log("  run workers on any machine with DATABASE_URL set: deno task worker");
      console.log(`  progress and leaderboard: deno task sweep status ${s.sweepId}`);
    } else {
      console.log(
        `Sweep ${s.sweepId}: ${s.completed} of ${s.keys.length} jobs completed in-process` +
          `${s.failed ? `, ${s.failed} failed` : ""} (${
            ((performance.now() - t0) / 1000).toFixed(1)
          } s)`,
      );
      printStatus(await sweepStatus(store, s.sweepId));
    }
  } finally {
    await store.close();
  }
}

async function main() {
  const { values: args, positionals } = parseCommandWithPositionals(SPEC);
  const given = new Set(
    Deno.args.filter((a) => a.startsWith("--")).map((a) => a.slice(2).split("=")[0]),
  );
  const url = (args["db-url"] as string | undefined) ?? (Deno.env.get("DATABASE_URL") || undefined);
  if (positionals[0] === "status") return await status(args, positionals[1], url);
  if (positionals.length > 0) {
    throw new UsageError(
      `Unknown command "${positionals[0]}": use \`deno task sweep status ID\` or options only`,
    );
  }
  if (args.grid === undefined && args.config === undefined) {
    throw new UsageError('Give --grid "P=A,B …" or --config FILE (see deno task sweep --help)');
  }
  await submit(args, given, url);
}

if (import.meta.main) await runTask(main);
