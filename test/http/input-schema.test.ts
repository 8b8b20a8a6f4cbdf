import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { idempotent, tallyFastify } from '../../src/http/index.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count } from '../support/resources.js';

type Tree = { child?: Tree };

describeEachDialect('http: a command input that fails its schema answers 400 problem+json', (fresh) => {
  let t: TestDatabase;
  let app: FastifyInstance;
  const ran: unknown[] = [];
  beforeAll(async () => {
    t = await fresh();
    const tally = await createTally({ db: t.db });
    await tally.migrate();
    const order = tally.command('http_order', {
      input: z.object({ item: z.enum(['mug', 'hoodie']), qty: z.number().int().min(1).max(10) }),
      fingerprint: (i) => i,
      steps: [
        {
          name: 'take',
          run: (ctx) => {
            ran.push(ctx.input);
            return { qty: ctx.input.qty };
          },
        },
      ],
    });
    const tree: z.ZodType<Tree> = z.lazy(() => z.object({ child: tree.optional() }));
    const nest = tally.command('http_tree', {
      input: tree,
      fingerprint: () => ({ one: 1 }),
      steps: [{ name: 'take', run: () => ({ ok: true }) }],
    });
    const batch = tally.command('http_batch', {
      input: { type: 'array', maxItems: 100, items: { type: 'integer', minimum: 1 } },
      fingerprint: () => ({ one: 1 }),
      steps: [{ name: 'take', run: () => ({ ok: true }) }],
    });
    app = Fastify({ bodyLimit: 4 * 1024 * 1024 });
    await app.register(tallyFastify);
    const principal = (req: { headers: Record<string, unknown> }) => req.headers['x-user'] as string;
    app.post('/orders', idempotent(order, { principal }));
    app.post('/tree', idempotent(nest, { principal }));
    app.post('/batch', idempotent(batch, { principal }));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  const post = (url: string, key: string, payload: string, type = 'application/json') =>
    app.inject({
      method: 'POST',
      url,
      payload,
      headers: { 'content-type': type, 'x-user': 'alice', 'idempotency-key': key },
    });
  const recorded = () => count(t.db, 'SELECT 1 FROM tally.commands');
  const events = () => count(t.db, 'SELECT 1 FROM tally.command_events');

  it('lists every failing path; records and runs nothing; a valid body runs', async () => {
    const res = await post('/orders', 'k1', JSON.stringify({ item: '', qty: -50 }));
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = res.json();
    expect(problem).toMatchObject({ status: 400, code: 'INVALID_COMMAND_INPUT', instance: '/orders' });
    expect(problem.details.issues.map((i: { path: string }) => i.path)).toEqual(['$.item', '$.qty']);
    for (const i of problem.details.issues) expect(typeof i.message).toBe('string');
    expect(res.body).not.toMatch(/SELECT|INSERT|tally\.commands|stack|at .*\.ts/);

    for (const [body, type, paths] of [
      [JSON.stringify({ item: 'mug', qty: 1.5 }), 'application/json', ['$.qty']],
      [JSON.stringify({ item: 'mug', qty: 2147483648 }), 'application/json', ['$.qty']],
      [JSON.stringify({ qty: 1 }), 'application/json', ['$.item']],
      [JSON.stringify({ item: 'mug', qty: '1' }), 'application/json', ['$.qty']],
      [JSON.stringify([1, 2]), 'application/json', ['$']],
      ['qty=1', 'text/plain', ['$']],
    ] as const) {
      const r = await post('/orders', 'k1', body, type);
      expect([
        r.statusCode,
        r.json().code,
        r.json().details.issues.map((i: { path: string }) => i.path),
      ]).toEqual([400, 'INVALID_COMMAND_INPUT', paths]);
    }
    expect([await recorded(), await events(), ran.length]).toEqual([0, 0, 0]);

    const ok = await post('/orders', 'k1', JSON.stringify({ item: 'mug', qty: 2, coupon: 'x' }));
    expect([ok.statusCode, ok.json()]).toMatchObject([200, { status: 'succeeded', result: { qty: 2 } }]);
    expect(ran).toEqual([{ item: 'mug', qty: 2 }]); // the schema's output: the unknown field is not kept
  });

  it('hostile bodies (deep nesting, huge arrays) are 400, never 500', async () => {
    const depth = 50_000;
    const deep = `${'{"child":'.repeat(depth)}{}${'}'.repeat(depth)}`;
    const r1 = await post('/tree', 'h1', deep);
    expect([r1.statusCode, r1.json().code]).toEqual([400, 'INVALID_COMMAND_INPUT']);

    const huge = JSON.stringify(Array.from({ length: 300_000 }, () => 0));
    const r2 = await post('/batch', 'h2', huge);
    expect([r2.statusCode, r2.json().code]).toEqual([400, 'INVALID_COMMAND_INPUT']);
    expect(r2.json().details.issues[0]).toEqual({ path: '$', message: 'must have at most 100 items' });
    expect(r2.json().details.issues).toHaveLength(50);
    expect(r2.json().details.truncated).toBe(true);
    expect(await count(t.db, "SELECT 1 FROM tally.commands WHERE type IN ('http_tree', 'http_batch')")).toBe(
      0,
    );
  });
});
