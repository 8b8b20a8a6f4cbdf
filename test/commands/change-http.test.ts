import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { idempotent, tallyFastify } from '../../src/http/index.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { debitFixture } from './support/debit.js';

describeEachDialect('commands: a change command behind the Idempotency-Key route', (fresh) => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let fx: Awaited<ReturnType<typeof debitFixture>>;
  beforeAll(async () => {
    t = await fresh();
    fx = await debitFixture(t.db, 'http', [[1, 15]]);
    app = Fastify();
    await app.register(tallyFastify);
    app.post(
      '/debits',
      idempotent(fx.debit, { principal: (req) => req.headers['x-user'] as string | undefined }),
    );
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  const post = (key: string, body: unknown) =>
    app.inject({
      method: 'POST',
      url: '/debits',
      payload: body as object,
      headers: { 'x-user': 'alice', 'idempotency-key': key },
    });

  it('answers, replays byte for byte, refuses a changed payload, and replays a guard failure', async () => {
    const first = await post('d1', { account: 1 });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ status: 'succeeded', result: { values: { points: 5 } } });
    const again = await post('d1', { account: 1 });
    expect([again.statusCode, again.body, again.headers['idempotent-replayed']]).toEqual([
      200,
      first.body,
      'true',
    ]);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    const reused = await post('d1', { account: 1, amount: 5 });
    expect([reused.statusCode, reused.json().code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);

    const failed = await post('d2', { account: 1 });
    expect(failed.statusCode).toBe(422);
    expect(failed.json()).toMatchObject({
      status: 'failed',
      error: { step: 'change', reason: 'insufficient_points' },
    });
    const failedAgain = await post('d2', { account: 1 });
    expect([failedAgain.statusCode, failedAgain.body]).toEqual([422, failed.body]);
    expect(await fx.points(1)).toBe(5);
    expect(await fx.debits()).toBe(1);
  });
});
