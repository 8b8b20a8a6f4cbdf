/** What a command may touch of the process: output lines, the environment, the working directory. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Whether progress may be drawn in place (standard error is a terminal). */
  readonly isTTY?: boolean;
  /** Where SIGINT and SIGTERM arrive for the commands that run until stopped (default: the process). */
  readonly signals?: NodeJS.EventEmitter;
}

/**
 * The real process as an Io.
 *
 * @example
 * const code = await run(process.argv.slice(2), processIo());
 */
export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    env: process.env,
    cwd: process.cwd(),
    isTTY: process.stderr.isTTY === true,
  };
}
