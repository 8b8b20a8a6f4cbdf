import { tallyTable } from '../db/mysql/names.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { MYSQL_LATEST_VERSION, mysqlMigrations } from './mysql-migrations.js';
import {
  getMigrationLock,
  mysqlBootstrap,
  mysqlCurrentVersion,
  mysqlInstalled,
  mysqlRecordVersion,
  releaseMigrationLock,
} from './mysql-sql.js';

/** What a run applied (the shape of migrate.ts's MigrateResult, kept here so no import cycle forms). */
export interface MysqlMigrateResult {
  from: number;
  to: number;
  applied: number[];
}

/** How long a process waits for another one's migration run before giving up. */
const LOCK_WAIT_S = 120;

/**
 * Applies pending MySQL migrations under GET_LOCK: processes that start together wait for each other, and
 * each reads the recorded version after taking the lock, so every migration runs exactly once. Runs on
 * one connection (GET_LOCK belongs to a session); the lock is released when done, or with the session.
 */
export async function migrateMysql(db: Executor, schemaName: string): Promise<MysqlMigrateResult> {
  const p = (t: string) => tallyTable(schemaName, t);
  const migrationsTable = p('migrations');
  return db.transaction(async (conn) => {
    const [lock] = await conn.query<{ got: number | null }>(getMigrationLock(schemaName, LOCK_WAIT_S));
    if (Number(lock?.got) !== 1) {
      throw new TallyError(
        'DB_ERROR',
        `schema ${schemaName}: another process held the migration lock for ${LOCK_WAIT_S} s`,
      );
    }
    try {
      await conn.exec(mysqlBootstrap(migrationsTable));
      const [row] = await conn.query<{ version: number }>(mysqlCurrentVersion(migrationsTable));
      const from = Number(row?.version ?? 0);
      if (from > MYSQL_LATEST_VERSION) {
        throw new TallyError(
          'SCHEMA_TOO_NEW',
          `schema ${schemaName} is at version ${from}, newer than this Tally (${MYSQL_LATEST_VERSION}): upgrade Tally`,
        );
      }
      const applied: number[] = [];
      for (const m of mysqlMigrations) {
        if (m.version <= from) continue;
        await conn.exec(m.sql(p));
        await conn.query(mysqlRecordVersion(migrationsTable, m.version, m.name));
        applied.push(m.version);
      }
      return { from, to: from + applied.length, applied };
    } finally {
      await conn.query(releaseMigrationLock(schemaName));
    }
  });
}

/** The MySQL migration version applied (0 when none, -1 when Tally's tables are absent). */
export async function mysqlSchemaVersion(db: Executor, schemaName: string): Promise<number> {
  const [present] = await db.query<{ present: number }>(mysqlInstalled(`${schemaName}_migrations`));
  if (Number(present?.present) === 0) return -1;
  const [row] = await db.query<{ version: number }>(
    mysqlCurrentVersion(tallyTable(schemaName, 'migrations')),
  );
  return Number(row?.version ?? 0);
}

/** The SQL `migrateMysql` would run on an empty database, for a DBA to review or apply by hand. */
export function mysqlMigrationScript(schemaName: string): string {
  const p = (t: string) => tallyTable(schemaName, t);
  const parts = [`-- Tally schema ${schemaName} (MySQL/MariaDB), migrations 1..${MYSQL_LATEST_VERSION}`];
  parts.push(mysqlBootstrap(p('migrations')).trim());
  for (const m of mysqlMigrations) {
    parts.push('', `-- migration ${m.version}: ${m.name}`, m.sql(p).trim());
    parts.push(
      `INSERT INTO ${p('migrations')} (version, name) VALUES (${m.version}, '${m.name.replace(/'/g, "''")}');`,
    );
  }
  return `${parts.join('\n')}\n`;
}
