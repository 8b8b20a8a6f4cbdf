import type { Timeline } from '../commands/timeline.js';
import { readTimeline } from '../commands/timeline.js';
import { quoteIdent } from '../db/ident.js';
import { TallyError } from '../errors.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import { parseWithTarget } from './inspect-args.js';
import { printTimeline } from './inspect-print.js';
import { commandsTablePresentSql, inspectMatchesSql } from './inspect-sql.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, stringOption } from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  type: { type: 'string' },
  principal: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * `tally inspect <command-id or key> [--type NAME] [--principal P] [--json]`: prints a command's
 * timeline (attempts, decisions, snapshots, outcomes, alerts, with times). No command definitions are
 * needed: everything shown is what Tally recorded.
 *
 * @example
 * await inspectCommand(['redeem-key-1', '--principal', 'user:42', '--json'], io);
 */
export async function inspectCommand(args: string[], io: Io): Promise<number> {
  const { values, target } = parseWithTarget('inspect', args, OPTIONS);
  if (target === undefined)
    throw new UsageError('tally inspect: a command id or idempotency key is required');
  if (target.length > 400) throw new UsageError('tally inspect: the id or key is longer than 400 characters');
  const opts = databaseOptions(values, 'inspect');
  const s = quoteIdent(opts.schema, '--schema');
  const type = stringOption(values, 'type', 'inspect') ?? null;
  const principal = stringOption(values, 'principal', 'inspect') ?? null;

  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const [t] = await conn.db.query<{ present: boolean }>(commandsTablePresentSql(s));
    if (!t?.present) {
      throw new TallyError(
        'SCHEMA_NOT_MIGRATED',
        `schema ${opts.schema} in ${conn.label} has no Tally commands table: run \`tally migrate\` (or pass the right --schema)`,
      );
    }
    const id = UUID_RE.test(target) ? target.toLowerCase() : null;
    const rows = await conn.db.query(inspectMatchesSql(s, { id, key: target, type, principal }));
    if (rows.length === 0) {
      throw new CliError('COMMAND_NOT_FOUND', `no command with this id or key in schema ${opts.schema}`);
    }
    const exact = rows.filter((r) => r.id === id);
    const chosen = exact.length === 1 ? exact : rows;
    if (chosen.length > 1) {
      const list = chosen.map((r) => `${r.type} ${r.principal} ${r.id}`).join('; ');
      throw new CliError(
        'AMBIGUOUS_COMMAND',
        `${chosen.length} commands have this key (type principal id: ${list}); pass --type and --principal, or the id`,
      );
    }
    const timeline: Timeline = await readTimeline(s, conn.db, chosen[0]!);
    if (values.json) io.out(JSON.stringify(timeline, null, 2));
    else printTimeline(io, timeline);
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
