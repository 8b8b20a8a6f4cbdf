import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { LATEST_VERSION, migrations } from './migrations.js';
import { migrateMysql, mysqlSchemaVersion } from './mysql-migrate.js';
import { bootstrap, currentVersion, installedVersion, lockMigrations, recordVersion } from './sql.js';

export interface MigrateResult {
  from: number;
  to: number;
  applied: number[];
}

/**
 * Applies pending migrations, each in its own transaction that also records the version, under an
 * advisory lock: processes that start together apply every migration exactly once.
 */
export async function migrate(db: Executor, schemaName: string, s: string): Promise<MigrateResult> {
  // MySQL/MariaDB: its own list, under GET_LOCK, DDL outside transactions (decision 0131).
  if (db.dialect === 'mysql') return migrateMysql(db, schemaName);
  const applied: number[] = [];
  let from = -1;
  for (;;) {
    const done = await db.transaction(async (tx) => {
      await tx.query(lockMigrations(schemaName));
      await tx.exec(bootstrap(s));
      const [row] = await tx.query<{ version: number }>(currentVersion(s));
      const version = Number(row?.version ?? 0);
      if (from < 0) from = version;
      if (version > LATEST_VERSION) {
        throw new TallyError(
          'SCHEMA_TOO_NEW',
          `schema ${schemaName} is at version ${version}, newer than this Tally (${LATEST_VERSION}): upgrade Tally`,
        );
      }
      const next = migrations.find((m) => m.version === version + 1);
      if (!next) return true;
      await tx.exec(next.sql(s));
      await tx.query(recordVersion(s, next.version, next.name));
      applied.push(next.version);
      return false;
    });
    if (done) break;
  }
  return { from, to: from + applied.length, applied };
}

/** The version applied in the database (0 when none, -1 when Tally's tables are absent). */
export async function schemaVersion(db: Executor, s: string): Promise<number> {
  if (db.dialect === 'mysql') return mysqlSchemaVersion(db, s.slice(1, -1));
  const [present] = await db.query<{ present: number }>(installedVersion(s));
  if (Number(present?.present) < 0) return -1;
  const [row] = await db.query<{ version: number }>(currentVersion(s));
  return Number(row?.version ?? 0);
}

/** The SQL `migrate` would run on an empty database, for a DBA to review or apply by hand. */
export function migrationScript(schemaName: string, s: string): string {
  const parts = [
    `-- Tally schema ${schemaName}, migrations 1..${LATEST_VERSION}`,
    'BEGIN;',
    bootstrap(s).trim(),
    'COMMIT;',
  ];
  for (const m of migrations) {
    parts.push(
      '',
      `-- migration ${m.version}: ${m.name}`,
      'BEGIN;',
      m.sql(s).trim(),
      `INSERT INTO ${s}.migrations (version, name) VALUES (${m.version}, '${m.name.replace(/'/g, "''")}');`,
      'COMMIT;',
    );
  }
  return `${parts.join('\n')}\n`;
}
