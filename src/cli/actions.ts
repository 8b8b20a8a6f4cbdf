import type { OperatorAction } from '../actions/actions.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, intOption, parseCommand, stringOption } from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  target: { type: 'string' },
  action: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const line = (a: OperatorAction) =>
  `${a.id}  ${a.at.toISOString()}  ${a.action}  ${a.target}  by ${a.actor}: ${a.reason}`;

/**
 * `tally actions [--target ID] [--action NAME]`: the operator actions recorded (decision 0145), newest first.
 *
 * @example
 * await actionsCommand(['--target', commandId], io);
 */
export async function actionsCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('actions', args, OPTIONS);
  const opts = databaseOptions(values, 'actions');
  const target = stringOption(values, 'target', 'actions');
  const action = stringOption(values, 'action', 'actions');
  const limit = intOption(values, 'limit', 'actions', 1, 100_000) ?? 100;
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const list = await tally.actions.list({
      ...(target === undefined ? {} : { target }),
      ...(action === undefined ? {} : { action }),
      limit,
    });
    if (values.json) io.out(JSON.stringify(list, null, 2));
    else if (list.length === 0) io.out('no operator actions');
    else for (const a of list) io.out(line(a));
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
