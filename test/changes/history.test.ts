import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { resourcesFixture } from '../support/resources.js';

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

  it('an edited log row breaks its hash', async () => {
    const e = await setup('h_edit');
    await t.db.exec(
      `UPDATE tally.log SET actor = 'someone-else' WHERE entity_type = 'h_edit' AND version = 2`,
    );
    const check = await e.verify(1);
    expect(check.ok).toBe(false);
    expect(check.problems).toEqual(['version 2: hash does not match the entry (edited)']);
  });

  it('a deleted middle row breaks the versions, images and links', async () => {
    const e = await setup('h_middle');
    await t.db.exec(`DELETE FROM tally.log WHERE entity_type = 'h_middle' AND version = 2`);
    const check = await e.verify(1);
    expect(check.ok).toBe(false);
    expect(check.problems).toContain('version 3 does not follow the previous entry');
    expect(check.problems).toContain("version 3: does not link to the previous entry's hash");
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
