import { chainChunkSql, logIdRangeSql } from '../chain-sql.js';
import { parseJson } from '../columns.js';
import { lockKeysSql, missingKeysSql, repairSql } from '../repair-sql.js';
import {
  chunkCountSql,
  chunkEndSql,
  detailsSql,
  firstEntriesSql,
  gapsSql,
  hasHeadersSql,
  orphansSql,
  rowEstimateSql,
  stateChunkSql,
} from '../sql.js';
import type { FailingEntry, KeyDetails, ReconcileDialect } from './types.js';

/**
 * PostgreSQL and PGlite: the reconciler's existing statements (sql.ts, chain-sql.ts, repair-sql.ts) behind
 * the seam, unchanged. PGlite differs only in leaving the session's planner settings alone.
 */
export function postgresReconcile(name: 'postgres' | 'pglite'): ReconcileDialect {
  return {
    name,
    can: { realtime: true, keyChain: true },
    async prepareCheck(tx, workMem) {
      if (name !== 'postgres') return;
      // The join's hash table must fit in memory; JIT compilation costs more than it saves here.
      // parallel_tuple_cost 0: the planner cannot estimate the drift filter and expects nearly every
      // row to leave the join, so it prices a Gather of a million rows and plans the join serially;
      // about one row in a thousand leaves it, and the parallel hash join takes half the time
      // (decision 0057).
      await tx.query({
        text: `SELECT set_config('work_mem', $1, true), set_config('jit', 'off', true),
                      set_config('parallel_tuple_cost', '0', true)`,
        values: [workMem],
      });
    },
    async hasHeaders(db, def) {
      const [h] = await db.query<{ headers: boolean }>(hasHeadersSql(def.table.sql));
      return h?.headers === true;
    },
    rowEstimate: (def) => rowEstimateSql(def.table.sql),
    chunkEnd: chunkEndSql,
    stateChunk: (config, def, keyType, columns, lo, hi, headers) =>
      stateChunkSql(config.s, def, keyType, columns, lo, hi, headers),
    chunkCount: chunkCountSql,
    gaps: (config, entityType) => gapsSql(config.s, entityType),
    firstEntries: (config, entityType) => firstEntriesSql(config.s, entityType),
    orphans: (config, def, gapKeys) => orphansSql(config.s, def, gapKeys),
    details: (rt, db, keyType, keys) =>
      db.query<KeyDetails & Record<string, unknown>>(detailsSql(rt.config.s, rt.def, keyType, keys)),
    logIdRange: (config, entityType) => logIdRangeSql(config.s, entityType),
    failingEntries: (db, config, entityType, lo, hi) =>
      db.query<FailingEntry>(chainChunkSql(config.s, entityType, lo, hi)),
    async missingKeys(db, def, keyType, keys) {
      const rows = await db.query<{ k: unknown }>(missingKeysSql(def, keyType, keys));
      return rows.map((r) => String(r.k));
    },
    lockKeys: lockKeysSql,
    async repair(tx, rt, keyType, columns, p) {
      const [r] = await tx.query<{ updated: number; logged: number; keys: unknown }>(
        repairSql(rt.config.s, rt.def, keyType, columns, p),
      );
      return { updated: Number(r!.updated), logged: Number(r!.logged), keys: parseJson<string[]>(r!.keys) };
    },
  };
}
