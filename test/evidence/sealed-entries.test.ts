import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHUNK } from '../../src/evidence/chunks.js';
import { checkSealedEntries } from '../../src/evidence/entries.js';
import { generateSealKey } from '../../src/evidence/index.js';
import { sealOnce } from '../../src/evidence/sealer.js';
import type { Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { resourcesFixture } from '../support/resources.js';

// The console's per-key chain check asks the evidence module about a few log rows: are they as sealed?
// A complete chunk is recomputed and compared with the chunk root the sealer stored; a row of the last,
// partial chunk is proven to the checkpoint's root. An edit is confined to the chunk it is in.
const KEY = generateSealKey();
const ORIGIN = 'tally entries-test';
const N = CHUNK + 200; // one complete chunk and a partial one

describeEachDialect('evidence: log rows checked against the sealed tree (checkSealedEntries)', (fresh) => {
  let t: TestDatabase;
  let tally: Tally;
  let fx: Awaited<ReturnType<typeof resourcesFixture>>;
  const idAt = async (position: number) =>
    (
      await t.db.query<{ id: string }>({
        text: `SELECT log_id::text AS id FROM tally.seal_leaves WHERE origin = $1 AND position = $2`,
        values: [ORIGIN, position],
      })
    )[0]!.id;
  const states = async (ids: string[]) =>
    (await checkSealedEntries(t.db, 'tally', ids)).map((e) => [e.position, e.state]);

  beforeAll(async () => {
    t = await fresh();
    fx = await resourcesFixture(t.db, N);
    tally = fx.tally;
    const keys = Array.from({ length: N }, (_, i) => i + 1);
    await fx.resources.transition({ keys, to: 'frozen', actor: 'writer' });
    expect((await sealOnce(tally, { key: KEY, origin: ORIGIN })).treeSize).toBe(N);
  }, 60_000);
  afterAll(() => t?.close());

  it('sealed rows are sealed (by a later checkpoint too), an edit is found in its chunk only, a row in no tree is not listed', async () => {
    const ids = [await idAt(0), await idAt(CHUNK - 1), await idAt(CHUNK), await idAt(N - 1)];
    expect(await states(ids)).toEqual([
      [0, 'sealed'],
      [CHUNK - 1, 'sealed'],
      [CHUNK, 'sealed'],
      [N - 1, 'sealed'],
    ]);
    // A row sealed by a later checkpoint.
    await fx.resources.transition({ keys: [1], to: 'active', actor: 'writer' });
    await sealOnce(tally, { key: KEY, origin: ORIGIN });
    const [late] = await t.db.query<{ id: string }>({
      text: `SELECT max(id)::text AS id FROM tally.log WHERE entity_type = 'resource'`,
    });
    expect((await checkSealedEntries(t.db, 'tally', [late!.id]))[0]).toMatchObject({ state: 'sealed' });

    // An edit of a sealed row of the complete chunk: its chunk no longer matches; the partial one does.
    await t.db.query({ text: `UPDATE tally.log SET reason = 'rewritten' WHERE id = $1`, values: [ids[1]] });
    expect(await states(ids)).toEqual([
      [0, 'changed'],
      [CHUNK - 1, 'changed'],
      [CHUNK, 'sealed'],
      [N - 1, 'sealed'],
    ]);
    // Put back, then edit a row of the partial chunk: only that chunk's rows fail.
    await t.db.query({ text: `UPDATE tally.log SET reason = NULL WHERE id = $1`, values: [ids[1]] });
    await t.db.query({ text: `UPDATE tally.log SET actor = 'mallory' WHERE id = $1`, values: [ids[3]] });
    expect(await states(ids)).toEqual([
      [0, 'sealed'],
      [CHUNK - 1, 'sealed'],
      [CHUNK, 'changed'],
      [N - 1, 'changed'],
    ]);
    // A row in no tree is not listed; the limit of chunks read leaves the rest unverified.
    await fx.resources.transition({ keys: [2], to: 'active', actor: 'writer' });
    const [unsealed] = await t.db.query<{ id: string }>({
      text: `SELECT max(id)::text AS id FROM tally.log WHERE entity_type = 'resource'`,
    });
    expect(await checkSealedEntries(t.db, 'tally', [unsealed!.id])).toEqual([]);
    const limited = await checkSealedEntries(t.db, 'tally', ids, { maxChunks: 1 });
    expect(limited.map((e) => e.state)).toEqual(['sealed', 'sealed', 'unverified', 'unverified']);
  });
});
