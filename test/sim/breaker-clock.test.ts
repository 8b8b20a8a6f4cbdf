// The breaker's in-process cache follows the injected clock (decision 0150): under the simulator a seed
// must replay the same way however loaded the machine is, so a second of real time must not expire what
// a second of the schedule's time would.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { createTally } from '../../src/tally.js';

let db: Executor;
beforeAll(async () => {
  db = await pglite();
});
afterAll(() => db?.close());

it("the breaker's cache expires with the injected clock, not with real time", async () => {
  let now = Date.UTC(2026, 0, 1);
  const clock = () => new Date(now);
  const a = await createTally({ db, schema: 'bc', clock });
  await a.migrate();
  const b = await createTally({ db, schema: 'bc', clock });
  let sends = 0;
  const declare = (send: () => Promise<unknown>) => ({
    fingerprint: (i: unknown) => i,
    steps: [
      {
        name: 'c',
        call: { request: () => ({}), send, downstream: 'd', breaker: { after: 1, probeEvery: '60s' } },
      },
    ],
  });
  const ra = a.command(
    'x',
    declare(async () => ++sends),
  );
  const rb = b.command(
    'x',
    declare(async () => {
      throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    }),
  );
  expect((await ra.submit({ key: 'k1', principal: 'p', input: { n: 1 } })).status).toBe('succeeded');
  // Another process cannot reach the downstream: its breaker opens in the database.
  expect((await rb.submit({ key: 'k2', principal: 'p', input: { n: 2 } })).status).toBe('pending');
  expect((await a.downstreams())[0]).toMatchObject({ name: 'd', state: 'open' });
  // Real time passes, the injected clock stands: A's view of the breaker is still fresh, A sends.
  await sleep(1_100);
  expect((await ra.submit({ key: 'k3', principal: 'p', input: { n: 3 } })).status).toBe('succeeded');
  expect(sends).toBe(2);
  // The injected clock moves on: A reads the breaker, finds it open, and holds the send.
  now += 2_000;
  expect((await ra.submit({ key: 'k4', principal: 'p', input: { n: 4 } })).status).toBe('pending');
  expect(sends).toBe(2);
});
