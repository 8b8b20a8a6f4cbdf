import { afterAll, beforeAll, expect, it } from 'vitest';
import { openConsumer, openPositionsConsumer } from '../../src/feed/consumer.js';
import type { FeedConsumer } from '../../src/feed/index.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { recording, resourcesFixture } from '../support/resources.js';

// Decision 0068: a positions-only consumer (the sealer's) reads the same entries in the same order as a
// full one, carries their positions only, and its page builds no row JSON.
describeEachDialect('feed: positions-only consumers', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t?.close());

  it('delivers the same ids and txids as a full consumer, without the rows', async () => {
    const { tally, resources } = await resourcesFixture(t.db, 40);
    await resources.transition({
      keys: Array.from({ length: 40 }, (_, i) => i + 1),
      to: 'frozen',
      actor: 'a',
    });
    await resources.transition({ keys: [3, 7], to: 'active', actor: 'a' });
    const drain = async (c: FeedConsumer) => {
      const seen: { id: string; txid: string; entry: unknown }[] = [];
      while ((await c.once(async ({ entries }) => void seen.push(...entries))) > 0) {}
      return seen;
    };
    const full = await drain(await openConsumer(tally, 'full', { batchSize: 7 }));
    const rec = recording(t.db);
    const light = await drain(
      await openPositionsConsumer({ config: { ...tally.config, db: rec.db } }, 'light', { batchSize: 7 }),
    );
    expect(light.map((e) => [e.id, e.txid])).toEqual(full.map((e) => [e.id, e.txid]));
    expect(light).toHaveLength(42);
    expect(light.every((e) => e.entry === undefined)).toBe(true);
    expect(full.every((e) => e.entry !== undefined)).toBe(true);
    // Its pages never build an entry's JSON (the full read's row_to_json).
    expect(rec.statements.some((s) => s.includes('row_to_json'))).toBe(false);
  });
});
