export * from "./client.js";
export * from "./extensions.js";
export * from "./fs.js";
export * from "./model.js";
export type * from "./types.js";
export type { Exit, ProcessOptions } from "./process.js";
