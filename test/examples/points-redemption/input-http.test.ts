// Issue 21 through B's HTTP API: what the page's `min=1` did not enforce, B's schema does. Each bad
// request is 400 problem+json naming the failing field, and nothing is recorded or deducted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrlUnanswered } from '../../support/databases.js';
import { ChainUnderTest, http } from './support.js';

let t: ChainUnderTest;

beforeAll(async () => {
  t = await ChainUnderTest.start();
  await t.account('ivy', 100);
});
afterAll(async () => {
  await t?.chain.stop();
});

// B runs on DATABASE_URL when it is set: one that does not answer skips this, as the other suites do.
describe.skipIf(databaseUrlUnanswered)('points redemption: B refuses bad input over HTTP', () => {
  it('quantity -50, 0, -5, 1.5, 2147483648 and a missing prize: 400 with the path, nothing recorded', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ prize: 'mug', qty: -50 }, '$.qty'],
      [{ prize: 'mug', qty: 0 }, '$.qty'],
      [{ prize: 'mug', qty: -5 }, '$.qty'],
      [{ prize: 'mug', qty: 1.5 }, '$.qty'],
      [{ prize: 'mug', qty: 2147483648 }, '$.qty'],
      [{ prize: 'mug', qty: 'nine' }, '$.qty'],
      [{ qty: 1 }, '$.prize'],
      [{ prize: '', qty: 1 }, '$.prize'],
    ];
    for (const [body, path] of cases) {
      const r = await http('POST', `${t.chain.b.url}/redemptions`, body, {
        'idempotency-key': t.key('bad'),
        'x-user': 'ivy',
      });
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.body).toMatchObject({ status: 400, code: 'INVALID_COMMAND_INPUT' });
      expect(r.body.details.issues.map((i: { path: string }) => i.path)).toEqual([path]);
    }
    expect((await t.report()).commands).toEqual([]);
    expect(await t.points('ivy')).toBe(100);

    const key = t.key('good');
    const ok = await t.once({ key, user: 'ivy', prize: 'sticker', qty: 3 });
    expect(ok.status).toBe(200);
    expect(await t.points('ivy')).toBe(70);
    await t.checkInvariants();
  });
});
