import { describeFailure, EXIT_USAGE, UsageError } from './errors.js';
import { helpCommand, TEXTS } from './help.js';
import { inspectCommand } from './inspect.js';
import type { Io } from './io.js';
import { logCommand } from './log.js';
import { migrateCommand } from './migrate.js';
import { reconcileCommand } from './reconcile.js';
import { relayCommand } from './relay.js';
import { repairCommand } from './repair.js';
import { workerCommand } from './worker.js';

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  migrate: migrateCommand,
  log: logCommand,
  worker: (args, io) => workerCommand(args, io),
  inspect: inspectCommand,
  relay: (args, io) => relayCommand(args, io),
  reconcile: reconcileCommand,
  repair: repairCommand,
  help: helpCommand,
};

/**
 * Runs one `tally` invocation and returns its exit code: 0 ok, 1 error, 2 usage.
 * Failures are printed to stderr as one line, `error CODE: message`.
 *
 * @example
 * process.exitCode = await run(['migrate', '--print'], processIo());
 */
export async function run(argv: string[], io: Io): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.err(TEXTS.main!);
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h') return helpCommand([], io);
  const command = COMMANDS[name];
  try {
    if (!command)
      throw new UsageError(
        `unknown command ${JSON.stringify(name)}; commands: migrate, log, worker, inspect, relay, reconcile, repair, help`,
      );
    if (name !== 'help' && (args.includes('--help') || args.includes('-h'))) return helpCommand([name], io);
    return await command(args, io);
  } catch (err) {
    const { line, exitCode } = describeFailure(err);
    io.err(line);
    if (exitCode === EXIT_USAGE)
      io.err(`run \`tally help${command && name !== 'help' ? ` ${name}` : ''}\` for usage`);
    return exitCode;
  }
}
