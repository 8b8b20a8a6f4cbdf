import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { feedNotifyEnabled, openConsumer, setFeedNotify, type WakeSource } from '../../src/feed/index.js';
import { Wakeup } from '../../src/feed/wake.js';
import type { Tally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { resourcesFixture } from '../support/resources.js';

type Entity = ReturnType<Tally['entity']>;

// LISTEN/NOTIFY is only a hint: with a poll interval of a minute, an entry still arrives within
// moments because the commit's NOTIFY wakes the consumer. Without the trigger (or the LISTEN) these
// tests would wait the full minute and time out. The trigger is off after migrate (decision 0042), so the
// test turns it on first.
function wakeSuite(
  name: string,
  setup: () => Promise<{ db: Executor; listen: WakeSource; close(): Promise<void> }>,
) {
  describe(`feed wake-ups [${name}]`, () => {
    let env: Awaited<ReturnType<typeof setup>>;
    let tally: Tally;
    let res: Entity;
    beforeAll(async () => {
      env = await setup();
      ({ tally, resources: res } = await resourcesFixture(env.db, 20));
    });

    it('the hint is off after migrate (NOTIFY serializes commits) and switches on and off', async () => {
      expect(await feedNotifyEnabled(tally)).toBe(false);
      await setFeedNotify(tally, true);
      expect(await feedNotifyEnabled(tally)).toBe(true);
      await setFeedNotify(tally, false);
      expect(await feedNotifyEnabled(tally)).toBe(false);
    });
    afterAll(() => env.close());

    it('a commit wakes a consumer that would otherwise sleep for a minute', async () => {
      await setFeedNotify(tally, true);
      const c = await openConsumer(tally, 'wake', { start: 'now', pollMs: 60_000, listen: env.listen });
      const ac = new AbortController();
      const arrivals: number[] = [];
      let resolveFirst: () => void = () => {};
      const first = new Promise<void>((r) => {
        resolveFirst = r;
      });
      const running = c.run(
        async ({ entries }) => {
          arrivals.push(...entries.map(() => Date.now()));
          resolveFirst();
        },
        { signal: ac.signal },
      );
      await new Promise((r) => setTimeout(r, 300)); // the consumer is asleep by now
      const committed = Date.now();
      await res.transition({ keys: [1, 2], to: 'frozen', actor: 'wake' });
      await Promise.race([
        first,
        new Promise((_, reject) => setTimeout(() => reject(new Error('no wake-up')), 5_000)),
      ]);
      ac.abort();
      await running;
      expect(arrivals).toHaveLength(2);
      console.log(`[feed wake ${name}] commit -> handler ${arrivals[0]! - committed} ms`);
      expect(arrivals[0]! - committed).toBeLessThan(3_000);
    }, 15_000);
  });
}

wakeSuite('pglite', async () => {
  const instance = await PGlite.create();
  const db = pglite(instance as never);
  return { db, listen: instance as unknown as WakeSource, close: () => instance.close() };
});

if (postgresAvailable) {
  let t: TestDatabase;
  wakeSuite('postgres', async () => {
    t = await freshPostgres(6);
    return { db: t.db, listen: t.pool!, close: () => t.close() };
  });

  describe('feed wake-ups [postgres]: the LISTEN connection dies', () => {
    let d: TestDatabase;
    beforeAll(async () => {
      d = await freshPostgres(3);
    });
    afterAll(() => d.close());

    // The connection is killed from another session; what the pool then does must not reach our handlers.
    const killOthers = async () => {
      await d.db.query({
        text: `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      });
      await new Promise((r) => setTimeout(r, 300)); // the error event arrives on its own
    };
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);

    it("after stop: the pooled connection dying is the pool's business (no second release, no crash)", async () => {
      process.on('uncaughtException', onUncaught);
      try {
        const w = new Wakeup(d.pool!, 'tally', 'log');
        await w.start();
        expect(w.listening).toBe(true);
        await w.stop();
        await killOthers();
        expect(uncaught).toEqual([]);
      } finally {
        process.off('uncaughtException', onUncaught);
      }
    });

    it('while listening: falls back to polling, then listens again on a fresh connection', async () => {
      process.on('uncaughtException', onUncaught);
      try {
        const w = new Wakeup(d.pool!, 'tally', 'log');
        await w.start();
        await killOthers();
        expect(w.listening).toBe(false);
        await w.start();
        expect(w.listening).toBe(true);
        await w.stop();
        expect(uncaught).toEqual([]);
      } finally {
        process.off('uncaughtException', onUncaught);
      }
    });
  });
} else {
  describe.skip('feed wake-ups [postgres]', () => {
    it('needs PostgreSQL', () => {});
  });
}
