import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, parseCommand } from './options.js';

export const OPTIONS = { ...DATABASE_OPTIONS, json: { type: 'boolean' } } as const;

const iso = (d: Date | null) => (d ? d.toISOString() : '-');

/**
 * `tally downstreams [--json]`: the breakers of the downstreams commands call.
 *
 * @example
 * await downstreamsCommand(['--json'], io);
 */
export async function downstreamsCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('downstreams', args, OPTIONS);
  const opts = databaseOptions(values, 'downstreams');
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const list = await tally.downstreams();
    if (values.json) {
      io.out(JSON.stringify(list, null, 2));
      return EXIT_OK;
    }
    if (list.length === 0) {
      io.out(`no downstream has failed to connect yet (schema ${opts.schema} in ${conn.label})`);
      return EXIT_OK;
    }
    for (const d of list) {
      const head = `${d.name}: ${d.state}`;
      if (d.state === 'open') {
        io.out(
          `${head} since ${iso(d.openedAt)}; ${d.failures} connection ${d.failures === 1 ? 'failure' : 'failures'}, ` +
            `next probe ${iso(d.nextProbeAt)}; ${d.paused} paused ${d.paused === 1 ? 'command' : 'commands'}; last error ${d.lastError ?? '-'}`,
        );
      } else {
        io.out(`${head}; ${d.failures} consecutive connection ${d.failures === 1 ? 'failure' : 'failures'}`);
      }
    }
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
