import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isTallyError, TallyError } from '../../errors.js';
import { loadDriver } from '../driver.js';
import type { Executor } from '../types.js';
import type { DataDirHolder } from './holder.js';
import { joinThroughSocket } from './join.js';
import { acquireDataDirLock } from './lock.js';
import { type RawPGliteLike, SOCKET_FILE, type SocketServer, serveOverSocket } from './server.js';
import { templateOptions } from './template.js';

/** How `pglite(dataDir, options)` opens a directory (see decision 0008). */
export interface PgliteOptions {
  /**
   * Let other Tally processes in: a unix socket in the data directory (owner-only), speaking the
   * PostgreSQL protocol, through which `pglite(dir, { ifHeld: 'connect' })` and the `tally` CLI reach
   * the database while this process holds it. Default false.
   */
  readonly share?: boolean;
  /**
   * When another live process holds the directory: `'fail'` (default) throws DATA_DIR_LOCKED naming it;
   * `'connect'` connects through its socket when it shares the directory (a `postgres`-dialect executor,
   * needs `pg`), and throws DATA_DIR_LOCKED when it does not.
   */
  readonly ifHeld?: 'fail' | 'connect';
  /**
   * With `share`: how long a socket connection waits for another one's open transaction before it gets
   * SQLSTATE 55P03 (default 30 s); a connection idle inside a transaction for twice as long is ended and
   * rolled back (25P03).
   */
  readonly busyTimeoutMs?: number;
}

// sun_path holds 108 bytes on Linux, 104 on macOS: keep a margin.
const MAX_SOCKET_PATH = 100;

/** Where the owner of `dataDir` puts its socket: in the directory, or (path too long) in the temp dir. */
export function socketDirFor(dataDir: string): string {
  const inside = join(dataDir, 'tally-socket');
  if (join(inside, SOCKET_FILE).length <= MAX_SOCKET_PATH) return inside;
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  return join(tmpdir(), `tally-${hash}`);
}

/** Opens a PGlite data directory as its one owner, or joins its owner's socket (see PgliteOptions). */
export async function openDataDir(
  dataDir: string,
  options: PgliteOptions,
  wrap: (db: unknown) => Executor,
): Promise<Executor> {
  checkOptions(options);
  const dir = resolve(dataDir);
  let lock: ReturnType<typeof acquireDataDirLock>;
  try {
    lock = acquireDataDirLock(dir);
  } catch (err) {
    const holder = heldBy(err);
    if (options.ifHeld === 'connect' && holder?.socket) return joinThroughSocket(dir, holder);
    throw err;
  }
  let server: SocketServer | null = null;
  let db: { close(): Promise<void> } | null = null;
  try {
    const { PGlite } = await loadDriver('@electric-sql/pglite', () => import('@electric-sql/pglite'));
    db = await PGlite.create(dir, templateOptions(dir));
    if (options.share) {
      server = await serveOverSocket(db as unknown as RawPGliteLike, socketDirFor(dir), {
        busyTimeoutMs: options.busyTimeoutMs ?? 30_000,
      });
      lock.setSocket(server.dir);
    }
  } catch (err) {
    await server?.close().catch(() => {});
    await db?.close().catch(() => {});
    lock.release();
    throw err;
  }
  const executor = wrap(db);
  let closing: Promise<void> | null = null;
  return {
    ...executor,
    close() {
      closing ??= (async () => {
        try {
          if (server) {
            lock.setSocket(null); // new openers stop connecting before the socket goes
            await server.close();
          }
          await executor.close();
        } finally {
          lock.release();
        }
      })();
      return closing;
    },
  };
}

function heldBy(err: unknown): DataDirHolder | null {
  if (!isTallyError(err, 'DATA_DIR_LOCKED') || !err.details) return null;
  const d = err.details as Partial<Record<keyof DataDirHolder, unknown>>;
  if (typeof d.pid !== 'number') return null;
  return {
    pid: d.pid,
    hostname: String(d.hostname ?? ''),
    command: String(d.command ?? ''),
    since: String(d.since ?? ''),
    socket: typeof d.socket === 'string' ? d.socket : null,
  };
}

function checkOptions(o: PgliteOptions): void {
  const bad = (m: string) => new TallyError('INVALID_CONFIG', `pglite options: ${m}`);
  if (o.share !== undefined && typeof o.share !== 'boolean') throw bad('share must be true or false');
  if (o.ifHeld !== undefined && o.ifHeld !== 'fail' && o.ifHeld !== 'connect')
    throw bad("ifHeld must be 'fail' or 'connect'");
  if (o.busyTimeoutMs !== undefined && !(Number.isInteger(o.busyTimeoutMs) && o.busyTimeoutMs > 0))
    throw bad('busyTimeoutMs must be a positive integer');
}
