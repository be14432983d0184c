import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { readFeatures, readSignalScores, upsertFeatures, upsertPrices } from "@lib/db/mod.ts";
import {
  computeFeatures,
  FEATURE_SETS,
  lookback,
  refreshFeatures,
  refreshSignals,
  syntheticBarColumns,
  syntheticBars,
} from "@lib/features/mod.ts";
import { storeFactories } from "./support/stores.ts";

const BARS = syntheticBarColumns(syntheticBars(4, 140, 5));

async function count(
  store: { query: <T>(sql: string) => Promise<T[]> },
  table: string,
): Promise<number> {
  const [r] = await store.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${table}`);
  return r.n;
}

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] refreshFeatures() writes every defined value once and a rerun changes nothing`, async () => {
    const store = await factory.open();
    try {
      await upsertPrices(store, "1 day", BARS);
      let commits = 0;
      const first = await refreshFeatures(store, {
        set: "spec",
        rowsPerTransaction: 10_000,
        onCommit: () => commits++,
      });
      // S · (14·D − 514) for the SPEC set.
      assert.equal(first.rowsWritten, 4 * (14 * 140 - 514));
      assert.equal(commits, Math.ceil(first.rowsWritten / 10_000), "one transaction per batch");
      assert.equal(await count(store, "tt_features"), first.rowsWritten);
      const before = await readFeatures(store, {});
      const again = await refreshFeatures(store, { set: "spec" });
      assert.equal(again.rowsWritten, first.rowsWritten);
      assert.equal(await count(store, "tt_features"), first.rowsWritten);
      assert.deepEqual(await readFeatures(store, {}), before);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] readFeatures() returns the computed values; a changed bar overwrites them`, async () => {
    const store = await factory.open();
    try {
      await upsertPrices(store, "1 day", BARS);
      await refreshFeatures(store, { set: "basic" });
      const frame = computeFeatures(BARS, { set: "basic" });
      const sym = "SYM0002";
      const got = await readFeatures(store, { instruments: [sym], names: ["vol_20"] });
      assert.equal(got.instrument.length, 140 - lookback("vol_20"));
      const expected = frame.filter(pl.col("instrument").eq(pl.lit(sym))).getColumn("vol_20")
        .toArray().slice(20);
      assert.deepEqual(Array.from(got.value), expected);
      // Double the last close of SYM0002: its last return_1 changes, the row count does not.
      const last = BARS.instrument.lastIndexOf(sym);
      await upsertPrices(store, "1 day", {
        instrument: [sym],
        timestamp: [BARS.timestamp[last]],
        open: [BARS.open[last]],
        high: [BARS.high[last] * 2],
        low: [BARS.low[last]],
        close: [BARS.close[last - 1] * 2],
        volume: [BARS.volume[last]],
      });
      const n = await count(store, "tt_features");
      await refreshFeatures(store, { set: "basic", instruments: [sym] });
      assert.equal(await count(store, "tt_features"), n);
      const r1 = await readFeatures(store, {
        instruments: [sym],
        names: ["return_1"],
        start: new Date(BARS.timestamp[last]),
      });
      assert.equal(r1.value.length, 1);
      assert.ok(Math.abs(r1.value[0] - 1) < 1e-12, `return_1 after doubling: ${r1.value[0]}`);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] refreshSignals() stores three signals with meta_json and is idempotent`, async () => {
    const store = await factory.open();
    try {
      await upsertPrices(store, "1 day", BARS);
      const first = await refreshSignals(store, { combine: { method: "rank" } });
      assert.deepEqual(first.features, ["combined", "mean_reversion", "momentum"]);
      const n = await count(store, "tt_signal_scores");
      assert.equal(n, first.rowsWritten);
      const before = await readSignalScores(store, {});
      await refreshSignals(store, { combine: { method: "rank" } });
      assert.equal(await count(store, "tt_signal_scores"), n);
      const after = await readSignalScores(store, {});
      assert.deepEqual(after, before);
      const combined = await readSignalScores(store, {
        names: ["combined"],
        instruments: ["SYM0000"],
      });
      assert.ok(combined.score.length > 0);
      assert.ok(Array.from(combined.score).every((s) => s >= -1 && s <= 1));
      assert.equal((combined.metaJson[0] as { method: string }).method, "rank");
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] upsertFeatures() refuses a non-finite value and writes nothing of that call`, async () => {
    const store = await factory.open();
    try {
      await assert.rejects(
        upsertFeatures(store, "1 day", {
          instrument: ["A", "A"],
          timestamp: [0, 86_400_000],
          feature: ["x", "x"],
          value: [1, NaN],
        }),
        /x of A at 1970-01-02T00:00:00.000Z is NaN/,
      );
      assert.equal(await count(store, "tt_features"), 0);
      assert.equal(FEATURE_SETS.spec.length, 14);
    } finally {
      await store.close();
    }
  });
}
