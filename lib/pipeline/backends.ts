/**
 * Choosing the network backend by name (`--backend`): the hand-written WebAssembly
 * kernel, or `@tensorflow/tfjs` on one of its backends.
 *
 * @module
 */
import type { PolicyBackend, PolicyConfig } from "../agents/policy.ts";
import { createKernelPolicy } from "../agents/kernel_policy.ts";
import { createTfjsPolicy } from "../agents/tfjs_policy.ts";
import { initTf, type TfBackendName } from "../agents/tf_backend.ts";

/** Backend names for `--backend`: `auto` = `kernel` for continuous actions, `wasm` for discrete ones. */
export const BACKEND_NAMES = ["auto", "kernel", "wasm", "cpu", "tensorflow"] as const;
/** One of {@linkcode BACKEND_NAMES}. */
export type BackendName = typeof BACKEND_NAMES[number];

/**
 * The concrete backend `auto` resolves to for a policy.
 * @param name Requested backend.
 * @param config The policy's config (its action kind decides `auto`).
 * @returns A backend name other than `auto`.
 * @throws {RangeError} For `kernel` with a discrete action (the kernel is Gaussian-only).
 * @example
 * ```ts
 * resolveBackendName("auto", config); // "kernel" or "wasm"
 * ```
 */
export function resolveBackendName(
  name: BackendName,
  config: PolicyConfig,
): Exclude<BackendName, "auto"> {
  if (name === "auto") return config.action.kind === "gaussian" ? "kernel" : "wasm";
  if (name === "kernel" && config.action.kind !== "gaussian") {
    throw new RangeError(
      "The kernel backend supports continuous (Gaussian) actions only; use --backend wasm (or auto) with --action discrete",
    );
  }
  return name;
}

/**
 * Creates an untrained network on the named backend (initialising tfjs when needed).
 * @param name Backend name.
 * @param config Network settings.
 * @returns The backend; dispose it when done.
 * @example
 * ```ts
 * const backend = await createPolicyBackend("auto", policyConfigForSpaces(vec.observationSpace, vec.actionSpace));
 * ```
 */
export async function createPolicyBackend(
  name: BackendName,
  config: PolicyConfig,
): Promise<PolicyBackend> {
  const resolved = resolveBackendName(name, config);
  if (resolved === "kernel") return createKernelPolicy(config);
  await initTf(resolved as TfBackendName);
  return createTfjsPolicy(config);
}
