export * from "./emf.ts";
export * from "./figures.ts";
export * from "./prometheus.ts";
