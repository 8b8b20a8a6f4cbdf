import { isTallyError } from '../errors.js';

/** Wrong arguments: the CLI prints the message and the usage line, and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A failure the CLI itself detects (no database, a broken log chain). Printed like a TallyError,
 * `error CODE: message`, and exits with 1.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;

/**
 * The one line the CLI prints for a failure, and its exit code.
 *
 * @example
 * const { line, exitCode } = describeFailure(err); // "error DB_ERROR: database error: ...", 1
 */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (err instanceof UsageError) return { line: `usage error: ${err.message}`, exitCode: EXIT_USAGE };
  if (err instanceof CliError || isTallyError(err)) {
    return { line: `error ${err.code}: ${messageOf(err)}`, exitCode: EXIT_ERROR };
  }
  return { line: `error INTERNAL: ${messageOf(err)}`, exitCode: EXIT_ERROR };
}

// Connection failures arrive as an AggregateError with an empty message (one error per address tried).
function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message && !/:\s*$/.test(err.message)) return err.message;
  const inner = err.cause instanceof Error ? err.cause : null;
  const nested =
    inner instanceof AggregateError ? inner.errors : err instanceof AggregateError ? err.errors : [];
  const detail = nested.map((e: unknown) => (e instanceof Error ? e.message : String(e))).filter(Boolean);
  if (detail.length > 0) return `${err.message.replace(/:\s*$/, '')}: ${[...new Set(detail)].join('; ')}`;
  if (inner?.message) return `${err.message} ${inner.message}`.trim();
  return err.message || err.name;
}
