// A `where` value of the wrong type for its column is the same typed error as that value given as `key`,
// never a filter that quietly matches nothing (it was compared as text and found no row).
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Entity } from '../../src/changes/entity.js';
import { isTallyError } from '../../src/errors.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  return isTallyError(err) ? err.code : `not a TallyError: ${String(err)}`;
}

describeEachDialect('where values are checked against their column types', (fresh) => {
  let t: TestDatabase;
  let items: Entity;

  beforeAll(async () => {
    t = await fresh();
    await t.db.exec(`CREATE TABLE wt_items (
      id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0,
      owner_id bigint NOT NULL, ref uuid NOT NULL, vip boolean NOT NULL, region text NOT NULL);
      INSERT INTO wt_items (id, state, owner_id, ref, vip, region) VALUES
        (1, 'active', 10, '6f1c2a64-1111-4c55-9d3e-0123456789ab', true, 'eu'),
        (2, 'active', 20, '6f1c2a64-2222-4c55-9d3e-0123456789ab', false, 'us'),
        (3, 'active', 30, '6f1c2a64-3333-4c55-9d3e-0123456789ab', false, '7')`);
    const tally = await createTally({ db: t.db });
    await tally.migrate();
    items = tally.entity('wt_item', {
      table: 'wt_items',
      states: { active: ['frozen'], frozen: ['active'] },
    });
  });
  afterAll(() => t?.close());

  it('a text value for the integer key: INVALID_KEY as key and as where', async () => {
    expect(await codeOf(items.transition({ key: 'abc', to: 'frozen', actor: 'a' }))).toBe('INVALID_KEY');
    expect(await codeOf(items.transition({ where: { id: 'abc' }, to: 'frozen', actor: 'a' }))).toBe(
      'INVALID_KEY',
    );
    expect(await codeOf(items.transition({ where: { id: [1, 'abc'] }, to: 'frozen', actor: 'a' }))).toBe(
      'INVALID_KEY',
    );
    expect(await codeOf(items.job({ where: { id: 'abc' }, to: 'frozen', actor: 'a' }))).toBe('INVALID_KEY');
  });

  it('other integer, uuid and boolean columns refuse what they could never equal', async () => {
    for (const where of [
      { owner_id: 'ten' },
      { owner_id: 1.5 },
      { ref: 'not-a-uuid' },
      { vip: 'yes' },
      { vip: 1 },
    ]) {
      expect(await codeOf(items.transition({ where, to: 'frozen', actor: 'a' }))).toBe('INVALID_SELECTION');
    }
  });

  it('values of the right type still select, spelled as a key may be', async () => {
    // '010' is the integer 10, as key: '010' would be; an upper-case uuid is the same uuid.
    const r = await items.transition({ where: { owner_id: '010' }, to: 'frozen', actor: 'a' });
    expect(r.changed).toEqual([1]);
    const u = await items.transition({
      where: { ref: '6F1C2A64-2222-4C55-9D3E-0123456789AB', vip: 'false' },
      to: 'frozen',
      actor: 'a',
    });
    expect(u.changed).toEqual([2]);
    // A text column still takes a number (compared as its text).
    expect((await items.transition({ where: { region: 7 }, to: 'frozen', actor: 'a' })).changed).toEqual([3]);
  });
});
