/**
 * Credential redaction for anything that may reach a log, a report or an error.
 *
 * @module
 */

/** `scheme://user:` — the start of a URL that carries a password. */
const URL_USER = /[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"'<>`]*:/gi;
/** A host (name, IPv4 or bracketed IPv6), optional port, several comma-separated (libpq). */
const HOST_AT =
  /^(?:\[[0-9a-f:.]+\]|[a-z0-9_.~%-]*)(?::\d*)?(?:,(?:\[[0-9a-f:.]+\]|[a-z0-9_.~%-]+)(?::\d*)?)*/i;
/** Characters that end the text a password could extend over (line ends, quotes, markup). */
const REGION_END = /[\r\n"'<>`]/;
const KEY_VALUE_PASSWORD =
  /\b(\w*(?:password|passwd|pwd))(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)/gi;

/**
 * Where the password of the URL whose `scheme://user:` ends at `from` stops: the
 * index of the `@` that ends the authority, or -1 when there is none. A password may
 * hold unencoded `/ ? # @` and spaces, so the authority's `@` is the last `@` that is
 * followed by a host (optionally `:port`, then anything but another `@`), not counting an
 * `@` that comes after a query (`?`) of an earlier candidate host, after white space
 * unless a URL goes on after it (`/`, `?` or a port), or inside another URL. Where `#`
 * makes it ambiguous, more is hidden, never less.
 */
function passwordEnd(text: string, from: number): number {
  const stop = text.slice(from).search(REGION_END);
  const region = text.slice(from, stop < 0 ? text.length : from + stop);
  const nextUrl = region.indexOf("://");
  const limit = nextUrl < 0 ? region.length : nextUrl;
  let chosen = -1;
  let hostEnd = -1;
  for (let at = region.indexOf("@"); at >= 0 && at < limit; at = region.indexOf("@", at + 1)) {
    const host = HOST_AT.exec(region.slice(at + 1))![0];
    const end = at + 1 + host.length;
    const after = region[end];
    if (after === "@") continue; // "p@ss@h": not a host yet
    if (chosen < 0) {
      const password = region.slice(0, at);
      // A "password" with spaces that starts like a port ("postgres://localhost:5432/db
      // refused; mail bob@example.com") is a password-less URL followed by prose.
      if (/\s/.test(password) && /^\d+(?:[/?#\s]|$)/.test(password)) continue;
      chosen = at;
      hostEnd = end;
      continue;
    }
    const between = region.slice(hostEnd, at);
    if (between.includes("?")) break;
    // Across white space only to a host a URL clearly goes on from ("… bob@example.com" is prose).
    if (/\s/.test(between) && !(after === "/" || after === "?" || /:\d/.test(host))) break;
    chosen = at;
    hostEnd = end;
  }
  return chosen < 0 ? -1 : from + chosen;
}

/**
 * Replaces every password in `text` (inside URLs like `postgres://u:secret@h/db`, even
 * with unencoded `/ ? # @` or spaces in it, and in `password=secret` pairs) by `***`.
 * Everything between the scheme's `://user:` and the last `@` of the authority is
 * replaced; an `@` in a path, query or fragment is not taken for the authority's.
 *
 * @param text Any string: a URL, an error message, a JSON document.
 * @returns The same text with passwords replaced.
 * @example
 * ```ts
 * redact("postgres://bob:hunter2@db:5432/x"); // "postgres://bob:***@db:5432/x"
 * redact("postgres://u:p@ss@h:5432/db?x=@y"); // "postgres://u:***@h:5432/db?x=@y"
 * ```
 */
export function redact(text: string): string {
  let out = "";
  let last = 0;
  URL_USER.lastIndex = 0;
  for (let m = URL_USER.exec(text); m; m = URL_USER.exec(text)) {
    const from = m.index + m[0].length;
    if (from < last) continue;
    const at = passwordEnd(text, from);
    if (at < 0) continue;
    out += text.slice(last, from) + "***";
    last = at;
    URL_USER.lastIndex = at;
  }
  out += text.slice(last);
  return out.replace(KEY_VALUE_PASSWORD, "$1$2***");
}

/**
 * True when `url` carries a password (`scheme://user:password@host…`).
 *
 * @param url A connection URL.
 * @returns Whether {@linkcode redact} would hide something in it.
 * @example
 * ```ts
 * urlHasPassword("postgres://u:pw@h/db"); // true
 * urlHasPassword("postgres://u@h/db"); // false
 * ```
 */
export function urlHasPassword(url: string): boolean {
  URL_USER.lastIndex = 0;
  const m = URL_USER.exec(url);
  if (!m) return false;
  const from = m.index + m[0].length;
  const at = passwordEnd(url, from);
  return at > from;
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
