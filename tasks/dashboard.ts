/**
 * `deno task dashboard`: serves the read-only dashboard over the store.
 *
 * @module
 */
import { startDashboard } from "@lib/server/mod.ts";
import {
  type CommandSpec,
  DB_URL_OPTION,
  numberArg,
  parseCommand,
  runTask,
} from "@lib/util/mod.ts";

const SPEC: CommandSpec = {
  name: "dashboard",
  summary: "Serves a read-only dashboard of the store: overview (runs, models with aliases, " +
    "evaluations, training in progress), model/evaluation pages, risk attribution, live " +
    "monitoring (updates by itself) and data quality. Binds 127.0.0.1; another address needs " +
    "a token. On the embedded store (PGlite) it opens the store per request and lets go in " +
    "between, so tasks can run; while a task holds the store the pages say who and retry. " +
    "To watch a running task live, use a PostgreSQL server (DATABASE_URL).",
  options: {
    port: {
      type: "string",
      valueName: "N",
      description: "Port (0: any free one)",
      default: "8787",
    },
    host: {
      type: "string",
      valueName: "ADDR",
      description: "Bind address; anything but loopback needs --token",
      default: "127.0.0.1",
    },
    token: {
      type: "string",
      valueName: "T",
      description: "Token required on every request (default TT_DASHBOARD_TOKEN; at least 16 " +
        "characters); open the dashboard once as URL/?token=T",
    },
    json: { type: "boolean", description: "Print the address as one JSON line" },
    "db-url": DB_URL_OPTION,
  },
  examples: [
    "deno task dashboard",
    "TT_DATA_DIR=data/demo deno task dashboard --port 8788",
    "TT_DASHBOARD_TOKEN=$(openssl rand -hex 16) deno task dashboard --host 0.0.0.0",
    "DATABASE_URL=postgres://tt@127.0.0.1:5432/tt deno task dashboard --json",
  ],
};

async function main() {
  const args = parseCommand(SPEC);
  const port = numberArg(args, "port", { min: 0, max: 65535, integer: true });
  const dash = await startDashboard({
    host: String(args.host),
    port,
    token: typeof args.token === "string" ? args.token : undefined,
    url: typeof args["db-url"] === "string" ? args["db-url"] : undefined,
  });
  if (args.json) {
    console.log(
      JSON.stringify({ url: dash.url, host: dash.host, port: dash.port, store: dash.store }),
    );
  } else {
    console.log(`dashboard: ${dash.url} (store: ${dash.store}); Ctrl-C stops it`);
  }
  const stop = async () => {
    await dash.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

if (import.meta.main) await runTask(main);
