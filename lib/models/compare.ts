/**
 * Champion against challenger on the same bars: the paired difference of their returns
 * with the block-bootstrap interval of the Sharpe-ratio difference the evaluation uses
 * (`sharpeDifferenceCI`, `lib/eval/statistics.ts`), and a verdict — `promote`,
 * `not-enough-evidence` or `challenger-worse`.
 *
 * Honesty rules: the verdict is read off one interval at one confidence level fixed in
 * advance; when the evidence is not enough the report says how many more bars the
 * interval would need to exclude 0 **if the observed difference were the true one**
 * (the half-width shrinks as 1/√n) — a projection, not a promise, and re-testing every
 * day until it passes inflates false promotions (optional stopping), which the text says.
 *
 * The two return series come from two books of an A/B pair (`tt_ab_pairs`, both runs'
 * `tt_exec_account` curves) or from two evaluation episodes of the two models over the
 * same range; they are aligned on the bars both have.
 *
 * @module
 */
import type { Queryable } from "../db/store.ts";
import type { ModelRecord } from "../db/models_repo.ts";
import { listAbPairs } from "../db/model_ab_repo.ts";
import { readAccountCurve } from "../db/execution_repo.ts";
import { listEpisodes, readEpisode } from "../db/episodes_repo.ts";
import { inferPeriodsPerYear, sharpeRatio, simpleReturns } from "../eval/metrics.ts";
import { type SharpeDifferenceCI, sharpeDifferenceCI } from "../eval/statistics.ts";

/** The three outcomes of a comparison. */
export const COMPARE_VERDICTS = ["promote", "not-enough-evidence", "challenger-worse"] as const;
/** One of {@linkcode COMPARE_VERDICTS}. */
export type CompareVerdict = typeof COMPARE_VERDICTS[number];

/** An equity curve at bar closes (epoch ms). */
export interface Curve {
  timestamps: readonly number[];
  equity: readonly number[];
}

/** Options of {@linkcode compareCurves}. */
export interface CompareOptions {
  /** Confidence of the interval. Default 0.95. */
  confidence?: number;
  /** Bootstrap resamples. Default 2000 (as the evaluation). */
  resamples?: number;
  /** Seed of the resampling. Default 0. */
  seed?: number;
  /** Periods per year. Default inferred from the bars. */
  periodsPerYear?: number;
}

/** What {@linkcode compareCurves} finds. */
export interface CurveComparison {
  verdict: CompareVerdict;
  /** Bars both curves have (returns = bars − 1). */
  bars: number;
  range: { start: number; end: number };
  periodsPerYear: number;
  /** Annualised Sharpe ratios of each on the common bars. */
  champion: { sharpe: number; totalReturn: number };
  challenger: { sharpe: number; totalReturn: number };
  /** Paired return difference challenger − champion: mean per bar, annualised mean, cumulative. */
  paired: { meanPerBar: number; annualised: number; cumulative: number; trackingError: number };
  /** Bootstrap interval of Sharpe(challenger) − Sharpe(champion). */
  sharpeDifference: SharpeDifferenceCI;
  /**
   * When the verdict is `not-enough-evidence` and the challenger is ahead: bars in total
   * (and more than now) for the interval to exclude 0 at the observed difference; null otherwise.
   */
  moreData: { totalBars: number; moreBars: number; years: number } | null;
  /** The verdict in words, with the caveats. */
  text: string;
}

/**
 * Aligns two curves on the bars both have.
 * @param a A curve.
 * @param b Another curve.
 * @returns The common timestamps and both equities on them.
 * @example
 * ```ts
 * const { timestamps, a: ea, b: eb } = alignCurves(champ, chall);
 * ```
 */
export function alignCurves(
  a: Curve,
  b: Curve,
): { timestamps: number[]; a: number[]; b: number[] } {
  const at = new Map<number, number>();
  b.timestamps.forEach((t, i) => at.set(t, b.equity[i]));
  const timestamps: number[] = [], ea: number[] = [], eb: number[] = [];
  a.timestamps.forEach((t, i) => {
    const v = at.get(t);
    if (v !== undefined && Number.isFinite(v) && Number.isFinite(a.equity[i])) {
      timestamps.push(t);
      ea.push(a.equity[i]);
      eb.push(v);
    }
  });
  return { timestamps, a: ea, b: eb };
}

/**
 * Compares a challenger's curve with the champion's on their common bars (see the module notes).
 * @param champion The incumbent's curve.
 * @param challenger The candidate's curve.
 * @param options Confidence, resamples, seed, periods per year.
 * @returns Verdict, paired difference, interval, and how much more data would be needed.
 * @throws {RangeError} With fewer than 4 common bars.
 * @example
 * ```ts
 * const c = compareCurves(championCurve, challengerCurve, { seed: 1 });
 * if (c.verdict === "promote") console.log(c.text);
 * ```
 */
export function compareCurves(
  champion: Curve,
  challenger: Curve,
  options: CompareOptions = {},
): CurveComparison {
  const al = alignCurves(champion, challenger);
  const bars = al.timestamps.length;
  if (bars < 4) {
    throw new RangeError(
      `The two curves share ${bars} bars; a comparison needs at least 4 (same range, same bar size)`,
    );
  }
  const ppy = options.periodsPerYear ?? inferPeriodsPerYear(al.timestamps);
  const ra = simpleReturns(al.a), rb = simpleReturns(al.b);
  const ci = sharpeDifferenceCI(rb, ra, {
    periodsPerYear: ppy,
    confidence: options.confidence,
    resamples: options.resamples,
    seed: options.seed ?? 0,
  });
  const n = ra.length;
  let sum = 0, sq = 0;
  for (let i = 0; i < n; i++) sum += rb[i] - ra[i];
  const mean = sum / n;
  for (let i = 0; i < n; i++) sq += (rb[i] - ra[i] - mean) ** 2;
  const te = Math.sqrt(sq / Math.max(1, n - 1)) * Math.sqrt(ppy);
  const total = (e: number[]) => e[e.length - 1] / e[0] - 1;
  const verdict: CompareVerdict = ci.lower > 0
    ? "promote"
    : ci.upper < 0
    ? "challenger-worse"
    : "not-enough-evidence";
  let moreData: CurveComparison["moreData"] = null;
  const level = `${Math.round(ci.confidence * 100)} %`;
  const range = `[${ci.lower.toFixed(2)}, ${ci.upper.toFixed(2)}]`;
  const head = `Sharpe(challenger) − Sharpe(champion) = ${
    ci.estimate.toFixed(2)
  } over ${n} returns, ${level} block-bootstrap interval ${range}`;
  let text: string;
  if (verdict === "promote") {
    text = `${head}: the challenger is better and the interval excludes 0 — promote.`;
  } else if (verdict === "challenger-worse") {
    text = `${head}: the challenger is worse, not by luck — keep the champion.`;
  } else if (ci.estimate > 0) {
    const half = (ci.upper - ci.lower) / 2;
    const totalBars = Math.ceil(n * (half / ci.estimate) ** 2) + 1;
    moreData = {
      totalBars,
      moreBars: Math.max(1, totalBars - bars),
      years: Math.max(1, totalBars - bars) / ppy,
    };
    text = `${head}, which includes 0: not enough evidence. If the observed difference were ` +
      `the true one, about ${moreData.moreBars} more bars (~${
        moreData.years.toFixed(1)
      } years) would make the interval exclude 0; that is a projection, and checking again ` +
      `every bar until it passes inflates false promotions — fix the date of the next look.`;
  } else {
    text = `${head}, which includes 0: not enough evidence, and the challenger is not ahead — ` +
      `more data at this difference would not make it a promotion.`;
  }
  return {
    verdict,
    bars,
    range: { start: al.timestamps[0], end: al.timestamps[bars - 1] },
    periodsPerYear: ppy,
    champion: { sharpe: sharpeRatio(ra, { periodsPerYear: ppy }), totalReturn: total(al.a) },
    challenger: { sharpe: sharpeRatio(rb, { periodsPerYear: ppy }), totalReturn: total(al.b) },
    paired: {
      meanPerBar: mean,
      annualised: mean * ppy,
      cumulative: total(al.b) - total(al.a),
      trackingError: te,
    },
    sharpeDifference: ci,
    moreData,
    text,
  };
}

/** Where the two return series of {@linkcode compareModels} come from. */
export type CompareSource = "auto" | "books" | "episodes";

/** What {@linkcode compareModels} returns. */
export interface ModelComparison extends CurveComparison {
  /** `books` (an A/B pair's two trading runs) or `episodes` (two evaluation episodes). */
  source: "books" | "episodes";
  championModelId: number;
  challengerModelId: number;
  /** The A/B pair and its runs (books), or the two episode ids (episodes). */
  pairId: number | null;
  championRunId: number | null;
  challengerRunId: number | null;
  championEpisodeId: number | null;
  challengerEpisodeId: number | null;
}

/**
 * Compares two registered models: `books` — the newest A/B pair of trading runs of the
 * two (`deno task trade --shadow`); `episodes` — their newest evaluation episodes over the
 * same range (`deno task evaluate` of both with the same dates); `auto` — books when a
 * pair exists, else episodes.
 * @param q The store.
 * @param champion The incumbent (A).
 * @param challenger The candidate (B).
 * @param options Source, and the interval's options.
 * @returns The comparison with where its data came from.
 * @throws {RangeError} When neither an A/B pair nor two evaluations over the same range exist.
 * @example
 * ```ts
 * const c = await compareModels(store, await lookupModelRef(store, "ppo@champion"), await lookupModelRef(store, "ppo@challenger"));
 * console.log(c.verdict, c.text);
 * ```
 */
export async function compareModels(
  q: Queryable,
  champion: ModelRecord,
  challenger: ModelRecord,
  options: CompareOptions & { source?: CompareSource } = {},
): Promise<ModelComparison> {
  if (champion.id === challenger.id) {
    throw new RangeError(`Both sides are model ${champion.id}: compare two different models`);
  }
  const source = options.source ?? "auto";
  const base = {
    championModelId: champion.id,
    challengerModelId: challenger.id,
    pairId: null,
    championRunId: null,
    challengerRunId: null,
    championEpisodeId: null,
    challengerEpisodeId: null,
  };
  if (source !== "episodes") {
    const pairs = await listAbPairs(q, { models: [champion.id, challenger.id] });
    const pair = pairs[0];
    if (pair) {
      // The roles are the caller's: A is the champion whatever the pair called it.
      const [ra, rb] = pair.championModelId === champion.id
        ? [pair.championRunId, pair.challengerRunId]
        : [pair.challengerRunId, pair.championRunId];
      const curve = async (runId: number): Promise<Curve> => {
        const rows = await readAccountCurve(q, runId);
        return { timestamps: rows.map((r) => r.bar), equity: rows.map((r) => r.netLiquidation) };
      };
      const c = compareCurves(await curve(ra), await curve(rb), options);
      return {
        ...c,
        ...base,
        source: "books",
        pairId: pair.id,
        championRunId: ra,
        challengerRunId: rb,
      };
    }
    if (source === "books") {
      throw new RangeError(
        `No A/B pair of models ${champion.id} and ${challenger.id}: run ` +
          `deno task trade --model ${champion.id} --shadow ${challenger.id} (or compare --source episodes)`,
      );
    }
  }
  const ea = await listEpisodes(q, { kind: "eval", modelId: champion.id, limit: 200 });
  const eb = await listEpisodes(q, { kind: "eval", modelId: challenger.id, limit: 200 });
  const key = (e: { startTime: Date | null; endTime: Date | null }) =>
    `${e.startTime?.getTime()}|${e.endTime?.getTime()}`;
  const byRange = new Map(ea.map((e) => [key(e), e]));
  const match = eb.find((e) => e.startTime !== null && byRange.has(key(e)));
  if (!match) {
    throw new RangeError(
      `Models ${champion.id} and ${challenger.id} have no A/B pair and no evaluation episodes over ` +
        `the same range: run deno task evaluate for both with the same --start/--end, ` +
        `or deno task trade --model ${champion.id} --shadow ${challenger.id}`,
    );
  }
  const other = byRange.get(key(match))!;
  const curve = async (id: number): Promise<Curve> => {
    const d = await readEpisode(q, id);
    if (!d) throw new RangeError(`Episode ${id} disappeared while comparing`);
    return { timestamps: d.equity.timestamp, equity: d.equity.netWorth };
  };
  const c = compareCurves(await curve(other.id), await curve(match.id), options);
  return {
    ...c,
    ...base,
    source: "episodes",
    championEpisodeId: other.id,
    challengerEpisodeId: match.id,
  };
}
