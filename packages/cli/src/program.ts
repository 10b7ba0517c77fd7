// The `kots-backup` command line: global options, command registration, exit codes (docs/contract.md §2).

// core/errors, not the core index: the index pulls in zod, croner and the config schema (~250 ms),
// and this module is on the path of every `--help`.
import { ExitCode, InputError } from "@kots-backup/core/errors";
import { Command, CommanderError } from "commander";
import { createOutput, type Output, reportError, type Streams } from "./output.ts";

export interface GlobalOptions {
  config?: string;
  kubeconfig?: string;
  context?: string;
  json: boolean;
}

/** What a command's action receives: parsed global options and the output channel. */
export interface CommandContext {
  globals: GlobalOptions;
  out: Output;
}

/** A command's action returns the exit code it wants (0 all well, 1 found a problem). */
export type CommandAction<A extends unknown[]> = (
  ctx: CommandContext,
  ...args: A
) => Promise<typeof ExitCode.ok | typeof ExitCode.problem>;

export type CommandRegistrar = (program: Command, run: RunAction) => void;
export type RunAction = <A extends unknown[]>(
  action: CommandAction<A>,
) => (...args: unknown[]) => Promise<void>;

const commandRegistrars: CommandRegistrar[] = [];

/** Commands add themselves here (see commands/index.ts: definitions only; implementations load lazily). */
export function registerCommand(registrar: CommandRegistrar): void {
  commandRegistrars.push(registrar);
}

export function buildProgram(streams: Streams, setExitCode: (code: number) => void): Command {
  const program = new Command("kots-backup")
    .description(
      "Run KOTS snapshots on schedules, export them off the cluster, and page on-call when they stop.\n" +
        "Docs: README.md. Exit codes: 0 ok, 1 problem found, 2 usage/config error, 3 environment error.",
    )
    .option(
      "--config <file>",
      "config file (YAML or JSON); default kots-backup.yaml, or env KOTS_BACKUP_CONFIG",
    )
    .option("--kubeconfig <file>", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use")
    .option("--json", "print exactly one JSON document on stdout; logs go to stderr", false)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
      // main's reportError says a usage error once, as every error is said (`error: …` and its fix).
      outputError: () => {},
    });

  const run: RunAction =
    (action) =>
    async (...args) => {
      const command = args.at(-1) as Command;
      const globals = command.optsWithGlobals() as GlobalOptions;
      const out = createOutput(Boolean(globals.json), streams);
      try {
        setExitCode(await action({ globals, out }, ...(args.slice(0, -1) as never)));
      } catch (error) {
        setExitCode(reportError(error, Boolean(globals.json), streams));
      }
    };

  for (const registrar of commandRegistrars) registrar(program, run);
  return program;
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: string[], streams: Streams = process): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram(streams, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return ExitCode.ok;
      if (error.code === "commander.help") return ExitCode.ok;
      const json = argv.includes("--json");
      return reportError(
        new InputError("usage", error.message.replace(/^error: /, ""), { fix: "see `kots-backup --help`" }),
        json,
        streams,
      );
    }
    throw error;
  }
  return exitCode;
}
