import assert from "node:assert/strict";
import {
  type BarColumns,
  countPrices,
  emptyBars,
  finishIngestRun,
  listIngestRuns,
  readBarCalendar,
  readBarRanges,
  readFirstBars,
  serverBackendPids,
  startIngestRun,
  upsertPrices,
} from "@lib/db/mod.ts";
import { emptyBars as dataEmptyBars } from "@lib/data/mod.ts";
import { storeFactories } from "./support/stores.ts";

const DAY = 86_400_000;
const T0 = Date.UTC(2020, 0, 6); // a Monday

/** Bars of `symbol` on the given day offsets from T0 (close = 100 + day). */
function bars(symbol: string, days: number[]): BarColumns {
  const b = emptyBars();
  for (const d of days) {
    b.instrument.push(symbol);
    b.timestamp.push(T0 + d * DAY);
    b.open.push(100 + d);
    b.high.push(101 + d);
    b.low.push(99 + d);
    b.close.push(100 + d);
    b.volume.push(1000);
  }
  return b;
}

Deno.test("emptyBars() of lib/data is lib/db's (one home for the bar columns)", () => {
  assert.equal(dataEmptyBars, emptyBars);
  assert.deepEqual(emptyBars(), {
    instrument: [],
    timestamp: [],
    open: [],
    high: [],
    low: [],
    close: [],
    volume: [],
  });
});

for (const factory of storeFactories()) {
  Deno.test(`[${factory.name}] readBarCalendar() returns the union calendar within the filters`, async () => {
    const store = await factory.open();
    try {
      await upsertPrices(store, "1 day", bars("AAA", [0, 1, 2, 3]));
      await upsertPrices(store, "1 day", bars("BBB", [1, 2, 4]));
      await upsertPrices(store, "1 hour", bars("AAA", [5]));
      const ms = (...days: number[]) => days.map((d) => T0 + d * DAY);
      assert.deepEqual(await readBarCalendar(store), ms(0, 1, 2, 3, 4));
      assert.deepEqual(await readBarCalendar(store, { instruments: ["BBB"] }), ms(1, 2, 4));
      // A date-only end includes that whole day; the start is inclusive.
      assert.deepEqual(
        await readBarCalendar(store, { start: "2020-01-07", end: "2020-01-09" }),
        ms(1, 2, 3),
      );
      assert.deepEqual(await readBarCalendar(store, { barSize: "1 hour" }), ms(5));
      assert.deepEqual(await readBarCalendar(store, { barSize: "1 week" }), []);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] readBarRanges(), readFirstBars() and countPrices() summarise tt_prices`, async () => {
    const store = await factory.open();
    try {
      assert.deepEqual(await readBarRanges(store), []);
      assert.equal(await countPrices(store), 0);
      await upsertPrices(store, "1 day", bars("BBB", [1, 2, 4]));
      await upsertPrices(store, "1 day", bars("AAA", [0, 1, 2, 3]));
      await upsertPrices(store, "1 hour", bars("CCC", [5, 6]));
      assert.deepEqual(await readBarRanges(store), [
        { instrument: "AAA", first: T0, last: T0 + 3 * DAY, bars: 4 },
        { instrument: "BBB", first: T0 + DAY, last: T0 + 4 * DAY, bars: 3 },
      ]);
      assert.deepEqual(await readBarRanges(store, "1 hour"), [
        { instrument: "CCC", first: T0 + 5 * DAY, last: T0 + 6 * DAY, bars: 2 },
      ]);
      assert.deepEqual(await readFirstBars(store, ["CCC", "BBB", "ZZZ"]), [
        { instrument: "BBB", first: T0 + DAY },
        { instrument: "CCC", first: T0 + 5 * DAY },
      ]);
      assert.equal(await countPrices(store), 9);
    } finally {
      await store.close();
    }
  });

  Deno.test(`[${factory.name}] listIngestRuns() lists runs newest first with their (redacted) lineage`, async () => {
    const store = await factory.open();
    try {
      assert.deepEqual(await listIngestRuns(store), []);
      const a = await startIngestRun(store, "csv", { path: "/x", password: "hunter2" });
      await finishIngestRun(store, a, { rowsWritten: 12, status: "ok" });
      const b = await startIngestRun(store, "ibkr", {});
      await finishIngestRun(store, b, {
        rowsWritten: 0,
        status: "failed",
        message: "cannot reach postgres://u:pw@h/d",
      });
      const c = await startIngestRun(store, "sample", {});
      const runs = await listIngestRuns(store);
      assert.deepEqual(runs.map((r) => r.id), [c, b, a]);
      assert.deepEqual(runs.map((r) => r.status), ["running", "failed", "ok"]);
      assert.deepEqual(runs.map((r) => r.rowsWritten), [0, 0, 12]);
      assert.equal(runs[0].finishedAt, null);
      assert.ok(runs[2].finishedAt instanceof Date && runs[2].startedAt instanceof Date);
      assert.equal(runs[1].message, "cannot reach postgres://u:***@h/d");
      assert.equal(runs[2].parameters.path, "/x");
      assert.equal(runs[2].parameters.password, "***");
      assert.deepEqual((await listIngestRuns(store, { limit: 2 })).map((r) => r.id), [c, b]);
    } finally {
      await store.close();
    }
  });

  if (factory.name === "postgres") {
    Deno.test(`[${factory.name}] serverBackendPids() lists the backends of the store's database`, async () => {
      const store = await factory.open();
      try {
        const pids = await serverBackendPids(store);
        assert.ok(pids.length >= 1, "at least the connection asking");
        assert.ok(pids.every((p) => Number.isInteger(p) && p > 0));
      } finally {
        await store.close();
      }
    });
  }
}
