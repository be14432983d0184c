/**
 * Saved models: a directory with the network weights, the observation-normaliser
 * statistics and everything needed to rebuild the env the policy was trained on.
 * This file only writes and reads directories; registering a model in `tt_models`
 * and resolving an id to its directory is `lib/pipeline/models.ts`.
 *
 * Layout of a model directory:
 * - `model.json`: format tag, name/id/version, backend, topology (the actor-critic
 *   MLP described by its {@linkcode PolicyConfig}), the full training config
 *   (PolicyConfig, PpoConfig, env options, feature set, instruments, data range,
 *   seed, code version) and a tfjs-style `weightsManifest` naming each tensor.
 * - `weights.bin`: every tensor's float32 values, little-endian, in manifest order.
 * - `obs_norm.json`: the frozen running mean/variance (only when `normalizeObs`).
 *
 * Not saved: the Adam moments (`PolicyBackend.exportWeights` excludes them), so a
 * resumed run restarts the optimiser's statistics from zero; and no `tf.LayersModel`
 * topology (the network is described by its {@linkcode PolicyConfig} in `topology`).
 *
 * Weights come from {@linkcode PolicyBackend.exportWeights}, so every backend
 * (tfjs on any tfjs backend, the hand-written kernel) saves the same format; a model
 * trained on one backend loads on another when their weight names agree.
 *
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import { type EnvSettings, parseEnvSettings } from "../env/settings.ts";
import { dataDir, PROJECT_ROOT } from "../util/paths.ts";
import {
  legacyPpoLoss,
  type NamedWeight,
  parsePolicyConfig,
  type PolicyBackend,
  type PolicyConfig,
} from "./policy.ts";
import { type ObsNormStats, type PpoConfig, ppoConfig } from "./ppo.ts";

/** The `model.json` format tag. */
export const MODEL_FORMAT = "tensortrade-mvp/ppo-model@1";

/** The registry name of a model when none is given. */
export const DEFAULT_MODEL_NAME = "ppo-portfolio";

/** Everything needed to rebuild the policy's inputs and to say where it came from. */
export interface ModelConfig {
  /** Network and optimiser settings. */
  policy: PolicyConfig;
  /** PPO settings the model was trained with. */
  ppo: PpoConfig;
  /** Env settings (action and reward schemes, costs, window …), see `parseEnvSettings`. */
  env: EnvSettings;
  /** Feature set name and the resolved feature names, in observation order. */
  features: { set: string; names: string[] };
  /** Instruments trained on, in panel order. */
  instruments: string[];
  /** Training data range (ISO dates, inclusive) of this run. */
  dataRange: { start: string; end: string };
  /**
   * Every range the model's lineage trained on (the parent's `trainedRanges` plus this
   * run's `dataRange`, sorted, overlaps merged). Absent in models saved before it
   * existed: read it with `trainedRangesOf` (lib/pipeline/models.ts), which falls back
   * to `[dataRange]`.
   */
  trainedRanges?: { start: string; end: string }[];
  /** Bar size of the training data, e.g. `"1 day"`. */
  barSize: string;
  /** Seed of the run. */
  seed: number;
  /** Backend that trained it (`kernel`, `tfjs-wasm` …). */
  backend: string;
  /** Env steps trained in total (summed over resumed runs). */
  timesteps: number;
  /** Git commit of the code that trained it, or `"unknown"`. */
  codeVersion: string;
  /** Model this one was resumed from, if any (`tt_models.id` or directory). */
  resumedFrom?: string | null;
  /** Anything else worth keeping (e.g. training summary). */
  extra?: Record<string, unknown>;
}

/** `model.json`. */
export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  name: string;
  /** `tt_models.id`, when registered. */
  modelId: number | null;
  /** Version within `name`, when registered. */
  version: number | null;
  createdAt: string;
  /** The network's shape: a shared-input actor-critic MLP. */
  topology: {
    kind: "mlp-actor-critic" | "per-asset-actor-critic";
    obsDim: number;
    hidden: readonly number[];
    action: PolicyConfig["action"];
  };
  config: ModelConfig;
  /** tfjs-compatible weights manifest (float32, one file). */
  weightsManifest: {
    paths: string[];
    weights: { name: string; shape: number[]; dtype: "float32" }[];
  }[];
}

/** A model read back from disk. */
export interface SavedModel {
  /** Absolute directory. */
  dir: string;
  manifest: ModelManifest;
  weights: NamedWeight[];
  /** Normaliser statistics, or null when the model does not normalise observations. */
  obsNorm: ObsNormStats | null;
}

/** Options of {@linkcode saveModel}. */
export interface SaveModelOptions {
  /** Registry name. Default {@linkcode DEFAULT_MODEL_NAME}. */
  name?: string;
  /** Directory to write. Default `<dataDir>/models/<name>-v<version>` (or `-<timestamp>` unregistered). */
  dir?: string;
  /** The model's registry id and version, recorded in `model.json`. Omit for an unregistered model. */
  registration?: { modelId: number; version: number };
  /** Observation-normaliser statistics to save with it. */
  obsNorm?: ObsNormStats | null;
}

/**
 * Writes a model directory (`model.json` last, so its presence marks a complete one).
 *
 * @param backend The trained network (its weights are exported).
 * @param config See {@linkcode ModelConfig}.
 * @param options See {@linkcode SaveModelOptions}.
 * @returns What was written (absolute directory, manifest, weights).
 * @example
 * ```ts
 * const saved = await saveModel(backend, config, { obsNorm: summary.obsNormalizer?.toJSON() });
 * console.log(saved.dir);
 * ```
 */
export async function saveModel(
  backend: PolicyBackend,
  config: ModelConfig,
  options: SaveModelOptions = {},
): Promise<SavedModel> {
  const name = options.name ?? DEFAULT_MODEL_NAME;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new TypeError(
      `Model name must be letters, digits, ".", "_" or "-"; got ${JSON.stringify(name)}`,
    );
  }
  if (config.ppo.normalizeObs && !options.obsNorm) {
    throw new TypeError(
      "saveModel: the config normalises observations but no obsNorm statistics were given",
    );
  }
  const weights = backend.exportWeights();
  const write = async (dir: string, modelId: number | null, version: number | null) => {
    const manifest: ModelManifest = {
      format: MODEL_FORMAT,
      name,
      modelId,
      version,
      createdAt: new Date().toISOString(),
      topology: {
        kind: config.policy.topology?.kind === "per-asset"
          ? "per-asset-actor-critic"
          : "mlp-actor-critic",
        obsDim: config.policy.obsDim,
        hidden: config.policy.hidden,
        action: config.policy.action,
      },
      config,
      weightsManifest: [{
        paths: ["weights.bin"],
        weights: weights.map((w) => ({
          name: w.name,
          shape: [...w.shape],
          dtype: "float32" as const,
        })),
      }],
    };
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(join(dir, "weights.bin"), packWeights(weights));
    if (options.obsNorm) {
      await Deno.writeTextFile(join(dir, "obs_norm.json"), JSON.stringify(options.obsNorm));
    } else await Deno.remove(join(dir, "obs_norm.json")).catch(() => undefined);
    // model.json last: its presence marks a complete directory.
    await Deno.writeTextFile(join(dir, "model.json"), JSON.stringify(manifest, null, 2) + "\n");
    return { dir, manifest, weights, obsNorm: options.obsNorm ?? null };
  };
  const reg = options.registration;
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  const dir = options.dir ??
    join(dataDir(), "models", `${name}-${reg ? `v${reg.version}` : stamp}`);
  return await write(resolveDir(dir), reg?.modelId ?? null, reg?.version ?? null);
}

function resolveDir(dir: string): string {
  return isAbsolute(dir) ? dir : resolve(Deno.cwd(), dir);
}

/**
 * Reads a model directory.
 * @param dir A directory written by {@linkcode saveModel}.
 * @returns The manifest, weights and normaliser statistics.
 * @throws {Error} When `model.json` is missing or not this format, or `weights.bin` has the wrong size.
 * @example
 * ```ts
 * const saved = await loadModelDir("data/models/ppo-portfolio-v1");
 * ```
 */
export async function loadModelDir(dir: string): Promise<SavedModel> {
  const abs = resolveDir(dir);
  let text: string;
  try {
    text = await Deno.readTextFile(join(abs, "model.json"));
  } catch (e) {
    throw new Error(`No model at ${abs}: cannot read model.json (${(e as Error).message})`, {
      cause: e,
    });
  }
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${join(abs, "model.json")} is not valid JSON: ${(e as Error).message}`);
  }
  if (manifest.format !== MODEL_FORMAT) {
    throw new TypeError(
      `${join(abs, "model.json")}: format ${
        JSON.stringify(manifest.format)
      }, expected ${MODEL_FORMAT}`,
    );
  }
  manifest.config = parseModelConfig(manifest.config, join(abs, "model.json"));
  const group = manifest.weightsManifest[0];
  const bytes = await Deno.readFile(join(abs, group.paths[0]));
  const weights = unpackWeights(bytes, group.weights, join(abs, group.paths[0]));
  let obsNorm: ObsNormStats | null = null;
  try {
    obsNorm = JSON.parse(await Deno.readTextFile(join(abs, "obs_norm.json")));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (manifest.config.ppo.normalizeObs && !obsNorm) {
    throw new Error(`${abs}: the model normalises observations but obs_norm.json is missing`);
  }
  return { dir: abs, manifest, weights, obsNorm };
}

const MODEL_CONFIG_FIELDS: readonly (keyof ModelConfig)[] = [
  "policy",
  "ppo",
  "env",
  "features",
  "instruments",
  "dataRange",
  "trainedRanges",
  "barSize",
  "seed",
  "backend",
  "timesteps",
  "codeVersion",
  "resumedFrom",
  "extra",
];

/**
 * Parses and validates a saved model's `config` (from `model.json` or the registry):
 * its env settings through `parseEnvSettings` (absent fields take their defaults),
 * its PPO settings through `ppoConfig`, and the type of every other field.
 * @param json The parsed JSON value.
 * @param where The file (or row) it came from, for error messages.
 * @returns The typed config.
 * @throws {TypeError} Naming the file and the bad field, e.g.
 *   `data/models/m/model.json: config.env.window must be a positive integer, got "x"`.
 * @example
 * ```ts
 * const config = parseModelConfig(JSON.parse(text).config, "model.json");
 * config.env.costPerTurnBps; // a number, defaults filled
 * ```
 */
export function parseModelConfig(json: unknown, where = "model.json"): ModelConfig {
  const at = `${where}: config`;
  const bad = (field: string, must: string, v: unknown) =>
    new TypeError(`${at}.${field} ${must}, got ${JSON.stringify(v) ?? String(v)}`);
  if (!isObject(json)) {
    throw new TypeError(`${at} must be an object, got ${JSON.stringify(json) ?? String(json)}`);
  }
  for (const key of Object.keys(json)) {
    if (!(MODEL_CONFIG_FIELDS as readonly string[]).includes(key)) {
      throw new TypeError(
        `${at}.${key} is not a model config field (known: ${MODEL_CONFIG_FIELDS.join(", ")})`,
      );
    }
  }
  const text = (field: string): string => {
    const v = json[field];
    if (typeof v !== "string") throw bad(field, "must be a string", v);
    return v;
  };
  const { policy, features, instruments, dataRange, seed, timesteps, resumedFrom, extra } = json;
  const parsedPolicy = parsePolicyConfig(policy, `${at}.policy`);
  if (!isObject(json.ppo)) throw bad("ppo", "must be an object", json.ppo);
  let ppo: PpoConfig;
  try {
    // A config saved before the loss coefficients moved to PpoConfig carries them in policy.
    ppo = ppoConfig({ ...legacyPpoLoss(policy), ...json.ppo });
  } catch (e) {
    throw new TypeError(`${at}.ppo: ${(e as Error).message}`, { cause: e });
  }
  if (!isObject(features) || typeof features.set !== "string" || !isStrings(features.names)) {
    throw bad("features", "must be { set: string, names: string[] }", features);
  }
  if (!isStrings(instruments) || instruments.length === 0) {
    throw bad("instruments", "must be a non-empty array of strings", instruments);
  }
  if (
    !isObject(dataRange) || typeof dataRange.start !== "string" ||
    typeof dataRange.end !== "string"
  ) {
    throw bad("dataRange", "must be { start: string, end: string }", dataRange);
  }
  const { trainedRanges } = json;
  const isRange = (r: unknown): r is { start: string; end: string } =>
    isObject(r) && typeof r.start === "string" && typeof r.end === "string" && r.start <= r.end;
  if (
    trainedRanges !== undefined && !(Array.isArray(trainedRanges) && trainedRanges.every(isRange))
  ) {
    throw bad("trainedRanges", "must be an array of { start: string, end: string }", trainedRanges);
  }
  if (typeof seed !== "number" || !Number.isInteger(seed)) {
    throw bad("seed", "must be an integer", seed);
  }
  if (typeof timesteps !== "number" || !Number.isInteger(timesteps) || timesteps < 0) {
    throw bad("timesteps", "must be an integer ≥ 0", timesteps);
  }
  if (resumedFrom !== undefined && resumedFrom !== null && typeof resumedFrom !== "string") {
    throw bad("resumedFrom", "must be a string or null", resumedFrom);
  }
  if (extra !== undefined && !isObject(extra)) throw bad("extra", "must be an object", extra);
  return {
    policy: parsedPolicy,
    ppo,
    env: parseEnvSettings(json.env ?? {}, `${at}.env`),
    features: { set: features.set, names: features.names },
    instruments,
    dataRange: { start: dataRange.start, end: dataRange.end },
    ...(trainedRanges === undefined ? {} : {
      trainedRanges: trainedRanges.map((r) => ({
        start: r.start,
        end: r.end,
      })),
    }),
    barSize: text("barSize"),
    seed,
    backend: text("backend"),
    timesteps,
    codeVersion: text("codeVersion"),
    ...(resumedFrom === undefined ? {} : { resumedFrom }),
    ...(extra === undefined ? {} : { extra }),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/**
 * Puts saved weights into a freshly created backend of the same config.
 * @param saved From {@linkcode loadModelDir}.
 * @param create Makes an untrained backend for a {@linkcode PolicyConfig}.
 * @returns The backend with the saved weights.
 * @example
 * ```ts
 * const backend = restorePolicy(saved, (c) => createKernelPolicy(c));
 * ```
 */
export function restorePolicy<B extends PolicyBackend>(
  saved: SavedModel,
  create: (config: PolicyConfig) => B,
): B {
  const backend = create(saved.manifest.config.policy);
  try {
    backend.importWeights(saved.weights);
  } catch (e) {
    backend.dispose();
    throw new Error(
      `Cannot load the weights of ${saved.dir} into the ${backend.name} backend: ${
        (e as Error).message
      }`,
      { cause: e },
    );
  }
  return backend;
}

/**
 * Concatenates weights as little-endian float32.
 * @param weights Named tensors.
 * @returns The bytes of `weights.bin`.
 * @example
 * ```ts
 * await Deno.writeFile("weights.bin", packWeights(backend.exportWeights()));
 * ```
 */
export function packWeights(weights: readonly NamedWeight[]): Uint8Array {
  const total = weights.reduce((s, w) => s + w.values.length, 0);
  const out = new Uint8Array(total * 4);
  const view = new DataView(out.buffer);
  let o = 0;
  for (const w of weights) {
    const expected = w.shape.reduce((a, b) => a * b, 1);
    if (expected !== w.values.length) {
      throw new TypeError(
        `Weight ${w.name}: shape [${w.shape}] needs ${expected} values, has ${w.values.length}`,
      );
    }
    for (let i = 0; i < w.values.length; i++, o += 4) view.setFloat32(o, w.values[i], true);
  }
  return out;
}

/**
 * Splits `weights.bin` back into named tensors.
 * @param bytes File content.
 * @param specs Names and shapes from the manifest, in file order.
 * @param where File name for error messages.
 * @returns Named tensors.
 * @throws {RangeError} When the byte length does not match the shapes.
 * @example
 * ```ts
 * const weights = unpackWeights(bytes, manifest.weightsManifest[0].weights);
 * ```
 */
export function unpackWeights(
  bytes: Uint8Array,
  specs: readonly { name: string; shape: number[] }[],
  where = "weights.bin",
): NamedWeight[] {
  const total = specs.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
  if (bytes.byteLength !== total * 4) {
    throw new RangeError(`${where}: ${bytes.byteLength} bytes, the manifest needs ${total * 4}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  return specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++, o += 4) values[i] = view.getFloat32(o, true);
    return { name: s.name, shape: [...s.shape], values };
  });
}

let cachedVersion: string | undefined;

/**
 * The git commit of the running code (with `+dirty` when tracked files under lib/ or
 * tasks/ have uncommitted changes), or `"unknown"` outside a git checkout.
 * @returns A version string for lineage.
 * @example
 * ```ts
 * config.codeVersion = await codeVersion(); // "9412c62…" or "unknown"
 * ```
 */
export async function codeVersion(): Promise<string> {
  if (cachedVersion !== undefined) return cachedVersion;
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", {
      args,
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  };
  try {
    const head = await git("rev-parse", "HEAD");
    if (!head) return (cachedVersion = "unknown");
    const dirty = await git("status", "--porcelain", "--untracked-files=no", "--", "lib", "tasks");
    cachedVersion = dirty ? `${head}+dirty` : head;
  } catch {
    cachedVersion = "unknown";
  }
  return cachedVersion;
}
