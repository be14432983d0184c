/**
 * Small shared pieces used by every domain: CLI parsing, progress bars, seeded
 * random numbers and credential redaction.
 *
 * @module
 */
export * from "./cli.ts";
export * from "./progress.ts";
export * from "./rng.ts";
export * from "./redact.ts";
export * from "./paths.ts";
export * from "./atomic.ts";
