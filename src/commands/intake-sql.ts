import type { SqlQuery } from '../db/types.js';
import type { RecordedRequest } from './sql.js';

/**
 * The intake columns every reader selects (normalizeIntake reads them). `params` and `input` as text, so a
 * bare JSON string (`"abc"`) is parsed once, not handed over pre-parsed and parsed again (decision 0029).
 */
export const INTAKE_COLS = `id::text AS id, type, principal, key, fingerprint, params::text AS params,
  input::text AS input, received_at, handed_over_at, handover, primary_id::text AS primary_id`;

export interface IntakeRow {
  id: string;
  type: string;
  principal: string;
  key: string;
  fingerprint: string;
  params: unknown;
  input: unknown;
  received_at: Date;
  handed_over_at: Date | null;
  handover: 'moved' | 'merged' | 'rejected' | null;
  primary_id: string | null;
}

/** Records a command on the secondary store (nothing else happens there); no row when the key exists. */
export const insertIntakeSql = (s: string, c: RecordedRequest): SqlQuery => ({
  text: `INSERT INTO ${s}.command_intake (id, type, principal, key, fingerprint, params, input, received_at)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)
         ON CONFLICT (type, principal, key) DO NOTHING
         RETURNING ${INTAKE_COLS}`,
  values: [c.id, c.type, c.principal, c.key, c.fingerprint, c.params, c.input, c.at],
});

export const intakeByKeySql = (
  s: string,
  type: string,
  principal: string,
  key: string,
  lock = false,
): SqlQuery => ({
  text: `SELECT ${INTAKE_COLS} FROM ${s}.command_intake WHERE type = $1 AND principal = $2 AND key = $3${lock ? ' FOR UPDATE' : ''}`,
  values: [type, principal, key],
});

export const intakeByIdSql = (s: string, id: string): SqlQuery => ({
  text: `SELECT ${INTAKE_COLS} FROM ${s}.command_intake WHERE id = $1::uuid`,
  values: [id],
});

/** Open intake rows of these types, oldest first, locked for one hand-over round (others skip them). */
export const claimIntakeSql = (s: string, types: readonly string[], limit: number): SqlQuery => ({
  text: `SELECT ${INTAKE_COLS} FROM ${s}.command_intake
          WHERE handed_over_at IS NULL AND type = ANY($1::text[])
          ORDER BY received_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`,
  values: [types, limit],
});

export const markHandedOverSql = (
  s: string,
  id: string,
  how: 'moved' | 'merged' | 'rejected',
  primaryId: string,
  at: Date,
): SqlQuery => ({
  text: `UPDATE ${s}.command_intake SET handed_over_at = $4, handover = $2, primary_id = $3::uuid
          WHERE id = $1::uuid AND handed_over_at IS NULL`,
  values: [id, how, primaryId, at],
});

/**
 * Creates the command on the primary from an intake row: same id, key, fingerprint and input, due now,
 * with a `submitted` event that says where it was first recorded. No row when the key exists there.
 */
export const adoptIntakeSql = (s: string, r: IntakeRow, at: Date): SqlQuery => ({
  text: `WITH ins AS (
           INSERT INTO ${s}.commands (id, type, principal, key, fingerprint, params, input, next_at, created_at, updated_at)
           VALUES ($1::uuid, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $9, $8, $9)
           ON CONFLICT (type, principal, key) DO NOTHING
           RETURNING id, fingerprint),
         ev AS (INSERT INTO ${s}.command_events (command_id, kind, data, at)
                SELECT id, 'submitted', jsonb_build_object('fingerprint', fingerprint, 'store', 'secondary',
                       'receivedAt', $8::timestamptz), $8 FROM ins
                UNION ALL
                SELECT id, 'handed_over', jsonb_build_object('from', 'secondary'), $9 FROM ins)
         SELECT id::text AS id FROM ins`,
  values: [
    r.id,
    r.type,
    r.principal,
    r.key,
    r.fingerprint,
    JSON.stringify(r.params),
    JSON.stringify(r.input),
    r.received_at,
    at,
  ],
});
