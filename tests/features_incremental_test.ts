/**
 * The incremental feature step (`refreshFeaturesIncremental`): a full refresh on N bars
 * equals a full refresh on the first N − k bars followed by the incremental step for
 * the k new ones, bit for bit (tt_features and tt_signal_scores are float8), for several
 * k, symbols, an instrument that starts later and missing bars; nothing new writes
 * nothing; no stored features, another stored feature set and a corrected older bar
 * fall back to recomputing from the first bar; a bounded history is close, not exact.
 */
import assert from "node:assert/strict";
import { type Store, upsertPrices } from "@lib/db/mod.ts";
import { readFeatures, readSignalScores } from "@lib/db/features_repo.ts";
import type { BarColumns } from "@lib/data/panel.ts";
import { refreshAll, refreshFeatures } from "@lib/features/refresh.ts";
import { incrementalWarmup, refreshFeaturesIncremental } from "@lib/features/incremental.ts";
import { syntheticBarColumns, syntheticBars } from "@lib/features/synthetic.ts";
import { SERVER_SKIP_REASON, storeFactories, TEST_DATABASE_URL } from "./support/stores.ts";

if (!TEST_DATABASE_URL) console.warn(SERVER_SKIP_REASON);

const DAYS = 170;

/**
 * 5 symbols × 170 business days; SYM0003 starts 60 bars late, SYM0001 misses a bar in
 * the middle and SYM0002 misses the next-to-last bar.
 */
function marketBars(): BarColumns {
  const all = syntheticBarColumns(syntheticBars(5, DAYS, 23));
  const days = [...new Set(all.timestamp)].sort((a, b) => a - b);
  const drop = (i: number) =>
    (all.instrument[i] === "SYM0003" && all.timestamp[i] < days[60]) ||
    (all.instrument[i] === "SYM0001" && all.timestamp[i] === days[140]) ||
    (all.instrument[i] === "SYM0002" && all.timestamp[i] === days[DAYS - 2]);
  return select(all, (i) => !drop(i));
}

function select(b: BarColumns, keep: (i: number) => boolean): BarColumns {
  const idx = b.instrument.map((_, i) => i).filter(keep);
  const pick = <T>(a: ArrayLike<T>) => idx.map((i) => a[i]);
  return {
    instrument: pick(b.instrument),
    timestamp: pick(b.timestamp),
    open: pick(b.open),
    high: pick(b.high),
    low: pick(b.low),
    close: pick(b.close),
    volume: pick(b.volume),
  } as BarColumns;
}

/** Every stored feature and signal row as `key → value`, values compared by bits. */
async function contents(store: Store): Promise<Map<string, number | string>> {
  const f = await readFeatures(store);
  const s = await readSignalScores(store);
  const out = new Map<string, number | string>();
  f.instrument.forEach((inst, i) =>
    out.set(`f|${inst}|${f.timestamp[i]}|${f.feature[i]}`, f.value[i])
  );
  s.instrument.forEach((inst, i) => {
    out.set(`s|${inst}|${s.timestamp[i]}|${s.signalName[i]}`, s.score[i]);
    out.set(`m|${inst}|${s.timestamp[i]}|${s.signalName[i]}`, JSON.stringify(s.metaJson[i]));
  });
  return out;
}

function assertSameRows(got: Map<string, number | string>, want: Map<string, number | string>) {
  assert.equal(got.size, want.size, "row count");
  let differ = 0, first = "";
  for (const [k, v] of want) {
    if (!got.has(k) || !Object.is(got.get(k), v)) {
      if (!differ++) first = `${k}: ${got.get(k)} vs ${v}`;
    }
  }
  assert.equal(differ, 0, `${differ} rows differ, first ${first}`);
}

const bars = marketBars();
const days = [...new Set(bars.timestamp)].sort((a, b) => a - b);
const OPTS = { set: "all" as const, signals: true };

for (const factory of storeFactories()) {
  Deno.test(
    `refreshFeaturesIncremental [${factory.name}]: full(N) = full(N−k) + incremental(k), bit for bit, for k = 1, 3, 12`,
    async () => {
      const ref = await factory.open();
      let want: Map<string, number | string>;
      try {
        await upsertPrices(ref, "1 day", bars);
        await refreshAll(ref, { set: "all" });
        want = await contents(ref);
        assert.ok(want.size > 10_000);
      } finally {
        await ref.close();
      }
      for (const k of [1, 3, 12]) {
        const store = await factory.open();
        try {
          const cut = days[DAYS - k];
          await upsertPrices(store, "1 day", select(bars, (i) => bars.timestamp[i] < cut));
          await refreshAll(store, { set: "all" });
          await upsertPrices(store, "1 day", select(bars, (i) => bars.timestamp[i] >= cut));
          const s = await refreshFeaturesIncremental(store, OPTS);
          assert.equal(s.mode, "incremental", s.message);
          assert.equal(s.from, new Date(cut).toISOString());
          assert.equal(s.instrumentsUpdated, 5);
          // SYM0002 misses the next-to-last bar: 5k bars less one when that bar is new.
          assert.equal(s.newBars, 5 * k - (k >= 2 ? 1 : 0));
          assert.deepEqual(s.fallbacks, []);
          // Only the new bars' rows: at most (features + signals) per new bar.
          assert.ok(s.rowsWritten <= s.newBars * s.features.length, `${s.rowsWritten}`);
          assert.equal(s.signalRowsWritten, s.newBars * 3);
          assertSameRows(await contents(store), want);

          const again = await refreshFeaturesIncremental(store, OPTS);
          assert.equal(again.mode, "none");
          assert.equal(again.rowsWritten + again.signalRowsWritten, 0);
          assert.match(again.message, /up to date through .*nothing written/);
        } finally {
          await store.close();
        }
      }
    },
  );
}

Deno.test("refreshFeaturesIncremental: nothing stored → a full refresh; another stored set → recomputed from the first bar", async () => {
  const [factory] = storeFactories();
  const ref = await factory.open();
  let want: Map<string, number | string>;
  try {
    await upsertPrices(ref, "1 day", bars);
    await refreshFeatures(ref, { set: "all" });
    want = await contents(ref);
  } finally {
    await ref.close();
  }
  const store = await factory.open();
  try {
    await upsertPrices(store, "1 day", bars);
    const s = await refreshFeaturesIncremental(store, { set: "all" });
    assert.equal(s.mode, "full");
    assert.equal(s.fallbacks.length, 5);
    assert.ok(s.fallbacks.every((f) => f.reason === "no stored features"));
    assertSameRows(await contents(store), want);
  } finally {
    await store.close();
  }
  const other = await factory.open();
  try {
    const cut = days[DAYS - 2];
    await upsertPrices(other, "1 day", select(bars, (i) => bars.timestamp[i] < cut));
    await refreshFeatures(other, { set: "basic" });
    await upsertPrices(other, "1 day", select(bars, (i) => bars.timestamp[i] >= cut));
    const s = await refreshFeaturesIncremental(other, { set: "all" });
    assert.equal(s.mode, "full");
    assert.match(s.fallbacks[0].reason, /differ from the selection \(missing .*rsi_14/);
    assertSameRows(await contents(other), want);
  } finally {
    await other.close();
  }
});

Deno.test("refreshFeaturesIncremental: a corrected older bar inside the features' memory is detected and the instrument recomputed", async () => {
  const [factory] = storeFactories();
  const cut = days[DAYS - 1];
  const corrected = bars.close.map((c, i) =>
    bars.instrument[i] === "SYM0004" && bars.timestamp[i] === days[DAYS - 30] ? c * 1.05 : c
  );
  const fixed = { ...bars, close: corrected };
  const ref = await factory.open();
  let want: Map<string, number | string>;
  try {
    await upsertPrices(ref, "1 day", fixed);
    await refreshFeatures(ref, { set: "all" });
    want = await contents(ref);
  } finally {
    await ref.close();
  }
  const store = await factory.open();
  try {
    await upsertPrices(store, "1 day", select(bars, (i) => bars.timestamp[i] < cut));
    await refreshFeatures(store, { set: "all" });
    await upsertPrices(store, "1 day", fixed); // the new bar and the correction
    const s = await refreshFeaturesIncremental(store, { set: "all" });
    assert.equal(s.mode, "full");
    assert.deepEqual(s.fallbacks.map((f) => f.instrument), ["SYM0004"]);
    assert.match(s.fallbacks[0].reason, /differ from the recomputed values/);
    assertSameRows(await contents(store), want);
  } finally {
    await store.close();
  }
});

Deno.test("refreshFeaturesIncremental: a bounded history reads less, writes the same rows, values close; below the derived warm-up it refuses", async () => {
  const [factory] = storeFactories();
  const warm = incrementalWarmup({ set: "all" });
  assert.equal(warm, 120); // mom_120
  assert.equal(incrementalWarmup({ set: "basic" }), 20);
  assert.equal(incrementalWarmup({ set: "basic" }, true), 120);
  const full = await factory.open();
  const store = await factory.open();
  try {
    const cut = days[DAYS - 1];
    for (const s of [full, store]) {
      await upsertPrices(s, "1 day", select(bars, (i) => bars.timestamp[i] < cut));
      await refreshFeatures(s, { set: "all" });
      await upsertPrices(s, "1 day", select(bars, (i) => bars.timestamp[i] >= cut));
    }
    await assert.rejects(
      () => refreshFeaturesIncremental(store, { set: "all", history: warm - 1 }),
      /history must be "full" or a whole number of bars ≥ 120/,
    );
    const exact = await refreshFeaturesIncremental(full, { set: "all" });
    const s = await refreshFeaturesIncremental(store, { set: "all", history: warm });
    assert.equal(s.mode, "incremental");
    assert.equal(s.history, warm);
    assert.ok(s.barsRead < exact.barsRead / 1.2, `${s.barsRead} vs ${exact.barsRead}`);
    assert.equal(s.rowsWritten, exact.rowsWritten);
    const a = await contents(full), b = await contents(store);
    assert.deepEqual([...b.keys()], [...a.keys()]);
    const exponential = /^(rsi_14|macd|macd_signal|macd_hist|atr_14)$/;
    for (const [k, v] of a) {
      const w = b.get(k) as number, feature = k.split("|")[3];
      const tol = exponential.test(feature) ? 1e-2 : 1e-9;
      assert.ok(Math.abs(w - (v as number)) <= tol * Math.max(1, Math.abs(v as number)), k);
    }
  } finally {
    await full.close();
    await store.close();
  }
});
