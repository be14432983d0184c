/**
 * The HTML shells of the dashboard's pages and its static assets. A page is a frame
 * (navigation, an alert bar, an empty main) plus `app.js`, which fetches the page's JSON
 * endpoint and renders tables and charts (vega-embed, served from the installed npm
 * packages: no CDN, works offline). No data is written into the HTML itself.
 *
 * @module
 */
import { packageFile } from "../util/paths.ts";

/** The pages, in navigation order: path prefix, title and the endpoint they read. */
export const PAGES = {
  overview: { path: "/", title: "Overview" },
  evaluation: { path: "/evaluation/", title: "Model / evaluation" },
  risk: { path: "/risk/", title: "Risk attribution" },
  live: { path: "/live", title: "Live monitoring" },
  data: { path: "/data", title: "Data" },
  sweeps: { path: "/sweeps", title: "Sweeps" },
  sweep: { path: "/sweeps/", title: "Sweep" },
} as const;

/** A page name. */
export type PageName = keyof typeof PAGES;

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c] ?? "&#39;"),
  );

/**
 * The HTML of one page.
 * @param page Which page.
 * @param api The JSON endpoint it renders, e.g. `/api/evaluation/12`.
 * @param title The document title.
 * @returns The HTML document.
 * @example
 * ```ts
 * pageHtml("live", "/api/live", "Live monitoring");
 * ```
 */
export function pageHtml(page: PageName, api: string, title: string): string {
  const nav = (Object.keys(PAGES) as PageName[])
    .filter((p) => p !== "evaluation" && p !== "risk" && p !== "sweep")
    .map((p) =>
      `<a href="${PAGES[p].path}"${p === page ? ' aria-current="page"' : ""}>${PAGES[p].title}</a>`
    ).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · tensortrade dashboard</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/vega.min.js"></script>
<script src="/assets/vega-lite.min.js"></script>
<script src="/assets/vega-embed.min.js"></script>
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<header><strong>tensortrade</strong><nav>${nav}</nav><span id="store" class="muted"></span></header>
<div id="alerts" role="alert" aria-live="polite"></div>
<main id="app" data-page="${page}" data-api="${esc(api)}"><p class="muted">Loading…</p></main>
</body>
</html>
`;
}

/** A static file: its bytes' source and content type. */
interface Asset {
  file: () => string | URL;
  type: string;
}

const ASSETS: Record<string, Asset> = {
  "vega.min.js": { file: () => packageFile("vega", "build/vega.min.js"), type: "text/javascript" },
  "vega-lite.min.js": {
    file: () => packageFile("vega-lite", "build/vega-lite.min.js"),
    type: "text/javascript",
  },
  "vega-embed.min.js": {
    file: () => packageFile("vega-embed", "build/vega-embed.min.js"),
    type: "text/javascript",
  },
  "app.js": { file: () => new URL("./assets/app.js", import.meta.url), type: "text/javascript" },
  "style.css": { file: () => new URL("./assets/style.css", import.meta.url), type: "text/css" },
};

/**
 * Serves `/assets/NAME`, or null for an unknown name.
 * @param name The file name after `/assets/`.
 * @returns The response, or null.
 * @example
 * ```ts
 * const res = await assetResponse("vega.min.js");
 * ```
 */
export async function assetResponse(name: string): Promise<Response | null> {
  const a = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (!a) return null;
  const body = await Deno.readFile(a.file());
  return new Response(body, {
    headers: { "content-type": `${a.type}; charset=utf-8`, "cache-control": "max-age=300" },
  });
}
