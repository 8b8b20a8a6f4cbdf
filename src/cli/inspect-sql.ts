import { INTAKE_COLS } from '../commands/intake-sql.js';
import type { SqlQuery } from '../db/types.js';

// params, input and result as text, as in the commands' own column list (src/commands/sql.ts).
const COLS = `id::text AS id, type, principal, key, fingerprint, params::text AS params, input::text AS input,
  status, step_index, decisions, outputs, result::text AS result, error, attempts, next_at, lease_owner,
  lease_until, created_at, updated_at, finished_at`;

/**
 * Commands `tally inspect` may mean: the one with this id (when it is a UUID), or every command
 * submitted with this idempotency key, optionally narrowed by type and principal. `s` is quoted.
 */
export const inspectMatchesSql = (
  s: string,
  ref: { id: string | null; key: string; type: string | null; principal: string | null },
): SqlQuery => ({
  text: `SELECT ${COLS} FROM ${s}.commands
          WHERE (id = $1::uuid OR key = $2)
            AND ($3::text IS NULL OR type = $3) AND ($4::text IS NULL OR principal = $4)
          ORDER BY created_at, id
          LIMIT 20`,
  values: [ref.id, ref.key, ref.type, ref.principal],
});

/** Whether Tally's commands table exists in the schema (it does once `tally migrate` ran). */
export const commandsTablePresentSql = (s: string): SqlQuery => ({
  text: `SELECT to_regclass($1) IS NOT NULL AS present`,
  values: [`${s}.commands`],
});

/**
 * What the failover store recorded that `tally inspect` may mean: the record with this id (or the primary
 * command it was handed over to), or every record of this key; narrowed like inspectMatchesSql.
 */
export const inspectIntakeMatchesSql = (
  s: string,
  ref: { id: string | null; key: string; type: string | null; principal: string | null },
): SqlQuery => ({
  text: `SELECT ${INTAKE_COLS} FROM ${s}.command_intake
          WHERE (id = $1::uuid OR primary_id = $1::uuid OR key = $2)
            AND ($3::text IS NULL OR type = $3) AND ($4::text IS NULL OR principal = $4)
          ORDER BY received_at, id
          LIMIT 20`,
  values: [ref.id, ref.key, ref.type, ref.principal],
});
