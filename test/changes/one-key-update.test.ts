import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgres } from '../../src/db/postgres/index.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';

// Decision 0124: one key's `update` is one statement, its before image the snapshot's row. These are the
// races where that image would be wrong: the row changes while the statement waits for it. Real
// PostgreSQL (PGlite cannot race). Each test fails if the statement wrote from its stale snapshot.
describe.skipIf(!postgresAvailable)('one-key update under a concurrent change [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(4);
  });
  afterAll(() => t.close());

  async function setUp(table: string) {
    await t.db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0,
      points int NOT NULL, note text); INSERT INTO ${table} SELECT g, 'active', 0, 100, 'n' FROM generate_series(1, 5) g;`);
    const tally = await createTally({ db: postgres(t.pool!) });
    await tally.migrate();
    return tally.entity(table, { table, states: RESOURCE_STATES });
  }

  it('waits for a Tally change held by another transaction, then logs the image that change left', async () => {
    const e = await setUp('oku_a');
    const other = await t.pool!.connect();
    await other.query('BEGIN');
    await e.update({ key: 3, set: { points: 90 }, actor: 'other', tx: other });
    const mine = e.update({ key: 3, set: { note: 'mine' }, actor: 'me' });
    await new Promise((r) => setTimeout(r, 300));
    await other.query('COMMIT');
    other.release();
    await mine;
    const history = await e.history(3);
    expect(history.map((h) => [h.version, h.actor])).toEqual([
      [1, 'other'],
      [2, 'me'],
    ]);
    // From the stale snapshot this would say points 100 and version 0.
    expect(history[1]!.before).toMatchObject({ points: 90, note: 'n', version: 1 });
    expect(history[1]!.after).toMatchObject({ points: 90, note: 'mine', version: 2 });
    expect(await e.verify(3)).toMatchObject({ ok: true, problems: [] });
  });

  it('a raw UPDATE that bumps no version still moves the row: the before image is the row it changed', async () => {
    const e = await setUp('oku_b');
    const other = await t.pool!.connect();
    await other.query('BEGIN');
    await other.query(`UPDATE oku_b SET note = 'raw' WHERE id = 2`);
    const mine = e.update({ key: 2, set: { points: 50 }, actor: 'me' });
    await new Promise((r) => setTimeout(r, 300));
    await other.query('COMMIT');
    other.release();
    await mine;
    const [h] = await e.history(2);
    expect(h!.before).toMatchObject({ note: 'raw', points: 100, version: 0 });
    expect(h!.after).toMatchObject({ note: 'raw', points: 50, version: 1 });
    expect(h!.changed).toEqual(['points', 'version']);
  });

  it("inside the caller's transaction: the same, and a set that changes nothing writes nothing", async () => {
    const e = await setUp('oku_c');
    const other = await t.pool!.connect();
    await other.query('BEGIN');
    await other.query(`UPDATE oku_c SET points = 7 WHERE id = 4`);
    const client = await t.pool!.connect();
    await client.query('BEGIN');
    const mine = e.update({ key: 4, set: { note: 'x' }, actor: 'me', tx: client });
    await new Promise((r) => setTimeout(r, 300));
    await other.query('COMMIT');
    other.release();
    expect((await mine).changed).toEqual([4]);
    expect((await e.update({ key: 4, set: { note: 'x' }, actor: 'me', tx: client })).unchanged).toEqual([4]);
    await client.query('COMMIT');
    client.release();
    const history = await e.history(4);
    expect(history).toHaveLength(1);
    expect(history[0]!.before).toMatchObject({ points: 7, note: 'n' });
  });

  it('a missing key is NOT_FOUND and writes nothing', async () => {
    const e = await setUp('oku_d');
    await expect(e.update({ key: 99, set: { note: 'x' }, actor: 'me' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await e.history(99)).toEqual([]);
  });
});
