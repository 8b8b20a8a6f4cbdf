import type { SqlQuery } from '../db/types.js';

// One advisory-lock key per Tally schema, so two apps with different schemas never wait on each other.
export const lockMigrations = (schemaName: string): SqlQuery => ({
  text: `SELECT pg_advisory_xact_lock(hashtext($1))`,
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
