import { sqlStateOf } from '../../../db/errors.js';
import { tallyTable } from '../../../db/mysql/names.js';
import type { Executor, Row } from '../../../db/types.js';
import type { CommandStore, SaveArgs } from '../types.js';
import {
  alertsSql,
  callByDownstreamKeySql,
  callSql,
  callsOfSql,
  claimableSql,
  commandWhereSql,
  eventsSql,
  insertAlertSql,
  insertCallSql,
  insertCommandSql,
  insertEventRowsSql,
  insertEventsSql,
  insertedRow,
  leaseSql,
  markCallSql,
  requeueSql,
  resolveAttentionSql,
  resolveCallSql,
  saveSql,
  settledCallSql,
  strandedSql,
  type Tables,
} from './sql.js';

/** What a write answers on MySQL: the OK packet (mysql2's ResultSetHeader). */
interface Header extends Row {
  affectedRows: number;
  insertId: number;
}

/**
 * MySQL 8.0 / MariaDB 10.6+ (decision 0132). Neither has `UPDATE … RETURNING` nor data-modifying CTEs,
 * so what PostgreSQL does in one CTE is a short sequence of statements in one transaction — the caller's
 * when it holds one, else one opened here: a claim is a locking read then an UPDATE; a save is the
 * UPDATE, its events, and the call write that belongs with it. Change commands, the failover store,
 * breakers and retention are not ported yet (`can`).
 */
export function mysqlStore(schemaName: string): CommandStore {
  const t: Tables = (table) => tallyTable(schemaName, table);
  const first = async (db: Executor, q: Parameters<Executor['query']>[0]) => (await db.query(q))[0];
  const write = async (db: Executor, q: Parameters<Executor['query']>[0]) =>
    (await db.query<Header>(q))[0] as Header;

  /** The save's UPDATE and, when it applied, its events; `then` writes what belongs with it. */
  async function saveThen<T>(db: Executor, a: SaveArgs, then: (tx: Executor) => Promise<T>) {
    return db.transaction(async (tx) => {
      const n = Number((await write(tx, saveSql(t, a))).affectedRows);
      if (n !== 1) return { n, more: null };
      if (a.events.length > 0) await tx.query(insertEventsSql(t, a.row.id, a.events, a.at));
      return { n, more: await then(tx) };
    });
  }

  return {
    name: 'mysql',
    can: {
      change: false,
      failover: false,
      breaker: false,
      retention: false,
    },
    async insertCommand(db, c) {
      return db.transaction(async (tx) => {
        try {
          await tx.query(insertCommandSql(t, c));
        } catch (err) {
          // The key exists (its writer committed, or waited for and then committed): no row, as ON CONFLICT
          // DO NOTHING answers on PostgreSQL. InnoDB rolls back only this statement.
          if (sqlStateOf(err) === '23505') return undefined;
          throw err;
        }
        await tx.query(
          insertEventsSql(t, c.id, [{ kind: 'submitted', data: { fingerprint: c.fingerprint } }], c.at),
        );
        return insertedRow(c);
      });
    },
    byKey: (db, type, principal, key) =>
      first(db, commandWhereSql(t, 'type = ? AND principal = ? AND `key` = ?', [type, principal, key])),
    byId: (db, id) => first(db, commandWhereSql(t, 'id = ?', [id])),
    lock: (tx, id) => first(tx, commandWhereSql(t, 'id = ?', [id], ' FOR UPDATE')),
    async claim(db, c) {
      return db.transaction(async (tx) => {
        const row = await first(tx, claimableSql(t, c.id, c.now, c.due));
        if (!row) return undefined;
        await tx.query(leaseSql(t, [c.id], c.owner, c.now, c.until));
        return { ...row, lease_owner: c.owner, lease_until: c.until, updated_at: c.now };
      });
    },
    async save(db, a) {
      const { n } = await saveThen(db, a, async () => null);
      return { n };
    },
    async saveInsertingCall(db, a, c) {
      const { n, more } = await saveThen(db, a, async (tx) => {
        await tx.query(insertCallSql(t, { ...c, id: a.row.id, at: a.at }, true));
        return 1;
      });
      return { n, inserted: more ?? 0 };
    },
    async saveSettlingCall(db, a, o) {
      const { n, more } = await saveThen(db, a, async (tx) => {
        const h = await write(
          tx,
          resolveCallSql(t, {
            id: a.row.id,
            step: o.step,
            outcome: o.outcome,
            value: o.value,
            via: o.via,
            at: a.at,
          }),
        );
        return Number(h.affectedRows);
      });
      return { n, settled: more ?? 0 };
    },
    call: (db, id, step) => first(db, callSql(t, id, step)),
    callsOf: (db, id) => db.query(callsOfSql(t, id)),
    async insertCall(db, c) {
      await db.query(insertCallSql(t, c, false));
    },
    async markCall(db, id, step, what, at) {
      return Number((await write(db, markCallSql(t, id, step, what, at))).insertId);
    },
    async resolveCall(db, c) {
      return Number((await write(db, resolveCallSql(t, c))).affectedRows) > 0;
    },
    callByDownstreamKey: (db, key) => first(db, callByDownstreamKeySql(t, key)),
    async notifyDuplicate(db, m) {
      return db.transaction(async (tx) => {
        const call = await first(tx, settledCallSql(t, m.downstreamKey, m.outcome, m.type));
        if (!call) return undefined;
        const id = String(call.command_id);
        const event = { kind: 'duplicate', step: String(call.step), data: JSON.parse(m.data) };
        await tx.query(insertEventsSql(t, id, [event], m.at));
        return first(tx, commandWhereSql(t, 'id = ?', [id]));
      });
    },
    stranded: (db, f) => db.query(strandedSql(t, f, false)),
    async requeue(db, f, by) {
      return db.transaction(async (tx) => {
        const picked = await tx.query(strandedSql(t, f, true));
        if (picked.length === 0) return [];
        const ids = picked.map((r) => String(r.id));
        // A definite failure whose compensation had not finished goes back to compensating.
        const undoing = (r: Row) => {
          const e = typeof r.error === 'string' ? JSON.parse(r.error) : r.error;
          return e !== null && e !== undefined && e.compensated !== true;
        };
        const undo = picked.filter(undoing).map((r) => String(r.id));
        await tx.query(requeueSql(t, ids, undo, by.at));
        const rows: Row[] = picked.map((r) => ({
          ...r,
          status: undo.includes(String(r.id)) ? 'compensating' : 'pending',
        }));
        await tx.query(
          insertEventRowsSql(
            t,
            rows.map((r) => ({
              id: String(r.id),
              kind: 'requeued',
              data: { actor: by.actor, reason: by.reason, to: r.status },
            })),
            by.at,
          ),
        );
        await tx.query(resolveAttentionSql(t, ids, by.at));
        return rows;
      });
    },
    async insertAlert(db, a) {
      return String((await write(db, insertAlertSql(t, a))).insertId);
    },
    alerts: (db, type, commandId, openOnly) => db.query(alertsSql(t, type, commandId, openOnly)),
    events: (db, id) => db.query(eventsSql(t, id)),
  };
}
