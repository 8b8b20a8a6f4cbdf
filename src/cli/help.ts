import { type CommandDoc, DATABASE_ROWS, EXIT_CODES } from './command-doc.js';

/** A command as help renders it: its name and its description. */
export interface NamedDoc {
  readonly name: string;
  readonly doc: CommandDoc;
}

const TITLE = 'tally: audited state changes whose log can prove what happened';

/**
 * The synopsis: every command's usage, continuation lines indented under the first, then `tally --version`.
 * docs/cli.md shows exactly this (a test compares them).
 *
 * @example
 * synopsis(COMMANDS); // "tally migrate [--print] [--schema NAME] [DATABASE]\ntally log ..."
 */
export function synopsis(commands: readonly NamedDoc[], prefix = ''): string {
  return [...commands.map((c) => usageLines(c, prefix)), `${prefix}tally --version`].join('\n');
}

/**
 * `tally help`: the synopsis, a line per command, the database options and every exit code.
 *
 * @example
 * io.out(overview(COMMANDS));
 */
export function overview(commands: readonly NamedDoc[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    TITLE,
    '',
    'Usage:',
    synopsis(commands, '  '),
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.doc.summary}`),
    '',
    `Database (the first that applies):\n${rows(DATABASE_ROWS)}`,
    '',
    `Exit codes:\n${rows(EXIT_CODES)}`,
    '',
    'Run `tally help COMMAND` (or `tally COMMAND --help`) for its options.',
  ].join('\n');
}

/**
 * One command's help: usage, what it does, its options, notes, and the database section.
 *
 * @example
 * io.out(commandHelp({ name: 'migrate', doc: MIGRATE_DOC }));
 */
export function commandHelp(c: NamedDoc): string {
  const parts = [usageLines(c, 'Usage: '), '', c.doc.about, '', rows(c.doc.options)];
  if (c.doc.notes) parts.push('', c.doc.notes);
  if (c.doc.database !== false) parts.push('', `Database (the first that applies):\n${rows(DATABASE_ROWS)}`);
  return parts.join('\n');
}

function usageLines(c: NamedDoc, prefix: string): string {
  const head = `${prefix}tally ${c.name} `;
  const [first, ...rest] = c.doc.usage.map((l, i) => (i === 0 ? l.slice(c.name.length + 1) : l));
  return [`${head}${first}`, ...rest.map((l) => `${' '.repeat(head.length)}${l}`)].join('\n');
}

function rows(list: readonly (readonly [string, string])[]): string {
  const width = Math.max(...list.map(([left]) => left.length)) + 3;
  return list
    .map(([left, right]) =>
      right
        .split('\n')
        .map((line, i) => `  ${(i === 0 ? left : '').padEnd(width)}${line}`)
        .join('\n'),
    )
    .join('\n');
}
