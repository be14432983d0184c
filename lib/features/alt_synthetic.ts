/**
 * Generated (not real) point-in-time alternative values over a bar calendar, for tests,
 * notebooks and demos of the as-of features: quarterly earnings reports with publication
 * lags and later revisions, their dates announced weeks ahead (some moved: the old date cancelled by a revision
 * with value 0), daily
 * sentiment scores known up to a day and a half late (some exactly at the close), sparse
 * insider trades filed days later, and a generic `generated:score` series. Every row's
 * `source` is `"generated"` and its `meta` says `{ generated: true }`.
 *
 * @module
 */
import type { AltValue } from "../db/alt_data_repo.ts";
import { decisionTimes } from "../data/decision_time.ts";
import { Rng } from "../util/rng.ts";
import { ALT_FIELDS } from "../db/alt_data_repo.ts";

/** The `source` of every generated value. */
export const GENERATED_ALT_SOURCE = "generated";

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * Generates alternative values for instruments over a calendar (seeded, deterministic).
 * @param instruments Instruments to generate for.
 * @param timestamps The bar calendar (epoch ms, ascending).
 * @param options `barSize` (default `"1 day"`), `seed` (default 1).
 * @returns Values (revisions as extra rows), every one labelled generated.
 * @example
 * ```ts
 * const values = syntheticAltValues(["AAPL"], prices.timestamps, { seed: 3 });
 * await upsertAltValues(store, values);
 * ```
 */
export function syntheticAltValues(
  instruments: readonly string[],
  timestamps: ArrayLike<number>,
  options: { barSize?: string; seed?: number } = {},
): AltValue[] {
  const rng = new Rng(options.seed ?? 1);
  const D = decisionTimes(timestamps, options.barSize ?? "1 day");
  const out: AltValue[] = [];
  const meta = { generated: true };
  for (const instrument of instruments) {
    const row = (field: string, eventTime: number, knownAt: number, value: number) =>
      out.push({
        source: GENERATED_ALT_SOURCE,
        instrument,
        field,
        eventTime,
        knownAt,
        value,
        meta,
      });
    let nextReport = rng.integer(5, 60);
    for (let k = 0; k < D.length; k++) {
      if (k === nextReport) {
        nextReport += rng.integer(58, 68);
        // After the close (or, one time in four, before the open of the next day).
        const report = rng.uniform() < 0.75
          ? D[k] + rng.integer(5, 120) * MIN
          : D[k] + rng.integer(14, 17) * HOUR;
        const surprise = Math.round(500 * rng.normal()) / 100;
        const published = report + rng.integer(0, 90) * MIN;
        row(ALT_FIELDS.surprise, report, published, surprise);
        if (rng.uniform() < 0.3) {
          const revised = published + rng.integer(1, 20) * DAY;
          row(
            ALT_FIELDS.surprise,
            report,
            revised,
            surprise + Math.round(100 * rng.normal()) / 100,
          );
        }
        const announced = report - rng.integer(7, 45) * DAY;
        if (rng.uniform() < 0.2) {
          // First announced two days later, then moved to the real date (0 cancels a date).
          row(ALT_FIELDS.announcement, report + 2 * DAY, announced - 10 * DAY, NaN);
          row(ALT_FIELDS.announcement, report + 2 * DAY, announced, 0);
        }
        row(ALT_FIELDS.announcement, report, announced, NaN);
      }
      const scores = rng.uniform() < 0.7 ? rng.integer(1, 2) : 0;
      for (let s = 0; s < scores; s++) {
        const at = D[k] - rng.integer(0, 24 * 60) * MIN;
        const known = rng.uniform() < 0.1 ? D[k] : at + rng.integer(0, 36 * 60) * MIN;
        const score = Math.round(1000 * Math.tanh(rng.normal())) / 1000;
        row(ALT_FIELDS.sentiment, at, known, score);
        if (rng.uniform() < 0.1) {
          row(ALT_FIELDS.sentiment, at, known + rng.integer(1, 5) * DAY, -score);
        }
      }
      if (rng.uniform() < 0.05) {
        const trade = D[k] - rng.integer(0, 3) * DAY - rng.integer(1, 6) * HOUR;
        const shares = Math.round(1000 * rng.normal());
        row(ALT_FIELDS.insider, trade, trade + rng.integer(1, 4) * DAY, shares);
      }
      if (rng.uniform() < 0.4) {
        const at = D[k] - rng.integer(0, 8 * 60) * MIN;
        row(
          "score",
          at,
          at + rng.integer(0, 48 * 60) * MIN,
          Math.round(1000 * rng.normal()) / 1000,
        );
      }
    }
  }
  return out;
}
