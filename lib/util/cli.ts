/**
 * The one way tasks parse their arguments: `node:util` `parseArgs` plus a generated
 * `--help`, typed values and a clear error for an unknown or malformed option.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { redact, urlHasPassword } from "./redact.ts";

/** One option of a task. */
export interface OptionSpec {
  /** `string` takes a value, `boolean` is a flag. */
  type: "string" | "boolean";
  /** One line for `--help`. */
  description: string;
  /** Shown in `--help` and returned when the option is absent. */
  default?: string | boolean;
  /** Single-letter alias. */
  short?: string;
  /** Shown as the value placeholder in `--help`, e.g. `N` or `FILE`. */
  valueName?: string;
  /** Allowed values (checked, listed in `--help`). */
  choices?: readonly string[];
}

/** What a task declares about itself. */
export interface CommandSpec {
  /** `deno task NAME`. */
  name: string;
  /** One paragraph shown at the top of `--help`. */
  summary: string;
  options: Record<string, OptionSpec>;
  /** Example invocations shown at the end of `--help`. */
  examples?: readonly string[];
  /**
   * Usage of positional arguments, e.g. `"list | show REF | alias REF ALIAS"`: set it to
   * accept them (read with {@linkcode parseCommandWithPositionals}); tasks without it refuse them.
   */
  positionals?: string;
}

/**
 * The `--db-url` option every store-using task shares. A password in it is visible in
 * the process list and echoed by `deno task`, so the help text says to keep it out:
 * {@linkcode parseCommand} warns when one is there.
 * @example
 * ```ts
 * const SPEC = { name: "x", summary: "…", options: { "db-url": DB_URL_OPTION } };
 * ```
 */
export const DB_URL_OPTION: OptionSpec = {
  type: "string",
  valueName: "URL",
  description: "PostgreSQL server URL without a password, e.g. postgres://user@host:5432/db " +
    "(default: DATABASE_URL, else embedded PGlite); give the password by PGPASSWORD or " +
    "~/.pgpass, or put the whole URL in DATABASE_URL",
};

/** The line {@linkcode parseCommand} prints on stderr when `--db-url` carries a password. */
export const DB_URL_PASSWORD_WARNING =
  "warning: the password in --db-url is visible in the process list and echoed by deno task; use DATABASE_URL or PGPASSWORD";

/** Thrown for a bad command line; tasks print its message and exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Parsed values: strings for `string` options, booleans for flags. Positional arguments are refused. */
export type ParsedArgs = Record<string, string | boolean | undefined>;

/**
 * Renders the `--help` text of a command.
 * @param spec The command's declaration.
 * @returns Text ready to print.
 * @example
 * ```ts
 * console.log(helpText({ name: "quality", summary: "…", options: {} }));
 * ```
 */
export function helpText(spec: CommandSpec): string {
  const usage = spec.positionals
    ? `Usage: deno task ${spec.name} ${spec.positionals} [options]`
    : `Usage: deno task ${spec.name} [options]`;
  const lines = [usage, "", spec.summary, "", "Options:"];
  const rows: [string, string][] = [];
  for (const [name, o] of Object.entries(spec.options)) {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${
      o.type === "string" ? ` ${o.valueName ?? "VALUE"}` : ""
    }`;
    let desc = o.description;
    if (o.choices) desc += ` (${o.choices.join("|")})`;
    if (o.default !== undefined && o.default !== false) desc += ` [default: ${o.default}]`;
    rows.push([flag, desc]);
  }
  rows.push(["-h, --help", "Show this help and exit"]);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [f, d] of rows) lines.push(`  ${f.padEnd(width)}${d}`);
  if (spec.examples?.length) {
    lines.push("", "Examples:");
    for (const e of spec.examples) lines.push(`  ${e}`);
  }
  return lines.join("\n");
}

/**
 * Parses `args` against `spec`. Prints help and exits 0 on `--help`; throws
 * {@linkcode UsageError} on an unknown option or a value outside `choices`. Prints
 * {@linkcode DB_URL_PASSWORD_WARNING} on stderr when `--db-url` holds a password.
 *
 * @param spec The command's declaration.
 * @param args Defaults to `Deno.args`.
 * @returns The values, with defaults applied.
 * @example
 * ```ts
 * const args = parseCommand({ name: "x", summary: "", options: { n: { type: "string", description: "count", default: "3" } } }, ["--n", "5"]);
 * args.n; // "5"
 * ```
 */
export function parseCommand(spec: CommandSpec, args: string[] = Deno.args): ParsedArgs {
  return parse(spec, args).values;
}

/**
 * {@linkcode parseCommand} for a task that takes positional arguments (a subcommand and
 * its operands); the spec's `positionals` documents them in `--help`.
 * @param spec The command's declaration, with `positionals` set.
 * @param args Defaults to `Deno.args`.
 * @returns The option values and the positional arguments in order.
 * @example
 * ```ts
 * const { values, positionals } = parseCommandWithPositionals({ name: "models", summary: "", positionals: "show REF", options: {} }, ["show", "12"]);
 * positionals; // ["show", "12"]
 * ```
 */
export function parseCommandWithPositionals(
  spec: CommandSpec,
  args: string[] = Deno.args,
): { values: ParsedArgs; positionals: string[] } {
  return parse(spec, args);
}

function parse(spec: CommandSpec, args: string[]): { values: ParsedArgs; positionals: string[] } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [k, o] of Object.entries(spec.options)) {
    options[k] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options,
      allowPositionals: spec.positionals !== undefined,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(
      `${(e as Error).message}\nRun \`deno task ${spec.name} --help\` for the options.`,
    );
  }
  if (parsed.values.help) {
    console.log(helpText(spec));
    Deno.exit(0);
  }
  const out: ParsedArgs = {};
  for (const [k, o] of Object.entries(spec.options)) {
    const v = (parsed.values as Record<string, string | boolean | undefined>)[k] ?? o.default;
    if (o.choices && typeof v === "string" && !o.choices.includes(v)) {
      throw new UsageError(`--${k} must be one of ${o.choices.join(", ")}; got "${v}"`);
    }
    out[k] = v;
  }
  if (typeof out["db-url"] === "string" && urlHasPassword(out["db-url"])) {
    console.error(DB_URL_PASSWORD_WARNING);
  }
  return { values: out, positionals: parsed.positionals };
}

/**
 * Reads a numeric option, refusing anything that is not a finite number in range.
 * @param args Parsed arguments.
 * @param name Option name without dashes.
 * @param options `min`, `max` (inclusive) and `integer` checks.
 * @returns The number, or `undefined` when the option is absent and has no default.
 * @example
 * ```ts
 * const steps = numberArg(args, "steps", { min: 1, integer: true });
 * ```
 */
export function numberArg(
  args: ParsedArgs,
  name: string,
  options: { min?: number; max?: number; integer?: boolean } = {},
): number | undefined {
  const raw = args[name];
  if (raw === undefined || raw === false) return undefined;
  const v = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(v)) {
    throw new UsageError(`--${name} must be a number; got "${raw}"`);
  }
  if (options.integer && !Number.isInteger(v)) {
    throw new UsageError(`--${name} must be a whole number; got ${raw}`);
  }
  if (options.min !== undefined && v < options.min) {
    throw new UsageError(`--${name} must be ≥ ${options.min}; got ${raw}`);
  }
  if (options.max !== undefined && v > options.max) {
    throw new UsageError(`--${name} must be ≤ ${options.max}; got ${raw}`);
  }
  return v;
}

/**
 * Splits a comma-separated list option (`--symbols AAPL,MSFT`), trimming blanks.
 * @param value The raw option value.
 * @returns The items, or `undefined` when absent.
 */
export function listArg(value: string | boolean | undefined): string[] | undefined {
  if (typeof value !== "string") return undefined;
  const items = value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  return items.length ? items : undefined;
}

/**
 * Runs a task's `main`, turning a {@linkcode UsageError} into exit code 2 and any
 * other error into exit code 1, with a redacted one-line message (stack only with `TT_DEBUG=1`).
 * @param main The task body.
 * @example
 * ```ts
 * if (import.meta.main) await runTask(main);
 * ```
 */
export async function runTask(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    const err = e as Error;
    const debug = Deno.env.get("TT_DEBUG") === "1";
    console.error(`error: ${redact(debug && err.stack ? err.stack : err.message)}`);
    Deno.exit(err instanceof UsageError ? 2 : 1);
  }
}
