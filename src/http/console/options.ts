import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import type { ConsoleAction } from './actions.js';
import { type ConsoleDownstream, checkDownstreams } from './downstream.js';
import { type RateLimit, type RateLimitOptions, rateLimitConfig } from './rate-limit.js';

/** What `tally serve` (or your own code) starts the console's server with. */
export interface ConsoleServerOptions {
  /** The database Tally's tables are in (reads need no command definitions). */
  db: Executor;
  /** Schema of Tally's own tables. Default `tally`. */
  schema?: string;
  /** Where to listen. Default 127.0.0.1; any host that is not loopback needs a token (decision 0142). */
  host?: string;
  /** Default 4680; 0 picks a free port. */
  port?: number;
  /** The token that reads (every GET of /api and /metrics). */
  readToken?: string;
  /** The token that reads and acts (POST /api/actions/...). */
  operatorToken?: string;
  /** The built console's folder (index.html and its files). Default: console/dist of this package. */
  consoleDir?: string | null;
  /** More actions than the built-in requeue and resolve-alert (the seam for new operator actions). */
  actions?: readonly ConsoleAction[];
  /** Where the server says what went wrong on its side (a line each). Default: nothing. */
  log?: (line: string) => void;
  /** The downstreams the Reconcile view checks commands against (decision 0149). Default: none. */
  downstreams?: readonly ConsoleDownstream[];
  /** Per-token limit of the expensive reads and checks (decision 0148). Default 300 / 10 a minute. */
  rateLimit?: RateLimitOptions | false;
}

/** The options, checked and with their defaults. */
export interface ServeConfig {
  readonly db: Executor;
  readonly schema: string;
  readonly host: string;
  readonly port: number;
  readonly readToken: string | null;
  readonly operatorToken: string | null;
  readonly consoleDir: string | null;
  readonly actions: readonly ConsoleAction[];
  readonly log: (line: string) => void;
  readonly downstreams: readonly ConsoleDownstream[];
  /** Null when off. */
  readonly rateLimit: RateLimit | null;
}

export const DEFAULT_PORT = 4680;
export const DEFAULT_HOST = '127.0.0.1';
const MIN_TOKEN = 16;

/** Whether `host` only reaches this machine: 127.0.0.0/8, ::1 or localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function token(v: string | undefined, what: string): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || v.length < MIN_TOKEN || v.length > 512 || /\s/.test(v)) {
    throw new TallyError(
      'INVALID_CONFIG',
      `the ${what} token must be ${MIN_TOKEN}-512 characters without spaces (e.g. \`openssl rand -hex 24\`)`,
    );
  }
  return v;
}

/**
 * Checks where the server would listen against its tokens, before anything opens: a host that is not
 * loopback without any token is INVALID_CONFIG saying what to do (decision 0142).
 *
 * @example
 * checkListen('0.0.0.0', undefined, undefined); // throws INVALID_CONFIG: refusing to listen on 0.0.0.0 ...
 */
export function checkListen(
  host: string,
  read: string | undefined,
  operator: string | undefined,
): { readToken: string | null; operatorToken: string | null } {
  const readToken = token(read, 'read');
  const operatorToken = token(operator, 'operator');
  if (readToken !== null && readToken === operatorToken) {
    throw new TallyError('INVALID_CONFIG', 'the read and operator tokens must differ');
  }
  if (!isLoopback(host) && readToken === null && operatorToken === null) {
    throw new TallyError(
      'INVALID_CONFIG',
      `refusing to listen on ${host} without a token: anyone who reaches it would see every command and entity. Set --operator-token / TALLY_OPERATOR_TOKEN (and --read-token / TALLY_READ_TOKEN for read-only access), or listen on 127.0.0.1`,
    );
  }
  return { readToken, operatorToken };
}

/**
 * Checks the options (INVALID_CONFIG with what to do) and fills the defaults. A host that is not loopback
 * without any token is refused: the console shows every command's input and every entity's history.
 *
 * @example
 * const config = serveConfig({ db, host: '0.0.0.0', readToken: process.env.TALLY_READ_TOKEN });
 */
export function serveConfig(o: ConsoleServerOptions): ServeConfig {
  const host = o.host ?? DEFAULT_HOST;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) {
    throw new TallyError('INVALID_CONFIG', 'the host must be a host name or address');
  }
  const port = o.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TallyError('INVALID_CONFIG', 'the port must be an integer from 0 to 65535');
  }
  const { readToken, operatorToken } = checkListen(host, o.readToken, o.operatorToken);
  if (o.db?.dialect === 'mysql') {
    throw new TallyError(
      'INVALID_CONFIG',
      'the console reads PostgreSQL or PGlite; MySQL/MariaDB is not supported yet',
    );
  }
  return Object.freeze({
    db: o.db,
    schema: o.schema ?? 'tally',
    host,
    port,
    readToken,
    operatorToken,
    consoleDir: o.consoleDir === undefined ? defaultConsoleDir() : o.consoleDir,
    actions: o.actions ?? [],
    log: o.log ?? (() => {}),
    downstreams: checkDownstreams(o.downstreams),
    rateLimit: rateLimitConfig(o.rateLimit),
  });
}

/** console/dist of this package, from the source (src/http/console) or the build (dist/src/http/console). */
export function defaultConsoleDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../..', '../../../..']) {
    const dir = resolve(join(here, up), 'console', 'dist');
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return null;
}
