export * from "./alerts.ts";
export * from "./cluster.ts";
export * from "./destination.ts";
export * from "./external.ts";
export * from "./rbac.ts";
export * from "./types.ts";
