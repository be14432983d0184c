/**
 * Credential redaction for anything that may reach a log, a report or an error.
 *
 * @module
 */

const URL_WITH_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/\s]*)(@)/gi;
const KEY_VALUE_PASSWORD = /\b(password|passwd|pwd)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)/gi;

/**
 * Replaces every password in `text` (inside URLs like `postgres://u:secret@h/db`
 * and in `password=secret` pairs) by `***`.
 *
 * @param text Any string: a URL, an error message, a JSON document.
 * @returns The same text with passwords replaced.
 * @example
 * ```ts
 * redact("postgres://bob:hunter2@db:5432/x"); // "postgres://bob:***@db:5432/x"
 * ```
 */
export function redact(text: string): string {
  return text.replace(URL_WITH_PASSWORD, "$1***$3").replace(KEY_VALUE_PASSWORD, "$1$2***");
}

/**
 * Deep-copies a JSON-like value, redacting every string in it and dropping the
 * values of keys that name a secret (`password`, `secret`, `token`, `databaseUrl`'s password).
 *
 * @param value A plain object, array or primitive.
 * @returns A redacted copy that is safe to store in `config_json`.
 * @example
 * ```ts
 * redactDeep({ dbUrl: "postgres://a:b@h/d", password: "x" }); // { dbUrl: "postgres://a:***@h/d", password: "***" }
 * ```
 */
export function redactDeep<T>(value: T): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T;
  if (value && typeof value === "object" && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = /pass(word)?|secret|token/i.test(k) && v != null ? "***" : redactDeep(v);
    }
    return out as T;
  }
  return value;
}
