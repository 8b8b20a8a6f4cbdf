import type { SqlQuery } from '../../db/types.js';

/**
 * The sink's tables in the target database, under the target schema `t` (quoted). `log` mirrors
 * Tally's log row for row, hashes included (rows written before migration 10 have them; later rows have
 * none, decision 0065), so the target can re-verify the versions, images and legacy chains on its own; `id` is
 * the source row id and the primary key, which is what makes a redelivered row a no-op.
 * `sink_positions` holds each sink's feed position, written in the same transaction as its rows.
 */
export function targetSchemaSql(t: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${t};
CREATE TABLE IF NOT EXISTS ${t}.log (
  id          bigint      PRIMARY KEY,
  entity_type text        NOT NULL,
  entity_key  text        NOT NULL,
  version     bigint      NOT NULL,
  action      text        NOT NULL,
  actor       text        NOT NULL,
  source_ip   text,
  reason      text,
  request_id  text,
  command_id  text,
  before      jsonb,
  after       jsonb,
  changed     text[]      NOT NULL,
  at          timestamptz NOT NULL,
  txid        text        NOT NULL,
  prev_hash   bytea,
  hash        bytea,
  shipped_at  timestamptz NOT NULL DEFAULT now()
);
DO $$ BEGIN
  -- Source rows written since Tally's migration 10 carry no hash (decision 0065); a target created
  -- before then required one. Dropping NOT NULL is catalog-only, and done once.
  IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = '${t}.log'::regclass AND attname = 'hash'
              AND attnotnull) THEN
    ALTER TABLE ${t}.log ALTER COLUMN hash DROP NOT NULL;
  END IF;
END $$;
CREATE TABLE IF NOT EXISTS ${t}.command_events (
  id           bigint      PRIMARY KEY,
  command_id   uuid        NOT NULL,
  command_type text        NOT NULL,
  kind         text        NOT NULL,
  step         text,
  data         jsonb,
  at           timestamptz NOT NULL,
  txid         text        NOT NULL,
  shipped_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ${t}.sink_positions (
  sink       text        PRIMARY KEY,
  source     text        NOT NULL,
  position   jsonb       NOT NULL,
  rows       bigint      NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL
);`;
}

/**
 * One statement for a whole batch of log rows: the rows travel as one JSON array parameter, and rows
 * the target already has (a redelivery after a crash between the two commits) are skipped.
 * Returns how many rows were new.
 */
export function insertLogRowsSql(t: string, rows: readonly Record<string, unknown>[]): SqlQuery {
  return {
    text: `WITH ins AS (
             INSERT INTO ${t}.log (id, entity_type, entity_key, version, action, actor, source_ip, reason,
                                   request_id, command_id, before, after, changed, at, txid, prev_hash, hash)
             SELECT r.id, r.entity_type, r.entity_key, r.version, r.action, r.actor, r.source_ip, r.reason,
                    r.request_id, r.command_id, r.before, r.after, r.changed, r.at, r.txid,
                    decode(r.prev_hash, 'hex'), decode(r.hash, 'hex')
               FROM jsonb_to_recordset($1::jsonb) AS r(
                      id bigint, entity_type text, entity_key text, version bigint, action text, actor text,
                      source_ip text, reason text, request_id text, command_id text, before jsonb, after jsonb,
                      changed text[], at timestamptz, txid text, prev_hash text, hash text)
              ORDER BY r.id
             ON CONFLICT (id) DO NOTHING
             RETURNING 1)
           SELECT count(*)::int AS n FROM ins`,
    values: [JSON.stringify(rows)],
  };
}

/** The same for command events. */
export function insertCommandEventsSql(t: string, rows: readonly Record<string, unknown>[]): SqlQuery {
  return {
    text: `WITH ins AS (
             INSERT INTO ${t}.command_events (id, command_id, command_type, kind, step, data, at, txid)
             SELECT r.id, r.command_id, r.command_type, r.kind, r.step, r.data, r.at, r.txid
               FROM jsonb_to_recordset($1::jsonb) AS r(
                      id bigint, command_id uuid, command_type text, kind text, step text, data jsonb,
                      at timestamptz, txid text)
              ORDER BY r.id
             ON CONFLICT (id) DO NOTHING
             RETURNING 1)
           SELECT count(*)::int AS n FROM ins`,
    values: [JSON.stringify(rows)],
  };
}

/** Records the sink's position beside its rows (same transaction), counting the rows that were new. */
export function savePositionSql(
  t: string,
  sink: string,
  source: string,
  position: unknown,
  added: number,
): SqlQuery {
  return {
    text: `INSERT INTO ${t}.sink_positions (sink, source, position, rows, updated_at)
           VALUES ($1, $2, $3::jsonb, $4, now())
           ON CONFLICT (sink) DO UPDATE
              SET position = excluded.position, rows = ${t}.sink_positions.rows + excluded.rows,
                  updated_at = excluded.updated_at`,
    values: [sink, source, JSON.stringify(position), added],
  };
}

/** Where a sink stands, read from the target. */
export function readPositionSql(t: string, sink: string): SqlQuery {
  return {
    text: `SELECT source, position, rows::int8::text AS rows, updated_at FROM ${t}.sink_positions WHERE sink = $1`,
    values: [sink],
  };
}
