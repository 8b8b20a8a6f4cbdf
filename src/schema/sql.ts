import type { SqlQuery } from '../db/types.js';

// One advisory-lock key per Tally schema, so two apps with different schemas never wait on each other.
export const lockMigrations = (schemaName: string): SqlQuery => ({
  text: `SELECT pg_advisory_xact_lock(hashtext($1))`,
  values: [`tally:migrate:${schemaName}`],
});

// The same key as a session-level lock (online migrations run on one connection outside transactions),
// tried, never waited for inside a statement: a session waiting inside a statement holds a snapshot, and
// a concurrent index build waits for every such snapshot to end — while the waiter waits for the builder.
export const trySessionLock = (schemaName: string): SqlQuery => ({
  text: `SELECT pg_try_advisory_lock(hashtext($1)) AS got`,
  values: [`tally:migrate:${schemaName}`],
});

// The transaction-level form, tried the same way by a migrate that runs each migration in one transaction.
export const tryLockMigrations = (schemaName: string): SqlQuery => ({
  text: `SELECT pg_try_advisory_xact_lock(hashtext($1)) AS got`,
  values: [`tally:migrate:${schemaName}`],
});

export const sessionUnlock = (schemaName: string): SqlQuery => ({
  text: `SELECT pg_advisory_unlock(hashtext($1)) AS released`,
  values: [`tally:migrate:${schemaName}`],
});

export const bootstrap = (s: string): string => `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`;

export const currentVersion = (s: string): SqlQuery => ({
  text: `SELECT coalesce(max(version), 0)::int AS version FROM ${s}.migrations`,
});

// Reads the applied version without creating anything: -1 when Tally's tables are absent.
export const installedVersion = (s: string): SqlQuery => ({
  text: `SELECT CASE WHEN to_regclass($1) IS NULL THEN -1 ELSE 0 END AS present`,
  values: [`${s}.migrations`],
});

export const recordVersion = (s: string, version: number, name: string): SqlQuery => ({
  text: `INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`,
  values: [version, name],
});

// A step's DDL waits at most this long for its lock, then gives up (and is retried after a backoff).
export const setLockTimeout = (ms: number): string => `SET LOCAL lock_timeout = '${Math.floor(ms)}ms'`;

// An index of that name in the schema, and whether it is valid (an interrupted CONCURRENTLY build leaves
// an invalid one, which the planner never uses and which still slows every write to the table).
export const indexState = (schemaName: string, name: string): SqlQuery => ({
  text: `SELECT i.indisvalid AS valid FROM pg_index i
           JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relname = $2`,
  values: [schemaName, name],
});

export const dropIndexConcurrently = (s: string, name: string): string =>
  `DROP INDEX CONCURRENTLY IF EXISTS ${s}.${name}`;
