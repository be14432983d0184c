/**
 * `deno task bench NAME [options]`: runs one benchmark from `tasks/bench/NAME.ts`
 * and prints its JSON line(s). `deno task bench --help` lists them.
 *
 * @module
 */
import { runTask, UsageError } from "@lib/util/mod.ts";

const BENCHES = {
  ingest:
    "Upsert the 41-symbol daily folder into PGlite and (with DATABASE_URL/TEST_DATABASE_URL) a server: rows/s",
  "ingest-memory":
    "Peak RSS and rows/s of importing one generated ~263 MB hourly CSV file (streamed, one transaction)",
  features: "SPEC.md section 2 feature pipeline (--symbols S --days D) and the 52×252 full refresh",
  "features-incremental":
    "Issue 12: one new bar for 50 symbols after 252 bars in PGlite: the incremental feature step vs a full refresh",
  trade:
    "Issue 12: a daily paper-trading cycle for 50 symbols on PGlite (target < 1 s) and its incremental feature step (< 200 ms)",
  ppo: "SPEC.md section 1 PPO workload (--steps N), optionally beside the PyTorch reference",
  agent:
    "Issue 10: train 5 seeds on the 41 large caps (2005–2014), evaluate 2015–2021-04 at 10+5 bps vs every baseline",
  sweep:
    "Issue 15: a 4-job sweep on 1 vs 2 worker processes (server): wall-time ratio, enqueue → start overhead",
} as const;

async function main() {
  const [name, ...rest] = Deno.args;
  if (!name || name === "--help" || name === "-h") {
    console.log(
      "Usage: deno task bench NAME [options]   (NAME --help for its options)\n\nBenchmarks:",
    );
    for (const [k, v] of Object.entries(BENCHES)) console.log(`  ${k.padEnd(22)}${v}`);
    return;
  }
  if (!(name in BENCHES)) {
    throw new UsageError(`Unknown benchmark "${name}"; one of ${Object.keys(BENCHES).join(", ")}`);
  }
  const mod = await import(`./bench/${name}.ts`);
  await mod.main(rest);
}

if (import.meta.main) await runTask(main);
