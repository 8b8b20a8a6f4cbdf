import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { resourcesFixture } from '../support/resources.js';
import { chainAsLegacy } from './legacy-log.js';

describeEachDialect('history, state as of, and the fold check', (fresh) => {
  let t: TestDatabase;
  let now = new Date('2026-11-01T00:00:00Z');
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  async function setup(table: string) {
    const fx = await resourcesFixture(t.db, 5, table);
    const { createTally } = await import('../../src/tally.js');
    const tally = await createTally({ db: t.db, clock: () => now });
    const e = tally.entity(table, { table, states: { active: ['frozen'], frozen: ['active'] } });
    void fx;
    for (const [i, to] of ['frozen', 'active', 'frozen', 'active'].entries()) {
      now = new Date(Date.UTC(2026, 10, 1 + i));
      await e.transition({ key: 1, to, actor: `op${i}` });
    }
    return e;
  }

  it('history is oldest first; stateAt answers by version and by time', async () => {
    const e = await setup('h_basic');
    const log = await e.history(1);
    expect(log.map((l) => [l.version, l.after?.state, l.actor])).toEqual([
      [1, 'frozen', 'op0'],
      [2, 'active', 'op1'],
      [3, 'frozen', 'op2'],
      [4, 'active', 'op3'],
    ]);
    expect(log[2]!.at.toISOString()).toBe('2026-11-03T00:00:00.000Z');
    expect(await e.stateAt(1, { version: 3 })).toMatchObject({ state: 'frozen', version: 3 });
    expect(await e.stateAt(1, { version: 0 })).toMatchObject({ state: 'active', version: 0 });
    expect(await e.stateAt(1, { at: new Date('2026-11-02T12:00:00Z') })).toMatchObject({
      state: 'active',
      version: 2,
    });
    expect(await e.stateAt(1, { at: new Date('2020-01-01') })).toMatchObject({ version: 0 });
    expect(await e.stateAt(2, { version: 5 })).toBeNull();
    expect(await e.verify(1)).toMatchObject({ ok: true, entries: 4, lastVersion: 4, rowVersion: 4 });
  });

  it('an edited legacy (chained) log row breaks its hash; a removed hash is named too', async () => {
    const e = await setup('h_edit');
    await chainAsLegacy(t.db, 'tally', 'h_edit');
    expect((await e.verify(1)).problems).toEqual([]);
    await t.db.exec(
      `UPDATE tally.log SET actor = 'someone-else' WHERE entity_type = 'h_edit' AND version = 2`,
    );
    const check = await e.verify(1);
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual(['version 2: hash does not match the entry (edited)']);
    // Stripping the chain from a row written while it was kept does not turn it into a new row.
    await t.db.exec(
      `UPDATE tally.log SET hash = NULL, prev_hash = NULL WHERE entity_type = 'h_edit' AND version = 2`,
    );
    expect((await e.verify(1)).problems).toContain('version 2: hash does not match the entry (edited)');
  });

  it('an edited image of a new (unchained) row breaks the join with its neighbours and the row', async () => {
    const e = await setup('h_image');
    const check = async () => (await e.verify(1)).problems;
    await t.db.exec(`UPDATE tally.log SET after = after || '{"state": "retired"}'
                      WHERE entity_type = 'h_image' AND version = 2`);
    expect(await check()).toEqual(['version 3: before image differs from the previous after image']);
    await t.db.exec(`UPDATE tally.log SET after = after || '{"state": "active"}'
                      WHERE entity_type = 'h_image' AND version = 2`);
    await t.db.exec(`UPDATE tally.log SET after = after || '{"state": "retired"}'
                      WHERE entity_type = 'h_image' AND version = 4`);
    expect(await check()).toEqual(['the row differs from the last logged after image']);
  });

  it("an unsealed new row's metadata is not covered by verify (the sealed tree covers it)", async () => {
    // Decision 0065's stated limit: actor, time, reason, ids of a row written since migration 10 are
    // pinned only by the Merkle tree once sealed (test/cli/evidence.test.ts shows tally verify naming it).
    const e = await setup('h_meta');
    await t.db.exec(
      `UPDATE tally.log SET actor = 'someone-else' WHERE entity_type = 'h_meta' AND version = 2`,
    );
    expect((await e.verify(1)).ok).toBe(true);
  });

  it('a deleted middle row breaks the versions and images', async () => {
    const e = await setup('h_middle');
    await t.db.exec(`DELETE FROM tally.log WHERE entity_type = 'h_middle' AND version = 2`);
    const check = await e.verify(1);
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual([
      'version 3 does not follow the previous entry',
      'version 3: before image differs from the previous after image',
    ]);
  });

  it('deleted last rows: the row is ahead of its log', async () => {
    const e = await setup('h_tail');
    await t.db.exec(`DELETE FROM tally.log WHERE entity_type = 'h_tail' AND version >= 3`);
    const check = await e.verify(1);
    expect(check.problems).toContain('the row is at version 4 but the log ends at version 2');
  });

  it('a change made around Tally is not explained by the log', async () => {
    const e = await setup('h_around');
    await t.db.exec(`UPDATE h_around SET state = 'frozen' WHERE id = 1`);
    expect((await e.verify(1)).problems).toEqual(['the row differs from the last logged after image']);
    await t.db.exec(`UPDATE h_around SET state = 'frozen' WHERE id = 2`);
    expect((await e.verify(2)).problems).toEqual([]); // version 0, never logged: nothing to contradict
  });
});
