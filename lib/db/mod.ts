/**
 * The PostgreSQL store: connection (PGlite embedded or a server), versioned
 * migrations, bulk upserts and repositories.
 *
 * @module
 */
export * from "./store.ts";
export * from "./store_lock.ts";
export * from "./migrate.ts";
export * from "./bulk.ts";
export * from "./bars.ts";
export * from "./prices_repo.ts";
export * from "./episodes_repo.ts";
export * from "./models_repo.ts";
export * from "./train_runs_repo.ts";
export * from "./quality_repo.ts";
export * from "./ibkr_repo.ts";
export * from "./features_repo.ts";
export * from "./server_admin.ts";
export * from "./model_aliases_repo.ts";
export * from "./drift_repo.ts";
export * from "./execution_repo.ts";
export * from "./model_ab_repo.ts";
export * from "./dashboard_repo.ts";
export * from "./sweeps_repo.ts";
export * from "./alt_data_repo.ts";
export * from "./alt_quality_repo.ts";
