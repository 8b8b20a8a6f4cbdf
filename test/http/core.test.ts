// The framework-free core on its own: plain request facts in, a plain answer out — no framework loaded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/commands/command.js';
import { idempotentCore, parseJsonBody, refusePoisonedBody } from '../../src/http/core/index.js';
import { createTally } from '../../src/tally.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';

type Req = { user?: string; boom?: boolean };
let t: TestDatabase;
let add: Command<{ n: number }>;

beforeAll(async () => {
  t = await freshPGlite();
  const tally = await createTally({ db: t.db });
  await tally.migrate();
  add = tally.command<{ n: number }>('add', {
    fingerprint: (i) => i,
    steps: [{ name: 'add', run: (ctx) => ({ sum: ctx.input.n + 1 }) }],
  });
});
afterAll(async () => t?.close());

describe('idempotentCore', () => {
  const handle = () =>
    idempotentCore(add, {
      principal: (r: Req) => {
        if (r.boom) throw new Error('db password in here');
        return r.user;
      },
    });
  const facts = (request: Req, key: string | undefined, body: unknown) => ({
    request,
    path: '/add',
    idempotencyKey: key,
    body: () => body,
  });

  it('answers, replays verbatim, and refuses with problem+json', async () => {
    const h = handle();
    const a = await h(facts({ user: 'u' }, 'k1', { n: 1 }));
    expect(a).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: expect.stringContaining('"result":{"sum":2}'),
    });
    const b = await h(facts({ user: 'u' }, '"k1"', { n: 1 }));
    expect([b.status, b.body, b.headers['idempotent-replayed']]).toEqual([200, a.body, 'true']);
    const reused = await h(facts({ user: 'u' }, 'k1', { n: 2 }));
    expect([reused.status, JSON.parse(reused.body).code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    expect(reused.headers['content-type']).toBe('application/problem+json');
    expect((await h(facts({ user: 'u' }, undefined, { n: 1 }))).status).toBe(400);
    expect((await h(facts({}, 'k9', { n: 1 }))).status).toBe(401);
    expect(reused.failure).toBeUndefined();
  });

  it('a throwing principal is 500 INTERNAL_ERROR; the error is `failure`, for the log only', async () => {
    const a = await handle()(facts({ boom: true }, 'k2', { n: 1 }));
    expect([a.status, JSON.parse(a.body).code]).toEqual([500, 'INTERNAL_ERROR']);
    expect(a.body).not.toMatch(/password/);
    expect((a.failure as Error).message).toBe('db password in here');
  });

  it('a body thunk that throws a TallyError is that error (the adapter read a bad body)', async () => {
    const a = await handle()({
      request: { user: 'u' },
      path: '/add',
      idempotencyKey: 'k3',
      body: () => parseJsonBody('text/xml', Buffer.from('<a/>')),
    });
    expect([a.status, JSON.parse(a.body).code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
  });
});

describe('body rules', () => {
  it('as the Fastify parser: empty JSON, bad JSON, __proto__, constructor.prototype → MALFORMED_BODY', () => {
    const code = (f: () => unknown) => {
      try {
        f();
        return 'ok';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(code(() => parseJsonBody('application/json', Buffer.from('')))).toBe('MALFORMED_BODY');
    expect(code(() => parseJsonBody('application/json', Buffer.from('{"a":')))).toBe('MALFORMED_BODY');
    expect(code(() => parseJsonBody('application/json', Buffer.from('{"__proto__":{}}')))).toBe(
      'MALFORMED_BODY',
    );
    expect(
      code(() =>
        parseJsonBody('application/problem+json', Buffer.from('{"a":{"constructor":{"prototype":1}}}')),
      ),
    ).toBe('MALFORMED_BODY');
    expect(parseJsonBody(undefined, Buffer.from(''))).toBeUndefined();
    expect(code(() => refusePoisonedBody(JSON.parse('{"x":[{"__proto__":1}]}')))).toBe('MALFORMED_BODY');
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(refusePoisonedBody(deep)).toBe(deep); // iterative: no stack overflow
  });
});
