/**
 * The dashboard server (`deno task dashboard`): `Deno.serve` with a small router over
 * read-only JSON endpoints and the HTML pages that render them.
 *
 * | path | what |
 * | --- | --- |
 * | `/`, `/api/overview` | models with aliases, latest evaluations, training runs |
 * | `/evaluation/ID`, `/api/evaluation/ID` | one evaluation episode |
 * | `/model/ID`, `/api/model/ID` | a model → its latest evaluation |
 * | `/risk/ID`, `/api/risk/ID` | risk attribution of an episode |
 * | `/live`, `/api/live`, `/api/live/stream` | live monitoring; the stream is server-sent events |
 * | `/data`, `/api/data?barSize=1 day` | data quality and coverage |
 * | `/sweeps`, `/api/sweeps` | sweeps with their progress |
 * | `/sweeps/ID`, `/api/sweeps/ID` | one sweep: jobs, leaderboard, deflated Sharpe of the winner |
 * | `/api/health` | the store it reads |
 *
 * Loopback binds need no token; any other bind needs one (`auth.ts`), checked on every
 * request. Every JSON answer is passed through `redactDeep`, so a database password never
 * leaves the server.
 *
 * @module
 */
import { redact, redactDeep } from "../util/redact.ts";
import { resolveReportEpisode } from "../pipeline/episode_report.ts";
import type { Queryable } from "../db/store.ts";
import { authorized, requiredToken, TOKEN_COOKIE } from "./auth.ts";
import { assetResponse, pageHtml, type PageName, PAGES } from "./pages.ts";
import {
  openStoreAccess,
  type StoreAccess,
  type StoreAccessOptions,
  StoreBusyError,
} from "./store_access.ts";
import { dataView, evaluationView, liveView, overviewView, riskView } from "./views.ts";
import { sweepsView, sweepView } from "./sweeps_view.ts";

/** Options of {@linkcode startDashboard}. */
export interface DashboardOptions extends StoreAccessOptions {
  /** Bind address. Default `127.0.0.1`. */
  host?: string;
  /** Port; 0 picks a free one. Default 8787. */
  port?: number;
  /** Required token (a non-loopback host needs one). Default `TT_DASHBOARD_TOKEN`. */
  token?: string;
  /** Read through this access instead of opening one (e.g. `storeAccessFrom(store)`). */
  access?: StoreAccess;
  /** How often the live stream reads the store. Default 2000 ms. */
  liveIntervalMs?: number;
  /** Where to log one line per failed request. Default `console.error`. */
  log?: (line: string) => void;
}

/** A running dashboard. */
export interface Dashboard {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Where it reads, password redacted. */
  readonly store: string;
  /** Stops serving and releases the store. */
  close(): Promise<void>;
}

type Handler = (req: Request, params: string[]) => Promise<Response> | Response;

/**
 * Starts the dashboard.
 * @param options Bind address, port, token, store.
 * @returns The running server; `close()` it when done.
 * @throws {Error} When a non-loopback host has no token (before anything is bound).
 * @example
 * ```ts
 * const dash = await startDashboard({ port: 0 });
 * console.log(`open ${dash.url}`);
 * await dash.close();
 * ```
 */
export async function startDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const host = options.host ?? "127.0.0.1";
  const token = requiredToken(host, options.token ?? Deno.env.get("TT_DASHBOARD_TOKEN"));
  const access = options.access ?? (await openStoreAccess(options));
  const ownsAccess = !options.access;
  const log = options.log ?? ((line: string) => console.error(line));
  const liveMs = options.liveIntervalMs ?? 2000;
  const streams = new Set<() => void>();

  const read = <T>(fn: (q: Queryable) => Promise<T>) => access.read(fn);
  const api = (fn: (req: Request, params: string[]) => Promise<unknown>): Handler =>
  async (
    req,
    params,
  ) => {
    try {
      return json(await fn(req, params));
    } catch (e) {
      return errorResponse(e, req, log);
    }
  };
  const idOf = (s: string) => {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`Not an id: ${s}`);
    return n;
  };
  const page =
    (name: PageName, apiPath: (p: string[]) => string, title: (p: string[]) => string) =>
    (_req: Request, p: string[]) =>
      new Response(pageHtml(name, apiPath(p), title(p)), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });

  const routes: [RegExp, Handler][] = [
    [/^\/$/, page("overview", () => "/api/overview", () => PAGES.overview.title)],
    [
      /^\/evaluation\/(\d+)$/,
      page("evaluation", (p) => `/api/evaluation/${p[0]}`, (p) => `Evaluation ${p[0]}`),
    ],
    [/^\/risk\/(\d+)$/, page("risk", (p) => `/api/risk/${p[0]}`, (p) => `Risk ${p[0]}`)],
    [/^\/live$/, page("live", () => "/api/live", () => PAGES.live.title)],
    [/^\/data$/, page("data", () => "/api/data", () => PAGES.data.title)],
    [/^\/sweeps$/, page("sweeps", () => "/api/sweeps", () => PAGES.sweeps.title)],
    [/^\/sweeps\/(\d+)$/, page("sweep", (p) => `/api/sweeps/${p[0]}`, (p) => `Sweep ${p[0]}`)],
    [/^\/api\/sweeps$/, api(() => read(sweepsView))],
    [/^\/api\/sweeps\/(\d+)$/, api((_r, p) => read((q) => sweepView(q, idOf(p[0]))))],
    [/^\/model\/(\d+)$/, async (req, p) => {
      try {
        const id = await read((q) => resolveReportEpisode(q, { modelId: idOf(p[0]) }));
        return Response.redirect(new URL(`/evaluation/${id}`, req.url), 302);
      } catch (e) {
        return errorResponse(e, req, log);
      }
    }],
    [/^\/api\/health$/, api(() => Promise.resolve({ ok: true, store: access.description }))],
    [/^\/api\/overview$/, api(() => read(overviewView))],
    [/^\/api\/evaluation\/(\d+)$/, api((_r, p) => read((q) => evaluationView(q, idOf(p[0]))))],
    [
      /^\/api\/model\/(\d+)$/,
      api(async (_r, p) => ({
        modelId: idOf(p[0]),
        episodeId: await read((q) => resolveReportEpisode(q, { modelId: idOf(p[0]) })),
      })),
    ],
    [/^\/api\/risk\/(\d+)$/, api((_r, p) => read((q) => riskView(q, idOf(p[0]))))],
    [/^\/api\/live$/, api((r) => read((q) => liveView(q, liveOptions(r))))],
    [
      /^\/api\/data$/,
      api((r) => read((q) => dataView(q, new URL(r.url).searchParams.get("barSize") ?? "1 day"))),
    ],
    [/^\/favicon\.ico$/, () => new Response(null, { status: 204 })],
    [
      /^\/api\/live\/stream$/,
      (req) => liveStream(req, () => read((q) => liveView(q, liveOptions(req))), liveMs, streams),
    ],
    [
      /^\/assets\/([a-z.-]+)$/,
      async (_req, p) => (await assetResponse(p[0])) ?? new Response("not found", { status: 404 }),
    ],
  ];

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (!authorized(req, token)) {
      return url.pathname.startsWith("/api/")
        ? json({ error: "unauthorized: pass the dashboard token" }, 401)
        : new Response("401 unauthorized: open the dashboard with ?token=…", { status: 401 });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return json({ error: "the dashboard is read-only" }, 405);
    }
    for (const [re, h] of routes) {
      const m = re.exec(url.pathname);
      if (!m) continue;
      const res = await h(req, m.slice(1).map(decodeURIComponent));
      return secure(res, token !== null && url.searchParams.has("token") ? token : null);
    }
    return secure(json({ error: `no such page: ${url.pathname}` }, 404), null);
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    // Binding is synchronous: a taken port or a bad address throws here.
    server = Deno.serve({
      hostname: host,
      port: options.port ?? 8787,
      onListen: () => {},
      onError: (e) => {
        log(`dashboard: ${redact(String(e))}`);
        return json({ error: "internal error" }, 500);
      },
    }, handler);
  } catch (e) {
    if (ownsAccess) await access.close();
    throw e;
  }
  const addr = server.addr;
  const shownHost = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${shownHost}:${addr.port}`,
    host: addr.hostname,
    port: addr.port,
    store: access.description,
    async close() {
      for (const stop of streams) stop();
      await server.shutdown();
      if (ownsAccess) await access.close();
    },
  };
}

function liveOptions(req: Request): { runId?: number } {
  const run = new URL(req.url).searchParams.get("run");
  if (run === null || run === "") return {};
  const n = Number(run);
  if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`Not a trading run id: ${run}`);
  return { runId: n };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(redactDeep(body)), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
  });
}

function secure(res: Response, setCookie: string | null): Response {
  const h = new Headers(res.headers);
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "no-referrer");
  h.set(
    "content-security-policy",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
  );
  if (setCookie) {
    h.append(
      "set-cookie",
      `${TOKEN_COOKIE}=${encodeURIComponent(setCookie)}; HttpOnly; SameSite=Strict; Path=/`,
    );
  }
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: h });
}

function errorResponse(e: unknown, req: Request, log: (line: string) => void): Response {
  if (e instanceof StoreBusyError) {
    const o = e.owner;
    return new Response(
      JSON.stringify(redactDeep({
        error: e.message,
        busy: true,
        owner: o ? { pid: o.pid, task: o.task, since: o.startedAt } : null,
        retryAfter: e.retryAfter,
      })),
      {
        status: 503,
        headers: {
          "content-type": "application/json; charset=utf-8",
          "retry-after": String(e.retryAfter),
          "cache-control": "no-store",
        },
      },
    );
  }
  const message = redact(e instanceof Error ? e.message : String(e));
  if (e instanceof RangeError) return json({ error: message }, 404);
  log(`dashboard: ${new URL(req.url).pathname}: ${message}`);
  return json({ error: message }, 500);
}

/** Server-sent events: a `live` event whenever the snapshot changes, `busy` while the store is held. */
function liveStream(
  req: Request,
  snapshot: () => Promise<unknown>,
  intervalMs: number,
  streams: Set<() => void>,
): Response {
  const enc = new TextEncoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let last = "";
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      stop = () => {
        if (stopped) return;
        stopped = true;
        clearTimeout(timer);
        streams.delete(stop);
        try {
          controller.close();
        } catch { /* closed already */ }
      };
      streams.add(stop);
      req.signal.addEventListener("abort", stop);
      const send = (event: string, data: unknown) => {
        if (!stopped) {
          controller.enqueue(enc.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
        }
      };
      const tick = async () => {
        if (stopped) return;
        try {
          const snap = redactDeep(await snapshot()) as Record<string, unknown>;
          const { at: _at, ...content } = snap;
          const key = JSON.stringify(content);
          if (key !== last) {
            last = key;
            send("live", snap);
          } else if (!stopped) controller.enqueue(enc.encode(": unchanged\n\n"));
        } catch (e) {
          last = "";
          send(e instanceof StoreBusyError ? "busy" : "failure", {
            error: redact(e instanceof Error ? e.message : String(e)),
          });
        }
        if (!stopped) timer = setTimeout(tick, intervalMs);
      };
      controller.enqueue(enc.encode("retry: 3000\n\n"));
      tick();
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "connection": "keep-alive",
    },
  });
}
