/**
 * `deno task bench ppo`: the PPO workload of `../shared/bench/SPEC.md` section 1
 * (synthetic correlated-GBM market, 8 envs, CleanRL continuous PPO, 3,200
 * minibatch updates for 20,480 steps) through the product's own `trainPpo`,
 * printed as the reference's JSON line. `--with-reference` also runs the PyTorch
 * script in the same run and prints a ratio line; `--profile` prints where the
 * time went (rollout, GAE, update).
 *
 * @module
 */
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import process from "node:process";
import { numberArg, parseCommand, Progress, PROJECT_ROOT } from "@lib/util/mod.ts";
import { BenchVecEnv, makeBenchMarket } from "./_market.ts";
import {
  createKernelPolicy,
  type PolicyBackend,
  policyConfigForSpaces,
  type PpoConfig,
  trainPpo,
} from "@lib/agents/mod.ts";
import { createTfjsPolicy } from "@lib/agents/tfjs_policy.ts";
import { initTf } from "@lib/agents/tf_backend.ts";

const BACKENDS = ["kernel", "tfjs-wasm", "tfjs-cpu"] as const;
type BenchBackend = typeof BACKENDS[number];

const SPEC = {
  name: "bench ppo",
  summary:
    "SPEC.md section 1: PPO (CleanRL continuous, 8 envs × 256 steps, 10 epochs of 64-sample minibatches, " +
    "Adam 3e-4, no annealing) on the seeded synthetic 10-asset market, through trainPpo. Timed from env " +
    "reset to the end of the last update; prints one JSON line per implementation.",
  options: {
    steps: {
      type: "string",
      description: "Env steps (a multiple of 2048 is used)",
      default: "20480",
      valueName: "N",
    },
    seed: {
      type: "string",
      description: "Seed (market, weights, noise, env starts: one stream each)",
      default: "1",
      valueName: "S",
    },
    backend: {
      type: "string",
      description: "Network backend",
      default: "kernel",
      valueName: "NAME",
      choices: BACKENDS,
    },
    profile: {
      type: "boolean",
      description: "Also print the time split (rollout, GAE, update) as a JSON line",
    },
    "with-reference": {
      type: "boolean",
      description:
        "Also run ../shared/bench/ppo_ref.py with /usr/bin/python3 (PyTorch) and print its line and the ratio",
    },
  },
  examples: [
    "deno task bench ppo --steps 20480 --with-reference",
    "deno task bench ppo --backend tfjs-wasm --profile",
  ],
} as const;

/**
 * The SPEC's PPO settings (everything else is trainPpo's default or the policy's).
 * @param steps Total env steps.
 * @param seed Seed of the run.
 * @returns Overrides for `trainPpo`.
 * @example
 * ```ts
 * const cfg = specPpoConfig(20480, 1); // 10 updates of 8 × 256 steps
 * ```
 */
export function specPpoConfig(steps: number, seed: number): Partial<PpoConfig> {
  return {
    totalTimesteps: steps,
    nSteps: 256,
    batchSize: 64,
    nEpochs: 10,
    gamma: 0.99,
    gaeLambda: 0.95,
    learningRate: 3e-4,
    annealLr: false,
    targetKl: null,
    normalizeObs: false,
    cleanrlDones: true, // SPEC: the time limit counts as terminal, no bootstrap
    seed,
  };
}

/** One implementation's result line, with the reference script's keys. */
export interface PpoBenchLine {
  impl: string;
  steps: number;
  seconds: number;
  steps_per_sec: number;
  final_mean_episode_return: number | null;
}

async function makeBackend(
  kind: BenchBackend,
  env: BenchVecEnv,
  seed: number,
): Promise<PolicyBackend> {
  const config = policyConfigForSpaces(env.observationSpace, env.actionSpace, { seed });
  if (kind === "kernel") return createKernelPolicy(config);
  await initTf(kind === "tfjs-wasm" ? "wasm" : "cpu");
  return createTfjsPolicy(config);
}

/**
 * Runs the SPEC workload once with our implementation.
 * @param steps Env steps requested.
 * @param seed Seed.
 * @param backend Network backend.
 * @returns The result line, the time split and this process's CPU seconds.
 * @example
 * ```ts
 * const { line } = await runPpoBench(20480, 1, "kernel");
 * console.log(JSON.stringify(line));
 * ```
 */
export async function runPpoBench(
  steps: number,
  seed: number,
  backend: BenchBackend,
): Promise<{
  line: PpoBenchLine;
  profile: { rollout: number; gae: number; update: number };
  cpuSeconds: number;
}> {
  // Not timed (as in the reference): data, features, network construction.
  const market = makeBenchMarket(seed);
  // Env starts: trainPpo seeds them at its first reset (deriveSeed(seed, "envStarts")).
  const env = new BenchVecEnv(market, { numEnvs: 8 });
  const net = await makeBackend(backend, env, seed);
  const updates = Math.max(1, Math.floor(steps / 2048));
  const bar = new Progress(`ppo ${backend}`, { total: updates, unit: "updates" });
  try {
    const cpu0 = process.cpuUsage();
    const summary = await trainPpo(env, net, specPpoConfig(steps, seed), {
      onUpdate: (s) => bar.tick(1, `${Math.round(s.stepsPerSec)} steps/s`),
    });
    const cpu = process.cpuUsage(cpu0);
    bar.finish();
    const ret = summary.finalMeanEpisodeReturn;
    return {
      line: {
        impl: `tensortrade-mvp-ppo-${backend}`,
        steps: summary.timesteps,
        seconds: Math.round(summary.seconds * 1000) / 1000,
        steps_per_sec: Math.round((summary.timesteps / summary.seconds) * 10) / 10,
        final_mean_episode_return: ret === null ? null : Math.round(ret * 1e6) / 1e6,
      },
      profile: summary.profile,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    net.dispose();
  }
}

function runReference(steps: number, seed: number): PpoBenchLine | { impl: string; error: string } {
  const script = resolve(PROJECT_ROOT, "..", "shared", "bench", "ppo_ref.py");
  if (!existsSync(script)) return { impl: "torch-ppo", error: `${script} not found` };
  let out;
  try {
    out = new Deno.Command("/usr/bin/python3", {
      args: [script, "--steps", String(steps), "--seed", String(seed)],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
  } catch (e) {
    return { impl: "torch-ppo", error: `cannot run /usr/bin/python3: ${(e as Error).message}` };
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    return { impl: "torch-ppo", error: `ppo_ref.py failed: ${err}` };
  }
  return JSON.parse(new TextDecoder().decode(out.stdout).trim());
}

/** The 1-minute load average (null where /proc is absent). */
function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

/**
 * Runs the benchmark.
 * @param args Command-line arguments after `ppo`.
 */
export async function main(args: string[]): Promise<void> {
  const a = parseCommand(SPEC, args);
  const steps = numberArg(a, "steps", { min: 2048, integer: true })!;
  const seed = numberArg(a, "seed", { integer: true })!;
  const backend = a.backend as BenchBackend;

  // The reference runs first, in its own process; both see the same machine load.
  const reference = a["with-reference"] ? runReference(steps, seed) : undefined;
  const { line, profile, cpuSeconds } = await runPpoBench(steps, seed, backend);
  if (reference) console.log(JSON.stringify(reference));
  console.log(JSON.stringify(line));
  if (a.profile) {
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    console.log(JSON.stringify({
      impl: line.impl,
      profile_seconds: {
        rollout: r3(profile.rollout),
        gae: r3(profile.gae),
        update: r3(profile.update),
        other: r3(line.seconds - profile.rollout - profile.gae - profile.update),
      },
      // CPU time this process used during training: far below `seconds` when other
      // processes share the cores
      cpu_seconds: r3(cpuSeconds),
    }));
  }
  if (reference && "steps_per_sec" in reference) {
    console.log(JSON.stringify({
      ratio_steps_per_sec: Math.round((line.steps_per_sec / reference.steps_per_sec) * 100) / 100,
      ours: line.impl,
      reference: reference.impl,
      // other processes on the machine slow both, PyTorch's two spinning threads far more
      loadavg_1m: loadAverage(),
    }));
  }
}
