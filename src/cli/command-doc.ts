/**
 * How one `tally` command is described: its synopsis, one-line summary, what it does, and its options. The
 * overview (`tally help`), each command's help and docs/cli.md's synopsis are all rendered from these
 * (src/cli/help.ts), so they cannot tell different stories.
 */
export interface CommandDoc {
  /** The synopsis after `tally NAME `, one string per line; later lines continue the first. */
  readonly usage: readonly string[];
  /** One line for the overview. */
  readonly summary: string;
  /** What the command does, a paragraph or two. */
  readonly about: string;
  /** [argument or option, meaning] rows; a meaning may span several lines. */
  readonly options: readonly (readonly [string, string])[];
  /** Text after the options (exit codes, notes). */
  readonly notes?: string;
  /** Whether the command opens a database (adds the database section). Default true. */
  readonly database?: boolean;
}

/** The database section every command that opens a database shares. */
export const DATABASE_ROWS: readonly (readonly [string, string])[] = [
  ['--database-url URL', 'PostgreSQL, e.g. postgres://app@127.0.0.1:5432/app'],
  ['--data-dir DIR', 'embedded PGlite in DIR'],
  ['DATABASE', 'either, as the last argument: a postgres:// URL or a directory'],
  ['DATABASE_URL', 'environment variable, PostgreSQL'],
  ['(default)', 'embedded PGlite in ./.tally-data'],
  ['--schema NAME', "schema of Tally's own tables (default: tally)"],
];

/** Every exit code of the CLI, for the overview. */
export const EXIT_CODES: readonly (readonly [string, string])[] = [
  ['0', 'ok (repair: done, or a dry run)'],
  ['1', 'an error, printed as "error CODE: message"'],
  ['2', 'a usage error: unknown command or option, missing or malformed value'],
  ['3', 'drift: reconcile found findings, or repair left findings for a person'],
];
