import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, parseWithPositionals, stringOption } from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  actor: { type: 'string' },
  reason: { type: 'string' },
} as const;

/**
 * `tally retry COMMAND --actor WHO --reason WHY`: makes a pending or backing-off command due now
 * (tally.actions.retryNow, decision 0145); a running worker drives it on its next round.
 *
 * @example
 * await retryCommand(['0b6c…', '--actor', 'ops:ana', '--reason', 'C is back'], io);
 */
export async function retryCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseWithPositionals('retry', args, OPTIONS, 1);
  const opts = databaseOptions(values, 'retry');
  const id = positionals[0];
  const actor = stringOption(values, 'actor', 'retry');
  const reason = stringOption(values, 'reason', 'retry');
  if (id === undefined || !actor || !reason) {
    throw new UsageError('tally retry: COMMAND, --actor WHO and --reason WHY are required');
  }
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const r = await tally.actions.retryNow(id, { actor, reason });
    io.out(
      `command ${r.id} (${r.type}, ${r.status}) is due now (it was due ${r.wasDueAt.toISOString()}); a running worker drives it next round`,
    );
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
