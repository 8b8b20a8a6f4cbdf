import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { migrations as allMigrations, LATEST_VERSION, type Migration } from './migrations.js';
import { migrateMysql, mysqlSchemaVersion } from './mysql-migrate.js';
import { applySteps, type OnlineOptions, withSession } from './online.js';
import { onlinePlans } from './online-plans.js';
import {
  bootstrap,
  currentVersion,
  installedVersion,
  lockMigrations,
  recordVersion,
  sessionUnlock,
  setLockTimeout,
  tryLockMigrations,
  trySessionLock,
} from './sql.js';
import { createIndexSql, type MigrationStep } from './steps.js';

export interface MigrateResult {
  from: number;
  to: number;
  applied: number[];
}

export interface MigrateOptions extends OnlineOptions {
  /**
   * Apply each migration's online steps (default: true on a PostgreSQL pool), on one connection outside
   * transactions that holds a session-level migration lock; false applies each migration in one
   * transaction, as on PGlite (one connection) or inside a caller's transaction.
   */
  online?: boolean;
  /** The migrations to apply (tests apply a prefix); default: all of Tally's. */
  migrations?: readonly Migration[];
}

/**
 * Applies pending migrations under an advisory lock, so processes that start together apply every
 * migration exactly once. On a PostgreSQL pool each migration applies as its online steps (steps.ts,
 * decision 0067): concurrent index builds, DDL under a short lock_timeout with retries, on one connection
 * that holds a session-level advisory lock (tried every 100 ms, never waited for in a statement). On PGlite
 * or a transaction-bound executor, each migration is one transaction that also records its version.
 *
 * @example
 * await migrate(db, 'tally', '"tally"'); // { from: 0, to: 12, applied: [1, …, 12] }
 */
export async function migrate(
  db: Executor,
  schemaName: string,
  s: string,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  // MySQL/MariaDB: its own list, under GET_LOCK, DDL outside transactions (decision 0131).
  if (db.dialect === 'mysql') return migrateMysql(db, schemaName);
  const list = options.migrations ?? allMigrations;
  const online = (options.online ?? true) && db.dialect === 'postgres' && !db.inTransaction;
  if (online) return withSession(db, (session) => migrateOnline(session, schemaName, s, list, options));
  // One transaction per migration. On a server the lock is tried, never waited for inside a statement
  // (sql.ts, trySessionLock: an online migrate may be building an index concurrently).
  const polls = db.dialect === 'postgres' && !db.inTransaction;
  const applied: number[] = [];
  let from = -1;
  for (;;) {
    const done = await db.transaction(async (tx) => {
      if (polls) {
        const [got] = await tx.query<{ got: boolean }>(tryLockMigrations(schemaName));
        if (got?.got !== true) return 'busy';
      } else {
        await tx.query(lockMigrations(schemaName));
      }
      await tx.exec(bootstrap(s));
      const version = await versionChecked(tx, schemaName, s);
      if (from < 0) from = version;
      const next = list.find((m) => m.version === version + 1);
      if (!next) return true;
      await tx.exec(next.sql(s));
      await tx.query(recordVersion(s, next.version, next.name));
      applied.push(next.version);
      return false;
    });
    if (done === true) break;
    if (done === 'busy') await sleep(LOCK_POLL_MS);
  }
  return { from, to: from + applied.length, applied };
}

/** On one session outside transactions: the session lock, then each pending migration's steps. */
async function migrateOnline(
  session: Executor,
  schemaName: string,
  s: string,
  list: readonly Migration[],
  options: MigrateOptions,
): Promise<MigrateResult> {
  for (;;) {
    const [row] = await session.query<{ got: boolean }>(trySessionLock(schemaName));
    if (row?.got === true) break;
    await sleep(LOCK_POLL_MS);
  }
  try {
    await session.exec(bootstrap(s));
    const applied: number[] = [];
    const from = await versionChecked(session, schemaName, s);
    for (let version = from; ; version++) {
      const next = list.find((m) => m.version === version + 1);
      if (!next) return { from, to: version, applied };
      await applySteps(session, schemaName, s, next.version, next.name, stepsOf(next), options);
      applied.push(next.version);
    }
  } finally {
    await session.exec('ROLLBACK'); // a step that failed mid-transaction left it open; else a warning
    await session.query(sessionUnlock(schemaName));
  }
}

async function versionChecked(db: Executor, schemaName: string, s: string): Promise<number> {
  const [row] = await db.query<{ version: number }>(currentVersion(s));
  const version = Number(row?.version ?? 0);
  if (version > LATEST_VERSION) {
    throw new TallyError(
      'SCHEMA_TOO_NEW',
      `schema ${schemaName} is at version ${version}, newer than this Tally (${LATEST_VERSION}): upgrade Tally`,
    );
  }
  return version;
}

const LOCK_POLL_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A migration's online steps: its plan, or its whole SQL as one transaction step. */
export function stepsOf(m: Migration): readonly MigrationStep[] {
  return onlinePlans[m.version] ?? [{ kind: 'transaction', sql: m.sql }];
}

/** The version applied in the database (0 when none, -1 when Tally's tables are absent). */
export async function schemaVersion(db: Executor, s: string): Promise<number> {
  if (db.dialect === 'mysql') return mysqlSchemaVersion(db, s.slice(1, -1));
  const [present] = await db.query<{ present: number }>(installedVersion(s));
  if (Number(present?.present) < 0) return -1;
  const [row] = await db.query<{ version: number }>(currentVersion(s));
  return Number(row?.version ?? 0);
}

/** The line `--print` writes before each statement that must run outside a transaction block. */
export const OUTSIDE_TRANSACTION = '-- tally: outside a transaction (CONCURRENTLY); run it on its own';

/**
 * The SQL `migrate` would run on an empty database, for a DBA to review or apply by hand (`psql -f`):
 * each migration as its online steps. An index build is a statement of its own, outside any
 * transaction, marked with OUTSIDE_TRANSACTION; every transaction sets a short lock_timeout (a step that
 * times out is run again). Each migration's version is recorded in its last transaction.
 *
 * @example
 * writeFileSync('tally.sql', migrationScript('tally', '"tally"'));
 */
export function migrationScript(schemaName: string, s: string, lockTimeoutMs = 500): string {
  const parts = [
    `-- Tally schema ${schemaName}, migrations 1..${LATEST_VERSION}`,
    `-- Run with psql -f (one statement at a time). Lines after "${OUTSIDE_TRANSACTION.slice(3)}"`,
    '-- build indexes without blocking writers and cannot run inside BEGIN … COMMIT.',
    'BEGIN;',
    bootstrap(s).trim(),
    'COMMIT;',
  ];
  for (const m of allMigrations) {
    const record = `INSERT INTO ${s}.migrations (version, name) VALUES (${m.version}, '${m.name.replace(/'/g, "''")}');`;
    parts.push('', `-- migration ${m.version}: ${m.name}`);
    const steps = stepsOf(m);
    for (const [i, step] of steps.entries()) {
      const last = i === steps.length - 1;
      if (step.kind === 'index') {
        parts.push(OUTSIDE_TRANSACTION, `${createIndexSql(step, s, true)};`);
        if (last) parts.push('BEGIN;', record, 'COMMIT;');
        continue;
      }
      const sql = step.sql(s).trim();
      const body = step.kind === 'batches' ? `-- repeat until it reports n = 0\n${sql}` : sql;
      parts.push('BEGIN;', `${setLockTimeout(lockTimeoutMs)};`, body, ...(last ? [record] : []), 'COMMIT;');
    }
  }
  return `${parts.join('\n')}\n`;
}
