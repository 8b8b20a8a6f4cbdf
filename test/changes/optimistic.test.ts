import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../src/db/postgres/index.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';

// Decision 0005: a transition in Tally's own transaction runs as one statement at REPEATABLE READ,
// without the lock statement. These are the races that one statement alone would get wrong: a row
// changed by another transaction while the statement runs. Real PostgreSQL (PGlite cannot race).
describe.skipIf(!postgresAvailable)('one-statement transition under a concurrent change [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(4);
  });
  afterAll(() => t.close());

  it('a row held by another transaction: the batch waits for it and chains to its log row', async () => {
    await t.db.exec(`CREATE TABLE opt (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, note text);
      INSERT INTO opt SELECT g, 'active', 0, 'n' FROM generate_series(1, 50) g;`);
    const tally = await createTally({ db: postgres(t.pool!) });
    await tally.migrate();
    const opt = tally.entity('opt', { table: 'opt', states: RESOURCE_STATES });

    // Another transaction changes row 7 through Tally and holds it uncommitted.
    const other = await t.pool!.connect();
    await other.query('BEGIN');
    await opt.update({ keys: [7], set: { note: 'held' }, actor: 'other', tx: other });
    const keys = Array.from({ length: 50 }, (_, i) => i + 1);
    const batch = opt.transition({ keys, to: 'frozen', actor: 'batch' });
    await new Promise((r) => setTimeout(r, 300));
    await other.query('COMMIT');
    other.release();

    // Without the fallback the batch fails on row 7 (lock timeout or serialization failure); with a
    // single statement at READ COMMITTED it waits, updates row 7 and links it to no previous entry.
    const r = await batch;
    expect(r.changed).toHaveLength(50);
    const history = await opt.history(7);
    expect(history.map((e) => [e.version, e.action, e.actor])).toEqual([
      [1, 'update', 'other'],
      [2, 'transition', 'batch'],
    ]);
    expect(history[1]!.prev_hash).toBe(history[0]!.hash);
    expect(history[1]!.before).toMatchObject({ note: 'held', state: 'active', version: 1 });
    for (const k of [1, 7, 50]) expect(await opt.verify(k)).toMatchObject({ ok: true, problems: [] });
  });

  it("a change in the caller's transaction leaves the caller's jit setting as it was", async () => {
    await t.db.exec(`CREATE TABLE optj (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);
      INSERT INTO optj SELECT g, 'active', 0 FROM generate_series(1, 2000) g;`);
    const tally = await createTally({ db: postgres(t.pool!) });
    const optj = tally.entity('optj', { table: 'optj', states: RESOURCE_STATES });
    const client = await t.pool!.connect();
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL jit = on');
      const keys = Array.from({ length: 2000 }, (_, i) => i + 1);
      const r = await optj.transition({ keys, to: 'frozen', actor: 'a', tx: client });
      expect(r.changed).toHaveLength(2000);
      // Tally turns JIT off for its big change statement; the caller's later statements keep theirs.
      expect((await client.query('SHOW jit')).rows[0].jit).toBe('on');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
});
