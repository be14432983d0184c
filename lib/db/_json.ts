/**
 * JSON columns as the two drivers return them: `pg` parses `jsonb` into values, PGlite
 * may hand back the text. One decoder for every repository.
 *
 * @module
 */

/**
 * Decodes a JSON column value: text is parsed, anything else (a parsed value, `null`)
 * is returned as it is.
 * @param v The column as read.
 * @returns The value.
 * @example
 * ```ts
 * jsonColumn<{ a: number }>('{"a":1}'); // { a: 1 }
 * jsonColumn({ a: 1 }); // { a: 1 }
 * ```
 */
export function jsonColumn<T>(v: T | string): T {
  return typeof v === "string" ? JSON.parse(v) : v;
}
