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
 * Integrity: a directory is written whole or not at all (files go to a temporary
 * directory beside the target, which is then renamed into place, see
 * `replaceDirAtomic` in lib/util/atomic.ts), never into a directory that holds files,
 * and `model.json` records the SHA-256 of every other file (`checksums`).
 * {@linkcode loadModelDir} verifies them and refuses a truncated or changed file by
 * name; a model saved before checksums were recorded loads with a warning. Weight
 * paths in the manifest must stay inside the directory.
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
import { isAbsolute, join, normalize, resolve, sep } from "node:path";
import { type EnvSettings, parseEnvSettings } from "../env/settings.ts";
import { dataDir, PROJECT_ROOT } from "../util/paths.ts";
import { DirectoryNotEmptyError, isFreeDir, replaceDirAtomic } from "../util/atomic.ts";
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
  /**
   * SHA-256 (lower-case hex) of every other file of the directory, by file name
   * (`weights.bin`, `obs_norm.json`). Absent in models saved before it was recorded.
   */
  checksums?: Record<string, string>;
}

/** A model read back from disk. */
export interface SavedModel {
  /** Absolute directory. */
  dir: string;
  manifest: ModelManifest;
  weights: NamedWeight[];
  /** Normaliser statistics, or null when the model does not normalise observations. */
  obsNorm: ObsNormStats | null;
  /**
   * SHA-256 of every file of the directory as written or read, `model.json` included
   * (what the registry records to recognise this directory).
   */
  fileChecksums: Record<string, string>;
  /** Things the user should be told (e.g. a model saved without checksums); one line each. */
  warnings: string[];
}

/** A model file is missing, truncated or changed since it was saved. */
export class ModelIntegrityError extends Error {
  /** The offending file (absolute). */
  readonly file: string;
  /**
   * @param file The file.
   * @param message What is wrong with it (the file is named by the caller).
   */
  constructor(file: string, message: string) {
    super(message);
    this.name = "ModelIntegrityError";
    this.file = file;
  }
}

/** Options of {@linkcode saveModel}. */
export interface SaveModelOptions {
  /** Registry name. Default {@linkcode DEFAULT_MODEL_NAME}. */
  name?: string;
  /**
   * Directory to write; it must not exist or be empty (a {@linkcode DirectoryNotEmptyError}
   * otherwise). Default `<dataDir>/models/<name>-v<version>` (or `-<timestamp>`
   * unregistered), with `-2`, `-3` … appended when that one holds files.
   */
  dir?: string;
  /** The model's registry id and version, recorded in `model.json`. Omit for an unregistered model. */
  registration?: { modelId: number; version: number };
  /** Observation-normaliser statistics to save with it. */
  obsNorm?: ObsNormStats | null;
}

/**
 * Throws when `dir` holds files: a model is never written over another (two registry
 * rows would share one path, and a half-overwritten directory would mix two models).
 * @param dir The intended model directory.
 * @returns Nothing when `dir` is missing or an empty directory.
 * @throws {DirectoryNotEmptyError} Naming the directory and what to do.
 * @example
 * ```ts
 * await assertModelDirFree(args.out); // before training, so no run is wasted
 * ```
 */
export async function assertModelDirFree(dir: string): Promise<void> {
  const abs = resolveDir(dir);
  if (!(await isFreeDir(abs))) throw modelDirTaken(abs);
}

function modelDirTaken(abs: string): DirectoryNotEmptyError {
  return new DirectoryNotEmptyError(
    abs,
    `Model directory ${abs} is not empty: a model is never written over another; ` +
      `choose a new directory (or remove this one first)`,
  );
}

/**
 * Writes a model directory all or nothing: the files go to a temporary directory
 * beside the target, `model.json` records their SHA-256, and the directory is renamed
 * into place. A kill or an error leaves no directory (and the target as it was).
 *
 * @param backend The trained network (its weights are exported).
 * @param config See {@linkcode ModelConfig}.
 * @param options See {@linkcode SaveModelOptions}.
 * @returns What was written (absolute directory, manifest, weights, checksums).
 * @throws {DirectoryNotEmptyError} When `options.dir` holds files.
 * @throws {TypeError} For a bad name, or a config that normalises observations without `obsNorm`.
 * @example
 * ```ts
 * const saved = await saveModel(backend, config, { obsNorm: summary.obsNormalizer?.toJSON() });
 * console.log(saved.dir, saved.manifest.checksums?.["weights.bin"]);
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
  const reg = options.registration;
  let dir: string;
  if (options.dir !== undefined) {
    dir = resolveDir(options.dir);
    await assertModelDirFree(dir);
  } else {
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
    const base = join(dataDir(), "models", `${name}-${reg ? `v${reg.version}` : stamp}`);
    dir = base;
    // A directory left by another store (or a deleted registry row) keeps its files.
    for (let n = 2; !(await isFreeDir(dir)); n++) dir = `${base}-${n}`;
  }
  const files: [string, Uint8Array][] = [["weights.bin", packWeights(weights)]];
  if (options.obsNorm) {
    files.push(["obs_norm.json", new TextEncoder().encode(JSON.stringify(options.obsNorm))]);
  }
  const checksums: Record<string, string> = {};
  for (const [file, bytes] of files) checksums[file] = await sha256Hex(bytes);
  const manifest: ModelManifest = {
    format: MODEL_FORMAT,
    name,
    modelId: reg?.modelId ?? null,
    version: reg?.version ?? null,
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
    checksums,
  };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
  files.push(["model.json", manifestBytes]);
  try {
    await replaceDirAtomic(dir, async (tmp) => {
      for (const [file, bytes] of files) await Deno.writeFile(join(tmp, file), bytes);
    });
  } catch (e) {
    if (e instanceof DirectoryNotEmptyError) throw modelDirTaken(dir);
    throw e;
  }
  return {
    dir,
    manifest,
    weights,
    obsNorm: options.obsNorm ?? null,
    fileChecksums: { ...checksums, "model.json": await sha256Hex(manifestBytes) },
    warnings: [],
  };
}

/**
 * SHA-256 of some bytes.
 * @param bytes The content.
 * @returns Lower-case hex, 64 characters.
 * @example
 * ```ts
 * await sha256Hex(new TextEncoder().encode("abc")); // "ba7816bf…"
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function resolveDir(dir: string): string {
  return isAbsolute(dir) ? dir : resolve(Deno.cwd(), dir);
}

/**
 * Reads a model directory and verifies it: every file against the SHA-256 recorded in
 * `model.json` (a model saved before checksums were recorded loads with a warning in
 * `warnings`), weight paths inside the directory, sizes against the manifest.
 * Nothing is half-loaded: any failure throws before weights are returned.
 * @param dir A directory written by {@linkcode saveModel}.
 * @returns The manifest, weights, normaliser statistics, checksums and warnings.
 * @throws {Error} When `model.json` is missing.
 * @throws {TypeError} When `model.json` is not this format, or a weight path leaves the directory.
 * @throws {ModelIntegrityError} When a file is missing, truncated or changed (naming the file).
 * @throws {RangeError} When `weights.bin` has the wrong size for the manifest (unverified models).
 * @example
 * ```ts
 * const saved = await loadModelDir("data/models/ppo-portfolio-v1");
 * for (const w of saved.warnings) console.warn(w);
 * ```
 */
export async function loadModelDir(dir: string): Promise<SavedModel> {
  const abs = resolveDir(dir);
  const manifestFile = join(abs, "model.json");
  let manifestBytes: Uint8Array;
  try {
    manifestBytes = await Deno.readFile(manifestFile);
  } catch (e) {
    throw new Error(`No model at ${abs}: cannot read model.json (${(e as Error).message})`, {
      cause: e,
    });
  }
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch (e) {
    throw new SyntaxError(`${manifestFile} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(manifest) || manifest.format !== MODEL_FORMAT) {
    throw new TypeError(
      `${manifestFile}: format ${
        JSON.stringify(isObject(manifest) ? manifest.format : manifest)
      }, expected ${MODEL_FORMAT}`,
    );
  }
  manifest.config = parseModelConfig(manifest.config, manifestFile);
  const groups = parseWeightsManifest(manifest.weightsManifest, manifestFile);
  const checksums = parseChecksums(manifest.checksums, manifestFile);
  const warnings: string[] = [];
  if (checksums === null) {
    warnings.push(
      `${manifestFile} has no checksums (saved before they were recorded): its files are loaded unverified`,
    );
  }
  const fileChecksums: Record<string, string> = { "model.json": await sha256Hex(manifestBytes) };
  const read = async (file: string, required: boolean): Promise<Uint8Array | null> => {
    const path = await insideDir(abs, file, manifestFile);
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      if (!required && !(checksums && file in checksums)) return null;
      throw new ModelIntegrityError(path, `${path} is missing: the model is incomplete`);
    }
    const actual = await sha256Hex(bytes);
    if (checksums) {
      const expected = checksums[file];
      if (expected === undefined) {
        throw new ModelIntegrityError(
          path,
          `${path} is not listed in ${manifestFile}'s checksums: the directory was changed after it was saved`,
        );
      }
      if (actual !== expected) {
        throw new ModelIntegrityError(
          path,
          `${path} does not match its checksum in ${manifestFile} (SHA-256 ${actual}, ` +
            `recorded ${expected}, ${bytes.byteLength} bytes): the file is truncated or was ` +
            `changed; the model is refused`,
        );
      }
    }
    fileChecksums[file] = actual;
    return bytes;
  };
  const weights: NamedWeight[] = [];
  for (const group of groups) {
    const parts: Uint8Array[] = [];
    for (const p of group.paths) parts.push((await read(p, true))!);
    const bytes = parts.length === 1 ? parts[0] : concatBytes(parts);
    weights.push(...unpackWeights(bytes, group.weights, join(abs, group.paths.join("+"))));
  }
  const normBytes = await read("obs_norm.json", false);
  let obsNorm: ObsNormStats | null = null;
  if (normBytes) {
    try {
      obsNorm = JSON.parse(new TextDecoder().decode(normBytes));
    } catch (e) {
      throw new SyntaxError(
        `${join(abs, "obs_norm.json")} is not valid JSON: ${(e as Error).message}`,
      );
    }
  }
  if (manifest.config.ppo.normalizeObs && !obsNorm) {
    throw new Error(`${abs}: the model normalises observations but obs_norm.json is missing`);
  }
  if (checksums) {
    for (const file of Object.keys(checksums)) {
      if (!(file in fileChecksums)) await read(file, true);
    }
  }
  return { dir: abs, manifest, weights, obsNorm, fileChecksums, warnings };
}

type WeightGroup = ModelManifest["weightsManifest"][number];

function parseWeightsManifest(v: unknown, where: string): WeightGroup[] {
  const bad = (what: string) => new TypeError(`${where}: weightsManifest${what}`);
  if (!Array.isArray(v) || v.length === 0) throw bad(" must be a non-empty array");
  return v.map((g, i) => {
    if (!isObject(g) || !isStrings(g.paths) || g.paths.length === 0) {
      throw bad(`[${i}].paths must be a non-empty array of file names`);
    }
    if (!Array.isArray(g.weights)) throw bad(`[${i}].weights must be an array`);
    for (const [j, w] of g.weights.entries()) {
      if (
        !isObject(w) || typeof w.name !== "string" || !Array.isArray(w.shape) ||
        !w.shape.every((d: unknown) => typeof d === "number" && Number.isInteger(d) && d >= 0) ||
        (w.dtype !== undefined && w.dtype !== "float32")
      ) {
        throw bad(`[${i}].weights[${j}] must be { name, shape: integer[], dtype: "float32" }`);
      }
    }
    for (const p of g.paths) safeRelative(p, where);
    return g as WeightGroup;
  });
}

function parseChecksums(v: unknown, where: string): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw new TypeError(`${where}: checksums must be an object`);
  for (const [file, sum] of Object.entries(v)) {
    safeRelative(file, where);
    if (typeof sum !== "string" || !/^[0-9a-f]{64}$/.test(sum)) {
      throw new TypeError(
        `${where}: checksums.${file} must be a SHA-256 in hex, got ${JSON.stringify(sum)}`,
      );
    }
  }
  return v as Record<string, string>;
}

/** A file name of the manifest must be a plain relative path inside the directory. */
function safeRelative(p: string, where: string): string {
  const norm = normalize(p.replaceAll("\\", "/"));
  if (
    p === "" || isAbsolute(p) || /^[A-Za-z]:/.test(p) || p.includes("\\") || p.includes("\0") ||
    norm.split("/").includes("..") || norm === "." || p === "model.json"
  ) {
    throw new TypeError(
      `${where}: file ${JSON.stringify(p)} must be a relative path inside the model directory ` +
        `(no "..", no absolute path)`,
    );
  }
  return norm;
}

/** The absolute path of `file` in `dir`, refusing one that resolves (or links) outside it. */
async function insideDir(dir: string, file: string, where: string): Promise<string> {
  const path = resolve(dir, safeRelative(file, where));
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return path;
    throw e;
  }
  const root = await Deno.realPath(dir);
  if (!real.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new TypeError(`${where}: file ${JSON.stringify(file)} leads outside ${dir} (to ${real})`);
  }
  return path;
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
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
