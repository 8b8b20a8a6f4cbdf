import type { SqlQuery } from '../../../db/types.js';

export const STATUSES = ['pending', 'compensating', 'succeeded', 'failed', 'needs_attention'] as const;
export type Status = (typeof STATUSES)[number];

/** What the commands list is filtered by (each one given narrows it). */
export interface CommandFilter {
  statuses: readonly Status[] | null;
  type: string | null;
  principal: string | null;
  key: string | null;
  since: Date | null;
  until: Date | null;
  /** The last row of the previous page: its created_at (UTC text, microseconds) and id. */
  after: readonly [string, string] | null;
  limit: number;
}

/** The sort key as the cursor holds it: exact to the microsecond, UTC, whatever the session's time zone. */
export const AT_KEY = `to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at_key`;

const LIST_COLS = `c.id::text AS id, c.type, c.principal, c.key, c.status, c.step_index, c.attempts, c.created_at,
  c.updated_at, c.finished_at, c.next_at, c.paused_on, c.error, c.id AS sort_id, ${AT_KEY}`;

/**
 * A page of commands, newest first (created_at DESC, id DESC), keyset-paginated (decision 0141). One
 * branch per status, UNION ALL: each is an ordered range scan of an index with (status, created_at, id) at
 * its end — commands_status_created, or the type / principal ones when those are filtered (migration 15) —
 * stopped after limit + 1 rows, so a page reads at most (statuses x page) index entries on any table size.
 * A key lookup reads commands_key (few rows per key).
 */
export function listCommandsSql(s: string, f: CommandFilter): SqlQuery {
  const values: unknown[] = [];
  const p = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const where: string[] = [];
  if (f.type !== null) where.push(`c.type = ${p(f.type)}`);
  if (f.principal !== null) where.push(`c.principal = ${p(f.principal)}`);
  if (f.key !== null) where.push(`c.key = ${p(f.key)}`);
  if (f.since !== null) where.push(`c.created_at >= ${p(f.since)}::timestamptz`);
  if (f.until !== null) where.push(`c.created_at < ${p(f.until)}::timestamptz`);
  if (f.after !== null) {
    where.push(
      `(c.created_at, c.id) < (${p(f.after[0])}::timestamp AT TIME ZONE 'UTC', ${p(f.after[1])}::uuid)`,
    );
  }
  const limit = p(f.limit + 1);
  // sort_id: the uuid itself (`id` is its text), so the outer order is the branches' and the cursor's.
  const order = 'ORDER BY created_at DESC, sort_id DESC';
  const statuses = f.statuses ?? STATUSES;
  if (f.key !== null) {
    // A key names a handful of commands: one probe of commands_key, the statuses as a filter.
    where.push(`c.status = ANY(${p(statuses)}::text[])`);
    return {
      text: `SELECT ${LIST_COLS} FROM ${s}.commands c WHERE ${where.join(' AND ')} ${order} LIMIT ${limit}`,
      values,
    };
  }
  // Statuses come from the fixed list above (checked by the route), so they are written as literals:
  // each branch is then planned for its own status.
  const branch = (st: Status) =>
    `(SELECT ${LIST_COLS} FROM ${s}.commands c WHERE ${[`c.status = '${st}'`, ...where].join(' AND ')}
       ORDER BY c.created_at DESC, c.id DESC LIMIT ${limit})`;
  return {
    text: `SELECT * FROM (${statuses.map(branch).join('\nUNION ALL\n')}) x ${order} LIMIT ${limit}`,
    values,
  };
}
