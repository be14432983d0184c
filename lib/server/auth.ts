/**
 * Who may read the dashboard: bound to loopback it needs nothing; bound to any other
 * address it needs a token, checked on every request (constant-time comparison) from an
 * `Authorization: Bearer T` header, a `tt_dashboard_token` cookie or a `?token=T` query
 * (the first page load sets the cookie, so links and the event stream carry it).
 *
 * @module
 */

/** The cookie that carries the token after a `?token=` page load. */
export const TOKEN_COOKIE = "tt_dashboard_token";

/**
 * Whether a host name or address is loopback (only this machine can connect).
 * @param host A bind address or host name.
 * @returns True for 127.0.0.0/8, ::1 and `localhost`.
 * @example
 * ```ts
 * isLoopback("127.0.0.1"); // true
 * isLoopback("0.0.0.0");   // false
 * ```
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * The token a bind needs: none on loopback; on another address the given one, or an error.
 * @param host The bind address.
 * @param token `--token` or `TT_DASHBOARD_TOKEN`, if any.
 * @returns The token to require, or null when none is needed and none was given.
 * @throws {Error} When a non-loopback host has no token, or the token is shorter than 16 characters.
 * @example
 * ```ts
 * requiredToken("127.0.0.1", undefined); // null
 * requiredToken("0.0.0.0", undefined);   // throws: binding 0.0.0.0 needs a token
 * ```
 */
export function requiredToken(host: string, token: string | undefined): string | null {
  const t = token?.trim() || undefined;
  if (t !== undefined && t.length < 16) {
    throw new Error("the dashboard token must have at least 16 characters");
  }
  if (!isLoopback(host) && t === undefined) {
    throw new Error(
      `binding the dashboard to ${host} (not loopback) needs a token: pass --token T or set ` +
        "TT_DASHBOARD_TOKEN (at least 16 characters), or bind 127.0.0.1",
    );
  }
  return t ?? null;
}

/**
 * Compares two strings in time that depends only on their lengths, not on where they differ.
 * @param a One string.
 * @param b The other.
 * @returns Whether they are equal.
 * @example
 * ```ts
 * constantTimeEqual("secret-token-123", "secret-token-123"); // true
 * ```
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i % (x.length || 1)] ?? 0) ^ (y[i % (y.length || 1)] ?? 0);
  return diff === 0;
}

/**
 * The token a request presents: bearer header, cookie, or `token` query parameter.
 * @param req The request.
 * @returns The token, or null.
 * @example
 * ```ts
 * presentedToken(new Request("http://h/?token=abc")); // "abc"
 * ```
 */
export function presentedToken(req: Request): string | null {
  const auth = req.headers.get("authorization");
  const m = auth ? /^Bearer\s+(.+)$/i.exec(auth) : null;
  if (m) return m[1].trim();
  const q = new URL(req.url).searchParams.get("token");
  if (q) return q;
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === TOKEN_COOKIE) return decodeURIComponent(v.join("="));
  }
  return null;
}

/**
 * Whether a request carries the required token (always true when none is required).
 * @param req The request.
 * @param token The required token, or null.
 * @returns Allowed or not.
 * @example
 * ```ts
 * authorized(new Request("http://h/", { headers: { authorization: "Bearer t" } }), "t"); // true
 * ```
 */
export function authorized(req: Request, token: string | null): boolean {
  if (token === null) return true;
  const got = presentedToken(req);
  return got !== null && constantTimeEqual(got, token);
}
