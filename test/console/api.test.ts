import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { actionHeaders, call } from './support.js';

// The console's JSON API on one embedded database with a real points chain in it (B on Tally, C a fake
// we do not own): a server with tokens, and one on loopback without.
const READ = 'read-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';

let db: Executor;
let fx: RedeemFixture;
let open: ConsoleServer; // loopback, no tokens
let guarded: ConsoleServer; // tokens
let okId: string;
let strandedId: string;

beforeAll(async () => {
  db = await pglite();
  fx = await redeemFixture(db, 'ca', { maxAttempts: 1 });
  const ok = await fx.redeem.submit({
    key: fx.nextKey(),
    principal: 'u1',
    input: { user: 'u1', prize: 'mug', qty: 1 },
  });
  expect(ok.status).toBe('succeeded');
  okId = ok.id;
  fx.prizes.faults.down = true;
  const stuck = await fx.redeem.submit({
    key: fx.nextKey(),
    principal: 'u2',
    input: { user: 'u2', prize: 'mug', qty: 1 },
  });
  expect(stuck.status).toBe('needs_attention');
  strandedId = stuck.id;
  fx.prizes.faults.down = false;
  open = await startConsoleServer({ db, port: 0, consoleDir: null, tally: fx.tally });
  guarded = await startConsoleServer({
    db,
    port: 0,
    consoleDir: null,
    tally: fx.tally,
    readToken: READ,
    operatorToken: OPERATOR,
  });
}, 120_000);

afterAll(async () => {
  await open?.close();
  await guarded?.close();
  await db?.close();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('auth', () => {
  it('no token or an unknown one is 401 problem+json; the read token reads', async () => {
    for (const headers of [{}, bearer('not-the-token-at-all-xxxxxxxx'), { authorization: READ }]) {
      const r = await call(guarded.url, '/api/commands', { headers });
      expect(r.status).toBe(401);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect(r.headers.get('www-authenticate')).toContain('Bearer');
      expect(r.body).toMatchObject({
        status: 401,
        code: 'UNAUTHORIZED',
        type: 'urn:tally:error:UNAUTHORIZED',
      });
    }
    expect((await call(guarded.url, '/metrics')).status).toBe(401);
    const r = await call(guarded.url, '/api/commands', { headers: bearer(READ) });
    expect(r.status).toBe(200);
    expect(r.body.items.length).toBe(2);
    const s = await call(guarded.url, '/api/session', { headers: bearer(READ) });
    expect(s.body).toMatchObject({ access: 'read', tokens: true, actions: [] });
  });

  it('the read token may not act (403); the operator token acts only with the CSRF header and a same Origin', async () => {
    const body = { commandId: strandedId, actor: 'ops:ana', reason: 'C is back' };
    const asReader = await call(guarded.url, '/api/actions/requeue', {
      method: 'POST',
      headers: actionHeaders(READ),
      body,
    });
    expect(asReader.status).toBe(403);
    expect(asReader.body.code).toBe('FORBIDDEN');

    const noHeader = { 'content-type': 'application/json', ...bearer(OPERATOR) };
    const csrf = await call(guarded.url, '/api/actions/requeue', { method: 'POST', headers: noHeader, body });
    expect(csrf.status).toBe(403);
    expect(csrf.body.code).toBe('CSRF_REFUSED');
    const form = { ...actionHeaders(OPERATOR), 'content-type': 'application/x-www-form-urlencoded' };
    expect(
      (await call(guarded.url, '/api/actions/requeue', { method: 'POST', headers: form, body })).body.code,
    ).toBe('CSRF_REFUSED');
    const otherSite = { ...actionHeaders(OPERATOR), origin: 'https://evil.example' };
    const cross = await call(guarded.url, '/api/actions/requeue', {
      method: 'POST',
      headers: otherSite,
      body,
    });
    expect(cross.status).toBe(403);
    expect(cross.body.code).toBe('CSRF_REFUSED');
    const [row] = await db.query<{ status: string }>({
      text: 'SELECT status FROM tally.commands WHERE id = $1',
      values: [strandedId],
    });
    expect(row!.status).toBe('needs_attention'); // nothing refused changed anything
    const s = await call(guarded.url, '/api/session', { headers: bearer(OPERATOR) });
    expect(s.body).toMatchObject({
      access: 'operator',
      actions: ['requeue', 'retry-now', 'resolve-alert', 'resume-job', 'repair', 'redrive'],
    });
  });

  it('without tokens (loopback) a request addressed to another host name is refused (DNS rebinding)', async () => {
    // fetch will not send another Host: node:http will.
    const r = await new Promise<{ status: number; body: string }>((done, fail) => {
      const req = request(`${open.url}/api/commands`, { headers: { host: 'evil.example' } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => done({ status: res.statusCode!, body }));
      });
      req.on('error', fail);
      req.end();
    });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).code).toBe('FORBIDDEN_HOST');
    expect((await call(open.url, '/api/commands')).status).toBe(200);
  });
});

describe('a command page and the actions', () => {
  it('shows the timeline with times, the outbound snapshot as sent, the alert and the actions that apply', async () => {
    const r = await call(open.url, `/api/commands/${strandedId}`);
    expect(r.status).toBe(200);
    const p = r.body;
    expect(p.command).toMatchObject({ id: strandedId, status: 'needs_attention', principal: 'u2' });
    expect(p.command.decisions).toMatchObject({ risk: 'ok' });
    expect(p.events.map((e: { kind: string }) => e.kind)).toContain('needs_attention');
    expect(p.events[0]).toMatchObject({ sinceStartMs: 0 });
    expect(typeof p.events[0].durationMs).toBe('number');
    expect(p.calls).toHaveLength(1);
    expect(p.calls[0]).toMatchObject({
      step: 'issue',
      outcome: null,
      request: { user: 'u2', prize: 'mug', qty: 1 },
    });
    expect(p.alerts).toHaveLength(1);
    expect(p.alerts[0]).toMatchObject({ kind: 'needs_attention', resolvedAt: null });
    expect(p.actions).toEqual(['requeue', 'resolve-alert']);
    const done = await call(open.url, `/api/commands/${okId}`);
    expect(done.body.command.status).toBe('succeeded');
    expect(done.body.actions).toEqual([]);
    expect(done.body.calls[0].outcome).toBe('success');
  });

  it('an unknown id is 404, a malformed one 400, neither echoed', async () => {
    const missing = await call(open.url, '/api/commands/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('COMMAND_NOT_FOUND');
    const bad = await call(open.url, `/api/commands/${encodeURIComponent("x'; DROP TABLE <b>")}`);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('INVALID_QUERY');
    expect(bad.text).not.toContain('DROP');
  });

  it('requeue applies once; again it is refused as no longer applying (409); so is a finished command', async () => {
    const body = { commandId: strandedId, actor: 'ops:ana', reason: 'C is back' };
    const noReason = await call(open.url, '/api/actions/requeue', {
      method: 'POST',
      headers: actionHeaders(),
      body: { commandId: strandedId, actor: 'ops:ana' },
    });
    expect(noReason.status).toBe(400);
    expect(noReason.body.code).toBe('MISSING_REASON');
    const r = await call(guarded.url, '/api/actions/requeue', {
      method: 'POST',
      headers: actionHeaders(OPERATOR),
      body,
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      action: 'requeue',
      applied: true,
      result: { id: strandedId, status: 'pending' },
    });
    const again = await call(open.url, '/api/actions/requeue', {
      method: 'POST',
      headers: actionHeaders(),
      body,
    });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'ACTION_NOT_APPLICABLE', details: { state: 'pending' } });
    const finished = await call(open.url, '/api/actions/requeue', {
      method: 'POST',
      headers: actionHeaders(),
      body: { ...body, commandId: okId },
    });
    expect(finished.status).toBe(409);
    const page = await call(open.url, `/api/commands/${strandedId}`);
    const ev = page.body.events.find((e: { kind: string }) => e.kind === 'requeued');
    expect(ev.data).toEqual({ actor: 'ops:ana', reason: 'C is back', to: 'pending' });
    // The requeue resolved its needs_attention alert; resolving it again no longer applies.
    const alertId = page.body.alerts[0].id;
    expect(page.body.alerts[0].resolvedAt).not.toBeNull();
    const resolve = await call(open.url, '/api/actions/resolve-alert', {
      method: 'POST',
      headers: actionHeaders(),
      body: { alertId, actor: 'ops:ana', reason: 'done' },
    });
    expect(resolve.status).toBe(409);
    expect(resolve.body.code).toBe('ACTION_NOT_APPLICABLE');
    const unknown = await call(open.url, '/api/actions/apply-repair', {
      method: 'POST',
      headers: actionHeaders(),
      body,
    });
    expect(unknown.status).toBe(501);
    expect(unknown.body.code).toBe('ACTION_NOT_AVAILABLE');
    // Now pending: retry-now applies (due now, recorded), and is refused on a finished command.
    const retry = await call(open.url, '/api/actions/retry-now', {
      method: 'POST',
      headers: actionHeaders(),
      body,
    });
    expect(retry.status).toBe(200);
    expect(retry.body.result).toMatchObject({ id: strandedId, status: 'pending' });
    const retryDone = await call(open.url, '/api/actions/retry-now', {
      method: 'POST',
      headers: actionHeaders(),
      body: { ...body, commandId: okId },
    });
    expect(retryDone.status).toBe(409);
    expect(retryDone.body.details).toEqual({ state: 'succeeded' });
    const recorded = await fx.tally.actions.list({ target: strandedId });
    expect(recorded.map((a) => [a.action, a.actor, a.reason])).toEqual([
      ['retry_now', 'ops:ana', 'C is back'],
      ['requeue', 'ops:ana', 'C is back'],
    ]);
  });
});

describe('other reads', () => {
  it('an entity history newest first with the diff, and its state as of a version', async () => {
    const types = await call(open.url, '/api/entities');
    expect(types.body.items).toEqual([{ type: 'ca_account' }]);
    const h = await call(open.url, '/api/entities/ca_account/u1/history?limit=1');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ type: 'ca_account', key: 'u1', latestVersion: 1 });
    expect(h.body.items[0]).toMatchObject({
      version: 1,
      action: 'deduct',
      changed: ['points', 'version'],
      after: { points: 90 },
    });
    expect(h.body.items[0].commandId).toBe(okId);
    const asOf = await call(open.url, '/api/entities/ca_account/u1/history?asOf=1');
    expect(asOf.body.asOf).toMatchObject({ version: 1, state: { points: 90 } });
    const none = await call(open.url, '/api/entities/ca_account/nobody/history');
    expect(none.status).toBe(404);
    expect(none.body.code).toBe('ENTITY_NOT_FOUND');
  });

  it('a job with its progress and rejected items; alerts; the feed; the overview; /metrics', async () => {
    const job = await fx.accounts.job({
      keys: ['u1', 'nobody'],
      to: 'closed',
      actor: 'ops:ana',
      chunkSize: 1,
    });
    await job.run();
    const jobs = await call(open.url, '/api/jobs');
    expect(jobs.body.items[0]).toMatchObject({ id: job.id, status: 'done', total: 2, done: 2 });
    const one = await call(open.url, `/api/jobs/${job.id}`);
    expect(one.body.job).toMatchObject({ id: job.id, rejected: 1 });
    expect(one.body.rejected.items).toEqual([expect.objectContaining({ key: 'nobody' })]);
    const resume = await call(open.url, '/api/actions/resume-job', {
      method: 'POST',
      headers: actionHeaders(),
      body: { jobId: job.id, actor: 'ops:ana', reason: 'runner died' },
    });
    expect(resume.status).toBe(409);
    expect(resume.body.details).toEqual({ state: 'done' });

    const alerts = await call(open.url, '/api/alerts?open=false');
    expect(alerts.body.items[0]).toMatchObject({ commandId: strandedId, kind: 'needs_attention' });

    const consumer = await fx.tally.consumer('ca-mirror', { source: 'log' });
    const feed = await call(open.url, '/api/feed');
    expect(feed.body.consumers).toEqual([
      expect.objectContaining({ name: 'ca-mirror', source: 'log', delivered: 0, lagEntries: 3 }),
    ]);
    expect(consumer.name).toBe('ca-mirror');

    const o = await call(open.url, '/api/overview?bucket=day&buckets=2');
    expect(o.status).toBe(200);
    expect(o.body.commands.byStatus).toMatchObject({ succeeded: 1, pending: 1 });
    expect(o.body.commands.overTime.series).toHaveLength(2);
    expect(o.body.alerts.open).toBe(0);

    const m = await call(open.url, '/metrics');
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toContain('text/plain');
    expect(m.text).toMatch(/^tally_alerts_open|# TYPE tally_/m);
  });

  it('a bad query parameter is 400 INVALID_QUERY naming it, never echoing its value', async () => {
    for (const q of ['status=bogus<x>', 'limit=0', 'limit=abc<x>', 'since=yesterday<x>', 'after=Zm9v<x>']) {
      const r = await call(open.url, `/api/commands?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.code).toBe('INVALID_QUERY');
      expect(r.text).not.toContain('<x>');
      expect(typeof r.body.details.param).toBe('string');
    }
    const nope = await call(open.url, '/api/nope');
    expect(nope.status).toBe(404);
    expect(nope.body.code).toBe('ROUTE_NOT_FOUND');
    const method = await call(open.url, '/api/commands', { method: 'DELETE' });
    expect(method.status).toBe(405);
  });

  it('GET / without a built console answers a small HTML page with a strict CSP', async () => {
    const r = await call(open.url, '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(r.text).toContain('Tally console');
  });
});
