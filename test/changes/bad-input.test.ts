import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withContext } from '../../src/context.js';
import { isTallyError } from '../../src/errors.js';
import { createTally, type Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, RESOURCE_STATES } from '../support/resources.js';

describe('declarations refused before any SQL runs', () => {
  const db = {
    dialect: 'pglite',
    inTransaction: false,
    query: async () => [],
    exec: async () => {},
    transaction: async () => {},
    close: async () => {},
  } as never;
  const machine = { states: RESOURCE_STATES };
  it.each([
    [
      'a table name with SQL in it',
      { table: 'resources; DROP TABLE users', ...machine },
      'INVALID_IDENTIFIER',
    ],
    ['a quoted key column', { table: 'resources', key: 'id" OR 1=1 --', ...machine }, 'INVALID_IDENTIFIER'],
    ['a schema-qualified name with three parts', { table: 'a.b.c', ...machine }, 'INVALID_IDENTIFIER'],
    [
      'a state column with a space',
      { table: 'resources', state: 'st ate', ...machine },
      'INVALID_IDENTIFIER',
    ],
    ['a transition to an undeclared state', { table: 'resources', states: { a: ['b'] } }, 'INVALID_ENTITY'],
    ['no states', { table: 'resources', states: {} }, 'INVALID_ENTITY'],
    ['key and version on one column', { table: 'resources', version: 'id', ...machine }, 'INVALID_ENTITY'],
  ])('%s', async (_what, options, code) => {
    const tally = await createTally({ db });
    expect(() => tally.entity('thing', options as never)).toThrow(expect.objectContaining({ code }));
  });
  it('a hostile entity name and a hostile Tally schema', async () => {
    const tally = await createTally({ db });
    expect(() => tally.entity('x"; drop', { table: 't', ...machine })).toThrow(
      expect.objectContaining({ code: 'INVALID_ENTITY' }),
    );
    await expect(createTally({ db, schema: 'tally; drop schema public' })).rejects.toMatchObject({
      code: 'INVALID_IDENTIFIER',
    });
    await expect(createTally({ db, maxBatch: 0 })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });
});

describeEachDialect('bad input to changes: typed errors, nothing written', (fresh) => {
  let t: TestDatabase;
  let tally: Tally;
  beforeAll(async () => {
    t = await fresh();
    await t.db.exec(`CREATE TABLE bad (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, note text);
      INSERT INTO bad SELECT g, 'active', 0, 'n' FROM generate_series(1, 50) g;
      CREATE TABLE bad_uuid (id uuid PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0);`);
    tally = await createTally({ db: t.db, maxBatch: 40 });
    await tally.migrate();
  });
  afterAll(() => t.close());

  const untouched = async () => {
    expect(await count(t.db, 'SELECT 1 FROM tally.log')).toBe(0);
    expect(
      await count(t.db, `SELECT 1 FROM bad WHERE state <> 'active' OR version <> 0 OR note <> 'n'`),
    ).toBe(0);
  };
  const expectCode = async (p: Promise<unknown>, code: string) => {
    const err = await p.then(
      () => null,
      (e) => e,
    );
    expect(isTallyError(err), `expected a TallyError ${code}, got ${err}`).toBe(true);
    expect(err.code).toBe(code);
    await untouched();
    return err;
  };

  it('an unknown entity', async () => {
    expect(() => tally.getEntity('nope')).toThrow(expect.objectContaining({ code: 'UNKNOWN_ENTITY' }));
  });

  it('a table or column that does not exist is named', async () => {
    const missing = tally.entity('missing_table', { table: 'no_such_table', states: RESOURCE_STATES });
    const err = await expectCode(missing.transition({ key: 1, to: 'frozen', actor: 'a' }), 'TABLE_NOT_FOUND');
    expect(err.message).toContain('"no_such_table"');
    const col = tally.entity('missing_col', { table: 'bad', version: 'revision', states: RESOURCE_STATES });
    const err2 = await expectCode(col.transition({ key: 1, to: 'frozen', actor: 'a' }), 'COLUMN_NOT_FOUND');
    expect(err2.message).toContain('"revision"');
  });

  it('keys of the wrong type', async () => {
    const e = tally.entity('bad', { table: 'bad', states: RESOURCE_STATES });
    for (const keys of [['1; DROP TABLE bad'], [1.5], [{}], [null], ['12abc'], [2 ** 40]] as unknown[][]) {
      await expectCode(e.transition({ keys: keys as never, to: 'frozen', actor: 'a' }), 'INVALID_KEY');
    }
    const u = tally.entity('bad_uuid', { table: 'bad_uuid', states: RESOURCE_STATES });
    await expectCode(u.transition({ key: 'not-a-uuid', to: 'frozen', actor: 'a' }), 'INVALID_KEY');
  });

  it('an empty key list, an empty filter, two selections at once', async () => {
    const e = tally.getEntity('bad');
    await expectCode(e.transition({ keys: [], to: 'frozen', actor: 'a' }), 'EMPTY_KEYS');
    await expectCode(e.transition({ where: {}, to: 'frozen', actor: 'a' }), 'INVALID_SELECTION');
    await expectCode(e.transition({ where: { 'id; --': 1 }, to: 'frozen', actor: 'a' }), 'COLUMN_NOT_FOUND');
    await expectCode(
      e.transition({ key: 1, keys: [2], to: 'frozen', actor: 'a' } as never),
      'INVALID_SELECTION',
    );
  });

  it('no actor, in arguments or in scope', async () => {
    const e = tally.getEntity('bad');
    await expectCode(e.transition({ key: 1, to: 'frozen' }), 'MISSING_ACTOR');
    await expectCode(e.transition({ key: 1, to: 'frozen', actor: '  ' }), 'MISSING_ACTOR');
    await expectCode(e.update({ key: 1, set: { note: 'x' } }), 'MISSING_ACTOR');
    await expectCode(
      e.transition({ key: 1, to: 'frozen', actor: 'a', reason: 'x'.repeat(5000) }),
      'INVALID_CONTEXT',
    );
  });

  it('a batch over the single-statement limit without a job', async () => {
    const e = tally.getEntity('bad');
    const err = await expectCode(
      e.transition({ keys: Array.from({ length: 41 }, (_, i) => i + 1), to: 'frozen', actor: 'a' }),
      'BATCH_TOO_LARGE',
    );
    expect(err.message).toContain('job');
    await expectCode(
      e.transition({ where: { state: 'active' }, to: 'frozen', actor: 'a' }),
      'BATCH_TOO_LARGE',
    );
  });

  it('an undeclared target state, and updates of columns Tally owns', async () => {
    const e = tally.getEntity('bad');
    await expectCode(e.transition({ key: 1, to: 'deleted', actor: 'a' }), 'UNKNOWN_STATE');
    await expectCode(e.update({ key: 1, set: { state: 'frozen' }, actor: 'a' }), 'INVALID_UPDATE');
    await expectCode(e.update({ key: 1, set: { version: 9 }, actor: 'a' }), 'INVALID_UPDATE');
    await expectCode(e.update({ key: 1, set: { 'note = 1; --': 'x' }, actor: 'a' }), 'COLUMN_NOT_FOUND');
    await expectCode(e.update({ key: 1, set: {}, actor: 'a' }), 'INVALID_UPDATE');
  });

  it('a change inside withContext takes its actor from the scope, across awaits', async () => {
    const e = tally.getEntity('bad');
    await withContext({ actor: 'scoped', requestId: 'req-1' }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      await e.transition({ key: 50, to: 'frozen', reason: 'why' });
    });
    const [entry] = await e.history(50);
    expect(entry).toMatchObject({ actor: 'scoped', request_id: 'req-1', reason: 'why' });
    await e.transition({ key: 50, to: 'active', actor: 'a' }); // back, so later checks see a clean table
    await t.db.exec(`DELETE FROM tally.log; UPDATE bad SET version = 0`);
  });
});
