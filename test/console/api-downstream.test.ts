import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { type ConsoleServer, startConsoleServer } from '../../src/http/console/index.js';
import type { DownstreamRecord } from '../../src/reconcile/commands/types.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { actionHeaders, call } from './support.js';

// Commands against the downstream from the console (decision 0149), on one embedded database with a real
// points chain: C crashed before it recorded the prize, the command waits for a person; the dry run finds
// "upstream unknown, downstream has nothing" and writes nothing; the operator re-drives it with a reason.
const READ = 'read-token-0123456789abcdef';
const OPERATOR = 'operator-token-0123456789abcdef';
const input = { user: 'u1', prize: 'mug', qty: 1 };

let db: Executor;
let fx: RedeemFixture;
let server: ConsoleServer;
let bare: ConsoleServer; // no downstream configured
let strandedId: string;

/** C's records, looked up by Tally's downstream keys (the adapter an app would write over C's API). */
function prizesLookup(f: RedeemFixture) {
  return async (keys: readonly string[]): Promise<DownstreamRecord[]> =>
    keys.map((key) => ({
      key,
      outcome: f.prizes.issued.has(key) ? 'success' : f.prizes.refused.has(key) ? 'failure' : 'not_found',
    }));
}

beforeAll(async () => {
  db = await pglite();
  fx = await redeemFixture(db, 'cd', { maxAttempts: 1 });
  const ok = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
  expect(ok.status).toBe('succeeded');
  fx.prizes.faults.crashNext = 1; // 503 before C recorded anything: unknown upstream, nothing downstream
  const stranded = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
  expect(stranded.status).toBe('needs_attention');
  strandedId = stranded.id;
  const tokens = { readToken: READ, operatorToken: OPERATOR };
  server = await startConsoleServer({
    db,
    port: 0,
    consoleDir: null,
    tally: fx.tally,
    ...tokens,
    downstreams: [{ name: 'cd.prizes', types: ['cd_redeem'], source: { lookup: prizesLookup(fx) } }],
  });
  bare = await startConsoleServer({ db, port: 0, consoleDir: null, tally: fx.tally, ...tokens });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await bare?.close();
  await db?.close();
});

const check = (base: string, token: string, body: Record<string, unknown> = {}) =>
  call(base, '/api/reconcile/commands', {
    method: 'POST',
    headers: actionHeaders(token),
    body: { downstream: 'cd.prizes', type: 'cd_redeem', dryRun: true, ...body },
  });
const redrive = (base: string, token: string, body: Record<string, unknown> = {}) =>
  call(base, '/api/actions/redrive', {
    method: 'POST',
    headers: actionHeaders(token),
    body: { downstream: 'cd.prizes', actor: 'ops:ana', reason: 'C has no record: send it again', ...body },
  });

async function written(): Promise<{ alerts: number; settled: number; actions: number }> {
  const [r] = await db.query<{ alerts: number; settled: number; actions: number }>({
    text: `SELECT (SELECT count(*)::int FROM tally.command_alerts WHERE kind = 'reconcile_mismatch') AS alerts,
                  (SELECT count(*)::int FROM tally.command_calls WHERE reconciled_at IS NOT NULL) AS settled,
                  (SELECT count(*)::int FROM tally.operator_actions) AS actions`,
    values: [],
  });
  return { alerts: Number(r!.alerts), settled: Number(r!.settled), actions: Number(r!.actions) };
}

describe('commands against the downstream from the console', () => {
  it('lists the configured downstreams without their sources', async () => {
    const list = await call(server.url, '/api/reconcile/downstreams', {
      headers: { authorization: `Bearer ${READ}` },
    });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      items: [{ name: 'cd.prizes', types: ['cd_redeem'], step: null, source: 'lookup' }],
    });
    const none = await call(bare.url, '/api/reconcile/downstreams', {
      headers: { authorization: `Bearer ${READ}` },
    });
    expect(none.body).toEqual({ items: [] });
  });

  it('the dry run (read token) finds the mismatch and its re-drive plan, and writes nothing', async () => {
    const before = await written();
    const r = await check(server.url, READ, { scope: 'all' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      downstream: 'cd.prizes',
      type: 'cd_redeem',
      dryRun: true,
      ok: false,
      checked: 2,
      agree: 1,
      redrive: 1,
      manual: 0,
      truncated: false,
    });
    expect(r.body.differences).toEqual([
      expect.objectContaining({
        commandId: strandedId,
        status: 'needs_attention',
        upstream: 'unknown',
        downstream: 'missing',
        kind: 'upstream_unknown_downstream_missing',
        state: 'mismatch',
        plan: 'redrive',
        alert: null,
      }),
    ]);
    // No alert, no settle mark (the agreeing finished call stays open), no action.
    expect(await written()).toEqual(before);
  });

  it('refusals: no dryRun, an unknown downstream or type, none configured, CSRF', async () => {
    expect((await check(server.url, READ, { dryRun: undefined })).body.code).toBe('MALFORMED_BODY');
    const unknown = await check(server.url, READ, { downstream: 'nope' });
    expect(unknown.status).toBe(422);
    expect(unknown.body).toMatchObject({
      code: 'DOWNSTREAM_NOT_CONFIGURED',
      details: { downstreams: ['cd.prizes'] },
    });
    const type = await check(server.url, READ, { type: 'other' });
    expect(type.status).toBe(400);
    expect(type.body.details).toEqual({ param: 'type', types: ['cd_redeem'] });
    const none = await check(bare.url, READ);
    expect(none.status).toBe(422);
    expect(none.body.detail).toContain('no downstream configured');
    const csrf = await call(server.url, '/api/reconcile/commands', {
      method: 'POST',
      headers: { authorization: `Bearer ${READ}`, 'content-type': 'application/json' },
      body: { downstream: 'cd.prizes', dryRun: true },
    });
    expect(csrf.status).toBe(403);
    expect(csrf.body.code).toBe('CSRF_REFUSED');
  });

  it('the operator re-drives it with a reason (recorded per command); the read token cannot; a second is 409', async () => {
    const refused = await redrive(server.url, READ);
    expect(refused.status).toBe(403);
    const noReason = await redrive(server.url, OPERATOR, { reason: '' });
    expect(noReason.body.code).toBe('MISSING_REASON');
    // Narrowed to commands the plan does not hold: nothing to re-drive, nothing written.
    const other = await redrive(server.url, OPERATOR, { commandIds: [randomUUID()] });
    expect(other.status).toBe(409);
    expect(other.body.details).toEqual({ state: 'nothing planned' });
    expect((await redrive(server.url, OPERATOR, { commandIds: ['x'] })).body.details).toEqual({
      param: 'commandIds',
    });
    expect(await fx.tally.actions.list({ target: strandedId })).toEqual([]);

    const done = await redrive(server.url, OPERATOR);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      action: 'redrive',
      applied: true,
      result: {
        downstream: 'cd.prizes',
        type: 'cd_redeem',
        redriven: [{ id: strandedId, from: 'needs_attention' }],
      },
    });
    expect(await fx.tally.actions.list({ target: strandedId })).toMatchObject([
      {
        action: 'redrive',
        actor: 'ops:ana',
        reason: 'C has no record: send it again',
        data: { type: 'cd_redeem', from: 'needs_attention' },
      },
    ]);
    const tl = await fx.redeem.timeline({ id: strandedId });
    expect(tl!.events.filter((e) => e.kind === 'reconcile_redrive').map((e) => e.data)).toEqual([
      { actor: 'ops:ana', reason: 'C has no record: send it again', from: 'needs_attention' },
    ]);
    const again = await redrive(server.url, OPERATOR);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      code: 'ACTION_NOT_APPLICABLE',
      details: { state: 'redriven already' },
    });

    // The worker sends the stored request again; C issues it; the check is clean.
    await fx.tally.worker().runOnce();
    const clean = await check(server.url, READ, { scope: 'all' });
    expect(clean.body).toMatchObject({ ok: true, checked: 2, agree: 2, differences: [] });
    const nothing = await redrive(server.url, OPERATOR);
    expect(nothing.body).toMatchObject({
      code: 'ACTION_NOT_APPLICABLE',
      details: { state: 'nothing planned' },
    });
  });
});
