import type { Executor, SqlQuery } from '../../src/db/types.js';
import { createTally, type Tally } from '../../src/tally.js';

export const RESOURCE_STATES = { active: ['frozen'], frozen: ['active', 'retired'], retired: [] };

/** A user table of `n` resources (ids 1..n) at version 0, created outside Tally, and a migrated Tally. */
export async function resourcesFixture(db: Executor, n: number, table = 'resources') {
  await db.exec(`
    CREATE TABLE ${table} (
      id      integer PRIMARY KEY,
      state   text    NOT NULL,
      version integer NOT NULL DEFAULT 0,
      owner   text,
      amount  numeric(12, 2) NOT NULL DEFAULT 0
    );
    INSERT INTO ${table} (id, state, owner, amount)
      SELECT g, 'active', 'owner-' || g, g * 1.5 FROM generate_series(1, ${n}) g;`);
  const tally = await createTally({ db });
  await tally.migrate();
  const resources = tally.entity('resource', { table, states: RESOURCE_STATES });
  return { tally, resources };
}

export async function count(db: Executor, text: string, values: unknown[] = []): Promise<number> {
  const [row] = await db.query<{ n: number }>({ text: `SELECT count(*)::int AS n FROM (${text}) q`, values });
  return Number(row!.n);
}

/** Wraps an executor and records every statement text it runs (transactions included). */
export function recording(db: Executor): { db: Executor; statements: string[] } {
  const statements: string[] = [];
  const wrap = (inner: Executor): Executor => ({
    dialect: inner.dialect,
    inTransaction: inner.inTransaction,
    query: (q: SqlQuery) => {
      statements.push(q.text);
      return inner.query(q);
    },
    exec: (text: string) => {
      statements.push(text);
      return inner.exec(text);
    },
    transaction: (fn, options) => inner.transaction((tx) => fn(wrap(tx)), options),
    close: () => inner.close(),
  });
  return { db: wrap(db), statements };
}

export type { Tally };
