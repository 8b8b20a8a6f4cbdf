import type { SqlQuery } from '../db/types.js';

// Decision 0145: every operator action is a row of operator_actions (migration 14), written in the
// transaction of the change it makes (or, for a change made in many transactions, before the first).

/** Records one operator action. */
export const recordActionSql = (
  s: string,
  a: { action: string; target: string; actor: string; reason: string; data: unknown; at: Date },
): SqlQuery => ({
  text: `INSERT INTO ${s}.operator_actions (action, target, actor, reason, data, at)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6) RETURNING id::text AS id`,
  values: [a.action, a.target, a.actor, a.reason, JSON.stringify(a.data ?? null), a.at],
});

/** Operator actions, newest first: of one target (a command, alert or job id), optionally one action. */
export const listActionsSql = (
  s: string,
  f: { target: string | null; action: string | null; limit: number },
): SqlQuery => ({
  text: `SELECT id::text AS id, action, target, actor, reason, data, at FROM ${s}.operator_actions
          WHERE ($1::text IS NULL OR target = $1) AND ($2::text IS NULL OR action = $2)
          ORDER BY id DESC
          LIMIT $3`,
  values: [f.target, f.action, f.limit],
});

/**
 * Records one operator action per target in one statement (a bulk requeue: a row per command, so each
 * command's actions list it as the single action would).
 */
export const recordActionsSql = (
  s: string,
  a: { action: string; actor: string; reason: string; at: Date },
  targets: readonly { target: string; data: unknown }[],
): SqlQuery => ({
  text: `INSERT INTO ${s}.operator_actions (action, target, actor, reason, data, at)
         SELECT $1, t, $2, $3, d::jsonb, $4 FROM unnest($5::text[], $6::text[]) AS x(t, d)`,
  values: [
    a.action,
    a.actor,
    a.reason,
    a.at,
    targets.map((t) => t.target),
    targets.map((t) => JSON.stringify(t.data ?? null)),
  ],
});
