/**
 * The leaderboard of a sweep: settings ranked by their **out-of-sample** Sharpe ratio's
 * **median over seeds** (each seed's value the mean over its walk-forward folds), with
 * the inter-quartile range over seeds as its interval. Never by in-sample reward, never
 * by the best single seed: both reward luck. The winner comes with the selection-bias
 * figures of Bailey & López de Prado: how many configurations were tried, and the
 * deflated Sharpe ratio of the winner's median job (its PSR against the Sharpe ratio
 * the best of that many tries reaches by luck).
 *
 * @module
 */
import { deflatedSharpeRatio } from "../eval/deflated_sharpe.ts";
import { medianIndex, seedDistribution } from "../eval/seeds.ts";
import type { SweepJobResult } from "./run_job.ts";

/** What the leaderboard reads of a job. */
export interface LeaderboardJob {
  key: string;
  settingIndex: number;
  settingKey: string;
  seed: number;
  fold: number;
  state: string;
  /** Null until completed. */
  result: SweepJobResult | null;
}

/** One setting's line. */
export interface LeaderboardRow {
  /** 1 = best; settings without a completed job rank last. */
  rank: number;
  settingIndex: number;
  settingKey: string;
  jobs: { total: number; completed: number; failed: number };
  /** Every seed with a completed fold: its out-of-sample Sharpe (mean over its completed folds). */
  perSeed: { seed: number; sharpe: number; folds: number }[];
  /** Median over seeds of the out-of-sample Sharpe ratio (the ranking figure). */
  median: number;
  /** Its interval: the first and third quartiles over seeds. */
  interval: { q1: number; q3: number };
  /** Median over seeds of Sharpe(policy) − Sharpe(equal-weight buy & hold). */
  medianVsBuyAndHold: number;
  /** Every job of the setting completed. */
  complete: boolean;
}

/** The winner's selection-bias figures. */
export interface LeaderboardWinner {
  settingKey: string;
  median: number;
  interval: { q1: number; q3: number };
  /** Configurations tried (the N of the DSR). */
  trials: number;
  /** The job whose out-of-sample curve the DSR is computed on: the setting's median job by Sharpe. */
  medianJob: string;
  /** Deflated Sharpe ratio of that job. */
  deflatedSharpe: number;
  /** SR₀, the best-of-N Sharpe ratio expected by luck, annualised by the job's periods per year. */
  expectedMaxSharpe: number;
}

/** What {@linkcode sweepLeaderboard} returns. */
export interface Leaderboard {
  /** What is ranked. */
  metric: string;
  /** Configurations tried. */
  configurations: number;
  rows: LeaderboardRow[];
  winner: LeaderboardWinner | null;
  /** One paragraph: what the ranking means and how much luck could explain. */
  note: string;
}

/**
 * Ranks a sweep's settings by the median over seeds of their out-of-sample Sharpe ratio.
 * @param jobs Every job of the sweep (unfinished ones count in the progress columns).
 * @param configurations Settings tried (the N of the deflated Sharpe ratio), at least the settings seen.
 * @returns The rows, best first, and the winner with its deflated Sharpe ratio.
 * @example
 * ```ts
 * const board = sweepLeaderboard(jobs, 4);
 * console.log(board.rows[0].settingKey, board.rows[0].median, board.winner?.deflatedSharpe);
 * ```
 */
export function sweepLeaderboard(
  jobs: readonly LeaderboardJob[],
  configurations: number,
): Leaderboard {
  const bySetting = new Map<number, LeaderboardJob[]>();
  for (const j of jobs) {
    const list = bySetting.get(j.settingIndex) ?? [];
    list.push(j);
    bySetting.set(j.settingIndex, list);
  }
  const rows: Omit<LeaderboardRow, "rank">[] = [];
  for (const [settingIndex, list] of [...bySetting].sort((a, b) => a[0] - b[0])) {
    const done = list.filter((j) => j.result !== null);
    const seeds = [...new Set(done.map((j) => j.seed))].sort((a, b) => a - b);
    const perSeed = seeds.map((seed) => {
      const folds = done.filter((j) => j.seed === seed);
      return {
        seed,
        sharpe: folds.reduce((s, j) => s + j.result!.sharpe, 0) / folds.length,
        vs: folds.reduce((s, j) => s + j.result!.vsBuyAndHold.estimate, 0) / folds.length,
        folds: folds.length,
      };
    });
    const d = seedDistribution(perSeed.map((s) => s.sharpe));
    rows.push({
      settingIndex,
      settingKey: list[0].settingKey,
      jobs: {
        total: list.length,
        completed: done.length,
        failed: list.filter((j) => j.state === "failed").length,
      },
      perSeed: perSeed.map(({ seed, sharpe, folds }) => ({ seed, sharpe, folds })),
      median: d.median,
      interval: { q1: d.q1, q3: d.q3 },
      medianVsBuyAndHold: seedDistribution(perSeed.map((s) => s.vs)).median,
      complete: done.length === list.length,
    });
  }
  const key = (v: number) => (Number.isFinite(v) ? v : -Infinity);
  rows.sort((a, b) => key(b.median) - key(a.median) || a.settingIndex - b.settingIndex);
  const ranked = rows.map((r, i) => ({ rank: i + 1, ...r }));
  const trials = Math.max(configurations, ranked.length, 1);
  const winner = winnerOf(ranked, bySetting, trials);
  const metric = "out-of-sample Sharpe ratio, median over seeds (each seed: mean over its folds)";
  const note = winner === null
    ? "No job has completed yet."
    : `${trials} configuration${trials === 1 ? "" : "s"} tried; ranked by the ${metric}, ` +
      `never by in-sample reward or the best seed. The winner (${winner.settingKey}) has a median ` +
      `out-of-sample Sharpe of ${winner.median.toFixed(2)} (IQR ${winner.interval.q1.toFixed(2)}..${
        winner.interval.q3.toFixed(2)
      }); the best of ${trials} tries is expected to reach ${
        winner.expectedMaxSharpe.toFixed(2)
      } by luck alone, and its deflated Sharpe ratio is ${
        (winner.deflatedSharpe * 100).toFixed(1)
      } % (the probability that its true Sharpe ratio beats that).`;
  return { metric, configurations: trials, rows: ranked, winner, note };
}

function winnerOf(
  rows: readonly LeaderboardRow[],
  bySetting: Map<number, LeaderboardJob[]>,
  trials: number,
): LeaderboardWinner | null {
  const best = rows[0];
  if (!best || !Number.isFinite(best.median)) return null;
  const done = bySetting.get(best.settingIndex)!.filter((j) => j.result !== null);
  const mid = done[medianIndex(done.map((j) => j.result!.sharpe))];
  // V: the variance over settings of their median per-period Sharpe ratio.
  const perPeriod = rows.flatMap((r) => {
    const list = bySetting.get(r.settingIndex)!.filter((j) => j.result !== null);
    const m = seedDistribution(list.map((j) => j.result!.returns.sharpe)).median;
    return Number.isFinite(m) ? [m] : [];
  });
  const mean = perPeriod.reduce((s, v) => s + v, 0) / Math.max(1, perPeriod.length);
  const variance = perPeriod.length > 1
    ? perPeriod.reduce((s, v) => s + (v - mean) ** 2, 0) / (perPeriod.length - 1)
    : 0;
  const ret = mid.result!.returns;
  const dsr = deflatedSharpeRatio({
    sharpe: ret.sharpe,
    n: ret.n,
    skewness: ret.skewness,
    kurtosis: ret.kurtosis,
    trials,
    trialsVariance: variance,
  });
  // The job's annualisation: its annual Sharpe over its per-period one.
  const scale = ret.sharpe !== 0 && Number.isFinite(mid.result!.sharpe / ret.sharpe)
    ? mid.result!.sharpe / ret.sharpe
    : Math.sqrt(252);
  return {
    settingKey: best.settingKey,
    median: best.median,
    interval: best.interval,
    trials,
    medianJob: mid.key,
    deflatedSharpe: dsr.dsr,
    expectedMaxSharpe: dsr.expectedMaxSharpe * scale,
  };
}
