/**
 * End to end, as a user runs the tasks: the sample AAPL/SPX bars, generated alternative
 * values (`syntheticAltValues`, labelled generated) written to `tt_alt_data`, a tiny model
 * trained with `--with-features` naming as-of features, its saved config naming them, and
 * `evaluate` recomputing them (it refuses a model whose features it cannot rebuild).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openStore, readPrices, upsertAltValues } from "@lib/db/mod.ts";
import { parseModelConfig } from "@lib/agents/mod.ts";
import { resolveFeatureSpec, syntheticAltValues } from "@lib/features/mod.ts";
import { loadMarket } from "@lib/pipeline/mod.ts";
import { PROJECT_ROOT } from "@lib/util/mod.ts";

async function run(task: string, args: string[], dataDir: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join("tasks", `${task}.ts`), ...args],
    cwd: PROJECT_ROOT,
    env: { TT_DATA_DIR: dataDir, DATABASE_URL: "", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1) ?? "");

const SPEC = "basic,earnings_surprise_last,days_since_earnings,days_to_next_earnings," +
  "sentiment_mean_5d,insider_net_30d,alt:generated:score:decay=5";

Deno.test("train --with-features with as-of features saves their names; evaluate recomputes them", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "tt_alt_train_" });
  try {
    await t.step("ingest the sample and write generated alternative values", async () => {
      const r = await run("ingest", ["--source", "sample", "--json"], dir);
      assert.equal(r.code, 0, r.stderr);
      const store = await openStore({ dataDir: join(dir, "pgdata") });
      try {
        for (const s of ["AAPL", "SPX"]) {
          const bars = await readPrices(store, { instruments: [s], barSize: "1 day" });
          const written = await upsertAltValues(
            store,
            syntheticAltValues([s], bars.timestamp, { seed: s === "AAPL" ? 1 : 2 }),
          );
          assert.ok(written > 1000, `${s}: ${written} generated values`);
        }
      } finally {
        await store.close();
      }
    });

    await t.step("a malformed alt: name is a usage error (exit 2) naming the problem", async () => {
      const r = await run("train", ["--steps", "256", "--with-features", "basic,alt:x"], dir);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--with-features basic,alt:x: Feature "alt:x"/);
    });

    let modelId = 0;
    let modelDir = "";
    await t.step(
      "train --with-features … --steps 256 saves the spec and the resolved names",
      async () => {
        const r = await run("train", [
          ...["--symbols", "AAPL,SPX", "--start", "2013-06-03", "--end", "2015-12-31"],
          ...["--steps", "256", "--num-envs", "2", "--with-features", SPEC, "--json"],
        ], dir);
        assert.equal(r.code, 0, r.stderr);
        const s = lastJson(r.stdout);
        modelId = s.modelId as number;
        modelDir = s.dir as string;
        const cfg = parseModelConfig(
          JSON.parse(await Deno.readTextFile(join(modelDir, "model.json"))).config,
        );
        assert.equal(cfg.features.set, SPEC);
        assert.deepEqual(cfg.features.names, resolveFeatureSpec(SPEC));
        assert.deepEqual(cfg.features.names.slice(3), [
          "earnings_surprise_last",
          "days_since_earnings",
          "days_to_next_earnings",
          "sentiment_mean_5d",
          "insider_net_30d",
          "alt:generated:score:decay=5",
        ]);
      },
    );

    await t.step("the features the model saw carry values over its training range", async () => {
      const store = await openStore({ dataDir: join(dir, "pgdata") });
      try {
        const m = await loadMarket(store, {
          symbols: ["AAPL", "SPX"],
          start: "2013-06-03",
          end: "2015-12-31",
          featureSet: SPEC,
        });
        const F = m.features.names.length;
        for (const [f, name] of m.features.names.entries()) {
          let finite = 0;
          for (let k = f; k < m.features.values.length; k += F) {
            if (Number.isFinite(m.features.values[k])) finite++;
          }
          assert.ok(finite > 100, `${name}: ${finite} defined values`);
        }
      } finally {
        await store.close();
      }
    });

    await t.step(
      "evaluate --json rebuilds the same features after the training range",
      async () => {
        const r = await run("evaluate", ["--model", String(modelId), "--json"], dir);
        assert.equal(r.code, 0, r.stderr);
        const s = lastJson(r.stdout);
        assert.ok((s.start as string) > "2015-12-31");
        assert.ok(typeof (s.strategy as Record<string, number>).sharpe === "number");
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
