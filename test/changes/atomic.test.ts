import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError, type TallyError } from '../../src/errors.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, RESOURCE_STATES } from '../support/resources.js';

describeEachDialect('all-or-nothing changes and the caller transaction', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  async function table(name: string, n: number) {
    await t.db.exec(`CREATE TABLE ${name} (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);
      INSERT INTO ${name} SELECT g, 'active', 0 FROM generate_series(1, ${n}) g;`);
    const tally = await createTally({ db: t.db });
    await tally.migrate();
    return tally.entity(name, { table: name, states: RESOURCE_STATES });
  }
  const logRows = (name: string) => count(t.db, `SELECT 1 FROM tally.log WHERE entity_type = $1`, [name]);
  const changedRows = (name: string) =>
    count(t.db, `SELECT 1 FROM ${name} WHERE state <> 'active' OR version <> 0`);

  it('one illegal transition in the middle of a batch leaves no change and no log row', async () => {
    const e = await table('a_illegal', 500);
    await t.db.exec(`UPDATE a_illegal SET state = 'retired' WHERE id = 250`); // retired is terminal
    const err = await e
      .transition({ keys: Array.from({ length: 500 }, (_, i) => i + 1), to: 'frozen', actor: 'a' })
      .catch((x) => x);
    expect(isTallyError(err, 'BATCH_REJECTED')).toBe(true);
    expect((err as TallyError).details?.rejected).toEqual([
      {
        key: 250,
        reason: 'illegal_transition',
        from: 'retired',
        message: 'a_illegal 250 cannot go from retired to frozen',
      },
    ]);
    expect(await logRows('a_illegal')).toBe(0);
    expect(await count(t.db, `SELECT 1 FROM a_illegal WHERE state = 'frozen'`)).toBe(0);
  });

  it('a missing key rejects the batch; partial mode applies the valid ones', async () => {
    const e = await table('a_missing', 10);
    const err = await e.transition({ keys: [1, 2, 99, 3], to: 'frozen', actor: 'a' }).catch((x) => x);
    expect(isTallyError(err, 'BATCH_REJECTED')).toBe(true);
    expect(await logRows('a_missing')).toBe(0);
    const r = await e.transition({ keys: [1, 2, 99, 3], to: 'frozen', actor: 'a', mode: 'partial' });
    expect(r.changed).toEqual([1, 2, 3]);
    expect(r.rejected.map((x) => [x.key, x.reason])).toEqual([[99, 'not_found']]);
    expect(await logRows('a_missing')).toBe(3);
  });

  it('a single key names its reason in the error code', async () => {
    const e = await table('a_single', 3);
    await expect(e.transition({ key: 7, to: 'frozen', actor: 'a' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(e.transition({ key: 1, to: 'retired', actor: 'a' })).rejects.toMatchObject({
      code: 'ILLEGAL_TRANSITION',
    });
    expect(await logRows('a_single')).toBe(0);
  });

  it('an error raised in the middle of the statement (a trigger) leaves nothing behind', async () => {
    const e = await table('a_trigger', 300);
    await t.db.exec(`
      CREATE FUNCTION a_trigger_fail() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = 150 THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER a_trigger_fail BEFORE UPDATE ON a_trigger FOR EACH ROW EXECUTE FUNCTION a_trigger_fail();`);
    const err = await e
      .transition({
        keys: Array.from({ length: 300 }, (_, i) => i + 1),
        to: 'frozen',
        actor: 'a',
        mode: 'partial',
      })
      .catch((x) => x);
    expect(isTallyError(err, 'DB_ERROR')).toBe(true);
    expect(await logRows('a_trigger')).toBe(0);
    expect(await changedRows('a_trigger')).toBe(0);
  });

  it("the caller's transaction rolled back: nothing of Tally's remains; committed: all of it", async () => {
    const e = await table('a_tx', 20);
    await t.db.exec(`CREATE TABLE a_tx_orders (id int PRIMARY KEY)`);
    const boom = new Error('caller changed its mind');
    if (t.pool) {
      const client = await t.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('INSERT INTO a_tx_orders VALUES (1)');
        const r = await e.transition({ keys: [1, 2, 3], to: 'frozen', actor: 'a', tx: client });
        expect(r.changed).toEqual([1, 2, 3]);
        await client.query('ROLLBACK');
        await client.query('BEGIN');
        await client.query('INSERT INTO a_tx_orders VALUES (2)');
        await e.transition({ keys: [4], to: 'frozen', actor: 'a', tx: client });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    } else {
      await expect(
        t.db.transaction(async (tx) => {
          await tx.query({ text: 'INSERT INTO a_tx_orders VALUES (1)' });
          await e.transition({ keys: [1, 2, 3], to: 'frozen', actor: 'a', tx });
          throw boom;
        }),
      ).rejects.toBe(boom);
      await t.db.transaction(async (tx) => {
        await tx.query({ text: 'INSERT INTO a_tx_orders VALUES (2)' });
        await e.transition({ keys: [4], to: 'frozen', actor: 'a', tx });
      });
    }
    expect(await count(t.db, 'SELECT 1 FROM a_tx_orders')).toBe(1);
    expect(await logRows('a_tx')).toBe(1);
    expect(await count(t.db, `SELECT 1 FROM a_tx WHERE state = 'frozen'`)).toBe(1);
    expect((await e.history(4)).map((l) => l.version)).toEqual([1]);
  });
});
