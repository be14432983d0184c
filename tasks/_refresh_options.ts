/**
 * Options shared by the two tasks that recompute from stored bars and write long rows:
 * `deno task features` and `deno task signals`. Private to tasks/.
 *
 * @module
 */
import { DB_URL_OPTION, type OptionSpec } from "@lib/util/mod.ts";

/** Which stored bars to read: `--symbols`, `--start`, `--end`, `--bar-size`. */
export const BAR_SELECTION_OPTIONS: Record<string, OptionSpec> = {
  symbols: {
    type: "string",
    valueName: "A,B",
    description: "Only these symbols (default: all in tt_prices)",
  },
  start: {
    type: "string",
    valueName: "DATE",
    description: "Read bars from this date (ISO, inclusive)",
  },
  end: {
    type: "string",
    valueName: "DATE",
    description: "Read bars up to this date (ISO, inclusive)",
  },
  "bar-size": { type: "string", valueName: "SIZE", description: "Bar size", default: "1 day" },
};

/** How to write: `--batch-rows`, `--db-url`, `--json`. */
export const WRITE_OPTIONS: Record<string, OptionSpec> = {
  "batch-rows": {
    type: "string",
    valueName: "N",
    description: "Rows per transaction",
    default: "100000",
  },
  "db-url": DB_URL_OPTION,
  json: { type: "boolean", description: "Print one JSON line (no progress bar)" },
};
