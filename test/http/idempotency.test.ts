import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TallyError } from '../../src/errors.js';
import { idempotencyKeyOf, idempotent, tallyFastify } from '../../src/http/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';

interface Order {
  item: string;
  qty: number;
  note?: string;
}

/** A downstream whose answers the test decides, one per key, and which can be held open. */
function downstream() {
  const answers = new Map<string, 'ok' | 'refuse' | 'timeout'>();
  let release: (() => void) | null = null;
  const d = {
    sends: 0,
    effects: new Set<string>(),
    hold() {
      const gate = new Promise<void>((r) => {
        release = r;
      });
      return { gate, release: () => release?.() };
    },
    gate: null as Promise<void> | null,
    answers,
    async send(req: Order & { item: string }, key: string) {
      d.sends++;
      if (d.gate) await d.gate;
      const a = answers.get(req.item) ?? 'ok';
      if (a === 'timeout') throw Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });
      if (a === 'refuse') return { outcome: 'failure' as const, reason: 'out_of_stock' };
      d.effects.add(key);
      return { outcome: 'success' as const, value: { ticket: `T-${d.effects.size}` } };
    },
  };
  return d;
}

let t: TestDatabase;
let tally: Tally;
let app: FastifyInstance;
const down = downstream();

beforeAll(async () => {
  t = await freshPGlite();
  tally = await createTally({ db: t.db });
  await tally.migrate();
  const order = tally.command<Order>('order', {
    fingerprint: (i) => ({ item: i.item, qty: i.qty }),
    retry: { maxAttempts: 3, baseMs: 1, maxMs: 1 },
    steps: [
      {
        name: 'ship',
        call: {
          request: (ctx) => ({ item: ctx.input.item, qty: ctx.input.qty }),
          send: (req: Order, { key }) => down.send(req, key),
        },
      },
    ],
  });
  app = Fastify();
  await app.register(tallyFastify);
  app.post('/orders', idempotent(order, { principal: (req) => req.headers['x-user'] as string | undefined }));
  app.get('/boom/tally', async () => {
    throw new TallyError('ILLEGAL_TRANSITION', 'resource 1 cannot go from frozen to retired', {
      details: { from: 'frozen' },
    });
  });
  app.get('/boom/unknown', async () => {
    throw new TallyError('COMMAND_OUTCOME_UNKNOWN', 'the primary is unreachable; retry later');
  });
  app.get('/boom/plain', async () => {
    throw new Error('secret internals');
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

let n = 0;
const newKey = () => `k-${++n}`;
function post(body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/orders',
    payload: body as object,
    headers: { 'x-user': 'alice', ...headers },
  });
}

describe('Idempotency-Key over Fastify (fastify.inject)', () => {
  it('missing key → 400 problem+json with the stable code; nothing is recorded or sent', async () => {
    const before = down.sends;
    const r = await post({ item: 'mug', qty: 1 });
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json()).toEqual({
      type: 'urn:tally:error:INVALID_IDEMPOTENCY_KEY',
      title: 'Idempotency-Key is missing or invalid',
      status: 400,
      detail: 'the Idempotency-Key header is missing',
      code: 'INVALID_IDEMPOTENCY_KEY',
      instance: '/orders',
      details: { reason: 'missing' },
    });
    for (const bad of ['', '"', '"a" "b"', 'a b', '"a\\x"', '"a\tb"', 'a,b', 'ké']) {
      const res = await post({ item: 'mug', qty: 1 }, { 'idempotency-key': bad });
      expect([bad, res.statusCode, res.json().code]).toEqual([bad, 400, 'INVALID_IDEMPOTENCY_KEY']);
    }
    expect(down.sends).toBe(before);
    const [{ c }] = (await t.db.query({ text: 'SELECT count(*)::int AS c FROM tally.commands' })) as [
      { c: number },
    ];
    expect(c).toBe(0);
  });

  it('no principal → 401 problem+json', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/orders',
      payload: { item: 'mug', qty: 1 },
      headers: { 'idempotency-key': newKey() },
    });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toMatchObject({ code: 'INVALID_PRINCIPAL', status: 401 });
  });

  it('finished → the stored status and body replayed verbatim, marked Idempotent-Replayed; one effect', async () => {
    const key = newKey();
    const first = await post({ item: 'mug', qty: 1 }, { 'idempotency-key': `"${key}"` }); // sf-string form
    expect(first.statusCode).toBe(200);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const body = first.json();
    expect(body).toMatchObject({ status: 'succeeded', result: { ticket: expect.stringMatching(/^T-/) } });
    const effects = down.effects.size;
    for (const form of [key, `"${key}"`, ` ${key} `]) {
      const again = await post(
        { item: 'mug', qty: 1, note: 'a retry may differ outside key parameters' },
        {
          'idempotency-key': form,
        },
      );
      expect(again.statusCode).toBe(200);
      expect(again.body).toBe(first.body);
      expect(again.headers['idempotent-replayed']).toBe('true');
    }
    expect(down.effects.size).toBe(effects);
  });

  it('reused with a different payload → 422 problem+json, nothing changes', async () => {
    const key = newKey();
    const first = await post({ item: 'mug', qty: 1 }, { 'idempotency-key': key });
    const sends = down.sends;
    const r = await post({ item: 'mug', qty: 2 }, { 'idempotency-key': key });
    expect(r.statusCode).toBe(422);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json()).toMatchObject({
      title: 'Idempotency-Key is already used',
      code: 'IDEMPOTENCY_KEY_REUSED',
      status: 422,
      details: { commandId: first.json().id },
    });
    expect(down.sends).toBe(sends);
    expect((await post({ item: 'mug', qty: 1 }, { 'idempotency-key': key })).body).toBe(first.body);
  });

  it('another principal with the same key is another request', async () => {
    const key = newKey();
    const a = await post({ item: 'mug', qty: 1 }, { 'idempotency-key': key });
    const b = await post({ item: 'mug', qty: 3 }, { 'idempotency-key': key, 'x-user': 'bob' });
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    expect(b.json().id).not.toBe(a.json().id);
  });

  it('in flight → 409 with Retry-After; once finished the retry gets the outcome', async () => {
    const key = newKey();
    const { gate, release } = down.hold();
    down.gate = gate;
    const first = post({ item: 'lamp', qty: 1 }, { 'idempotency-key': key });
    while (down.sends === 0 || !(await tally.getCommand('order').get({ key, principal: 'alice' })))
      await new Promise((r) => setTimeout(r, 5));
    const busy = await post({ item: 'lamp', qty: 1 }, { 'idempotency-key': key });
    expect(busy.statusCode).toBe(409);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.json()).toMatchObject({
      code: 'COMMAND_IN_FLIGHT',
      title: 'A request is outstanding for this Idempotency-Key',
    });
    down.gate = null;
    release();
    const done = await first;
    expect(done.statusCode).toBe(200);
    const again = await post({ item: 'lamp', qty: 1 }, { 'idempotency-key': key });
    expect([again.statusCode, again.body]).toEqual([200, done.body]);
  });

  it('a definite failure → 422 with the recorded failure, replayed identically', async () => {
    down.answers.set('vase', 'refuse');
    const key = newKey();
    const r = await post({ item: 'vase', qty: 1 }, { 'idempotency-key': key });
    expect(r.statusCode).toBe(422);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json()).toMatchObject({ status: 'failed', error: { step: 'ship', reason: 'out_of_stock' } });
    down.answers.set('vase', 'ok'); // what the downstream would say now does not matter: it is recorded
    const again = await post({ item: 'vase', qty: 1 }, { 'idempotency-key': key });
    expect([again.statusCode, again.body]).toEqual([422, r.body]);
  });

  it('unknown outcome → 202 pending (never a failure); the retry with the same key continues it', async () => {
    down.answers.set('bowl', 'timeout');
    const key = newKey();
    const r = await post({ item: 'bowl', qty: 1 }, { 'idempotency-key': key });
    expect(r.statusCode).toBe(202);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json()).toEqual({ id: expect.any(String), status: 'pending' });
    down.answers.set('bowl', 'ok');
    await new Promise((res) => setTimeout(res, 10)); // past the 1 ms backoff
    const again = await post({ item: 'bowl', qty: 1 }, { 'idempotency-key': key });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: r.json().id, status: 'succeeded' });
  });

  it('the plugin answers any TallyError as problem+json; other errors as 500 INTERNAL_ERROR', async () => {
    const r = await app.inject({ method: 'GET', url: '/boom/tally' });
    expect(r.statusCode).toBe(409);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json()).toEqual({
      type: 'urn:tally:error:ILLEGAL_TRANSITION',
      title: 'Conflict',
      status: 409,
      detail: 'resource 1 cannot go from frozen to retired',
      code: 'ILLEGAL_TRANSITION',
      instance: '/boom/tally',
      details: { from: 'frozen' },
    });
    const unknown = await app.inject({ method: 'GET', url: '/boom/unknown' });
    expect([unknown.statusCode, unknown.headers['retry-after'], unknown.json().code]).toEqual([
      503,
      '1',
      'COMMAND_OUTCOME_UNKNOWN',
    ]);
    expect(unknown.json()).not.toHaveProperty('details');
    const plain = await app.inject({ method: 'GET', url: '/boom/plain' });
    expect(plain.statusCode).toBe(500);
    // Issue 13: problem+json too, with a fixed message (test/http/problem-json.test.ts has the rest).
    expect(plain.json()).toMatchObject({ code: 'INTERNAL_ERROR', status: 500 });
    expect(plain.body).not.toContain('secret internals');
  });
});

describe('idempotencyKeyOf', () => {
  it('reads the sf-string form and bare tokens', () => {
    expect(idempotencyKeyOf('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toBe(
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
    );
    expect(idempotencyKeyOf('"a\\"b\\\\c"')).toBe('a"b\\c');
    expect(idempotencyKeyOf(['abc'])).toBe('abc');
    expect(() => idempotencyKeyOf(['a', 'b'])).toThrow(/one Idempotency-Key header/);
    expect(() => idempotencyKeyOf(undefined)).toThrow(/missing/);
  });
});
