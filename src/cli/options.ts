import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

type OptionSpec = { type: 'string' | 'boolean'; short?: string };

/** Options every command that touches a database accepts. */
export const DATABASE_OPTIONS = {
  schema: { type: 'string' },
  'database-url': { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, OptionSpec>;

/** Where the database options point. */
export interface DatabaseOptions {
  schema: string;
  databaseUrl: string | undefined;
  dataDir: string | undefined;
}

/**
 * Parses a command's arguments strictly: unknown options, missing values and stray positionals are
 * usage errors (exit 2), never silently ignored.
 *
 * @example
 * const values = parseCommand('migrate', ['--print'], { ...DATABASE_OPTIONS, print: { type: 'boolean' } });
 */
export function parseCommand<T extends Record<string, OptionSpec>>(
  command: string,
  args: string[],
  options: T,
): Record<keyof T, string | boolean | undefined> {
  try {
    const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
    return values as unknown as Record<keyof T, string | boolean | undefined>;
  } catch (err) {
    const message =
      err instanceof Error ? err.message.replace(/\. To specify a positional.*$/s, '') : String(err);
    throw new UsageError(`tally ${command}: ${message}`);
  }
}

/** A string option that, when given, must not be empty. */
export function stringOption(
  values: Record<string, unknown>,
  name: string,
  command: string,
): string | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '')
    throw new UsageError(`tally ${command}: --${name} needs a value`);
  return v;
}

/** Reads --schema, --database-url and --data-dir; the two database choices exclude each other. */
/**
 * An integer option `--name` from `min` to `max`, or undefined when absent; anything else is a usage error
 * naming the command.
 *
 * @example
 * const pollMs = intOption(values, 'poll-ms', 'worker', 1, 3_600_000) ?? 1000;
 */
export function intOption(
  values: Record<string, unknown>,
  name: string,
  command: string,
  min: number,
  max: number,
): number | undefined {
  const v = stringOption(values, name, command);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw new UsageError(`tally ${command}: --${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

export function databaseOptions(values: Record<string, unknown>, command: string): DatabaseOptions {
  const databaseUrl = stringOption(values, 'database-url', command);
  const dataDir = stringOption(values, 'data-dir', command);
  if (databaseUrl !== undefined && dataDir !== undefined) {
    throw new UsageError(`tally ${command}: pass --database-url or --data-dir, not both`);
  }
  return { schema: stringOption(values, 'schema', command) ?? 'tally', databaseUrl, dataDir };
}
