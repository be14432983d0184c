/**
 * `deno task train`: trains a PPO portfolio policy on stored bars, logs training
 * metrics and episodes to the store, saves and registers the model, and prints where
 * it is.
 *
 * @module
 */
import { DEFAULT_POLICY_OPTIONS, DEFAULT_PPO_CONFIG, type PpoConfig } from "@lib/agents/mod.ts";
import { openStore } from "@lib/db/mod.ts";
import {
  ACTION_NAMES,
  DEFAULT_ENV_SETTINGS,
  type EnvSettings,
  type EnvSettingsPatch,
  FEE_MODELS,
  type FeeModel,
  REWARD_NAMES,
} from "@lib/env/mod.ts";
import { FEATURE_SET_NAMES, resolveFeatureSpec } from "@lib/features/mod.ts";
import {
  BACKEND_NAMES,
  type BackendName,
  DEFAULT_TRAIN_OPTIONS,
  POLICY_KINDS,
  type PolicyKind,
  ResumeConflictError,
  type TrainHooks,
  trainModel,
  type TrainOptions,
  type TrainResult,
  trainSeeds,
  type TrainStartInfo,
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
import { assertModelDirFree } from "@lib/agents/mod.ts";
import { DirectoryNotEmptyError } from "@lib/util/atomic.ts";
import { join } from "node:path";

const D = DEFAULT_TRAIN_OPTIONS, E = DEFAULT_ENV_SETTINGS, P = DEFAULT_PPO_CONFIG;

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
  policy: {
    type: "string",
    valueName: "KIND",
    description:
      "Network: per-asset (one shared network scores every asset; runs on any universe) or mlp (one network over the portfolio)",
    choices: POLICY_KINDS,
    default: D.policy,
  },
  "fee-model": {
    type: "string",
    valueName: "NAME",
    description: "Commission schedule: bps of notional, or IBKR Fixed per-share pricing",
    choices: FEE_MODELS,
    default: E.feeModel,
  },
  "cost-bps": {
    type: "string",
    valueName: "BPS",
    description: "Commission, bps of traded notional (fee model bps)",
    default: String(E.costPerTurnBps),
  },
  "slippage-bps": {
    type: "string",
    valueName: "BPS",
    description: "Fixed slippage, bps of traded notional",
    default: String(E.slippageBps),
  },
  band: {
    type: "string",
    valueName: "W",
    description: "Rebalance band: no trade for an asset whose |target - current| weight is below W",
    default: String(E.band),
  },
  "rebalance-every": {
    type: "string",
    valueName: "K",
    description: "Trade only every K-th bar of an episode",
    default: String(E.rebalanceEvery),
  },
  partial: {
    type: "string",
    valueName: "ETA",
    description: "Partial adjustment: move a traded weight ETA of the way to its target, in (0, 1]",
    default: String(E.partialAdjustment),
  },
  "cash-share": {
    type: "string",
    valueName: "C",
    description: "Cash share of the benchmark weights of the allocation schemes, in [0, 1)",
    default: String(E.allocation.cashShare),
  },
  "drawdown-stop": {
    type: "string",
    valueName: "F",
    description: "End an episode at this drawdown, e.g. 0.3 (default: off)",
  },
  "with-features": {
    type: "string",
    valueName: "SPEC",
    description:
      `Features observed: a set (${
        FEATURE_SET_NAMES.join(", ")
      }) or comma-separated sets and feature names, as-of ones over alternative data included ` +
      "(earnings_surprise_last, days_since_earnings, days_to_next_earnings, sentiment_mean_5d, insider_net_30d, " +
      "alt:<source>:<field>[:decay=<half-life bars>|:window=<bars>])",
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
    description:
      "PPO: steps per env per rollout (default: sized to --steps, 64…2048, a divisor of the steps per env when one is near)",
  },
  lr: {
    type: "string",
    valueName: "RATE",
    description: "PPO: Adam learning rate",
    default: String(P.learningRate),
  },
  gamma: {
    type: "string",
    valueName: "G",
    description: "PPO: discount factor",
    default: String(P.gamma),
  },
  "gae-lambda": {
    type: "string",
    valueName: "L",
    description: "PPO: GAE lambda",
    default: String(P.gaeLambda),
  },
  epochs: {
    type: "string",
    valueName: "E",
    description: "PPO: passes over each rollout",
    default: String(P.nEpochs),
  },
  minibatches: {
    type: "string",
    valueName: "M",
    description:
      `PPO: minibatches per epoch (default: minibatches of ${P.batchSize} samples, PpoConfig.batchSize)`,
  },
  clip: {
    type: "string",
    valueName: "C",
    description: "PPO: policy-ratio clip",
    default: String(P.clipCoef),
  },
  "ent-coef": {
    type: "string",
    valueName: "C",
    description: "PPO: entropy bonus coefficient",
    default: String(P.entCoef),
  },
  "vf-coef": {
    type: "string",
    valueName: "C",
    description: "PPO: value-loss coefficient",
    default: String(P.vfCoef),
  },
  hidden: {
    type: "string",
    valueName: "A,B",
    description: "Hidden layer sizes of the actor and critic",
    default: DEFAULT_POLICY_OPTIONS.hidden.join(","),
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
    "for `deno task evaluate`. Defaults: the " + D.policy + " policy, the " + E.action +
    " action scheme (zero " +
    "scores hold equal weight), the " + E.reward + " reward and a rebalance band of " + E.band +
    ", so that a " +
    "policy that learns nothing holds the benchmark. PPO runs whole rollouts of --n-steps × --num-envs steps: the " +
    "steps that will run, and why when they differ from --steps, are printed (and in --json). Logs per-update " +
    "metrics (tt_train_metrics) and training episodes (tt_episode …) and saves the model to a directory " +
    "registered in tt_models.",
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
    seeds: {
      type: "string",
      valueName: "N|A,B",
      description:
        "Train one model per seed, same config otherwise: a count N (seeds 1…N) or a list; prints the evaluate command for all",
    },
    resume: {
      type: "string",
      valueName: "DIR|ID",
      description:
        "Continue training a saved model: its env, features, instruments, PPO settings, name, seed and dates unless given; " +
        "--action, --window, --with-features, --hidden, --policy, --bar-size are refused, and other --symbols for an mlp model " +
        "(a per-asset model may train on another universe)",
    },
    out: {
      type: "string",
      valueName: "DIR",
      description:
        "Model directory (default: data/models/<name>-v<version>); with --seeds, the parent of seed-<S>/",
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
    "deno task train --seeds 5 --steps 50000",
    "deno task train --policy mlp --action vol-target --reward dsr --steps 20000 --seed 7",
    "deno task train --action discrete --policy mlp --backend wasm",
    "deno task train --band 0.01 --fee-model ibkr-fixed --lr 1e-4 --ent-coef 0.01 --n-steps 512",
    "deno task train --symbols AAPL,SPX --start 2013-06-01 --end 2016-12-31 --with-features technical",
    "deno task train --with-features basic,earnings_surprise_last,days_since_earnings,alt:vendor:score:decay=5",
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
  if (
    args.action === "discrete" && args.resume === undefined &&
    (args.policy ?? DEFAULT_TRAIN_OPTIONS.policy) === "per-asset"
  ) {
    throw new UsageError(
      "--action discrete has no per-asset score to share across assets: add --policy mlp (or use a continuous scheme)",
    );
  }
  const cashShare = numberArg(args, "cash-share", { min: 0 });
  if (cashShare !== undefined && cashShare >= 1) {
    throw new UsageError(`--cash-share must be in [0, 1); got ${args["cash-share"]}`);
  }
  const band = numberArg(args, "band", { min: 0 });
  if (band !== undefined && band >= 1) {
    throw new UsageError(`--band must be a weight in [0, 1); got ${args.band}`);
  }
  const partial = numberArg(args, "partial", { min: 0, max: 1 });
  if (partial === 0) throw new UsageError(`--partial must be in (0, 1]; got ${args.partial}`);
  const env: EnvSettingsPatch = {
    action: args.action as EnvSettings["action"],
    reward: args.reward as EnvSettings["reward"],
    feeModel: args["fee-model"] as FeeModel | undefined,
    costPerTurnBps: numberArg(args, "cost-bps", { min: 0 }),
    slippageBps: numberArg(args, "slippage-bps", { min: 0 }),
    drawdownStop: numberArg(args, "drawdown-stop", { min: 0, max: 1 }),
    window: numberArg(args, "window", { min: 1, integer: true }),
    episodeLength: numberArg(args, "episode-length", { min: 2, integer: true }),
    band,
    rebalanceEvery: numberArg(args, "rebalance-every", { min: 1, integer: true }),
    partialAdjustment: partial,
    ...(cashShare === undefined ? {} : { allocation: { cashShare }, allocationLs: { cashShare } }),
  };
  const hidden = listArg(args.hidden)?.map((h) => {
    const n = Number(h);
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError(
        `--hidden must be positive whole numbers, e.g. 64,64; got "${args.hidden}"`,
      );
    }
    return n;
  });
  const ppo: Partial<PpoConfig> = {
    nSteps: numberArg(args, "n-steps", { min: 1, integer: true }),
    learningRate: positiveArg(args, "lr"),
    gamma: numberArg(args, "gamma", { min: 0, max: 1 }),
    gaeLambda: numberArg(args, "gae-lambda", { min: 0, max: 1 }),
    nEpochs: numberArg(args, "epochs", { min: 1, integer: true }),
    clipCoef: positiveArg(args, "clip"),
    entCoef: numberArg(args, "ent-coef", { min: 0 }),
    vfCoef: numberArg(args, "vf-coef", { min: 0 }),
  };
  const ppoGiven = Object.fromEntries(Object.entries(ppo).filter(([, v]) => v !== undefined));
  return {
    symbols: listArg(args.symbols),
    start: args.start as string | undefined,
    end: args.end as string | undefined,
    barSize: args["bar-size"] as string,
    steps: numberArg(args, "steps", { min: 1, integer: true }),
    seed: numberArg(args, "seed", { integer: true }),
    env,
    policy: args.policy as PolicyKind | undefined,
    featureSet: featureSpecArg(args["with-features"] as string | undefined),
    backend: args.backend as BackendName,
    numEnvs: numberArg(args, "num-envs", { min: 1, integer: true }),
    ppo: Object.keys(ppoGiven).length === 0 ? undefined : ppoGiven,
    minibatches: numberArg(args, "minibatches", { min: 1, integer: true }),
    hidden,
    resume: args.resume as string | undefined,
    out: args.out as string | undefined,
    name: args.name as string | undefined,
  };
}

/** `--with-features`: checked here so a typo is a usage error, passed on as given. */
function featureSpecArg(spec: string | undefined): string | undefined {
  if (spec === undefined) return undefined;
  try {
    resolveFeatureSpec(spec);
  } catch (e) {
    throw new UsageError(`--with-features ${spec}: ${(e as Error).message}`);
  }
  return spec;
}

/** A number option that must be > 0. */
function positiveArg(args: ParsedArgs, name: string): number | undefined {
  const v = numberArg(args, name, { min: 0 });
  if (v === 0) throw new UsageError(`--${name} must be > 0; got ${args[name]}`);
  return v;
}

/**
 * Reads `--seeds`: a count `N` (seeds 1…N) or a comma-separated list of distinct integers.
 * @param value The raw option value (absent: undefined).
 * @returns The seeds, or undefined.
 * @throws {UsageError} On anything else.
 * @example
 * ```ts
 * seedsArg("5"); // [1, 2, 3, 4, 5]
 * seedsArg("7,11"); // [7, 11]
 * ```
 */
export function seedsArg(value: string | boolean | undefined): number[] | undefined {
  if (value === undefined || value === false) return undefined;
  const text = String(value).trim();
  const bad = (why: string) =>
    new UsageError(
      `--seeds must be a count N (seeds 1…N) or a list of distinct integers like 1,2,3; got "${value}" (${why})`,
    );
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > 1000) throw bad("a count from 1 to 1000");
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const items = text.split(",").map((x) => x.trim());
  if (items.some((x) => !/^-?\d+$/.test(x))) throw bad("not an integer");
  const seeds = items.map(Number);
  if (new Set(seeds).size !== seeds.length) throw bad("a seed repeats");
  return seeds;
}

/**
 * A progress bar for training: steps, steps/s and the recent mean episode return;
 * at the start, what will run (the steps, and why when they differ from --steps).
 * @param silent Draw nothing (for --json).
 * @param label Label of the bar.
 * @returns Hooks for `trainModel`, and `finish()`.
 * @example
 * ```ts
 * const progress = trainProgress(false);
 * await trainModel(store, options, progress);
 * progress.finish();
 * ```
 */
export function trainProgress(silent: boolean, label = "train") {
  let bar: Progress | null = null;
  let last = 0;
  return {
    onStart(info: TrainStartInfo) {
      if (!silent) {
        console.error(
          `${label}: ${info.instruments.join(", ")} ${info.range.start}..${info.range.end}, ` +
            `${info.policy} policy on ${info.backend}, seed ${info.seed}; ${info.plan.note}`,
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

/**
 * One progress bar across the runs of `--seeds`: its total is every seed's steps.
 * @param silent Draw nothing (for --json).
 * @param count Number of seeds.
 * @returns `forSeed` hooks for `trainSeeds`, and `finish()`.
 * @example
 * ```ts
 * const progress = seedsProgress(false, 5);
 * await trainSeeds(store, options, [1, 2, 3, 4, 5], progress);
 * progress.finish();
 * ```
 */
export function seedsProgress(silent: boolean, count: number) {
  let bar: Progress | null = null;
  let before = 0;
  return {
    forSeed(index: number, seed: number): TrainHooks {
      return {
        onStart(info) {
          if (!silent) {
            console.error(
              `seed ${seed} (${index + 1}/${count}): ${info.instruments.join(", ")} ` +
                `${info.range.start}..${info.range.end}, ${info.policy} policy on ${info.backend}; ${info.plan.note}`,
            );
          }
          bar ??= new Progress("train", {
            total: count * info.totalTimesteps,
            unit: "steps",
            silent,
          });
          before = bar.done;
        },
        onProgress(steps, meanReturn) {
          bar?.tick(
            before + steps - bar.done,
            `seed ${seed} (${index + 1}/${count})` +
              (Number.isFinite(meanReturn) ? `, mean episode return ${meanReturn.toFixed(4)}` : ""),
          );
        },
      };
    },
    finish(note?: string) {
      bar?.finish(note);
    },
  };
}

/** The one-line summary of a trained model (`--json`, one per seed with `--seeds`). */
function modelSummary(r: TrainResult) {
  return {
    modelId: r.modelId,
    seed: r.seed,
    dir: r.model.dir,
    name: r.model.manifest.name,
    version: r.version,
    runId: r.runId,
    timesteps: r.summary.timesteps,
    updates: r.summary.updates,
    seconds: Math.round(r.summary.seconds * 100) / 100,
    stepsPerSecond: Math.round(r.summary.stepsPerSec),
    finalMeanEpisodeReturn: r.summary.finalMeanEpisodeReturn,
    episodesLogged: r.episodeIds.length,
  };
}

async function main() {
  const args = parseCommand(SPEC); // --help (with the defaults), unknown options, choices
  const given = parseCommand(withoutDefaults(SPEC));
  const options = trainOptionsFrom(given);
  const seeds = seedsArg(given.seeds);
  if (seeds && given.seed !== undefined) {
    throw new UsageError(
      "Give either --seed S (one model) or --seeds N|A,B,… (one per seed), not both",
    );
  }
  const json = args.json === true;
  // A non-empty --out is refused before the store opens and training starts (exit 2).
  const outs = options.out === undefined
    ? []
    : seeds
    ? seeds.map((s) => join(options.out!, `seed-${s}`))
    : [options.out];
  for (const out of outs) {
    await assertModelDirFree(out).catch((e) => {
      throw e instanceof DirectoryNotEmptyError ? new UsageError(`--out: ${e.message}`) : e;
    });
  }
  const store = await openStore({ url: args["db-url"] as string | undefined });
  const refused = (e: unknown) => {
    throw e instanceof ResumeConflictError || e instanceof DirectoryNotEmptyError
      ? new UsageError((e as Error).message)
      : e;
  };
  try {
    if (seeds) {
      const progress = seedsProgress(json, seeds.length);
      const runs = await trainSeeds(store, options, seeds, progress).catch(refused);
      progress.finish();
      const first = runs[0];
      const ids = runs.map((r) => r.modelId).join(",");
      const evaluate = `deno task evaluate --model ${ids}`;
      if (json) {
        console.log(JSON.stringify({
          models: runs.map(modelSummary),
          seedGroup: first.seedGroup,
          instruments: first.instruments,
          start: first.range.start,
          end: first.range.end,
          policy: first.policy,
          requestedSteps: first.plan.requested,
          stepsPerSeed: first.plan.actual,
          stepsNote: first.plan.note,
          backend: first.backend,
          evaluate,
        }));
      } else {
        for (const r of runs) {
          console.log(
            `seed ${r.seed}: model ${r.model.manifest.name} v${r.version} (id ${r.modelId}) saved to ${r.model.dir}`,
          );
        }
        console.log(`  ${runs.length} models, seed group ${first.seedGroup}`);
        console.log(`  evaluate them out of sample: ${evaluate}`);
      }
      return;
    }
    const progress = trainProgress(json);
    const r = await trainModel(store, options, progress).catch(refused);
    progress.finish();
    const summary = {
      ...modelSummary(r),
      instruments: r.instruments,
      start: r.range.start,
      end: r.range.end,
      policy: r.policy,
      requestedSteps: r.plan.requested,
      stepsNote: r.plan.note,
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
