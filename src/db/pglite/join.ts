import { TallyError } from '../../errors.js';
import { loadDriver } from '../driver.js';
import { wrapDbError } from '../errors.js';
import { type PgPoolLike, postgres } from '../postgres/index.js';
import type { Executor } from '../types.js';
import type { DataDirHolder } from './holder.js';
import { SOCKET_PORT } from './server.js';

/**
 * An executor over the socket a data directory's owner offers: a `pg` Pool on the unix socket, so the
 * dialect is `postgres` (PGlite speaks PostgreSQL). `close()` ends the pool; the owner keeps the directory.
 */
export async function joinThroughSocket(dataDir: string, holder: DataDirHolder): Promise<Executor> {
  const pg = await loadDriver('pg', () => import('pg')); // connecting through the socket needs pg
  const Pool = (pg.default ?? pg).Pool;
  const pool = new Pool({
    host: holder.socket!,
    port: SOCKET_PORT,
    user: 'postgres',
    database: 'postgres',
    max: 4,
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', () => {}); // the owner closing ends idle connections: not a crash
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    const wrapped = wrapDbError(err) as Error;
    throw new TallyError(
      'DB_ERROR',
      `data directory ${dataDir} is held by pid ${holder.pid}; its socket in ${holder.socket} does not answer: ${wrapped.message}`,
      { cause: err },
    );
  }
  const db = postgres(pool as unknown as PgPoolLike);
  return { ...db, close: () => pool.end() };
}
