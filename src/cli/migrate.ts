import { quoteIdent } from '../db/ident.js';
import { migrate, migrationScript } from '../schema/migrate.js';
import { ONLINE_DEFAULTS } from '../schema/online.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, parseCommand } from './options.js';

export const OPTIONS = { ...DATABASE_OPTIONS, print: { type: 'boolean' } } as const;

/**
 * `tally migrate [--print] [--schema NAME] [--database-url URL | --data-dir DIR]`: applies Tally's pending
 * migrations (a no-op when there are none), or with --print writes the SQL for a DBA and touches no database.
 *
 * @example
 * await migrateCommand(['--schema', 'audit'], io); // "migrated schema audit in PGlite ./.tally-data: version 0 → 1"
 */
export async function migrateCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('migrate', args, OPTIONS);
  const opts = databaseOptions(values, 'migrate');
  const s = quoteIdent(opts.schema, '--schema');

  if (values.print) {
    io.out(migrationScript(opts.schema, s).trimEnd());
    return EXIT_OK;
  }

  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: false });
  try {
    // createTally checks the schema name; migrate() is called directly to hear the lock retries.
    await createTally({ db: conn.db, schema: opts.schema });
    const r = await migrate(conn.db, opts.schema, s, {
      onRetry: ({ version, step, attempt, waitMs }) =>
        io.err(
          `migration ${version} step ${step}: lock not granted within ${ONLINE_DEFAULTS.lockTimeoutMs} ms (a long transaction holds the table); try ${attempt + 1} in ${waitMs} ms`,
        ),
    });
    if (r.applied.length === 0) {
      io.out(`schema ${opts.schema} in ${conn.label} is up to date at version ${r.to}; nothing to apply`);
    } else {
      io.out(
        `migrated schema ${opts.schema} in ${conn.label}: version ${r.from} → ${r.to} (applied ${r.applied.join(', ')})`,
      );
    }
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
