#!/usr/bin/env node
import "./commands/index.ts";
import { main } from "./program.ts";

process.exitCode = await main(process.argv.slice(2));
