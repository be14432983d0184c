/**
 * Champion and challenger on the same bars (A/B): the champion trades as `trade` does
 * (paper, or the broker `makeBroker` builds), the challenger decides on the same bars
 * through the same trading cycle and is filled by a {@linkcode PaperBroker} in its own
 * account — it is never given `makeBroker`, so it never sends an order to IB. Both books
 * are persisted as trading runs, linked in `tt_ab_pairs` (`deno task models compare`
 * reads them). `split` (paper only) gives the champion that share of the starting
 * capital and the challenger the rest; without it (`shadow`) each book has the full
 * capital, as if it were the only one.
 *
 * Built on {@linkcode replayTrading} and {@linkcode tradeOnce}: the books are two runs of
 * the one cycle, one after the other; a replay checks that both decided on the same bars.
 *
 * @module
 */
import type { Store } from "../db/store.ts";
import { type AbPairRecord, recordAbPair } from "../db/model_ab_repo.ts";
import {
  cycleSummary,
  type ReplayResult,
  replaySummary,
  replayTrading,
  tradeOnce,
  type TradeOnceResult,
  type TradeOptions,
} from "./trade.ts";
import { resolveModel } from "./models.ts";

/** What {@linkcode replayShadow} and {@linkcode tradeShadowOnce} take. */
export interface ShadowOptions extends Omit<TradeOptions, "model"> {
  /** The champion (any model reference). */
  champion: string;
  /** The challenger: decides on the same bars, paper-filled in its own book. */
  challenger: string;
  /**
   * The champion's share of the starting capital, in (0, 1); the challenger gets the rest.
   * Paper only. Default: none (each book has the full capital; mode `shadow`).
   */
  split?: number;
  /** The challenger's paper account. Default `<champion's account>-CHALLENGER`. */
  challengerAccountId?: string;
}

/** What a shadow replay returns. */
export interface ShadowReplayResult {
  champion: ReplayResult;
  challenger: ReplayResult;
  pair: AbPairRecord;
}

/** What a shadow cycle returns. */
export interface ShadowCycleResult {
  champion: TradeOnceResult;
  challenger: TradeOnceResult;
  pair: AbPairRecord;
}

async function capitalOf(store: Store, o: ShadowOptions): Promise<
  { champion?: number; challenger?: number; split: number | null }
> {
  if (o.split === undefined) return { split: null };
  if (!(o.split > 0 && o.split < 1)) {
    throw new RangeError(`split = ${o.split}: the champion's share of capital must be in (0, 1)`);
  }
  if (o.makeBroker) {
    throw new RangeError(
      "split divides paper capital between two books; with a real broker use a shadow (no split)",
    );
  }
  const saved = await resolveModel(store, o.champion);
  const total = o.initialCash ?? saved.manifest.config.env.initialCash ?? 1_000_000;
  return { champion: total * o.split, challenger: total * (1 - o.split), split: o.split };
}

function sides(o: ShadowOptions, cap: { champion?: number; challenger?: number }, base: string) {
  const { champion, challenger, split: _s, challengerAccountId, ...common } = o;
  const champ: TradeOptions = {
    ...common,
    model: champion,
    initialCash: cap.champion ?? o.initialCash,
  };
  // The challenger: paper only (no makeBroker), its own account.
  const { makeBroker: _m, ...paperOnly } = common;
  const chall: TradeOptions = {
    ...paperOnly,
    model: challenger,
    accountId: challengerAccountId ?? `${base}-CHALLENGER`,
    initialCash: cap.challenger ?? o.initialCash,
  };
  return { champ, chall };
}

/**
 * Replays champion and challenger over the same historical range, each in its own paper
 * book, and links the two runs.
 * @param store The store.
 * @param options Both models, split, and the trade options; `start`, `end` the range.
 * @returns Both replays and their link.
 * @throws {RangeError} For a split outside (0, 1), or when the two did not decide on the same bars.
 * @example
 * ```ts
 * const ab = await replayShadow(store, { champion: "ppo@champion", challenger: "ppo@challenger", start: "2017-01-03" });
 * console.log(ab.champion.metrics.sharpe, ab.challenger.metrics.sharpe);
 * ```
 */
export async function replayShadow(
  store: Store,
  options: ShadowOptions & { start: string; end?: string },
): Promise<ShadowReplayResult> {
  const cap = await capitalOf(store, options);
  const base = options.accountId ?? "PAPER-REPLAY";
  const { champ, chall } = sides(options, cap, base);
  const a = await replayTrading(store, { ...champ, start: options.start, end: options.end });
  const b = await replayTrading(store, { ...chall, start: options.start, end: options.end });
  if (a.timestamps.join(",") !== b.timestamps.join(",")) {
    throw new RangeError(
      `Champion (run ${a.runId}, ${a.range.start}…${a.range.end}, ${a.timestamps.length} bars) and ` +
        `challenger (run ${b.runId}, ${b.range.start}…${b.range.end}, ${b.timestamps.length} bars) ` +
        `did not decide on the same bars (different universes or feature warm-ups): ` +
        `give both the same --symbols`,
    );
  }
  const pair = await recordAbPair(store, {
    championRunId: a.runId,
    challengerRunId: b.runId,
    championModelId: a.model.manifest.modelId ?? null,
    challengerModelId: b.model.manifest.modelId ?? null,
    mode: cap.split === null ? "shadow" : "split",
    split: cap.split,
  });
  return { champion: a, challenger: b, pair };
}

/**
 * One live cycle of champion and challenger on the newest bars: the champion through the
 * paper broker or `makeBroker`'s, the challenger through its own paper account (state kept
 * in the store between processes like any paper account). The link is recorded once per
 * pair of runs.
 * @param store The store.
 * @param options Both models, split (paper only), and the trade options.
 * @returns Both cycles and their link.
 * @throws {RangeError} For a split outside (0, 1) or with a real broker.
 * @example
 * ```ts
 * const ab = await tradeShadowOnce(store, { champion: "ppo@champion", challenger: "ppo@challenger" });
 * ```
 */
export async function tradeShadowOnce(
  store: Store,
  options: ShadowOptions,
): Promise<ShadowCycleResult> {
  const cap = await capitalOf(store, options);
  const champion = await resolveModel(store, options.champion);
  const base = options.accountId ?? `PAPER-${champion.manifest.modelId ?? champion.manifest.name}`;
  const { champ, chall } = sides(options, cap, base);
  const a = await tradeOnce(store, champ);
  const b = await tradeOnce(store, chall);
  const pair = await recordAbPair(store, {
    championRunId: a.runId,
    challengerRunId: b.runId,
    championModelId: a.model.manifest.modelId ?? null,
    challengerModelId: b.model.manifest.modelId ?? null,
    mode: cap.split === null ? "shadow" : "split",
    split: cap.split,
  });
  return { champion: a, challenger: b, pair };
}

/**
 * The one-line JSON of an A/B replay or cycle: each side's summary and the link.
 * @param r The result.
 * @returns A plain object `{ pairId, mode, split, champion, challenger }`.
 * @example
 * ```ts
 * console.log(JSON.stringify(shadowSummary(await replayShadow(store, opts))));
 * ```
 */
export function shadowSummary(r: ShadowReplayResult | ShadowCycleResult): Record<string, unknown> {
  const one = (x: ReplayResult | TradeOnceResult) =>
    "cycle" in x ? cycleSummary(x) : replaySummary(x);
  return {
    pairId: r.pair.id,
    mode: r.pair.mode,
    split: r.pair.split,
    champion: one(r.champion),
    challenger: one(r.challenger),
  };
}
