/**
 * `deno task train`: trains a PPO portfolio policy on stored bars, logs training
 * metrics and episodes to the store, saves and registers the model, and prints where
 * it is.
 *
 * @module
 */
import { DEFAULT_POLICY_OPTIONS } from "@lib/agents/mod.ts";
import { openStore } from "@lib/db/mod.ts";
import {
  ACTION_NAMES,
  DEFAULT_ENV_SETTINGS,
  type EnvSettings,
  REWARD_NAMES,
} from "@lib/env/mod.ts";
import { FEATURE_SET_NAMES, type FeatureSetName } from "@lib/features/mod.ts";
import {
  BACKEND_NAMES,
  type BackendName,
  DEFAULT_TRAIN_OPTIONS,
  ResumeConflictError,
  trainModel,
  type TrainOptions,
} from "@lib/pipeline/mod.ts";
import {
  type CommandSpec,
  DB_URL_OPTION,
  listArg,
  numberArg,
  parseCommand,
  type ParsedArgs,
  Progress,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const D = DEFAULT_TRAIN_OPTIONS, E = DEFAULT_ENV_SETTINGS;

/** Options shared by `train` and `walkforward` (the defaults shown are the library's). */
export const TRAIN_OPTIONS: CommandSpec["options"] = {
  symbols: {
    type: "string",
    valueName: "A,B",
    description: "Instruments (default: every stored instrument)",
  },
  universe: {
    type: "string",
    valueName: "all",
    description: "`all`: every stored instrument",
    choices: ["all"],
  },
  steps: {
    type: "string",
    valueName: "N",
    description: "Env steps to train (all envs together)",
    default: String(D.steps),
  },
  seed: {
    type: "string",
    valueName: "S",
    description: "Seed of every random number",
    default: String(D.seed),
  },
  action: {
    type: "string",
    valueName: "NAME",
    description: "Action scheme",
    choices: ACTION_NAMES,
    default: E.action,
  },
  reward: {
    type: "string",
    valueName: "NAME",
    description: "Reward scheme",
    choices: REWARD_NAMES,
    default: E.reward,
  },
  "cost-bps": {
    type: "string",
    valueName: "BPS",
    description: "Commission, bps of traded notional",
    default: String(E.costPerTurnBps),
  },
  "slippage-bps": {
    type: "string",
    valueName: "BPS",
    description: "Fixed slippage, bps of traded notional",
    default: String(E.slippageBps),
  },
  "drawdown-stop": {
    type: "string",
    valueName: "F",
    description: "End an episode at this drawdown, e.g. 0.3 (default: off)",
  },
  "with-features": {
    type: "string",
    valueName: "SET",
    description: "Feature set observed",
    choices: FEATURE_SET_NAMES,
    default: D.featureSet,
  },
  window: {
    type: "string",
    valueName: "W",
    description: "Bars of features per instrument in an observation",
    default: String(E.window),
  },
  "episode-length": {
    type: "string",
    valueName: "BARS",
    description: "Training episode length",
    default: String(E.episodeLength),
  },
  backend: {
    type: "string",
    valueName: "NAME",
    description: "Network backend (auto: kernel for continuous actions, wasm for discrete)",
    choices: BACKEND_NAMES,
    default: D.backend,
  },
  "num-envs": {
    type: "string",
    valueName: "K",
    description: "Envs stepped together",
    default: String(D.numEnvs),
  },
  "n-steps": {
    type: "string",
    valueName: "N",
    description: "Steps per env per PPO rollout (default: sized to --steps, ≤ 2048)",
  },
  hidden: {
    type: "string",
    valueName: "A,B",
    description: `Hidden layer sizes of the actor and critic (default: ${
      DEFAULT_POLICY_OPTIONS.hidden.join(",")
    })`,
  },
  "bar-size": {
    type: "string",
    valueName: "SIZE",
    description: "Bar size of the stored bars",
    default: D.barSize,
  },
  "db-url": DB_URL_OPTION,
  json: { type: "boolean", description: "Print one JSON line instead of progress" },
};

const SPEC: CommandSpec = {
  name: "train",
  summary:
    "Trains a PPO portfolio policy on stored bars (load them first: deno task ingest --source sample). " +
    "Without --start/--end it trains on the first 75 % of the instruments' common date range and leaves the rest " +
    "for `deno task evaluate`. Logs per-update metrics (tt_train_metrics) and training episodes (tt_episode …) " +
    "and saves the model to a directory registered in tt_models.",
  options: {
    ...TRAIN_OPTIONS,
    start: {
      type: "string",
      valueName: "DATE",
      description: "First training date (default: common start)",
    },
    end: {
      type: "string",
      valueName: "DATE",
      description: "Last training date (default: 75 % into the common range)",
    },
    resume: {
      type: "string",
      valueName: "DIR|ID",
      description:
        "Continue training a saved model: its env, features, instruments, name, seed and dates unless given; " +
        "--action, --window, --with-features, --hidden, --bar-size and other --symbols are refused",
    },
    out: {
      type: "string",
      valueName: "DIR",
      description: "Model directory (default: data/models/<name>-v<version>)",
    },
    name: {
      type: "string",
      valueName: "NAME",
      description: "Model name in the registry",
      default: D.name,
    },
  },
  examples: [
    "deno task train",
    "deno task train --steps 20000 --seed 7 --action discrete --reward dsr",
    "deno task train --symbols AAPL,SPX --start 2013-06-01 --end 2016-12-31 --with-features technical",
    "deno task train --resume 3 --steps 8192",
    "deno task train --resume 3 --steps 8192 --cost-bps 2 --start 2016-01-01 --end 2016-12-31",
  ],
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * `spec` without its option defaults: parsed with it, an absent flag stays `undefined`,
 * so the library fills its own defaults and `--resume` can tell a given flag from a default.
 * @param spec A command's declaration.
 * @returns The same declaration, defaults removed.
 * @example
 * ```ts
 * const given = parseCommand(withoutDefaults(SPEC));
 * ```
 */
export function withoutDefaults(spec: CommandSpec): CommandSpec {
  return {
    ...spec,
    options: Object.fromEntries(
      Object.entries(spec.options).map(([k, { default: _, ...o }]) => [k, o]),
    ),
  };
}

/**
 * Turns parsed arguments into {@linkcode TrainOptions} (shared with walkforward).
 * Absent options stay absent, so that `trainModel` applies its defaults (and, with
 * `--resume`, the saved model's settings).
 * @param args Parsed arguments of a command that includes {@linkcode TRAIN_OPTIONS}.
 * @returns The options.
 * @throws {UsageError} On a malformed value.
 * @example
 * ```ts
 * const options = trainOptionsFrom(parseCommand(withoutDefaults(SPEC)));
 * ```
 */
export function trainOptionsFrom(args: ParsedArgs): TrainOptions {
  for (const k of ["start", "end"]) {
    const v = args[k];
    if (typeof v === "string" && !DATE.test(v)) {
      throw new UsageError(`--${k} must be a date YYYY-MM-DD; got "${v}"`);
    }
  }
  if (args.symbols && args.universe) {
    throw new UsageError("Give either --symbols or --universe all, not both");
  }
  if (args.resume !== undefined && args.universe) {
    throw new UsageError("--resume trains on the saved model's instruments: drop --universe");
  }
  if (args.backend === "kernel" && args.action === "discrete") {
    throw new UsageError(
      "The kernel backend supports continuous actions only: use --backend auto|wasm|cpu with --action discrete",
    );
  }
  const env: Partial<EnvSettings> = {
    action: args.action as EnvSettings["action"],
    reward: args.reward as EnvSettings["reward"],
    costPerTurnBps: numberArg(args, "cost-bps", { min: 0 }),
    slippageBps: numberArg(args, "slippage-bps", { min: 0 }),
    drawdownStop: numberArg(args, "drawdown-stop", { min: 0, max: 1 }),
    window: numberArg(args, "window", { min: 1, integer: true }),
    episodeLength: numberArg(args, "episode-length", { min: 2, integer: true }),
  };
  const nSteps = numberArg(args, "n-steps", { min: 1, integer: true });
  const hidden = listArg(args.hidden)?.map((h) => {
    const n = Number(h);
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError(
        `--hidden must be positive whole numbers, e.g. 64,64; got "${args.hidden}"`,
      );
    }
    return n;
  });
  return {
    symbols: listArg(args.symbols),
    start: args.start as string | undefined,
    end: args.end as string | undefined,
    barSize: args["bar-size"] as string,
    steps: numberArg(args, "steps", { min: 1, integer: true }),
    seed: numberArg(args, "seed", { integer: true }),
    env,
    featureSet: args["with-features"] as FeatureSetName,
    backend: args.backend as BackendName,
    numEnvs: numberArg(args, "num-envs", { min: 1, integer: true }),
    ppo: nSteps === undefined ? undefined : { nSteps },
    hidden,
    resume: args.resume as string | undefined,
    out: args.out as string | undefined,
    name: args.name as string | undefined,
  };
}

/**
 * A progress bar for training: steps, steps/s and the recent mean episode return.
 * @param silent Draw nothing (for --json).
 * @returns Hooks for `trainModel`.
 */
export function trainProgress(silent: boolean, label = "train") {
  let bar: Progress | null = null;
  let last = 0;
  return {
    onStart(
      info: {
        instruments: string[];
        range: { start: string; end: string };
        totalTimesteps: number;
        backend: string;
      },
    ) {
      if (!silent) {
        console.error(
          `${label}: ${info.instruments.join(", ")} ${info.range.start}..${info.range.end}, ` +
            `${info.totalTimesteps} steps on ${info.backend}`,
        );
      }
      bar = new Progress(label, { total: info.totalTimesteps, unit: "steps", silent });
    },
    onProgress(steps: number, meanReturn: number) {
      bar?.tick(
        steps - last,
        Number.isFinite(meanReturn) ? `mean episode return ${meanReturn.toFixed(4)}` : undefined,
      );
      last = steps;
    },
    finish(note?: string) {
      bar?.finish(note);
    },
  };
}

async function main() {
  const args = parseCommand(SPEC); // --help (with the defaults), unknown options, choices
  const options = trainOptionsFrom(parseCommand(withoutDefaults(SPEC)));
  const json = args.json === true;
  const store = await openStore({ url: args["db-url"] as string | undefined });
  try {
    const progress = trainProgress(json);
    const r = await trainModel(store, options, progress).catch((e) => {
      throw e instanceof ResumeConflictError ? new UsageError(e.message) : e;
    });
    progress.finish();
    const summary = {
      modelId: r.modelId,
      name: r.model.manifest.name,
      version: r.version,
      dir: r.model.dir,
      runId: r.runId,
      instruments: r.instruments,
      start: r.range.start,
      end: r.range.end,
      timesteps: r.summary.timesteps,
      updates: r.summary.updates,
      seconds: Math.round(r.summary.seconds * 100) / 100,
      stepsPerSecond: Math.round(r.summary.stepsPerSec),
      finalMeanEpisodeReturn: r.summary.finalMeanEpisodeReturn,
      episodesLogged: r.episodeIds.length,
      backend: r.backend,
    };
    if (json) console.log(JSON.stringify(summary));
    else {
      console.log(
        `Model ${r.model.manifest.name} v${r.version} (id ${r.modelId}) saved to ${r.model.dir}`,
      );
      console.log(
        `  ${summary.timesteps} steps in ${summary.seconds} s (${summary.stepsPerSecond} steps/s), ` +
          `${summary.updates} updates, ${summary.episodesLogged} training episodes logged (run ${r.runId})`,
      );
      console.log(`  evaluate it out of sample: deno task evaluate --model ${r.modelId}`);
    }
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
