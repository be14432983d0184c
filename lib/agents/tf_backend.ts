/**
 * Chooses and initialises the tfjs backend: WebAssembly (default, fast on CPU),
 * plain JavaScript (`cpu`), or native TensorFlow through `@tensorflow/tfjs-node`
 * (opt-in, not a dependency of this project).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import { dirname } from "node:path";

/** The tfjs backends this project can run on. */
export const TF_BACKENDS = ["wasm", "cpu", "tensorflow"] as const;
/** One of {@linkcode TF_BACKENDS}. */
export type TfBackendName = typeof TF_BACKENDS[number];

let wasmPathsSet = false;

/**
 * Makes `backend` the active tfjs backend (idempotent).
 *
 * - `wasm`: loads the SIMD WebAssembly binaries from the installed
 *   `@tensorflow/tfjs-backend-wasm` package (no network); uses up to 2 threads when
 *   the runtime supports threaded wasm.
 * - `cpu`: tfjs's pure-JavaScript kernels (slow, but always available).
 * - `tensorflow`: native TensorFlow via `npm:@tensorflow/tfjs-node`, which is not
 *   installed by default: add `"@tensorflow/tfjs-node": "npm:@tensorflow/tfjs-node@4.22.0"`
 *   to deno.json "imports" and allow its install scripts.
 *
 * @param backend Which backend. Default `"wasm"`.
 * @returns The name tfjs reports for the active backend.
 * @example
 * ```ts
 * await initTf("wasm");
 * ```
 */
export async function initTf(backend: TfBackendName = "wasm"): Promise<string> {
  if (!(TF_BACKENDS as readonly string[]).includes(backend)) {
    throw new RangeError(
      `Unknown tfjs backend "${backend}"; choose one of ${TF_BACKENDS.join(", ")}`,
    );
  }
  if (backend === "wasm") {
    if (!wasmPathsSet) {
      const require = createRequire(import.meta.url);
      const file = require.resolve(
        "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
      );
      setWasmPaths(dirname(file) + "/");
      setThreadsCount(Math.max(1, Math.min(2, navigator.hardwareConcurrency ?? 1)));
      wasmPathsSet = true;
    }
  } else if (backend === "tensorflow") {
    const spec = "@tensorflow/tfjs-node";
    try {
      await import(spec);
    } catch (cause) {
      throw new Error(
        `The "tensorflow" backend needs npm:@tensorflow/tfjs-node, which is not installed. ` +
          `To opt in, add "@tensorflow/tfjs-node": "npm:@tensorflow/tfjs-node@4.22.0" to deno.json ` +
          `"imports" and run with --allow-scripts=npm:@tensorflow/tfjs-node; or use --backend wasm.`,
        { cause },
      );
    }
  }
  if (tf.getBackend() !== backend) {
    const ok = await tf.setBackend(backend);
    if (!ok) throw new Error(`tfjs could not initialise the "${backend}" backend`);
  }
  await tf.ready();
  return tf.getBackend();
}
