/**
 * Issue 16's "done when", as a user runs it: import an events file (generated, labelled
 * so), see it in the quality report, train with its as-of features, evaluate.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PROJECT_ROOT } from "@lib/util/mod.ts";
import { GENERATED } from "./support/alt_fixtures.ts";

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

/** Quarterly generated earnings for AAPL over the sample's years, with vendor column names. */
function earningsFile(): string {
  const lines = ["ticker,report_date,published,surprise_pct,provenance"];
  for (let q = 0; q < 22; q++) {
    const d = new Date(Date.UTC(2013, 4 + 3 * q, 1)).toISOString().slice(0, 10);
    lines.push(`aapl,${d},${d}T21:30:00Z,${((q * 37) % 17 - 8).toFixed(1)},${GENERATED}`);
  }
  return lines.join("\n") + "\n";
}

Deno.test("an events file: ingest --source alt, quality shows it, train --with-features uses it, evaluate runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tt_alt_e2e_" });
  try {
    assert.equal((await run("ingest", ["--source", "sample"], dir)).code, 0);
    const file = join(dir, "earnings.csv");
    await Deno.writeTextFile(file, earningsFile());
    const ing = await run("ingest", [
      ...["--source", "alt", "--path", file, "--kind", "earnings"],
      ...[
        "--map",
        "instrument=ticker,event_time=report_date,known_at=published,value=surprise_pct",
      ],
      "--json",
    ], dir);
    assert.equal(ing.code, 0, ing.stderr);
    assert.equal(lastJson(ing.stdout).rowsWritten, 22);

    const q = await run("quality", ["--json"], dir);
    assert.equal(q.code, 0, q.stderr);
    const alt = lastJson(q.stdout).alt as {
      sources: { source: string; field: string; events: number }[];
    };
    assert.deepEqual(
      alt.sources.map((s) => [s.source, s.field, s.events]),
      [["earnings", "eps_surprise_pct", 22]],
    );

    const spec = "basic,earnings_surprise_last,days_since_earnings";
    const tr = await run("train", [
      ...["--symbols", "AAPL,SPX", "--with-features", spec, "--steps", "256", "--json"],
    ], dir);
    assert.equal(tr.code, 0, tr.stderr);
    const model = lastJson(tr.stdout);
    const cfg = JSON.parse(await Deno.readTextFile(join(model.dir, "model.json"))).config;
    assert.ok(cfg.features.names.includes("earnings_surprise_last"), cfg.features.names.join());
    assert.ok(cfg.features.names.includes("days_since_earnings"));

    const ev = await run("evaluate", ["--model", String(model.modelId), "--json"], dir);
    assert.equal(ev.code, 0, ev.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
