// Issue 13: every error answer on a route Tally guards is application/problem+json with a stable code,
// the status the framework chose, and nothing of the request, the stack or the SQL echoed back. Fastify's
// own refusals (not JSON, empty, too large, an unknown Content-Type, __proto__ keys, a schema's verdict)
// used to come back in Fastify's default JSON, and a route's plain error with its message.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TallyError } from '../../src/errors.js';
import { frameworkProblem } from '../../src/http/framework-error.js';
import { idempotent, problemOf, tallyFastify } from '../../src/http/index.js';
import { createTally, type Tally } from '../../src/tally.js';
import { freshPGlite, type TestDatabase } from '../support/databases.js';

interface Order {
  item: unknown;
  qty: number;
}

let t: TestDatabase;
let tally: Tally;
let app: FastifyInstance;
let base: string;
const down = { sends: 0 };
const logged: unknown[] = [];
let stepThrows = false;
let respondThrows = false;

beforeAll(async () => {
  t = await freshPGlite();
  tally = await createTally({ db: t.db });
  await tally.migrate();
  const order = tally.command<Order>('order', {
    fingerprint: (i) => ({ item: i.item, qty: i.qty }),
    retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 },
    steps: [
      {
        name: 'check',
        run: async () => {
          if (stepThrows) throw new Error('step bug: SELECT secret FROM t WHERE id = 42');
          return { ok: true };
        },
      },
      {
        name: 'ship',
        call: {
          request: (ctx) => ({ qty: ctx.input.qty }),
          send: async () => {
            down.sends++;
            return { outcome: 'success' as const, value: { ticket: `T-${down.sends}` } };
          },
        },
      },
    ],
  });
  // A logger that keeps what the plugin logs: the error the client does not see must be here.
  const stream = { write: (line: string) => logged.push(JSON.parse(line)) };
  app = Fastify({ logger: { level: 'error', stream } });
  await app.register(tallyFastify, { notFound: true });
  const principal = (req: { headers: Record<string, unknown> }) => {
    const u = req.headers['x-user'];
    if (u === 'crash') throw new Error('auth backend: password=hunter2');
    return typeof u === 'string' ? u : undefined;
  };
  app.post('/orders', idempotent(order, { principal }));
  app.post(
    '/orders/replied',
    idempotent(order, {
      principal,
      respond: (r) => {
        if (respondThrows) throw new Error(`respond bug for ${r.id}`);
        return { status: 200, body: { id: r.id, status: r.status } };
      },
    }),
  );
  app.post(
    '/orders/schema',
    {
      schema: {
        body: {
          type: 'object',
          required: ['item', 'qty'],
          properties: { item: { type: 'string' }, qty: { type: 'integer', minimum: 1 } },
        },
      },
    },
    idempotent(order, { principal }),
  );
  app.register(async (scoped) => {
    scoped.addHook('preHandler', async (req) => {
      if (req.headers['x-hook'] === 'plain') throw new Error('hook internals: token=abc');
      if (req.headers['x-hook'] === 'tally') throw new TallyError('INVALID_PRINCIPAL', 'no such user');
    });
    scoped.post('/hooked', idempotent(order, { principal }));
  });
  app.get('/plain', async () => {
    throw new Error('secret internals');
  });
  app.get('/db', async () => {
    throw new TallyError('DB_ERROR', 'database error 23505: duplicate key value violates "secret_idx"');
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

let n = 0;
const newKey = () => `pj-${++n}`;

async function commands(): Promise<number> {
  const [row] = await t.db.query<{ c: number }>({ text: 'SELECT count(*)::int AS c FROM tally.commands' });
  return Number(row!.c);
}

interface Answer {
  status: number;
  type: string;
  raw: string;
  body: Record<string, unknown> | null;
  ms: number;
}

async function send(
  path: string,
  body: string | undefined,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(base + path, {
    method,
    headers: {
      'x-user': 'alice',
      'idempotency-key': newKey(),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(30_000),
  });
  const raw = await res.text();
  const ms = performance.now() - started;
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, raw, body: /json/.test(type) ? JSON.parse(raw) : null, ms };
}

const PROBLEM_FIELDS = ['type', 'title', 'status', 'detail', 'code', 'instance', 'details'];

/** A problem document with the code and status, and nothing else: no stack, no echo of the request. */
function expectProblem(a: Answer, status: number, code: string, mustNotEcho: string[] = []): void {
  expect([a.status, a.type]).toEqual([status, 'application/problem+json; charset=utf-8']);
  expect(a.body).toMatchObject({ status, code, type: `urn:tally:error:${code}` });
  for (const field of Object.keys(a.body!)) expect(PROBLEM_FIELDS).toContain(field);
  for (const text of ['stack', 'FST_', 'SELECT', 'at async', ...mustNotEcho])
    expect(a.raw).not.toContain(text);
}

const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('every error on a guarded route is problem+json (real port)', () => {
  it('hostile bodies each get a 4xx problem quickly, nothing is recorded, the next valid request is served', async () => {
    const hostile: [string, string, Record<string, string>, number, string][] = [
      ['100,000 levels deep (whole body)', deepArray(100_000), {}, 400, 'INVALID_COMMAND_INPUT'],
      [
        '100,000 levels deep (a key parameter)',
        `{"qty":1,"item":${deepArray(100_000)}}`,
        {},
        400,
        'INVALID_COMMAND_INPUT',
      ],
      // Deep enough to overflow a recursive fingerprint, shallow enough for JSON.stringify (issue 13).
      [
        '3,000 levels deep (a key parameter)',
        `{"qty":1,"item":${deepArray(3_000)}}`,
        {},
        400,
        'INVALID_COMMAND_INPUT',
      ],
      ['10 MiB', JSON.stringify({ item: 'x'.repeat(10 * 1024 * 1024), qty: 1 }), {}, 413, 'BODY_TOO_LARGE'],
      ['not JSON', '{"item": "mug", qty: 1 // hunter2', {}, 400, 'MALFORMED_BODY'],
      ['a __proto__ key', '{"item":"mug","qty":1,"__proto__":{"isAdmin":true}}', {}, 400, 'MALFORMED_BODY'],
      [
        'constructor.prototype',
        '{"item":{"constructor":{"prototype":{"isAdmin":true}}},"qty":1}',
        {},
        400,
        'MALFORMED_BODY',
      ],
      ['empty with a JSON type', '', {}, 400, 'MALFORMED_BODY'],
      ['XML', '<order qty="1"/>', { 'content-type': 'application/x-hunter2' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ];
    const timings: Record<string, number> = {};
    for (const [name, body, headers, status, code] of hostile) {
      const a = await send('/orders', body, headers);
      timings[name] = Math.round(a.ms);
      expectProblem(a, status, code, ['hunter2', 'isAdmin']);
      expect(a.body!.instance).toBe('/orders');
      // Generous: the issue asks for under a second; a shared CI machine must not make this flaky.
      expect(a.ms, name).toBeLessThan(5_000);
    }
    console.log('hostile body → answer (ms):', JSON.stringify(timings));
    expect(await commands()).toBe(0);
    expect(down.sends).toBe(0);

    const ok = await send('/orders', JSON.stringify({ item: 'mug', qty: 1 }));
    expect([ok.status, ok.body?.status]).toEqual([200, 'succeeded']);
    expect(await commands()).toBe(1);
    expect(down.sends).toBe(1);
  });

  it("a route schema's verdict → 400 INVALID_REQUEST with the failing paths, no values", async () => {
    const before = await commands();
    const a = await send('/orders/schema', JSON.stringify({ item: 'hunter2', qty: 'lots' }));
    expectProblem(a, 400, 'INVALID_REQUEST', ['hunter2', 'lots']);
    expect(a.body!.details).toEqual({ in: 'body', issues: [{ path: '$.qty', message: 'must be integer' }] });
    const missing = await send('/orders/schema', JSON.stringify({ qty: 1 }));
    expect(missing.body!.details).toMatchObject({ issues: [{ path: '$.item' }] });
    expect(await commands()).toBe(before);
  });

  it('a route or hook that throws a plain error → 500 INTERNAL_ERROR, its message only in the log', async () => {
    const plain = await send('/plain', undefined, {}, 'GET');
    expectProblem(plain, 500, 'INTERNAL_ERROR', ['secret internals']);
    expect(plain.body).not.toHaveProperty('details');
    // A TallyError that is the server's fault keeps its code, not its message (it names tables, SQLSTATEs).
    const db = await send('/db', undefined, {}, 'GET');
    expectProblem(db, 500, 'DB_ERROR', ['secret_idx', '23505']);
    expect(db.body!.detail).toBe(plain.body!.detail);
    const hook = await send('/hooked?token=abc', JSON.stringify({ item: 'mug', qty: 1 }), {
      'x-hook': 'plain',
    });
    expectProblem(hook, 500, 'INTERNAL_ERROR', ['token', 'abc']);
    expect(hook.body!.instance).toBe('/hooked'); // the query string is not repeated
    const tallyHook = await send('/hooked', JSON.stringify({ item: 'mug', qty: 1 }), { 'x-hook': 'tally' });
    expectProblem(tallyHook, 401, 'INVALID_PRINCIPAL');
    expect(JSON.stringify(logged)).toContain('secret internals');
    expect(JSON.stringify(logged)).toContain('hook internals');
    expect(JSON.stringify(logged)).toContain('secret_idx');
  });

  it('no route → 404 ROUTE_NOT_FOUND (option notFound), the path not echoed in the detail', async () => {
    const a = await send('/nope/hunter2?x=1', undefined, {}, 'GET');
    expectProblem(a, 404, 'ROUTE_NOT_FOUND');
    expect(a.body!.detail).not.toContain('hunter2');
    expect(a.body!.instance).toBe('/nope/hunter2');
  });
});

describe("the user's code inside an idempotent route throws: what the answer is, what a retry gets", () => {
  it('principal() throws → 500 INTERNAL_ERROR; nothing is recorded, so a retry with the key runs anew', async () => {
    const before = await commands();
    const key = newKey();
    const body = JSON.stringify({ item: 'cup', qty: 1 });
    const a = await send('/orders', body, { 'x-user': 'crash', 'idempotency-key': key });
    expectProblem(a, 500, 'INTERNAL_ERROR', ['hunter2', 'password']);
    expect(await commands()).toBe(before);
    const retry = await send('/orders', body, { 'idempotency-key': key });
    expect([retry.status, retry.body?.status]).toEqual([200, 'succeeded']);
  });

  it('a step throws → the attempt is recorded as failed and retried on schedule: 202 pending, never 500', async () => {
    stepThrows = true;
    try {
      const key = newKey();
      const body = JSON.stringify({ item: 'pan', qty: 1 });
      const sends = down.sends;
      const a = await send('/orders', body, { 'idempotency-key': key });
      expect([a.status, a.type, a.body?.status]).toEqual([202, 'application/json; charset=utf-8', 'pending']);
      expect(a.raw).not.toContain('SELECT');
      const cmd = await tally.getCommand('order').get({ key, principal: 'alice' });
      expect([cmd?.status, cmd?.attempts]).toEqual(['pending', 1]);
      await new Promise((r) => setTimeout(r, 10)); // past the 1 ms backoff: the retry runs attempt 2
      const b = await send('/orders', body, { 'idempotency-key': key });
      // maxAttempts 2: the command waits for a person; every later retry answers that, nothing re-runs.
      expect([b.status, b.body?.status]).toEqual([202, 'needs_attention']);
      const c = await send('/orders', body, { 'idempotency-key': key });
      expect([c.status, c.raw]).toEqual([202, b.raw]);
      expect(down.sends).toBe(sends);
    } finally {
      stepThrows = false;
    }
  });

  it('respond() throws → 500 INTERNAL_ERROR; the command stays succeeded, a retry replays it (no second effect)', async () => {
    const key = newKey();
    const body = JSON.stringify({ item: 'jar', qty: 1 });
    respondThrows = true;
    const sends = down.sends;
    const a = await send('/orders/replied', body, { 'idempotency-key': key });
    expectProblem(a, 500, 'INTERNAL_ERROR', ['respond bug']);
    expect(down.sends).toBe(sends + 1);
    const again = await send('/orders/replied', body, { 'idempotency-key': key });
    expect([again.status, again.raw]).toEqual([500, a.raw]); // the same record, the same answer
    respondThrows = false; // the bug fixed: the retry gets the recorded outcome
    const fixed = await send('/orders/replied', body, { 'idempotency-key': key });
    expect([fixed.status, fixed.body?.status]).toEqual([200, 'succeeded']);
    expect(down.sends).toBe(sends + 1);
  });
});

describe('frameworkProblem: an error that is not a TallyError', () => {
  it('keeps a 4xx status, turns everything else into a 500 without its message', () => {
    const teapot = frameworkProblem(Object.assign(new Error('no coffee for user 42'), { statusCode: 418 }));
    expect([teapot.status, teapot.error.code, teapot.error.message]).toEqual([
      418,
      'INVALID_REQUEST',
      'the request was refused',
    ]);
    for (const thrown of ['a string', null, undefined, 42, new RangeError('deep'), { statusCode: 503 }]) {
      const p = frameworkProblem(thrown);
      expect([p.status, p.error.code]).toEqual([500, 'INTERNAL_ERROR']);
      expect(problemOf(p.error)).not.toHaveProperty('details');
    }
  });

  it("spells a schema's failing paths as Tally's input issues do, never with values", () => {
    const err = Object.assign(new Error('body/items/0/a~1b must be integer'), {
      code: 'FST_ERR_VALIDATION',
      statusCode: 400,
      validationContext: 'body',
      validation: [
        { instancePath: '/items/0/a~1b', keyword: 'type', params: {}, message: 'must be integer' },
        { instancePath: '', keyword: 'required', params: { missingProperty: 'qty' }, message: 'x' },
      ],
    });
    expect(frameworkProblem(err).error.details).toEqual({
      in: 'body',
      issues: [
        { path: '$.items[0].a/b', message: 'must be integer' },
        { path: '$.qty', message: 'x' },
      ],
    });
  });

  it('idempotent() answers its own failure as problem+json without the plugin', async () => {
    const bare = Fastify();
    const never = { submit: () => Promise.reject(new Error('not reached')) };
    bare.post(
      '/x',
      idempotent(never as never, {
        principal: () => {
          throw new Error('session store down: redis://secret@host');
        },
      }),
    );
    const r = await bare.inject({ method: 'POST', url: '/x?a=1', payload: {} });
    expect([r.statusCode, r.headers['content-type'], r.json().code, r.json().instance]).toEqual([
      500,
      'application/problem+json; charset=utf-8',
      'INTERNAL_ERROR',
      '/x',
    ]);
    expect(r.body).not.toContain('secret');
    await bare.close();
  });
});
