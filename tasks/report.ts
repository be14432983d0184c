/**
 * `deno task report`: writes one self-contained HTML report (inline SVG charts,
 * metrics, the benchmark comparison with its confidence interval, training curves,
 * configuration and data lineage) for an episode or a model's latest evaluation.
 *
 * @module
 */
import { openStore } from "@lib/db/mod.ts";
import { type ReportTarget, writeEpisodeReport } from "@lib/pipeline/mod.ts";
import {
  type CommandSpec,
  DB_URL_OPTION,
  numberArg,
  parseCommand,
  runTask,
  UsageError,
} from "@lib/util/mod.ts";

const SPEC: CommandSpec = {
  name: "report",
  summary:
    "Writes one self-contained HTML report for an episode (--episode N) or for a model's latest " +
    "evaluation episode (--model ID), read back from the store, and prints its path.",
  options: {
    episode: { type: "string", valueName: "N", description: "Episode id (tt_episode)" },
    model: {
      type: "string",
      valueName: "ID",
      description: "Model id: report its latest eval episode",
    },
    out: {
      type: "string",
      valueName: "FILE",
      description: "Output file (default: data/reports/episode-<id>.html)",
    },
    "db-url": DB_URL_OPTION,
    json: { type: "boolean", description: "Print one JSON line" },
  },
  examples: ["deno task report --model 1", "deno task report --episode 12 --out /tmp/ep12.html"],
};

async function main() {
  const args = parseCommand(SPEC);
  const episode = numberArg(args, "episode", { min: 1, integer: true });
  const model = numberArg(args, "model", { min: 1, integer: true });
  if ((episode === undefined) === (model === undefined)) {
    throw new UsageError(
      "Give exactly one of --episode N or --model ID (see deno task report --help)",
    );
  }
  const target: ReportTarget = episode !== undefined ? { episodeId: episode } : { modelId: model! };
  const store = await openStore({ url: args["db-url"] as string | undefined });
  try {
    const { path, episodeId } = await writeEpisodeReport(
      store,
      target,
      args.out as string | undefined,
    ).catch((e) => {
      if (e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    });
    if (args.json) console.log(JSON.stringify({ episodeId, path }));
    else console.log(`Report for episode ${episodeId}: ${path}`);
  } finally {
    await store.close();
  }
}

if (import.meta.main) await runTask(main);
