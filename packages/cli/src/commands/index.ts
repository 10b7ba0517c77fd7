// Every command module registers itself on import; bin.ts imports this list once.
import "./backup.ts";
import "./ls.ts";
