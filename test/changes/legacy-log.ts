import { LOG_COLUMNS, logHashSql } from '../../src/changes/hash-sql.js';
import type { Executor } from '../../src/db/types.js';

/**
 * What every writer stored before migration 10 (decision 0065): a log row with its per-entity chain,
 * `hash` computed by the one expression the verifiers still check legacy rows with. For tests that
 * build a log as an older Tally left it. `source` yields LOG_COLUMNS and `prev_hash`, full before images.
 */
export function insertChainedLogSql(s: string, source: string): string {
  return `INSERT INTO ${s}.log (${LOG_COLUMNS}, prev_hash, hash)
    SELECT x.entity_type, x.entity_key, x.version, x.action, x.actor, x.source_ip, x.reason, x.request_id,
           x.command_id, x.before, x.after, x.changed, x.at, x.prev_hash, ${logHashSql('x', undefined, false)}
      FROM (${source} OFFSET 0) x`;
}

/**
 * Turns an entity type's log rows into what a Tally before migration 10 would have written: each row
 * chained to its entity's previous one (in version order), and the chain's end moved past them, as if
 * they were all written before the migration. Test-only: a real log's rows are never rewritten.
 */
export async function chainAsLegacy(db: Executor, s: string, entityType: string): Promise<void> {
  const [r] = await db.query<{ lo: number; hi: number }>({
    text: `SELECT min(version)::int AS lo, max(version)::int AS hi FROM ${s}.log WHERE entity_type = $1`,
    values: [entityType],
  });
  for (let v = r!.lo; v <= r!.hi; v++) {
    await db.query({
      text: `UPDATE ${s}.log l SET prev_hash = (SELECT p.hash FROM ${s}.log p WHERE p.entity_type = l.entity_type
               AND p.entity_key = l.entity_key AND p.version = l.version - 1)
              WHERE l.entity_type = $1 AND l.version = $2`,
      values: [entityType, v],
    });
    await db.query({
      text: `UPDATE ${s}.log l SET hash = ${logHashSql('l')} WHERE l.entity_type = $1 AND l.version = $2`,
      values: [entityType, v],
    });
  }
  await db.query({ text: `UPDATE ${s}.log_chain SET last_chained_id = (SELECT max(id) FROM ${s}.log)` });
}
