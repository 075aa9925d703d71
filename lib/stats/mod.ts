/**
 * The stats package's public surface.
 *
 * @module
 */
export * from "./api.ts";
export * from "./cache.ts";
export * from "./cat.ts";
export * from "./dashboard.ts";
export * from "./handler.ts";
export * from "./ledger.ts";
export * from "./options.ts";
export * from "./params.ts";
export * from "./ranges.ts";
export * from "./respond.ts";
export * from "./series.ts";
export * from "./tabulate.ts";
