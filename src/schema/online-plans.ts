import type { MigrationStep } from './steps.js';

/**
 * The online form of each migration that builds an index on, or takes a long lock of, a table that can
 * be large (docs/migrations.md, decision 0067). Each produces exactly what the migration's `sql` produces
 * (same names, columns, definitions; test/schema/online-plans.test.ts compares the catalogs): the
 * released migrations' text is never edited, this is only another way to reach the same schema. A
 * migration not listed here applies as one `transaction` step (its `sql`) under the short lock_timeout.
 * The version is recorded in the transaction of the last step (or one of its own after an index).
 */
export const onlinePlans: Readonly<Record<number, readonly MigrationStep[]>> = {
  // 5 rebuilt the log's unique index with ADD CONSTRAINT, which holds ACCESS EXCLUSIVE on the log (no
  // reads, no writes) for the whole build. Online: build the same unique index concurrently under another
  // name, then swap it in with USING INDEX (renamed to the constraint's name), a catalog-only moment.
  5: [
    {
      kind: 'index',
      name: 'log_entity_version_online',
      on: 'log (entity_type, entity_key, version) INCLUDE (hash)',
      unique: true,
    },
    {
      kind: 'transaction',
      sql: (s) => `
ALTER TABLE ${s}.log DROP CONSTRAINT log_entity_version;
ALTER TABLE ${s}.log ADD CONSTRAINT log_entity_version UNIQUE USING INDEX log_entity_version_online;`,
    },
  ],
  // 7: the nullable columns are catalog-only; commands_paused scans all of commands.
  7: [
    {
      kind: 'transaction',
      sql: (s) => `
ALTER TABLE ${s}.commands ADD COLUMN IF NOT EXISTS budget_from timestamptz,
  ADD COLUMN IF NOT EXISTS paused_on text;`,
    },
    { kind: 'index', name: 'commands_paused', on: 'commands (paused_on) WHERE paused_on IS NOT NULL' },
    {
      kind: 'transaction',
      sql: (s) => `
CREATE TABLE ${s}.downstreams (
  name        text        PRIMARY KEY,
  state       text        NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open')),
  failures    integer     NOT NULL DEFAULT 0,
  opened_at   timestamptz,
  probe_at    timestamptz,
  probes      integer     NOT NULL DEFAULT 0,
  probe_owner text,
  probe_until timestamptz,
  last_error  text,
  updated_at  timestamptz NOT NULL
);
COMMENT ON TABLE ${s}.downstreams IS 'Tally breakers: per downstream, consecutive unreachable calls, and while open when the next probe is due';`,
    },
  ],
  // 8: two indexes, on command_alerts and command_calls (the latter grows with every call ever made).
  8: [
    {
      kind: 'transaction',
      sql: (s) => `
ALTER TABLE ${s}.command_alerts ADD COLUMN IF NOT EXISTS resolved_by text,
  ADD COLUMN IF NOT EXISTS resolved_reason text, ADD COLUMN IF NOT EXISTS resolved_status text;
ALTER TABLE ${s}.command_calls ADD COLUMN IF NOT EXISTS reconciled_at timestamptz;`,
    },
    { kind: 'index', name: 'command_alerts_by_command', on: 'command_alerts (command_id, kind, id)' },
    {
      kind: 'index',
      name: 'command_calls_unreconciled',
      on: 'command_calls (downstream_key)\n  WHERE reconciled_at IS NULL',
    },
  ],
  // 11: commands_finished scans all of commands; log_archives is new and empty.
  11: [
    {
      kind: 'index',
      name: 'commands_finished',
      on: `commands (type, finished_at)\n  WHERE status IN ('succeeded', 'failed')`,
    },
    {
      kind: 'transaction',
      sql: (s) => `
CREATE TABLE ${s}.log_archives (
  origin          text        NOT NULL,
  from_position   bigint      NOT NULL CHECK (from_position >= 0),
  to_position     bigint      NOT NULL,
  checkpoint_size bigint      NOT NULL,
  file            text        NOT NULL,
  sha256          text        NOT NULL,
  rows            bigint      NOT NULL,
  archived_at     timestamptz NOT NULL,
  deleted         boolean     NOT NULL DEFAULT false,
  PRIMARY KEY (origin, from_position),
  CHECK (to_position > from_position AND to_position <= checkpoint_size)
);
COMMENT ON TABLE ${s}.log_archives IS 'Tally evidence: log ranges (tree positions) moved to archive files (docs/retention.md)';`,
    },
  ],
  // 13: the column is catalog-only; commands_attention scans all of commands.
  13: [
    {
      kind: 'transaction',
      sql: (s) => `ALTER TABLE ${s}.commands ADD COLUMN IF NOT EXISTS trace_context text;`,
    },
    { kind: 'index', name: 'commands_attention', on: `commands (type) WHERE status = 'needs_attention'` },
  ],
  // 15: five indexes, each a scan of commands or job_items; nothing else.
  15: [
    { kind: 'index', name: 'commands_status_created', on: 'commands (status, created_at, id)' },
    { kind: 'index', name: 'commands_type_status_created', on: 'commands (type, status, created_at, id)' },
    {
      kind: 'index',
      name: 'commands_principal_status_created',
      on: 'commands (principal, status, created_at, id)',
    },
    { kind: 'index', name: 'commands_key', on: 'commands (key)' },
    { kind: 'index', name: 'job_items_rejected', on: `job_items (job_id, seq) WHERE status = 'rejected'` },
  ],
};
