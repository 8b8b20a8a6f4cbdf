import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openConsumer } from '../../src/feed/index.js';
import type { FeedEntry } from '../../src/feed/types.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

// The gap test: 8 writers on real PostgreSQL whose transactions sleep a random time before
// COMMIT, so log ids commit out of order; a consumer runs alongside and must receive every entry once,
// each entity's versions in order. A naive `id > last` poller runs alongside too and must miss some
// (otherwise the test would not be exercising the out-of-order commits at all).
describe.skipIf(!postgresAvailable)('gap-free feed under out-of-order commits [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(16);
  });
  afterAll(() => t.close());

  it('8 writers, 50,000 entries: every entry exactly once, per entity in version order; id > last skips', async () => {
    const HOT = 50;
    const HOT_PER_BATCH = 10;
    const OWN = 1_000;
    const ENTITIES = HOT + 8 * OWN;
    const WRITERS = 8;
    const TOTAL = 50_000;
    const BATCH = 250;
    const perWriter = TOTAL / WRITERS / BATCH; // transactions per writer
    await t.db.exec(`CREATE TABLE acct (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0,
        hits int NOT NULL DEFAULT 0);
      INSERT INTO acct SELECT g, 'open', 0, 0 FROM generate_series(1, ${ENTITIES}) g;`);
    const tally = await createTally({ db: t.db });
    await tally.migrate();
    const acct = tally.entity('acct', { table: 'acct', states: { open: [] } });

    const consumer = await openConsumer(tally, 'gap-test', { batchSize: 1_000, pollMs: 20, listen: t.pool! });
    const seen = new Map<string, number>(); // entry id -> times delivered
    const lastVersion = new Map<string, number>(); // entity key -> last version delivered
    const outOfOrder: string[] = [];
    const ac = new AbortController();
    const consuming = consumer.run(
      async ({ entries }) => {
        for (const e of entries as FeedEntry[]) {
          if (e.source !== 'log') continue;
          seen.set(e.id, (seen.get(e.id) ?? 0) + 1);
          const prev = lastVersion.get(e.entry.entity_key) ?? 0;
          if (e.entry.version !== prev + 1)
            outOfOrder.push(`${e.entry.entity_key}: ${prev} -> ${e.entry.version}`);
          lastVersion.set(e.entry.entity_key, e.entry.version);
        }
      },
      { signal: ac.signal },
    );

    // The naive poller: what a hand-written `WHERE id > last_seen` sync does.
    let naiveLast = 0;
    const naiveSeen = new Set<number>();
    let writing = true;
    const naive = (async () => {
      while (writing || naiveSeen.size < TOTAL) {
        const rows = await t.pool!.query('SELECT id FROM tally.log WHERE id > $1 ORDER BY id LIMIT 5000', [
          naiveLast,
        ]);
        for (const r of rows.rows) naiveSeen.add(Number(r.id));
        if (rows.rows.length > 0) naiveLast = Number(rows.rows[rows.rows.length - 1].id);
        else if (!writing) break;
        await sleep(5);
      }
    })();

    let seq = 0;
    const writer = async (w: number) => {
      for (let r = 0; r < perWriter; r++) {
        // Each transaction first changes keys of the writer's own (so writers run side by side and
        // take their xids early), then a few shared hot keys (so they queue on each other's row locks:
        // a transaction that took its xid earlier writes a hot key's next version after a later one
        // committed), sleeping before each step and before COMMIT so ids commit out of order.
        const hot = new Set<number>();
        while (hot.size < HOT_PER_BATCH) hot.add(1 + Math.floor(Math.random() * HOT));
        const own = new Set<number>();
        const base = HOT + w * OWN;
        while (own.size < BATCH - HOT_PER_BATCH) own.add(base + 1 + Math.floor(Math.random() * OWN));
        const value = ++seq;
        await t.db.transaction(async (tx) => {
          const a = await acct.update({ keys: [...own], set: { hits: value }, actor: `w${w}`, tx });
          await sleep(Math.random() * 5);
          const b = await acct.update({ keys: [...hot], set: { hits: value }, actor: `w${w}`, tx });
          expect(a.changed.length + b.changed.length).toBe(BATCH);
          await sleep(Math.random() * 5); // hold the ids, commit late
        });
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    writing = false;
    const wroteMs = Date.now() - started;

    // Let the consumer catch up, then stop it.
    const deadline = Date.now() + 20_000;
    while (seen.size < TOTAL && Date.now() < deadline) await sleep(20);
    ac.abort();
    await consuming;
    await naive;

    const [{ n }] = (await t.pool!.query('SELECT count(*)::int AS n FROM tally.log')).rows;
    expect(n).toBe(TOTAL);
    expect(seen.size).toBe(TOTAL);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    expect(outOfOrder).toEqual([]);
    // Every entity ends at the version its row holds.
    const rows = (await t.pool!.query('SELECT id::text AS id, version FROM acct WHERE version > 0')).rows;
    for (const r of rows) expect(lastVersion.get(r.id)).toBe(r.version);
    expect(await consumer.lag()).toEqual({ entries: 0, seconds: 0 });

    // Later versions written by a transaction with a LOWER xid than the previous version's: the
    // lock-wait inversion that breaks a cursor ordered by txid.
    const [{ inversions }] = (
      await t.pool!.query(`SELECT count(*)::int AS inversions FROM (
          SELECT txid, lag(txid) OVER (PARTITION BY entity_key ORDER BY version) AS prev FROM tally.log) x
         WHERE txid < prev`)
    ).rows;
    expect(inversions).toBeGreaterThan(0);

    // The naive poller skipped entries whose id was taken before a later id committed.
    const skipped = TOTAL - naiveSeen.size;
    console.log(
      `[feed gaps] wrote ${TOTAL} entries in ${wroteMs} ms; naive id > last poller skipped ${skipped}; ${inversions} lower-xid-later versions`,
    );
    expect(skipped).toBeGreaterThan(0);
  }, 90_000);
});
