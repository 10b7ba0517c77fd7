export * from "./resolve.ts";
export * from "./secret.ts";
