import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Executor } from '../db/types.js';
import type { ConsoleDownstream } from '../http/console/downstream.js';
import { consoleTally } from '../http/console/metrics.js';
import { checkListen, DEFAULT_HOST } from '../http/console/options.js';
import type { RateLimitOptions } from '../http/console/rate-limit.js';
import { startConsoleServer } from '../http/console/server.js';
import { plural } from '../plural.js';
import { createTally, type Tally } from '../tally.js';
import { DEFAULT_DATA_DIR, openDatabase } from './connect.js';
import { CliError, EXIT_OK } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, intOption, parseCommand, stringOption } from './options.js';
import { runSetupModule } from './worker-module.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  port: { type: 'string' },
  host: { type: 'string' },
  'read-token': { type: 'string' },
  'operator-token': { type: 'string' },
  module: { type: 'string' },
  'read-limit': { type: 'string' },
  'check-limit': { type: 'string' },
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
  const modulePath = stringOption(values, 'module', 'serve');
  const rateLimit = rateLimitOption(values);
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
    // With --module, the console acts through an instance that has the app's declarations (decision 0148):
    // resume-job and repair find their entities, and the module's `downstreams` feed the Reconcile view.
    const app = modulePath === undefined ? null : await declared(modulePath, io, conn.db, opts.schema);
    const c = await startConsoleServer({
      db: conn.db,
      ...(app ? { tally: app.tally, downstreams: app.downstreams } : {}),
      ...(rateLimit === undefined ? {} : { rateLimit }),
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

/**
 * --read-limit N / --check-limit N: expensive reads and reconcile checks a token may make a minute
 * (0 turns that limit off: a very high ceiling); neither given: the defaults (300 and 10).
 */
function rateLimitOption(values: Record<string, unknown>): RateLimitOptions | undefined {
  const reads = intOption(values, 'read-limit', 'serve', 0, 1_000_000);
  const checks = intOption(values, 'check-limit', 'serve', 0, 1_000_000);
  if (reads === undefined && checks === undefined) return undefined;
  const off = 1_000_000;
  return {
    ...(reads === undefined ? {} : { reads: reads === 0 ? off : reads }),
    ...(checks === undefined ? {} : { checks: checks === 0 ? off : checks }),
  };
}

/** The app's declarations from --module (its setup function) and its exported `downstreams`, if any. */
async function declared(
  path: string,
  io: Io,
  db: Executor,
  schema: string,
): Promise<{ tally: Tally; downstreams: readonly ConsoleDownstream[] }> {
  const { tally } = await consoleTally(db, schema);
  const { commands, entities, exports } = await runSetupModule(path, io.cwd, tally);
  const downstreams = exports.downstreams ?? [];
  if (!Array.isArray(downstreams)) {
    throw new CliError(
      'MODULE_INVALID',
      `${path}: its downstreams export must be a list of { name, types, source }`,
    );
  }
  io.out(
    `serve: ${path} declared ${plural(entities.length, 'entity', 'entities')}, ${plural(commands.length, 'command')}, ${plural(downstreams.length, 'downstream')}`,
  );
  return { tally, downstreams: downstreams as ConsoleDownstream[] };
}
