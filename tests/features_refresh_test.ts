/**
 * The store refresh (`refreshAll`): rows leave in primary-key order, a rerun leaves the
 * same rows and rewrites none, and a rerun after a stored value drifted restores just
 * that row. PGlite and, with TEST_DATABASE_URL, the server.
 */
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { type Store, upsertPrices } from "@lib/db/mod.ts";
import { featureRows, refreshAll } from "@lib/features/refresh.ts";
import { syntheticBarColumns, syntheticBars } from "@lib/features/synthetic.ts";
import { SERVER_SKIP_REASON, storeFactories, TEST_DATABASE_URL } from "./support/stores.ts";

if (!TEST_DATABASE_URL) console.warn(SERVER_SKIP_REASON);

Deno.test("featureRows: feature-major long form comes out in key order (instrument, timestamp, feature), every row kept", () => {
  const t1 = new Date(Date.UTC(2024, 0, 2)), t2 = new Date(Date.UTC(2024, 0, 3));
  // As toLongForm stacks it: feature by feature (not by name), each part by instrument
  // and timestamp.
  const long = pl.DataFrame({
    instrument: ["AAA", "AAA", "BBB", "AAA", "BBB", "BBB"],
    timestamp: [t1, t2, t1, t2, t1, t2],
    feature: ["f2", "f2", "f2", "f1", "f1", "f1"],
    value: [1, 2, 3, 4, 5, 6],
  });
  const rows = featureRows(long);
  assert.deepEqual(rows.instrument, ["AAA", "AAA", "AAA", "BBB", "BBB", "BBB"]);
  assert.deepEqual(Array.from(rows.timestamp), [t1, t2, t2, t1, t1, t2].map((t) => t.getTime()));
  assert.deepEqual(rows.feature, ["f2", "f1", "f2", "f1", "f2", "f1"]);
  assert.deepEqual(Array.from(rows.value), [1, 4, 2, 5, 3, 6]);
});

/** Every row of a table as `key → value|xmin`. */
async function snapshot(store: Store, table: "tt_features" | "tt_signal_scores") {
  const [name, value] = table === "tt_features" ? ["feature", "value"] : ["signal_name", "score"];
  const rows = await store.query<{ k: string; v: number; x: string }>(
    `SELECT instrument || '|' || extract(epoch FROM timestamp)::text || '|' || ${name} AS k,
            ${value} AS v, xmin::text AS x FROM ${table}`,
  );
  return new Map(rows.map((r) => [r.k, { v: r.v, x: r.x }]));
}

for (const factory of storeFactories()) {
  Deno.test(
    `refreshAll [${factory.name}]: a rerun leaves every row and rewrites none; a drifted value is restored alone`,
    async () => {
      const store = await factory.open();
      try {
        await upsertPrices(store, "1 day", syntheticBarColumns(syntheticBars(3, 90, 11)));
        // Small transactions: the second run goes through the staging merge many times.
        const options = { set: "all" as const, rowsPerTransaction: 700 };
        const first = await refreshAll(store, options);
        assert.ok(first.features.rowsWritten > 1000 && first.signals.rowsWritten > 100);
        const f1 = await snapshot(store, "tt_features");
        const s1 = await snapshot(store, "tt_signal_scores");
        assert.equal(f1.size, first.features.rowsWritten);
        assert.equal(s1.size, first.signals.rowsWritten);

        await refreshAll(store, options);
        assert.deepEqual(await snapshot(store, "tt_features"), f1);
        assert.deepEqual(await snapshot(store, "tt_signal_scores"), s1);

        const [inst, epoch, feature] = [...f1.keys()][Math.floor(f1.size / 2)].split("|");
        const drifted = await store.query(
          `UPDATE tt_features SET value = value + 1
           WHERE instrument = $1 AND extract(epoch FROM timestamp)::text = $2 AND feature = $3
           RETURNING value`,
          [inst, epoch, feature],
        );
        assert.equal(drifted.length, 1);
        await refreshAll(store, options);
        const f3 = await snapshot(store, "tt_features");
        assert.equal(f3.size, f1.size);
        let rewritten = 0;
        for (const [k, row] of f3) {
          assert.equal(row.v, f1.get(k)!.v, `value of ${k}`);
          if (row.x !== f1.get(k)!.x) rewritten++;
        }
        assert.equal(rewritten, 1);
      } finally {
        await store.close();
      }
    },
  );
}
