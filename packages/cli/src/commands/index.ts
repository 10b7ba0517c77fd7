// Every command module registers itself on import; bin.ts imports this list once.
import "./backup.ts";
import "./ls.ts";
import "./export.ts";
import "./config-download.ts";
