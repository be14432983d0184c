/**
 * The model registry: references (`ID`, `NAME@vN`, `NAME@latest`, `NAME@ALIAS`), aliases with
 * rollback and restore, lineage, and descriptions for `deno task models`.
 * @module
 */
export * from "./aliases.ts";
export * from "./lineage.ts";
export * from "./describe.ts";
export * from "./drift.ts";
export * from "./model_drift.ts";
export * from "./compare.ts";
export * from "./performance_drift.ts";
export * from "./triggers.ts";
