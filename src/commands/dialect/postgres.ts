import type { Executor } from '../../db/types.js';
import { requeueSql, strandedSql } from '../requeue-sql.js';
import { saveCommandSql, saveInsertingCallSql, saveSettlingCallSql } from '../save-sql.js';
import {
  alertsSql,
  callByDownstreamKeySql,
  callSql,
  callsOfSql,
  claimCommandSql,
  commandByIdSql,
  commandByKeySql,
  eventsSql,
  insertAlertSql,
  insertCallSql,
  insertCommandSql,
  lockCommandSql,
  markCallSql,
  notifyDuplicateSql,
  resolveCallSql,
} from '../sql.js';
import type { CommandStore } from './types.js';

/**
 * PostgreSQL and PGlite: the statements in sql.ts and save-sql.ts as they were (one CTE per write,
 * prepared once per connection), behind the store interface. PGlite speaks the same SQL.
 */
export function postgresStore(s: string): CommandStore {
  const first = async (db: Executor, q: Parameters<Executor['query']>[0]) => (await db.query(q))[0];
  return {
    name: 'postgres',
    can: { change: true, failover: true, breaker: true, retention: true },
    insertCommand: (db, c) => first(db, insertCommandSql(s, c, c.asyncRecord)),
    // Synchronous: it commits with the step (an async record would make the whole step's commit async).
    recordStatement: (c) => insertCommandSql(s, c, false),
    byKey: (db, type, principal, key) => first(db, commandByKeySql(s, type, principal, key)),
    byId: (db, id) => first(db, commandByIdSql(s, id)),
    lock: (tx, id) => first(tx, lockCommandSql(s, id)),
    claim: (db, c) => first(db, claimCommandSql(s, c.id, c.owner, c.now, c.until, c.due)),
    async save(db, a) {
      const r = await first(db, saveCommandSql(s, a.row, a.events, a.at, a.expect));
      return { n: Number(r?.n) };
    },
    async saveInsertingCall(db, a, c) {
      const r = await first(db, saveInsertingCallSql(s, a.row, a.events, a.at, a.expect, c));
      return { n: Number(r?.n), inserted: Number(r?.inserted) };
    },
    async saveSettlingCall(db, a, o) {
      const r = await first(db, saveSettlingCallSql(s, a.row, a.events, a.at, a.expect, o));
      return { n: Number(r?.n), settled: Number(r?.settled) };
    },
    call: (db, id, step) => first(db, callSql(s, id, step)),
    callsOf: (db, id) => db.query(callsOfSql(s, id)),
    async insertCall(db, c) {
      await db.query(insertCallSql(s, c));
    },
    async markCall(db, id, step, what, at) {
      return Number((await first(db, markCallSql(s, id, step, what, at)))?.n);
    },
    async resolveCall(db, c) {
      return (await first(db, resolveCallSql(s, c))) !== undefined;
    },
    callByDownstreamKey: (db, key) => first(db, callByDownstreamKeySql(s, key)),
    notifyDuplicate: (db, m) => first(db, notifyDuplicateSql(s, m)),
    stranded: (db, f) => db.query(strandedSql(s, f)),
    requeue: (db, f, by) => db.transaction((tx) => tx.query(requeueSql(s, f, by))),
    async insertAlert(db, a) {
      return String((await first(db, insertAlertSql(s, a)))?.id);
    },
    alerts: (db, type, commandId, openOnly) => db.query(alertsSql(s, type, commandId, openOnly)),
    events: (db, id) => db.query(eventsSql(s, id)),
  };
}
