/**
 * The demo and the notebooks never write into a user's series (issue 11, item 2): they
 * keep to stores of their own under `<dataDir>/demo` and `<dataDir>/notebooks`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listModels, openStore, readPrices, upsertPrices } from "@lib/db/mod.ts";
import { openSampleStore, runDemo, sampleDataDir } from "@lib/pipeline/mod.ts";

Deno.test("sampleDataDir() is <dataDir>/demo or <dataDir>/notebooks", () => {
  const prev = Deno.env.get("TT_DATA_DIR");
  Deno.env.set("TT_DATA_DIR", "/tmp/tt-x");
  try {
    assert.equal(sampleDataDir("demo"), "/tmp/tt-x/demo");
    assert.equal(sampleDataDir("notebooks"), "/tmp/tt-x/notebooks");
    assert.throws(() => sampleDataDir("other" as "demo"), /"demo" or "notebooks"/);
  } finally {
    if (prev === undefined) Deno.env.delete("TT_DATA_DIR");
    else Deno.env.set("TT_DATA_DIR", prev);
  }
});

Deno.test("the demo leaves a user's AAPL series and models untouched; its own store holds the sample", async () => {
  const root = await Deno.makeTempDir({ prefix: "tt_sample_store_" });
  const prev = { data: Deno.env.get("TT_DATA_DIR"), url: Deno.env.get("DATABASE_URL") };
  Deno.env.set("TT_DATA_DIR", root);
  Deno.env.delete("DATABASE_URL");
  try {
    // The user's own AAPL, priced unlike the sample (and one bar only).
    const user = await openStore({ dataDir: join(root, "pgdata") });
    const mine = {
      instrument: ["AAPL", "AAPL"],
      timestamp: [Date.UTC(2017, 0, 3), Date.UTC(2017, 0, 4)],
      open: [1000, 1010],
      high: [1020, 1030],
      low: [990, 1000],
      close: [1010, 1020],
      volume: [5, 6],
    };
    await upsertPrices(user, "1 day", mine);
    await user.close();

    // A server in DATABASE_URL holds the user's data: the sample store never goes there.
    Deno.env.set("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none");
    const sample = await openSampleStore("demo");
    Deno.env.delete("DATABASE_URL");
    assert.equal(sample.store.kind, "pglite");
    assert.equal(sample.dir, join(root, "demo"));
    let r;
    try {
      r = await runDemo(sample.store, { steps: 512, dir: sample.dir });
      const aapl = await readPrices(sample.store, { instruments: ["AAPL"] });
      assert.ok(aapl.instrument.length > 1200, `the demo store holds the sample AAPL`);
      assert.ok(aapl.close.every((c) => c < 1000), "the demo's AAPL is the sample's");
      const spx = await readPrices(sample.store, { instruments: ["SPX"] });
      assert.ok(spx.instrument.length > 5000);
    } finally {
      await sample.store.close();
    }
    assert.equal(r.reportPath, join(root, "demo", "reports", "demo.html"));
    assert.ok(r.modelDir.startsWith(join(root, "demo", "models")), r.modelDir);
    await Deno.stat(join(r.modelDir, "model.json"));
    assert.equal(
      await Deno.stat(join(root, "models")).then(() => true, () => false),
      false,
      "nothing in the user's models directory",
    );

    const after = await openStore({ dataDir: join(root, "pgdata") });
    try {
      const bars = await readPrices(after, {});
      assert.deepEqual(bars, mine, "the user's series is exactly as it was");
      assert.deepEqual(await listModels(after), [], "no model added to the user's registry");
    } finally {
      await after.close();
    }
  } finally {
    if (prev.data === undefined) Deno.env.delete("TT_DATA_DIR");
    else Deno.env.set("TT_DATA_DIR", prev.data);
    if (prev.url !== undefined) Deno.env.set("DATABASE_URL", prev.url);
    await Deno.remove(root, { recursive: true });
  }
});
