import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { openConsumer } from '../../src/feed/consumer.js';
import { applyOnce } from '../../src/feed/inbox.js';
import { pruneInboxBehind } from '../../src/feed/inbox-prune.js';
import type { FeedEntry } from '../../src/feed/types.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, resourcesFixture, type Tally } from '../support/resources.js';

const CRASH = new Error('crash before the checkpoint moves');

// Inbox records are pruned behind the consumer's own checkpoint: what it passed is never redelivered,
// what it has applied but not yet checkpointed may be, and must still be absorbed.
describeEachDialect('retention: the feed inbox is pruned behind the checkpoint', (fresh) => {
  let t: TestDatabase;
  let tally: Tally;
  let resources: Awaited<ReturnType<typeof resourcesFixture>>['resources'];
  beforeAll(async () => {
    t = await fresh();
    ({ tally, resources } = await resourcesFixture(t.db, 10));
  });
  afterAll(() => t.close());

  /** Applies every entry once, each in its own committed transaction; `crash` then fails the batch. */
  const applyAll =
    (name: string, schema: string, seen: string[], crash: boolean) =>
    async ({ entries }: { entries: readonly FeedEntry[] }) => {
      for (const e of entries) {
        const r = await t.db.transaction((tx) =>
          applyOnce(tx, { name, schema }, e, async () => {
            seen.push(e.id);
          }),
        );
        expect(r.applied || !crash).toBe(true);
      }
      if (crash) throw CRASH;
    };

  for (const where of ['beside the feed', 'in another schema'] as const) {
    it(`keeps what may be redelivered, deletes what the checkpoint passed (${where})`, async () => {
      const name = where === 'beside the feed' ? 'inbox_a' : 'inbox_b';
      const schema = where === 'beside the feed' ? 'tally' : 'inbox_elsewhere';
      if (schema !== 'tally') await (await createTally({ db: t.db, schema })).migrate();
      const inbox = schema === 'tally' ? {} : { inbox: { db: t.db, schema } };
      const consumer = await openConsumer(tally, name, { source: 'log', start: 'now', batchSize: 100 });
      const seen: string[] = [];
      const to = where === 'beside the feed' ? 'frozen' : 'active'; // the second case moves them back
      await resources.transition({ keys: [1, 2, 3], to, actor: 'ops:a' });
      expect(await consumer.once(applyAll(name, schema, seen, false))).toBe(3);
      await resources.transition({ keys: [4, 5], to, actor: 'ops:a' });
      // Applied (committed inbox records) but the checkpoint did not move: a redelivery is coming.
      await expect(consumer.once(applyAll(name, schema, seen, true))).rejects.toBe(CRASH);
      const inboxRows = `SELECT 1 FROM "${schema}".feed_inbox WHERE consumer = '${name}'`;
      expect(await count(t.db, inboxRows)).toBe(5);

      const r = await pruneInboxBehind(tally, name, { ...inbox, chunk: 2 });
      expect(r).toEqual({ deleted: 3, kept: 2, chunks: 3, done: true });
      expect(await count(t.db, inboxRows)).toBe(2);
      // The redelivery is absorbed: the kept records did their job.
      expect(await consumer.once(applyAll(name, schema, seen, false))).toBe(2);
      expect(seen).toHaveLength(5);
      expect(await pruneInboxBehind(tally, name, { ...inbox, maxChunks: 1, chunk: 1 })).toEqual({
        deleted: 1,
        kept: 0,
        chunks: 1,
        done: false,
      });
      expect((await pruneInboxBehind(tally, name, inbox)).deleted).toBe(1);
      expect(await count(t.db, inboxRows)).toBe(0);
      await consumer.release();
    });
  }

  it('an unknown consumer is CONSUMER_NOT_FOUND', async () => {
    const err = await pruneInboxBehind(tally, 'nobody').catch((e) => e);
    expect(isTallyError(err, 'CONSUMER_NOT_FOUND')).toBe(true);
  });
});
