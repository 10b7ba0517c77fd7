// The exact text of the committed kots-backup.schema.json, shared by scripts/write-schema.ts and its test.
import { configJsonSchema } from "./config.ts";

export const CONFIG_SCHEMA_FILE = "kots-backup.schema.json";

export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
