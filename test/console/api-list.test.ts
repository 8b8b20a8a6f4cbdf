import { afterAll, beforeAll, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import { migrate } from '../../src/schema/migrate.js';
import { call, seedCommands } from './support.js';

// The commands list: keyset pages that add up to the whole list in order, stay put while newer commands
// arrive, and filters that match what a hand-written query over the table says.
let db: Executor;
let server: ConsoleServer;
const FROM = new Date('2026-12-01T00:00:00Z');

beforeAll(async () => {
  db = await pglite();
  await migrate(db, 'tally', '"tally"');
  await seedCommands(db, {
    n: 60,
    from: FROM,
    types: ['redeem', 'refund', 'close'],
    principals: ['u1', 'u2', 'u3', 'u4'],
    statuses: ['succeeded', 'failed', 'pending', 'needs_attention', 'succeeded'],
    keyPrefix: 'k',
  });
  // Ties: five commands received in the same microsecond; the id orders them.
  await seedCommands(db, {
    n: 5,
    from: new Date(FROM.getTime() + 30_500),
    types: ['redeem'],
    principals: ['u1'],
    statuses: ['pending'],
    keyPrefix: 'tie',
  });
  await db.exec(`UPDATE tally.commands SET created_at = '2026-12-01T00:00:30.5Z' WHERE key LIKE 'tie-%'`);
  server = await startConsoleServer({ db, port: 0, consoleDir: null });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await db?.close();
});

/** Every page of `query` with `limit`, following `next`. */
async function allPages(query: string, limit: number): Promise<{ pages: string[][]; ids: string[] }> {
  const pages: string[][] = [];
  let after: string | null = null;
  do {
    const q = `${query}${query ? '&' : ''}limit=${limit}${after ? `&after=${after}` : ''}`;
    const r = await call(server.url, `/api/commands?${q}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.items.length).toBeLessThanOrEqual(limit);
    pages.push(r.body.items.map((c: { id: string }) => c.id));
    after = r.body.next;
  } while (after !== null);
  return { pages, ids: pages.flat() };
}

/** What the list must hold: the same filter written by hand, newest first, the id breaking ties. */
async function byHand(where: string, values: unknown[] = []): Promise<string[]> {
  const rows = await db.query<{ id: string }>({
    text: `SELECT id::text AS id FROM tally.commands WHERE ${where} ORDER BY created_at DESC, id DESC`,
    values,
  });
  return rows.map((r) => r.id);
}

it('pages add up to the whole list, newest first, ties broken by id, no row twice', async () => {
  const { pages, ids } = await allPages('', 3); // the five ties straddle pages 10 to 12
  expect(ids).toEqual(await byHand('true'));
  expect(ids).toHaveLength(65);
  expect(pages).toHaveLength(22);
  expect(new Set(ids).size).toBe(65);
});

it('later pages stay put while newer commands arrive', async () => {
  const first = await call(server.url, '/api/commands?limit=10');
  const before = await allPages('', 10);
  await seedCommands(db, {
    n: 12,
    from: new Date(FROM.getTime() + 3_600_000),
    types: ['redeem'],
    principals: ['u9'],
    statuses: ['succeeded'],
    keyPrefix: 'new',
  });
  // Continuing from the first page's cursor reads exactly what it would have before the inserts.
  let after: string | null = first.body.next;
  const rest: string[] = [];
  while (after !== null) {
    const r = await call(server.url, `/api/commands?limit=10&after=${after}`);
    rest.push(...r.body.items.map((c: { id: string }) => c.id));
    after = r.body.next;
  }
  expect(rest).toEqual(before.ids.slice(10));
  // A fresh first page shows the new ones.
  const fresh = await call(server.url, '/api/commands?limit=12&principal=u9');
  expect(fresh.body.items).toHaveLength(12);
  expect(fresh.body.next).toBeNull();
});

it('filters match the same query by hand, across pages', async () => {
  const cases: [string, string, unknown[]][] = [
    ['status=needs_attention', `status = 'needs_attention'`, []],
    ['status=pending,failed', `status IN ('pending', 'failed')`, []],
    ['type=refund', `type = 'refund'`, []],
    ['principal=u2&status=succeeded', `principal = 'u2' AND status = 'succeeded'`, []],
    ['type=redeem&principal=u1', `type = 'redeem' AND principal = 'u1'`, []],
    ['key=k-17', `key = 'k-17'`, []],
    [
      'since=2026-12-01T00:00:10Z&until=2026-12-01T00:00:40Z',
      'created_at >= $1 AND created_at < $2',
      [new Date('2026-12-01T00:00:10Z'), new Date('2026-12-01T00:00:40Z')],
    ],
  ];
  for (const [query, where, values] of cases) {
    const expected = await byHand(where, values);
    expect(expected.length, query).toBeGreaterThan(0);
    expect((await allPages(query, 4)).ids, query).toEqual(expected);
  }
});

it('a cursor of another list, or one made by hand, is refused', async () => {
  const jobs = Buffer.from(JSON.stringify({ l: 'jobs', v: ['2026-12-01T00:00:00.000000', 'x'] })).toString(
    'base64url',
  );
  const r = await call(server.url, `/api/commands?after=${jobs}`);
  expect(r.status).toBe(400);
  expect(r.body).toMatchObject({ code: 'INVALID_QUERY', details: { param: 'after' } });
});
