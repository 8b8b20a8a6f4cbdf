import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlStateOf } from '../../src/db/errors.js';
import { joinMysql } from '../../src/db/mysql/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshMariadb, mariadbAvailable, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';

const N = 20;

describe.skipIf(!mariadbAvailable)('audited changes under contention [mariadb]', () => {
  let t: TestDatabase;
  let tally: Tally;
  beforeAll(async () => {
    t = await freshMariadb(12);
    tally = await createTally({ db: t.db });
    await tally.migrate();
    await t.db.exec(`CREATE TABLE c_res (id BIGINT PRIMARY KEY, state VARCHAR(16) NOT NULL,
      version INT NOT NULL DEFAULT 0, owner VARCHAR(32));
      INSERT INTO c_res (id, state) VALUES ${Array.from({ length: N }, (_, i) => `(${i + 1}, 'active')`).join(', ')};`);
  });
  afterAll(() => t.close());

  /** Every entity's log: versions 1..n without a gap, each before the previous after, ending at the row. */
  async function checkLogs(): Promise<number> {
    const e = tally.getEntity('c_res');
    let entries = 0;
    for (let id = 1; id <= N; id++) {
      const h = await e.history(id);
      const [row] = await t.db.query<{ version: number }>({
        text: `SELECT version FROM c_res WHERE id = ${id}`,
      });
      expect(h.map((x) => x.version)).toEqual(Array.from({ length: h.length }, (_, i) => i + 1));
      for (let i = 1; i < h.length; i++) expect(h[i]!.before).toEqual(h[i - 1]!.after);
      expect(Number(row!.version)).toBe(h.length);
      if (h.length > 0) expect(h.at(-1)!.after!.version).toBe(h.length);
      entries += h.length;
    }
    return entries;
  }

  it('eight writers flipping overlapping batches at once: every change logged once, no gap, no half-write', async () => {
    const e = tally.entity('c_res', { table: 'c_res', states: RESOURCE_STATES });
    let changed = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let round = 0; round < 6; round++) {
          // Overlapping sets given in different orders: Tally locks in key order, so they queue.
          const keys = Array.from({ length: 8 }, (_, i) => ((w * 3 + i * 7 + round) % N) + 1);
          if (w % 2) keys.reverse();
          const r = await e.transition({ keys, to: (w + round) % 2 ? 'frozen' : 'active', actor: `w${w}` });
          changed += r.changed.length;
        }
      }),
    );
    expect(await checkLogs()).toBe(changed);
  });

  it("a deadlock between two callers' REPEATABLE READ transactions: the victim surfaces 40P01 with nothing of it written; the survivor commits whole", async () => {
    const e = tally.getEntity('c_res');
    const before = await checkLogs();
    const pool = t.mysqlPool!;
    const a = await pool.getConnection();
    const b = await pool.getConnection();
    try {
      for (const c of [a, b]) {
        await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        await c.beginTransaction();
      }
      const [sa] = await a.query('SELECT state FROM c_res WHERE id = 1');
      const [sb] = await b.query('SELECT state FROM c_res WHERE id = 2');
      const flip = (rows: unknown) =>
        (rows as { state: string }[])[0]!.state === 'active' ? 'frozen' : 'active';
      const toA = flip(sa);
      const toB = flip(sb);
      // a holds row 1, b holds row 2; then each reaches for the other's row: one of them is the victim.
      await e.transition({ key: 1, to: toA, actor: 'a', tx: a });
      await e.transition({ key: 2, to: toB, actor: 'b', tx: b });
      const [ra, rb] = await Promise.allSettled([
        e.transition({ keys: [2], to: toB, actor: 'a', tx: a, mode: 'partial' }),
        (async () => {
          await new Promise((r) => setTimeout(r, 50));
          return e.transition({ keys: [1], to: toA, actor: 'b', tx: b, mode: 'partial' });
        })(),
      ]);
      const failed = [ra, rb].filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(failed).toHaveLength(1);
      expect(failed[0]!.reason).toMatchObject({ code: 'DB_ERROR' });
      expect(sqlStateOf(failed[0]!.reason)).toBe('40P01');
      const survivor = ra.status === 'fulfilled' ? a : b;
      const victim = survivor === a ? b : a;
      await victim.rollback(); // InnoDB already rolled it back; this ends it on the client
      await survivor.commit();
      // Exactly the survivor's two changes (its own row, then the other row, already in its target
      // state or moved) are in the log; nothing of the victim's.
      const after = await checkLogs();
      expect(after - before).toBeGreaterThanOrEqual(1);
      expect(after - before).toBeLessThanOrEqual(2);
      const actors = new Set<string>();
      for (const id of [1, 2]) for (const x of await e.history(id)) if (x.version > 0) actors.add(x.actor);
      expect(actors.has(survivor === a ? 'a' : 'b')).toBe(true);
      expect(actors.has(survivor === a ? 'b' : 'a')).toBe(false); // the victim's own first change went too
    } finally {
      a.release();
      b.release();
    }
  });

  it("a caller's mysql2 connection joins as tx directly, and operations not yet ported refuse by name", async () => {
    const e = tally.getEntity('c_res');
    const conn = await t.mysqlPool!.getConnection();
    try {
      await conn.beginTransaction();
      const [rows] = await conn.query('SELECT state, version FROM c_res WHERE id = 5');
      const { state, version } = (rows as { state: string; version: number }[])[0]!;
      await e.transition({ key: 5, to: state === 'active' ? 'frozen' : 'active', actor: 'raw', tx: conn });
      await conn.rollback();
      const [again] = await t.db.query<{ version: number }>({
        text: 'SELECT version FROM c_res WHERE id = 5',
      });
      expect(Number(again!.version)).toBe(version);
      expect(joinMysql(conn).dialect).toBe('mysql');
    } finally {
      conn.release();
    }
    await expect(e.update({ key: 1, set: { owner: 'x' }, actor: 'a' })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      details: { dialect: 'mysql', capability: 'update' },
    });
    await expect(e.verify(1)).rejects.toMatchObject({ details: { capability: 'verify' } });
  });
});
