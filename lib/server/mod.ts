/**
 * The dashboard: a read-only web server over the store (`deno task dashboard`) with
 * pages for runs and models, evaluations, risk attribution, live monitoring and data
 * quality, drawn in the browser from the `lib/viz` chart specs.
 *
 * @example
 * ```ts
 * import { startDashboard } from "@lib/server/mod.ts";
 * const dash = await startDashboard({ port: 0 });
 * console.log(dash.url);
 * await dash.close();
 * ```
 *
 * @module
 */
export * from "./auth.ts";
export * from "./store_access.ts";
export * from "./interactive.ts";
export * from "./views.ts";
export * from "./sweeps_view.ts";
export * from "./pages.ts";
export * from "./dashboard.ts";
