import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { actionHeaders, call } from './support.js';

// Reconcile from the console on one embedded database with a real points chain: a row changed with raw
// SQL (around Tally) is found by the check, repaired by the operator, and the re-check is clean.
const READ = 'read-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';
const ENTITY = 'rc_account';

let db: Executor;
let fx: RedeemFixture;
let server: ConsoleServer;
let bare: ConsoleServer; // no tally of the app: no entity declared (as under `tally serve`)

beforeAll(async () => {
  db = await pglite();
  fx = await redeemFixture(db, 'rc');
  const ok = await fx.redeem.submit({
    key: fx.nextKey(),
    principal: 'u1',
    input: { user: 'u1', prize: 'mug', qty: 1 },
  });
  expect(ok.status).toBe('succeeded');
  const tokens = { readToken: READ, operatorToken: OPERATOR };
  server = await startConsoleServer({ db, port: 0, consoleDir: null, tally: fx.tally, ...tokens });
  bare = await startConsoleServer({ db, port: 0, consoleDir: null, ...tokens });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await bare?.close();
  await db?.close();
});

const check = (base: string, token: string, body: unknown = { entity: ENTITY, dryRun: true }) =>
  call(base, '/api/reconcile/state-log', { method: 'POST', headers: actionHeaders(token), body });
const repair = (base: string, token: string, body: Record<string, unknown> = {}) =>
  call(base, '/api/actions/repair', {
    method: 'POST',
    headers: actionHeaders(token),
    body: { entity: ENTITY, actor: 'ops:ana', reason: 'INC-9: a hand fix bypassed the log', ...body },
  });

describe('reconcile from the console', () => {
  it('a raw SQL drift is listed by the check (read token), repaired by the operator, and the re-check is clean', async () => {
    const clean = await check(server.url, READ);
    expect(clean.status).toBe(200);
    expect(clean.body).toMatchObject({ entity: ENTITY, dryRun: true, ok: true, total: 0, findings: [] });

    // The drift: points changed around Tally, the version not bumped, no log entry.
    await db.exec(`UPDATE rc_accounts SET points = points + 7 WHERE id = 'u1'`);
    const found = await check(server.url, READ);
    expect(found.status).toBe(200);
    expect(found.body.ok).toBe(false);
    expect(found.body.findings).toContainEqual(
      expect.objectContaining({ key: 'u1', kind: 'row_changed_outside_log' }),
    );
    expect(found.body.repairable).toBe(1);

    // The read token may check but not repair; nothing changed.
    const refused = await repair(server.url, READ);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('FORBIDDEN');
    expect((await check(server.url, READ)).body.findings).toHaveLength(found.body.findings.length);

    const done = await repair(server.url, OPERATOR);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      action: 'repair',
      applied: true,
      result: { entity: ENTITY, repaired: 1, keys: ['u1'] },
    });
    const after = await check(server.url, READ);
    expect(after.body).toMatchObject({ ok: true, total: 0, findings: [] });
    const [entry] = await db.query<{ action: string; actor: string }>({
      text: `SELECT action, actor FROM tally.log WHERE entity_type = $1 AND entity_key = 'u1'
             ORDER BY version DESC LIMIT 1`,
      values: [ENTITY],
    });
    expect(entry).toMatchObject({ action: 'repair', actor: 'ops:ana' });
    const recorded = await fx.tally.actions.list({ action: 'repair' });
    expect(recorded[0]).toMatchObject({ target: ENTITY, actor: 'ops:ana' });

    const again = await repair(server.url, OPERATOR);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ACTION_NOT_APPLICABLE');
  });

  it('a key is data, never markup; the body is checked; the check is a POST under the CSRF rule', async () => {
    const key = '<img src=x onerror=alert(1)>';
    await db.query({
      text: `INSERT INTO rc_accounts (id, points, version) VALUES ($1, 5, 1)`,
      values: [key],
    });
    const r = await check(server.url, READ);
    expect(r.headers.get('content-type')).toContain('application/json');
    expect(r.body.findings).toContainEqual(expect.objectContaining({ key, kind: 'no_log' }));
    // A repair over missing log entries is withheld unless accepted (decision 0112).
    const held = await repair(server.url, OPERATOR, { keys: [key] });
    expect(held.status).toBe(200);
    expect(held.body.result).toMatchObject({ repaired: 0, withheld: [{ key, kind: 'no_log' }] });
    const accepted = await repair(server.url, OPERATOR, { keys: [key], acceptMissingLog: true });
    expect(accepted.body.result).toMatchObject({ repaired: 1, keys: [key] });
    expect((await check(server.url, READ)).body.ok).toBe(true);

    expect((await check(server.url, READ, { entity: ENTITY })).body.code).toBe('MALFORMED_BODY');
    expect((await check(server.url, READ, { dryRun: true })).body.code).toBe('MALFORMED_BODY');
    const noCsrf = await call(server.url, '/api/reconcile/state-log', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${READ}` },
      body: { entity: ENTITY, dryRun: true },
    });
    expect(noCsrf.body.code).toBe('CSRF_REFUSED');
    expect((await repair(server.url, OPERATOR, { keys: 'u1' })).body.code).toBe('MALFORMED_BODY');
  });

  it('an entity the server has not declared is a typed 422 naming why, never a 500', async () => {
    for (const base of [bare.url, server.url]) {
      const name = base === bare.url ? ENTITY : 'nobody_declared_this';
      const r = await check(base, READ, { entity: name, dryRun: true });
      expect(r.status).toBe(422);
      expect(r.body.code).toBe('ENTITY_NOT_DECLARED');
      expect(r.body.detail).toContain('no declaration');
      const p = await repair(base, OPERATOR, { entity: name });
      expect(p.status).toBe(422);
      expect(p.body.code).toBe('ENTITY_NOT_DECLARED');
    }
  });
});
