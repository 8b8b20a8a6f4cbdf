import { parseArgs } from 'node:util';
import { quoteIdent } from '../db/ident.js';
import { isTallyError } from '../errors.js';
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
 * usage errors (exit 2), never silently ignored. A command that takes a database (its options include
 * `database-url`) also takes it as one positional `DATABASE`: a `postgres://` URL (as --database-url) or
 * a directory (as --data-dir). `positionals` other arguments come first (e.g. inspect's ID|KEY).
 *
 * @example
 * const values = parseCommand('migrate', ['--print'], { ...DATABASE_OPTIONS, print: { type: 'boolean' } });
 * parseCommand('migrate', ['postgres://app@db/app'], DATABASE_OPTIONS)['database-url']; // 'postgres://app@db/app'
 */
export function parseCommand<T extends Record<string, OptionSpec>>(
  command: string,
  args: string[],
  options: T,
): Record<keyof T, string | boolean | undefined> {
  return parseWithPositionals(command, args, options, 0).values;
}

/**
 * Like parseCommand, with up to `leading` positionals before the optional `DATABASE` one.
 *
 * @example
 * const { values, positionals } = parseWithPositionals('inspect', ['k-1', './data'], OPTIONS, 1);
 */
export function parseWithPositionals<T extends Record<string, OptionSpec>>(
  command: string,
  args: string[],
  options: T,
  leading: number,
): { values: Record<keyof T, string | boolean | undefined>; positionals: string[] } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    const message =
      err instanceof Error ? err.message.replace(/\. To specify a positional.*$/s, '') : String(err);
    throw new UsageError(`tally ${command}: ${message}`);
  }
  const values = { ...parsed.values };
  const takesDatabase = 'database-url' in options;
  const max = leading + (takesDatabase ? 1 : 0);
  if (parsed.positionals.length > max) {
    const extra = parsed.positionals[max] ?? '';
    throw new UsageError(
      `tally ${command}: unexpected argument ${JSON.stringify(extra.slice(0, 80))}${takesDatabase ? ' (the database is one argument: a postgres:// URL or a directory)' : ''}`,
    );
  }
  const database = takesDatabase ? parsed.positionals[leading] : undefined;
  if (database !== undefined) {
    if (values['database-url'] !== undefined || values['data-dir'] !== undefined) {
      throw new UsageError(
        `tally ${command}: unexpected argument ${JSON.stringify(database.slice(0, 80))}: it would name the database, which --database-url or --data-dir already names`,
      );
    }
    values[/^[a-z][a-z0-9+.-]*:\/\//i.test(database) ? 'database-url' : 'data-dir'] = database;
  }
  return {
    values: values as Record<keyof T, string | boolean | undefined>,
    positionals: parsed.positionals.slice(0, leading),
  };
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

/** Reads --schema, --database-url and --data-dir; the two database choices exclude each other. */
export function databaseOptions(values: Record<string, unknown>, command: string): DatabaseOptions {
  const databaseUrl = stringOption(values, 'database-url', command);
  const dataDir = stringOption(values, 'data-dir', command);
  if (databaseUrl !== undefined && dataDir !== undefined) {
    throw new UsageError(`tally ${command}: pass --database-url or --data-dir, not both`);
  }
  const schema = stringOption(values, 'schema', command) ?? 'tally';
  optionCheck(command, () => quoteIdent(schema, '--schema'));
  return { schema, databaseUrl, dataDir };
}

/**
 * Runs a check of an option's value; a TallyError it throws (a bad identifier, a bad NATS name) becomes a
 * usage error naming the command, so every malformed option exits 2 before anything is opened.
 *
 * @example
 * optionCheck('relay', () => streamName(stream, '--stream'));
 */
export function optionCheck<T>(command: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (isTallyError(err)) throw new UsageError(`tally ${command}: ${err.message}`);
    throw err;
  }
}
