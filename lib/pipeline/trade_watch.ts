/**
 * `deno task trade --watch`: one live cycle ({@linkcode tradeOnce}) at each new bar. After
 * a cycle it polls the store every `pollMs` for a bar newer than the one it traded (the
 * ingest, e.g. a scheduled `deno task ingest --source ibkr`, brings it) and runs the next
 * cycle then; it stops between cycles when its `signal` aborts (SIGINT / SIGTERM in the
 * task), never in the middle of one.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import { perAssetTopology } from "../agents/per_asset.ts";
import { evaluationUniverse } from "./evaluate.ts";
import { storedRanges } from "./market.ts";
import { resolveModel } from "./models.ts";
import { tradeOnce, type TradeOnceResult, type TradeOptions } from "./trade.ts";

/**
 * The bar a live cycle decides at: the newest date every instrument of the model has
 * (the rule `tradeOnce` uses).
 * @param store The store.
 * @param options The model and, optionally, its instruments.
 * @returns The date (`YYYY-MM-DD`), or null when an instrument has no bars.
 * @example
 * ```ts
 * await newestDecisionBar(store, { model: "1" }); // "2018-05-11"
 * ```
 */
export async function newestDecisionBar(
  store: Store,
  options: Pick<TradeOptions, "model" | "symbols">,
): Promise<string | null> {
  const saved = await resolveModel(store, options.model);
  const cfg = saved.manifest.config;
  const perAsset = perAssetTopology(cfg.policy) !== null;
  const instruments = evaluationUniverse(cfg.instruments, options.symbols, { perAsset });
  const spans = (await storedRanges(store, cfg.barSize)).filter((r) =>
    instruments.includes(r.instrument)
  );
  if (spans.length < instruments.length) return null;
  return spans.map((r) => r.last).sort()[0] ?? null;
}

/** How {@linkcode watchTrading} waits and reports. */
export interface WatchOptions {
  /** Real ms between polls of the store for a newer bar. */
  pollMs: number;
  /** Stops the watch between cycles (and ends a wait at once). */
  signal: AbortSignal;
  /** After each cycle. */
  onCycle?: (r: TradeOnceResult) => void;
  /** When the watch starts waiting for the bar after `lastBar` (`YYYY-MM-DD`). */
  onWait?: (lastBar: string) => void;
  /** Stop after this many cycles (tests). Default unlimited. */
  maxCycles?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/**
 * Runs a live cycle now and again at each new bar until `signal` aborts.
 * @param store The store.
 * @param options As for {@linkcode tradeOnce}.
 * @param watch Poll interval, stop signal, callbacks.
 * @returns The cycles run, oldest first.
 * @example
 * ```ts
 * const stop = new AbortController();
 * Deno.addSignalListener("SIGINT", () => stop.abort());
 * await watchTrading(store, { model: "1" }, { pollMs: 60_000, signal: stop.signal });
 * ```
 */
export async function watchTrading(
  store: Store,
  options: TradeOptions,
  watch: WatchOptions,
): Promise<TradeOnceResult[]> {
  if (!(watch.pollMs > 0)) {
    throw new RangeError(`watchTrading(): pollMs must be positive, got ${watch.pollMs}`);
  }
  const out: TradeOnceResult[] = [];
  let last: string | null = null;
  while (!watch.signal.aborted && out.length < (watch.maxCycles ?? Infinity)) {
    const newest = await newestDecisionBar(store, options);
    if (newest !== null && (last === null || newest > last)) {
      const r = await tradeOnce(store, options);
      out.push(r);
      watch.onCycle?.(r);
      last = newest;
      if (out.length >= (watch.maxCycles ?? Infinity)) break;
      watch.onWait?.(last);
    }
    await sleep(watch.pollMs, watch.signal);
  }
  return out;
}
