// Application services over ports: injected cluster, state, events and clock; no I/O of their own.
export * from "./list-backups.ts";
export type * from "./ports.ts";
export * from "./run-backup.ts";
