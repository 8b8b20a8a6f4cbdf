import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import { migrate } from '../../src/schema/migrate.js';
import { sleep } from './browser-setup.js';
import { actionHeaders, call } from './support.js';

// The per-token limit of the expensive reads (decision 0148): a fixed window in memory, a count per token
// and per cost (lists and searches; reconcile checks), 429 problem+json with Retry-After over it.
const READ = 'read-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

let db: Executor;
let server: ConsoleServer;
let open: ConsoleServer;

beforeAll(async () => {
  db = await pglite();
  await migrate(db, 'tally', '"tally"');
  const tokens = { readToken: READ, operatorToken: OPERATOR };
  server = await startConsoleServer({
    db,
    port: 0,
    consoleDir: null,
    ...tokens,
    rateLimit: { windowMs: 2000, reads: 3, checks: 1 },
  });
  open = await startConsoleServer({ db, port: 0, consoleDir: null, ...tokens, rateLimit: false });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await open?.close();
  await db?.close();
});

describe('rate limit of the expensive reads', () => {
  it('a token over its reads gets 429 with Retry-After until the window ends; other tokens and cheap routes are not counted', async () => {
    const paths = ['/api/commands?status=failed', '/api/alerts', '/api/entities'];
    for (const p of paths) expect((await call(server.url, p, { headers: bearer(READ) })).status).toBe(200);
    const over = await call(server.url, '/api/commands?principal=u1', { headers: bearer(READ) });
    expect(over.status).toBe(429);
    expect(over.headers.get('content-type')).toContain('application/problem+json');
    const retry = Number(over.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(2);
    expect(over.body).toMatchObject({
      status: 429,
      code: 'RATE_LIMITED',
      details: { limit: 3, windowSeconds: 2 },
    });
    // Not counted: the session, /metrics; the other token has its own count; a bad token is 401, not 429.
    expect((await call(server.url, '/api/session', { headers: bearer(READ) })).status).toBe(200);
    expect((await call(server.url, '/metrics', { headers: bearer(READ) })).status).toBe(200);
    expect((await call(server.url, '/api/commands', { headers: bearer(OPERATOR) })).status).toBe(200);
    expect((await call(server.url, '/api/commands', { headers: bearer('x'.repeat(20)) })).status).toBe(401);
    // A server with the limit off never answers 429.
    for (let i = 0; i < 5; i++) {
      expect((await call(open.url, '/api/commands', { headers: bearer(READ) })).status).toBe(200);
    }
    // The window ends: the token reads again.
    await sleep(retry * 1000 + 100);
    expect((await call(server.url, '/api/commands', { headers: bearer(READ) })).status).toBe(200);
  });

  it('reconcile checks have their own, smaller count', async () => {
    const body = { entity: 'nothing_declared', dryRun: true };
    const check = () =>
      call(server.url, '/api/reconcile/state-log', { method: 'POST', headers: actionHeaders(READ), body });
    expect((await check()).status).toBe(422); // counted even when refused after the count: it ran
    const over = await check();
    expect(over.status).toBe(429);
    expect(over.body.detail).toContain('reconcile checks');
    // The list count of the same token is separate.
    expect((await call(server.url, '/api/jobs', { headers: bearer(READ) })).status).toBe(200);
  });
});
