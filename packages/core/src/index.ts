export * from "./errors.ts";
export * from "./events.ts";
export type * from "./ports.ts";
