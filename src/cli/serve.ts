import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkListen, DEFAULT_HOST } from '../http/console/options.js';
import { startConsoleServer } from '../http/console/server.js';
import { createTally } from '../tally.js';
import { DEFAULT_DATA_DIR, openDatabase } from './connect.js';
import { EXIT_OK } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, intOption, parseCommand, stringOption } from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  port: { type: 'string' },
  host: { type: 'string' },
  'read-token': { type: 'string' },
  'operator-token': { type: 'string' },
} as const;

const env = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);

/**
 * `tally serve [--port N] [--host HOST] [DATABASE]`: the console, its API and /metrics until SIGINT or
 * SIGTERM. A new embedded directory is migrated first (the demo: nothing to show yet, but it answers);
 * an existing database must be migrated already.
 *
 * @example
 * await serveCommand(['--port', '0', './.tally-data'], io, process);
 */
export async function serveCommand(
  args: string[],
  io: Io,
  signals: NodeJS.EventEmitter = process,
): Promise<number> {
  const values = parseCommand('serve', args, OPTIONS);
  const opts = databaseOptions(values, 'serve');
  const port = intOption(values, 'port', 'serve', 0, 65535) ?? 4680;
  const host = stringOption(values, 'host', 'serve') ?? DEFAULT_HOST;
  const readToken = stringOption(values, 'read-token', 'serve') ?? env(io.env.TALLY_READ_TOKEN);
  const operatorToken = stringOption(values, 'operator-token', 'serve') ?? env(io.env.TALLY_OPERATOR_TOKEN);
  // Refused before the database opens: a console on a public address without a token never starts.
  checkListen(host, readToken, operatorToken);

  const embedded =
    opts.databaseUrl === undefined && (opts.dataDir !== undefined || env(io.env.DATABASE_URL) === undefined);
  const fresh = embedded && !existsSync(resolve(io.cwd, opts.dataDir ?? DEFAULT_DATA_DIR));
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: false, share: true });
  try {
    const check = await createTally({ db: conn.db, schema: opts.schema });
    if (fresh) await check.migrate();
    else await check.assertMigrated();
    const c = await startConsoleServer({
      db: conn.db,
      schema: opts.schema,
      host,
      port,
      ...(readToken === undefined ? {} : { readToken }),
      ...(operatorToken === undefined ? {} : { operatorToken }),
      log: (line) => io.err(line),
    });
    const auth = readToken || operatorToken ? 'tokens required' : 'no token (loopback only)';
    io.out(`console on ${c.url} (${conn.label}, schema ${opts.schema}; ${auth})`);
    if (c.config.consoleDir === null)
      io.err('serve: the console is not built (console/dist): / shows a fallback page');
    await new Promise<void>((done) => {
      const stop = () => {
        signals.off('SIGINT', stop);
        signals.off('SIGTERM', stop);
        done();
      };
      signals.on('SIGINT', stop);
      signals.on('SIGTERM', stop);
    });
    await c.close();
    io.out('serve: stopped');
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
