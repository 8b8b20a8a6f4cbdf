import { registerLogTx } from '../../../changes/dialect/mysql/log-tx.js';
import { utcText } from '../../../changes/dialect/mysql/sql.js';
import type { TallyConfig } from '../../../config.js';
import { tallyTable } from '../../../db/mysql/names.js';
import { parseJson } from '../../columns.js';
import type { FailingEntry, KeyDetails, ReconcileDialect } from '../types.js';
import { sameJson } from './same-json.js';
import {
  bumpVersionSql,
  chunkCountSql,
  chunkEndSql,
  existingKeysSql,
  firstEntriesSql,
  gapsSql,
  imageCandidatesSql,
  insertRepairLogSql,
  lastEntriesSql,
  lockKeysSql,
  logIdRangeSql,
  needRepairSql,
  orphansSql,
  rowEstimateSql,
  rowsOfSql,
  stateChunkSql,
} from './sql.js';

const logOf = (config: TallyConfig) => tallyTable(config.schemaName, 'log');

/**
 * MySQL 8.0 / MariaDB (decision 0137): the same check and repair in the statements both servers share.
 * No tuple headers (every row with an entry at its version is compared), no work_mem, no legacy hashes;
 * a repair is four statements in the transaction that holds the rows' locks (no data-modifying CTEs).
 * The real-time check and the one-entity chain check are not ported yet.
 */
export function mysqlReconcile(): ReconcileDialect {
  return {
    name: 'mysql',
    can: { realtime: false, keyChain: false },
    // InnoDB sizes its join buffers itself; nothing to set per transaction.
    prepareCheck: async () => {},
    hasHeaders: async () => false,
    rowEstimate: rowEstimateSql,
    chunkEnd: chunkEndSql,
    stateChunk: (config, def, keyType, columns, lo, hi) =>
      stateChunkSql(logOf(config), def, keyType, columns, lo, hi),
    chunkCount: chunkCountSql,
    gaps: (config, entityType) => gapsSql(logOf(config), entityType),
    firstEntries: (config, entityType) => firstEntriesSql(logOf(config), entityType),
    orphans: (config, def, gapKeys) => orphansSql(logOf(config), def, gapKeys),
    // Two reads joined here (MariaDB has no LATERAL; a derived table of given keys would mix collations).
    async details(rt, db, _keyType, keys) {
      const shape = await rt.shape(db);
      const rows = await db.query<{ k: string; v: number | string; img: unknown }>(
        rowsOfSql(rt.def, shape, keys),
      );
      const last = await db.query<{
        k: string;
        version: number | string;
        after_image: unknown;
        action: string;
        n: number | string;
      }>(lastEntriesSql(logOf(rt.config), rt.def.name, keys));
      const rowOf = new Map(rows.map((r) => [String(r.k), r]));
      const lastOf = new Map(last.map((l) => [String(l.k), l]));
      const out: KeyDetails[] = [];
      for (const key of keys) {
        const r = rowOf.get(key);
        const l = lastOf.get(key);
        out.push({
          key,
          row_version: r ? r.v : null,
          row_image: r ? r.img : null,
          last_version: l ? l.version : null,
          last_after: l ? l.after_image : null,
          last_action: l ? l.action : null,
          entries: l ? l.n : 0,
        });
      }
      return out;
    },
    logIdRange: (config, entityType) => logIdRangeSql(logOf(config), entityType),
    async failingEntries(db, config, entityType, lo, hi) {
      const rows = await db.query<{
        key: string;
        version: number | string;
        before_image: unknown;
        prev_after: unknown;
      }>(imageCandidatesSql(logOf(config), entityType, lo, hi));
      const failing: FailingEntry[] = [];
      for (const r of rows) {
        if (sameJson(parseJson(r.before_image), parseJson(r.prev_after))) continue;
        failing.push({
          key: r.key,
          version: String(r.version),
          bad_hash: false,
          bad_link: false,
          bad_image: true,
        });
      }
      return failing;
    },
    async missingKeys(db, def, _keyType, keys) {
      const found = new Set<string>();
      for (let i = 0; i < keys.length; i += 1000) {
        const rows = await db.query<{ k: string }>(existingKeysSql(def, keys.slice(i, i + 1000)));
        for (const r of rows) found.add(String(r.k));
      }
      return keys.filter((k) => !found.has(k)).slice(0, 100);
    },
    lockKeys: (def, _keyType, keys) => lockKeysSql(def, keys),
    async repair(tx, rt, _keyType, columns, p) {
      const { def, config } = rt;
      const log = logOf(config);
      const need = await tx.query<{ k: string }>(
        needRepairSql(log, def, columns, p.keys, p.acceptMissingLog),
      );
      const keys = need.map((r) => String(r.k));
      if (keys.length === 0) return { updated: 0, logged: 0, keys: [] };
      const shape = await rt.shape(tx);
      // The feed delivers log rows by their statement's seq (decision 0134): register one for these.
      const txid = await registerLogTx(tx, config.schemaName);
      const [upd] = await tx.query<{ affectedRows: number }>(bumpVersionSql(log, def, keys));
      const [ins] = await tx.query<{ affectedRows: number }>(
        insertRepairLogSql(log, def, shape, keys, {
          actor: p.actor,
          reason: p.reason,
          requestId: p.requestId,
          at: utcText(p.at),
          txid,
        }),
      );
      return {
        updated: Number(upd?.affectedRows),
        logged: Number(ins?.affectedRows),
        keys: [...keys].sort(),
      };
    },
  };
}
