import type { RequeueOptions } from '../commands/requeue.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, intOption, parseCommand, stringOption } from './options.js';
import { runSetupModule } from './worker-module.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  actor: { type: 'string' },
  reason: { type: 'string' },
  type: { type: 'string' },
  id: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  downstream: { type: 'string' },
  module: { type: 'string' },
  limit: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

function time(values: Record<string, unknown>, name: 'since' | 'until'): Date | undefined {
  const v = stringOption(values, name, 'requeue');
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (!/^\d{4}-\d\d-\d\d/.test(v) || Number.isNaN(d.getTime())) {
    throw new UsageError(`tally requeue: --${name} must be an ISO 8601 time, e.g. 2026-12-07T10:00:00Z`);
  }
  return d;
}

/**
 * `tally requeue --actor WHO --reason WHY [filters] [--dry-run]`: frees stranded commands.
 *
 * @example
 * await requeueCommand(['--type', 'redeem', '--actor', 'ops:alice', '--reason', 'C is back', '--dry-run'], io);
 */
export async function requeueCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('requeue', args, OPTIONS);
  const opts = databaseOptions(values, 'requeue');
  const actor = stringOption(values, 'actor', 'requeue');
  const reason = stringOption(values, 'reason', 'requeue');
  if (!actor || !reason) throw new UsageError('tally requeue: --actor WHO and --reason WHY are required');
  const downstream = stringOption(values, 'downstream', 'requeue');
  const modulePath = stringOption(values, 'module', 'requeue');
  if (downstream !== undefined && modulePath === undefined) {
    throw new UsageError(
      'tally requeue: --downstream needs --module PATH (the declarations say which calls name it)',
    );
  }
  const type = stringOption(values, 'type', 'requeue');
  const id = stringOption(values, 'id', 'requeue');
  const since = time(values, 'since');
  const until = time(values, 'until');
  const limit = intOption(values, 'limit', 'requeue', 1, 1_000_000);
  const dryRun = values['dry-run'] === true;
  const options: RequeueOptions = {
    actor,
    reason,
    dryRun,
    ...(type === undefined ? {} : { type }),
    ...(id === undefined ? {} : { id }),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
    ...(downstream === undefined ? {} : { downstream }),
    ...(limit === undefined ? {} : { limit }),
  };
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    if (modulePath !== undefined) await runSetupModule(modulePath, io.cwd, tally);
    const r = await tally.requeue(options);
    const n = r.commands.length;
    const noun = n === 1 ? 'command' : 'commands';
    for (const c of r.commands) {
      io.out(
        `${c.id} ${c.type} ${c.principal} ${c.key} received ${c.createdAt.toISOString()}${dryRun ? '' : ` -> ${c.status}`}`,
      );
    }
    io.out(
      dryRun
        ? `${n} ${noun} would be requeued (dry run: nothing changed)`
        : `${n} ${noun} requeued by ${actor}: a running worker drives ${n === 1 ? 'it' : 'them'} now`,
    );
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
