import type { SqlQuery } from '../db/types.js';

/** One reconcile result of one entity type (reconcile_runs, migration 16). */
export interface RunRow {
  entityType: string;
  kind: 'check' | 'repair';
  checked: number | null;
  logEntries: number | null;
  findings: number | null;
  repaired: number | null;
  durationMs: number;
}

/** How many results of each entity type reconcile_runs keeps. */
export const RUNS_KEPT = 50;

/**
 * Inserts the results and deletes, for each entity type named, the results older than its last
 * RUNS_KEPT (the rows inserted by this statement are not seen by its DELETE: a type keeps at most
 * RUNS_KEPT + the ones added here, until its next run).
 */
export const insertRunsSql = (s: string, at: Date, rows: readonly RunRow[]): SqlQuery => ({
  text: `WITH added AS (
           INSERT INTO ${s}.reconcile_runs (entity_type, kind, at, checked, log_entries, findings, repaired, duration_ms)
           SELECT t.entity_type, t.kind, $1, t.checked, t.log_entries, t.findings, t.repaired, t.duration_ms
             FROM jsonb_to_recordset($2::jsonb) AS t(entity_type text, kind text, checked bigint,
                                                   log_entries bigint, findings bigint, repaired bigint,
                                                   duration_ms integer)
           RETURNING 1),
         floor AS (
           SELECT f.entity_type,
                  (SELECT r.id FROM ${s}.reconcile_runs r WHERE r.entity_type = f.entity_type
                    ORDER BY r.id DESC OFFSET $3 LIMIT 1) AS id
             FROM (SELECT DISTINCT x->>'entity_type' AS entity_type FROM jsonb_array_elements($2::jsonb) x) f),
         gone AS (
           DELETE FROM ${s}.reconcile_runs r USING floor
            WHERE r.entity_type = floor.entity_type AND r.id <= floor.id)
         SELECT count(*)::int AS n FROM added`,
  values: [
    at,
    JSON.stringify(
      rows.map((r) => ({
        entity_type: r.entityType,
        kind: r.kind,
        checked: r.checked,
        log_entries: r.logEntries,
        findings: r.findings,
        repaired: r.repaired,
        duration_ms: Math.round(r.durationMs),
      })),
    ),
    RUNS_KEPT - 1,
  ],
});
