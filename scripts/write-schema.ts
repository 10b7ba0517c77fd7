// Writes kots-backup.schema.json at the repo root from the config validator (packages/core/src/config.ts).
//   node scripts/write-schema.ts          rewrite the file
//   node scripts/write-schema.ts --check  exit 1 if the committed file is stale (CI)
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CONFIG_SCHEMA_FILE, renderConfigJsonSchema } from "../packages/core/src/config-schema-file.ts";

const file = join(dirname(fileURLToPath(import.meta.url)), "..", CONFIG_SCHEMA_FILE);
const expected = renderConfigJsonSchema();

if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(file, "utf8");
  } catch {
    // Missing counts as stale.
  }
  if (current !== expected) {
    process.stderr.write(
      "kots-backup.schema.json is stale\n  fix: run `node scripts/write-schema.ts` and commit it\n",
    );
    process.exit(1);
  }
  process.stderr.write("kots-backup.schema.json is up to date\n");
} else {
  writeFileSync(file, expected);
  process.stderr.write(`wrote ${file}\n`);
}
