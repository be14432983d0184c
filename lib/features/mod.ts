/**
 * Features and signals: declarative Polars feature definitions (per instrument and
 * cross-sectional), their computation into wide frames, long form and the aligned
 * {@linkcode FeaturePanel}, as-of features over alternative data, normalisers fit on a
 * training slice, and trading signals.
 *
 * @module
 */
export * from "./feature_panel.ts";
export * from "./definitions.ts";
export * from "./compute.ts";
export * from "./synthetic.ts";
export * from "./normalise.ts";
export * from "./signals.ts";
export * from "./refresh.ts";
export * from "./incremental.ts";
export * from "./tail.ts";
export * from "./alt_features.ts";
export * from "./alt_synthetic.ts";
