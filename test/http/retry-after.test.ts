import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { idempotent, tallyFastify } from '../../src/http/index.js';
import { createTally } from '../../src/tally.js';
import { testClock } from '../commands/support/redeem.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';

// A page that retries as pages do: Retry-After says when the next attempt is due, and knocking earlier
// answers the record (202) without running an attempt.
let t: TestDatabase;
let app: FastifyInstance;
const clock = testClock();
const c = { up: false, sends: 0 };

beforeAll(async () => {
  t = await freshPGlite();
  const tally = await createTally({ db: t.db, clock: clock.now });
  await tally.migrate();
  const ship = tally.command<{ item: string }>('ship', {
    fingerprint: (i) => ({ item: i.item }),
    retry: { baseMs: 10_000, random: () => 0.5 },
    steps: [
      {
        name: 'send',
        call: {
          request: (ctx) => ({ item: ctx.input.item }),
          async send() {
            c.sends++;
            if (!c.up) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
            return { shipped: true };
          },
          queryAfter: '1h',
        },
      },
    ],
  });
  app = Fastify();
  await app.register(tallyFastify);
  app.post('/ship', idempotent(ship, { principal: () => 'u1' }));
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await t.close();
});

const post = () =>
  app.inject({
    method: 'POST',
    url: '/ship',
    headers: { 'idempotency-key': 'k-1' },
    payload: { item: 'mug' },
  });

it('202 with Retry-After until the next scheduled attempt; early knocks run nothing', async () => {
  const first = await post();
  expect(first.statusCode).toBe(202);
  expect(first.headers['retry-after']).toBe('8'); // 10 s × 0.75 = 7.5 s, rounded up
  expect(c.sends).toBe(1);
  clock.advance(3000);
  const early = await post();
  expect(early.statusCode).toBe(202);
  expect(early.headers['retry-after']).toBe('5'); // 4.5 s left
  expect(early.headers['idempotent-replayed']).toBe('true');
  expect(c.sends).toBe(1);
  c.up = true;
  clock.advance(4500);
  const due = await post();
  expect(due.statusCode).toBe(200);
  expect(c.sends).toBe(2);
});
