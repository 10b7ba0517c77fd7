// Every command module registers itself on import; bin.ts imports this list once.
import "./backup.ts";
import "./ls.ts";
import "./silence.ts";
import "./status.ts";
import "./verify.ts";
import "./config-download.ts";
import "./export.ts";
import "./daemon.ts";
import "./doctor.ts";
