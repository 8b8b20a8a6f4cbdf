import { COMMANDS, findCommand, helpCommand } from './commands.js';
import { describeFailure, EXIT_OK, EXIT_USAGE } from './errors.js';
import { overview } from './help.js';
import type { Io } from './io.js';
import { packageVersion } from './version.js';

/**
 * Runs one `tally` invocation and returns its exit code: 0 ok, 1 error, 2 usage, 3 drift.
 * Failures are printed to stderr as one line, `error CODE: message`.
 *
 * @example
 * process.exitCode = await run(['migrate', '--print'], processIo());
 */
export async function run(argv: string[], io: Io): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    io.err(overview(COMMANDS));
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h') return helpCommand([], io);
  if (name === '--version' || name === '-v') {
    io.out(packageVersion());
    return EXIT_OK;
  }
  let known = false;
  try {
    const command = findCommand(name);
    known = true;
    if (name !== 'help' && (args.includes('--help') || args.includes('-h'))) return helpCommand([name], io);
    return await command.run(args, io);
  } catch (err) {
    const { line, exitCode } = describeFailure(err);
    io.err(line);
    if (exitCode === EXIT_USAGE)
      io.err(`run \`tally help${known && name !== 'help' ? ` ${name}` : ''}\` for usage`);
    return exitCode;
  }
}
