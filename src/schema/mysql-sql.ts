import { createHash } from 'node:crypto';
import type { SqlQuery } from '../db/types.js';

/**
 * GET_LOCK is per session and its name at most 64 characters: one lock per Tally schema, hashed so a
 * long schema name still fits. Waits up to `seconds`; answers 1 when held.
 */
export const getMigrationLock = (schemaName: string, seconds: number): SqlQuery => ({
  text: 'SELECT GET_LOCK(?, ?) AS got',
  values: [lockName(schemaName), seconds],
});

export const releaseMigrationLock = (schemaName: string): SqlQuery => ({
  text: 'SELECT RELEASE_LOCK(?) AS released',
  values: [lockName(schemaName)],
});

function lockName(schemaName: string): string {
  return `tally:migrate:${createHash('sha1').update(schemaName).digest('hex').slice(0, 40)}`;
}

export const mysqlBootstrap = (migrationsTable: string): string => `
CREATE TABLE IF NOT EXISTS ${migrationsTable} (
  version    INT          NOT NULL PRIMARY KEY,
  name       VARCHAR(255) NOT NULL,
  applied_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;`;

export const mysqlCurrentVersion = (migrationsTable: string): SqlQuery => ({
  text: `SELECT coalesce(max(version), 0) AS version FROM ${migrationsTable}`,
});

/** Whether Tally's migrations table exists in the connection's database, without creating it. */
export const mysqlInstalled = (rawName: string): SqlQuery => ({
  text: `SELECT count(*) AS present FROM information_schema.TABLES
          WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`,
  values: [rawName],
});

export const mysqlRecordVersion = (migrationsTable: string, version: number, name: string): SqlQuery => ({
  text: `INSERT INTO ${migrationsTable} (version, name) VALUES (?, ?)`,
  values: [version, name],
});
