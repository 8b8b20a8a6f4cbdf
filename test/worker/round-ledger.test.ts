import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CommandResult } from '../../src/commands/result.js';
import type { TallyConfig } from '../../src/config.js';
import { RoundLedger } from '../../src/worker/rounds.js';
import { testClock } from '../commands/support/redeem.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';
import { recording, resourcesFixture } from '../support/resources.js';

// What a worker costs the database to record its rounds (decision 0146): at most one statement a second
// while busy, none while idle, and a day of minutes kept.
let t: TestDatabase;
beforeAll(async () => {
  t = await freshPGlite();
  await resourcesFixture(t.db, 1); // a migrated schema
}, 60_000);
afterAll(() => t?.close());

const done = (status: CommandResult['status']) => ({ status }) as CommandResult;

it('a busy worker writes at most once a second, an idle round flushes what is left, and minutes older than a day go', async () => {
  const clock = testClock('2026-05-01T10:00:30.000Z');
  const rec = recording(t.db);
  const config = { db: rec.db, s: 'tally', clock: clock.now } as unknown as TallyConfig;
  const ledger = new RoundLedger(config, 'worker:ledger');
  const writes = () => rec.statements.filter((s) => s.includes('worker_rounds')).length;
  await t.db.query({
    text: `INSERT INTO tally.worker_rounds VALUES ('2026-04-30T09:00:00Z', 'worker:old', 1, 1, 1, 0, 0, 0, 0, 5, '2026-04-30T09:00:10Z')`,
  });

  await ledger.write(true); // nothing added: nothing written, even when idle
  expect(writes()).toBe(0);
  ledger.add(2, [done('succeeded'), done('pending')], 0, 12);
  await ledger.write(false); // the first busy round writes
  expect(writes()).toBe(1);
  for (let i = 0; i < 10; i++) {
    clock.advance(50);
    ledger.add(1, [done('needs_attention')], 0, 3);
    await ledger.write(false); // within the second: added up in memory
  }
  expect(writes()).toBe(1);
  ledger.add(0, [], 0, 1); // an idle round counts for nothing...
  await ledger.write(true); // ...and flushes what the busy ones left
  expect(writes()).toBe(2);
  await ledger.write(true);
  expect(writes()).toBe(2);

  const rows = await t.db.query<Record<string, unknown>>({
    text: `SELECT worker, rounds, claimed, succeeded, waiting, needs_attention, busy_ms::int AS busy_ms
             FROM tally.worker_rounds ORDER BY minute`,
  });
  // The first write of the minute deleted the row of yesterday.
  expect(rows).toEqual([
    {
      worker: 'worker:ledger',
      rounds: 11,
      claimed: 12,
      succeeded: 1,
      waiting: 1,
      needs_attention: 10,
      busy_ms: 42,
    },
  ]);
});
