import { EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import { RECONCILE_HELP, REPAIR_HELP } from './reconcile-help.js';
import { RELAY_HELP } from './relay.js';
import { INSPECT_HELP, WORKER_HELP } from './worker-help.js';

const DATABASE = `Database (the first that applies):
  --database-url URL   PostgreSQL, e.g. postgres://app@127.0.0.1:5432/app
  --data-dir DIR       embedded PGlite in DIR
  DATABASE_URL         environment variable, PostgreSQL
  (default)            embedded PGlite in ./.tally-data

  --schema NAME        schema of Tally's own tables (default: tally)`;

export const TEXTS: Record<string, string> = {
  main: `tally: audited state changes whose log can prove what happened

Usage:
  tally migrate [--print] [--schema NAME] [DATABASE]
  tally log --entity NAME --key KEY [--json] [--schema NAME] [DATABASE]
  tally worker --module PATH [--once] [--concurrency N] [--schema NAME] [DATABASE]
  tally inspect ID|KEY [--type NAME] [--principal P] [--json] [--schema NAME] [DATABASE]
  tally relay [--nats SERVERS] [--stream NAME] [--prefix P] [--sources LIST] [DATABASE]
  tally reconcile (--module PATH | --entity NAME --table TABLE) [--json] [--schema NAME] [DATABASE]
  tally repair (--module PATH | --entity NAME --table TABLE) [--apply --actor WHO --reason WHY] [DATABASE]
  tally help [COMMAND]

Commands:
  migrate   apply Tally's pending migrations (--print: write the SQL instead)
  log       print an entity's operation log and check its hash chain
  worker    drive unfinished commands (retry, query, compensate) declared by a module
  inspect   print a command's timeline: attempts, decisions, snapshots, outcomes
  reconcile check tables against their logs and hash chains (exit 3 on drift)
  repair    plan (dry run) or --apply repair entries for rows the log does not explain
  relay     relay the log and command events to NATS JetStream (message id = entry id)
  help      this text, or a command's

${DATABASE}

Exit codes: 0 ok, 1 error (printed as "error CODE: message"), 2 usage.`,
  migrate: `Usage: tally migrate [--print] [--schema NAME] [DATABASE]

Applies Tally's pending migrations, each in its own transaction under an advisory lock,
so several processes may run it at once. Running it again is a no-op.

  --print   write the SQL of every migration to stdout for a DBA; no database is touched

${DATABASE}`,
  log: `Usage: tally log --entity NAME --key KEY [--json] [--schema NAME] [DATABASE]

Prints an entity's operation-log rows, oldest first, and checks the chain: versions follow
each other by one, each hash matches its row, each row links to the previous row's hash.
A broken chain exits with 1 (error LOG_CHAIN_BROKEN).

  --entity NAME   the entity's declared name, e.g. resource
  --key KEY       its key as Tally stores it (integers in decimal, UUIDs in lower case)
  --json          one JSON document: { schema, entity, key, entries, chain }

${DATABASE}`,
  worker: WORKER_HELP,
  inspect: INSPECT_HELP,
  relay: RELAY_HELP,
  reconcile: RECONCILE_HELP,
  repair: REPAIR_HELP,
};
TEXTS.help = TEXTS.main!;

/**
 * `tally help [COMMAND]`: prints the overview or one command's usage.
 *
 * @example
 * await helpCommand(['migrate'], io);
 */
export async function helpCommand(args: string[], io: Io): Promise<number> {
  if (args.length > 1) throw new UsageError('tally help takes at most one command name');
  const text = TEXTS[args[0] ?? 'main'];
  if (text === undefined)
    throw new UsageError(
      `unknown command ${JSON.stringify(args[0])}; commands: migrate, log, worker, inspect, relay, reconcile, repair, help`,
    );
  io.out(text);
  return EXIT_OK;
}
