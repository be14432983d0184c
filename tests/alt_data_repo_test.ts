import assert from "node:assert/strict";
import { readAltValues, upsertAltValues } from "@lib/db/mod.ts";
import { storeFactories } from "./support/stores.ts";

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] tt_alt_data keeps revisions, reruns insert nothing, reads cut at a moment`, async () => {
    const store = await factory.open();
    try {
      const e = Date.UTC(2018, 0, 31);
      const first = Date.UTC(2018, 1, 1, 21, 30, 0, 123);
      const revised = Date.UTC(2018, 1, 8, 12);
      const base = {
        source: "earnings",
        instrument: "AAPL",
        field: "eps_surprise_pct",
        eventTime: e,
      };
      const values = [
        { ...base, knownAt: first, value: 4.2, meta: { note: "first print" } },
        { ...base, knownAt: revised, value: 3.9 },
        { ...base, field: "announcement", knownAt: Date.UTC(2018, 0, 10), value: NaN },
      ];
      assert.equal(await upsertAltValues(store, values), 3);
      assert.equal(await upsertAltValues(store, values), 0, "a rerun inserts nothing");
      const all = await readAltValues(store, {
        instruments: ["AAPL"],
        fields: ["eps_surprise_pct"],
      });
      assert.deepEqual(all.map((v) => [v.knownAt, v.value]), [[first, 4.2], [revised, 3.9]]);
      assert.deepEqual(all[0].meta, { note: "first print" });
      const asOf = await readAltValues(store, { knownAtOrBefore: first });
      assert.deepEqual(asOf.map((v) => `${v.field}:${v.value}`), [
        "announcement:NaN",
        "eps_surprise_pct:4.2",
      ]);
      assert.equal(
        (await readAltValues(store, { knownAtOrBefore: first - 1 })).length,
        1,
        "1 ms before: not yet known",
      );
    } finally {
      await store.close();
    }
  });
}
