/**
 * Features and signals on real data (`../shared/data/daily_sp41`, adjusted), persisted
 * and re-run idempotently on PGlite and the server. Skipped when the folder is absent.
 * A subset (4 symbols, 2019-09 … 2021-04) keeps the test short; the whole folder is
 * `deno task ingest --source csv --path ../shared/data/daily_sp41 --adjust && deno task features && deno task signals`.
 */
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { ingestCsv } from "@lib/data/mod.ts";
import { readFeatures, readSignalScores } from "@lib/db/mod.ts";
import { FEATURE_SETS, refreshFeatures, refreshSignals } from "@lib/features/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import { storeFactories } from "./support/stores.ts";

const DIR = resolve(PROJECT_ROOT, "..", "shared", "data", "daily_sp41");
const SYMBOLS = ["AAPL", "GOOGL", "JPM", "XOM"];
const present = await Deno.stat(DIR).then(() => true, () => false);
if (!present) {
  console.log(`skip: ${DIR} is absent (real-data feature tests need ../shared/data/daily_sp41)`);
}

async function count(
  store: { query: <T>(sql: string) => Promise<T[]> },
  table: string,
): Promise<number> {
  const [r] = await store.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${table}`);
  return r.n;
}

for (const factory of storeFactories()) {
  Deno.test({
    name:
      `[${factory.name}] daily_sp41 (adjusted): all features and signals persist and a rerun is idempotent`,
    ignore: !present,
    async fn() {
      const store = await factory.open();
      try {
        await ingestCsv(store, DIR, {
          adjust: true,
          symbols: SYMBOLS,
          start: "2019-09-01",
          silent: true,
        });
        const f1 = await refreshFeatures(store, { set: "all" });
        const s1 = await refreshSignals(store, { combine: { method: "rank" } });
        assert.equal(f1.instruments, SYMBOLS.length);
        assert.equal(await count(store, "tt_features"), f1.rowsWritten);
        assert.equal(await count(store, "tt_signal_scores"), s1.rowsWritten);
        const features = await readFeatures(store, {});
        const signals = await readSignalScores(store, {});

        const f2 = await refreshFeatures(store, { set: "all" });
        const s2 = await refreshSignals(store, { combine: { method: "rank" } });
        assert.equal(f2.rowsWritten, f1.rowsWritten);
        assert.equal(s2.rowsWritten, s1.rowsWritten);
        assert.equal(await count(store, "tt_features"), f1.rowsWritten);
        assert.equal(await count(store, "tt_signal_scores"), s1.rowsWritten);
        assert.deepEqual(await readFeatures(store, {}), features);
        assert.deepEqual(await readSignalScores(store, {}), signals);

        // Every feature is stored for every symbol, and adjusted prices show no split
        // artefact: AAPL's 4:1 on 2020-08-31 is inside.
        for (const name of FEATURE_SETS.all) {
          assert.ok(features.feature.includes(name), `${name} missing`);
        }
        const aapl = await readFeatures(store, { instruments: ["AAPL"], names: ["return_1"] });
        const worst = Math.min(...Array.from(aapl.value));
        assert.ok(worst > -0.2, `AAPL's worst adjusted daily return ${worst} looks like a split`);
        assert.ok(Array.from(signals.score).every((s) => s >= -1 && s <= 1));
      } finally {
        await store.close();
      }
    },
  });
}
