/**
 * Low-level CSV pieces for the bar importer: splitting a line (RFC 4180 quotes),
 * recognising vendor header variants, strict number parsing. Private to `lib/data/`.
 *
 * @module
 */

/** The columns the importer understands. */
export type BarField =
  | "time"
  | "open"
  | "high"
  | "low"
  | "close"
  | "adjClose"
  | "volume"
  | "symbol"
  | "clock";

/** Header names (lower case, spaces/underscores/dashes removed) → field. */
const ALIASES: Record<string, BarField> = {
  timestamp: "time",
  date: "time",
  datetime: "time",
  time: "clock",
  open: "open",
  high: "high",
  low: "low",
  close: "close",
  adjclose: "adjClose",
  adjustedclose: "adjClose",
  adjustedclosingprice: "adjClose",
  volume: "volume",
  symbol: "symbol",
  ticker: "symbol",
};

/** Required columns, in the order messages list them. */
export const REQUIRED_FIELDS: readonly BarField[] = [
  "time",
  "open",
  "high",
  "low",
  "close",
  "volume",
];

/** Names a field is shown as in messages. */
export const FIELD_NAMES: Record<BarField, string> = {
  time: "timestamp|date|datetime",
  open: "open",
  high: "high",
  low: "low",
  close: "close",
  adjClose: "adjusted close (Adj Close|adjusted_close|adjclose)",
  volume: "volume",
  symbol: "symbol",
  clock: "time of day (Time, beside a Date column)",
};

/**
 * Maps header cells to fields (case-insensitive; `Adj Close`, `adjusted_close` and
 * `adjclose` are the same). Unknown columns are ignored. A `Time` column beside a
 * `Date` column is the time of day (`clock`, combined with the date); alone it is the
 * timestamp.
 * @param cells Header cells.
 * @returns Field → column index, and the first field named twice (if any).
 * @example
 * ```ts
 * mapHeader(["Date", "Time", "Open"]).index; // { time: 0, clock: 1, open: 2 }
 * ```
 */
export function mapHeader(
  cells: string[],
): { index: Partial<Record<BarField, number>>; duplicate?: string } {
  const index: Partial<Record<BarField, number>> = {};
  for (let i = 0; i < cells.length; i++) {
    const key = cells[i].trim().toLowerCase().replace(/[\s_\-.]+/g, "");
    const field = ALIASES[key];
    if (!field) continue;
    if (index[field] !== undefined) return { index, duplicate: cells[i].trim() };
    index[field] = i;
  }
  if (index.time === undefined && index.clock !== undefined) {
    index.time = index.clock;
    delete index.clock;
  }
  return { index };
}

/**
 * Splits one CSV line. Fields may be quoted with `"` (a doubled `""` is a quote).
 * @param line The line without its line break.
 * @param delimiter One character.
 * @returns The fields, or `undefined` when a quote is left open (a field spanning lines is not supported).
 */
export function splitLine(line: string, delimiter: string): string[] | undefined {
  if (!line.includes('"')) return line.split(delimiter);
  const out: string[] = [];
  let i = 0;
  while (true) {
    if (line[i] === '"') {
      let value = "";
      i++;
      while (true) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      // Text between the closing quote and the delimiter is kept (lenient, like most readers).
      const d = line.indexOf(delimiter, i);
      value += d < 0 ? line.slice(i) : line.slice(i, d);
      out.push(value);
      if (d < 0) return out;
      i = d + 1;
    } else {
      const d = line.indexOf(delimiter, i);
      if (d < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, d));
      i = d + 1;
    }
  }
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses a decimal number strictly: no hex, no `NaN`/`Infinity`, no empty field.
 * @param text The field.
 * @returns The number, or `NaN` when the text is not a plain finite decimal.
 */
export function parseDecimal(text: string): number {
  const t = text.trim();
  if (!NUMBER.test(t)) return NaN;
  const v = Number(t);
  return Number.isFinite(v) ? v : NaN;
}

/**
 * Guesses the delimiter of a header that did not split on the expected one.
 * @param header The first line.
 * @param expected The delimiter in use.
 * @returns Another delimiter the header contains, if any.
 */
export function otherDelimiter(header: string, expected: string): string | undefined {
  for (const d of [",", ";", "\t", "|"]) if (d !== expected && header.includes(d)) return d;
  return undefined;
}

/**
 * Shows a delimiter in a message.
 * @param d The delimiter.
 * @returns e.g. `";"` or `tab`.
 */
export function showDelimiter(d: string): string {
  return d === "\t" ? "tab" : JSON.stringify(d);
}

/** The names `columns` accepts: the header vocabulary, normalised (see {@linkcode mapHeader}). */
export const COLUMN_NAMES: readonly string[] = Object.keys(ALIASES);

/**
 * Maps the column names given for a headerless file (`columns` option, `--columns`) to
 * fields, with the header vocabulary of {@linkcode mapHeader}; `skip` (or an empty name)
 * leaves a column unused.
 * @param columns Names in file order, or one comma-separated string.
 * @returns Field → column index, and the number of columns.
 * @throws {RangeError} When a name is unknown or a field is named twice, or a required field is missing.
 * @example
 * ```ts
 * parseColumns("timestamp,open,high,low,close,volume").index.close; // 4
 * ```
 */
export function parseColumns(
  columns: string | readonly string[],
): { index: Partial<Record<BarField, number>>; count: number } {
  const names = typeof columns === "string" ? columns.split(",") : [...columns];
  const unknown = names.filter((n) => {
    const k = n.trim().toLowerCase().replace(/[\s_\-.]+/g, "");
    return k !== "" && k !== "skip" && ALIASES[k] === undefined;
  });
  if (unknown.length) {
    throw new RangeError(
      `Unknown column name${unknown.length > 1 ? "s" : ""} ${
        unknown.map((n) => JSON.stringify(n.trim())).join(", ")
      } in columns (known: ${COLUMN_NAMES.join(", ")}, skip)`,
    );
  }
  const cells = names.map((n) => {
    const k = n.trim().toLowerCase().replace(/[\s_\-.]+/g, "");
    return k === "skip" ? "" : n;
  });
  const { index, duplicate } = mapHeader(cells);
  if (duplicate) throw new RangeError(`Column "${duplicate}" is named twice in columns`);
  const missing = REQUIRED_FIELDS.filter((f) => index[f] === undefined);
  if (missing.length) {
    throw new RangeError(
      `columns ${JSON.stringify(names.join(","))} name no ${
        missing.map((f) => FIELD_NAMES[f]).join(", no ")
      } column`,
    );
  }
  return { index, count: names.length };
}

/**
 * Whether a first line is data rather than a header: every cell is a number or a
 * `yyyyMMdd`/ISO-like date or time (digits with `-`, `/`, `:`, `.`, spaces, `T`, `Z`, offsets).
 * @param cells The first line's cells.
 * @returns `true` when no cell holds a letter-bearing name.
 * @example
 * ```ts
 * looksLikeData(["20240102 09:30", "1234500", "1240000"]); // true
 * looksLikeData(["Date", "Open"]); // false
 * ```
 */
export function looksLikeData(cells: readonly string[]): boolean {
  return cells.length > 1 &&
    cells.every((c) =>
      /^[\s\d.:/+\-eETZ]*\d[\s\d.:/+\-eETZ]*$/.test(c.trim().replace(/^"|"$/g, ""))
    );
}
