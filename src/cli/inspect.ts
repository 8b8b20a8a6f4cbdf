import { quoteIdent } from '../db/ident.js';
import { openDatabase } from './connect.js';
import { EXIT_OK, UsageError } from './errors.js';
import { parseWithTarget } from './inspect-args.js';
import { printTimeline } from './inspect-print.js';
import { readForInspect } from './inspect-read.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, stringOption } from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  type: { type: 'string' },
  principal: { type: 'string' },
  json: { type: 'boolean' },
  failover: { type: 'string' },
} as const;

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * `tally inspect <command-id or key> [--type NAME] [--principal P] [--json] [--failover DATABASE]`:
 * prints a command's timeline (attempts, decisions, snapshots, outcomes, alerts, with times). No command
 * definitions are needed: everything shown is what Tally recorded — with --failover, on both stores.
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

  const failover = failoverOption(values, io.env);
  const ref = { id: UUID_RE.test(target) ? target.toLowerCase() : null, key: target, type, principal };
  const { timeline, warnings } = await readForInspect(
    () => openDatabase(opts, io.env, io.cwd, { mustExist: true }),
    failover ? () => openDatabase({ ...opts, ...failover }, io.env, io.cwd, { mustExist: true }) : null,
    s,
    opts.schema,
    ref,
  );
  for (const w of warnings) io.err(`warning: ${w}`);
  if (values.json) io.out(JSON.stringify(timeline, null, 2));
  else printTimeline(io, timeline);
  return EXIT_OK;
}

/**
 * Where the failover store is: --failover (a postgres:// URL or a PGlite directory), else the
 * FAILOVER_DATABASE_URL environment variable; null when neither names one.
 */
function failoverOption(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): { databaseUrl: string; dataDir: undefined } | { databaseUrl: undefined; dataDir: string } | null {
  const given = stringOption(values, 'failover', 'inspect') ?? env.FAILOVER_DATABASE_URL?.trim();
  if (!given) return null;
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(given)
    ? { databaseUrl: given, dataDir: undefined }
    : { databaseUrl: undefined, dataDir: given };
}
