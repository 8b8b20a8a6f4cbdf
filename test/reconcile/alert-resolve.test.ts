import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { type DownstreamRecord, reconcileCommands } from '../../src/reconcile/commands/index.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };
const MIN = 60_000;

/** C's records as a query adapter. */
const lookupOf =
  (fx: RedeemFixture) =>
  async (keys: readonly string[]): Promise<DownstreamRecord[]> =>
    keys.map((key) => ({ key, outcome: fx.prizes.issued.has(key) ? 'success' : 'not_found' }));

async function codeOf(p: Promise<unknown>): Promise<string | null> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  return isTallyError(e) ? e.code : String(e);
}

describeEachDialect('a resolved alert stays resolved until the command changes', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('resolve with who and why: no new alert next round; a later status change alarms again', async () => {
    // The worker gave up (one attempt, the reply lost): upstream unknown, C issued it.
    const fx = await redeemFixture(t.db, 'ar', { stock: 10, maxAttempts: 1 });
    fx.prizes.faults.loseReplyNext = 1;
    const lost = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect(lost.status).toBe('needs_attention');
    fx.clock.advance(20 * MIN); // past the grace period
    const round = () =>
      reconcileCommands({
        db: t.db,
        type: 'ar_redeem',
        downstream: { lookup: lookupOf(fx) },
        clock: fx.clock.now,
      });
    const mismatchAlerts = async () =>
      (await fx.tally.alerts.list({ type: 'ar_redeem' })).filter((a) => a.kind === 'reconcile_mismatch');

    const first = await round();
    expect(first.mismatches.map((m) => [m.commandId, m.kind, m.alert])).toEqual([
      [lost.id, 'upstream_unknown_downstream_succeeded', 'new'],
    ]);
    const [alert] = await mismatchAlerts();
    expect(alert).toMatchObject({ commandId: lost.id, resolvedAt: null, resolvedBy: null });

    const done = await fx.tally.alerts.resolve(alert!.id, {
      actor: 'ops:ana',
      reason: 'C issued it; ticket 77',
    });
    expect(done.resolved).toBe(true);
    expect(done.alert).toMatchObject({ resolvedBy: 'ops:ana', resolvedReason: 'C issued it; ticket 77' });
    expect(done.alert.resolvedAt).toEqual(fx.clock.now());
    const again = await fx.tally.alerts.resolve(alert!.id, { actor: 'ops:bo', reason: 'twice' });
    expect(again).toMatchObject({ resolved: false, alert: { resolvedBy: 'ops:ana' } });
    const tl = await fx.redeem.timeline({ id: lost.id });
    expect(tl!.events.filter((e) => e.kind === 'alert_resolved').map((e) => e.data)).toEqual([
      {
        alert: alert!.id,
        kind: 'reconcile_mismatch',
        actor: 'ops:ana',
        reason: 'C issued it; ticket 77',
        status: 'needs_attention',
      },
    ]);

    // Next rounds: the mismatch is still there, but it stays resolved while the command is unchanged.
    fx.clock.advance(MIN);
    for (let i = 0; i < 2; i++) {
      const r = await round();
      expect(r.alarmed).toBe(0);
      expect(r.mismatches.map((m) => m.alert)).toEqual(['resolved']);
    }
    expect(await mismatchAlerts()).toHaveLength(1);
    const open = await fx.tally.alerts.list({ type: 'ar_redeem', open: true });
    expect(open.filter((a) => a.kind === 'reconcile_mismatch')).toEqual([]);

    // The command's state changes (freed back to the worker, which has not run yet): alarmed again.
    await fx.tally.requeue({ id: lost.id, actor: 'ops:ana', reason: 'try once more' });
    const changed = await round();
    expect(changed.mismatches.map((m) => [m.status, m.alert])).toEqual([['pending', 'new']]);
    expect(changed.alarmed).toBe(1);
    const after = await mismatchAlerts();
    expect(after).toHaveLength(2);
    expect(after[0]).toMatchObject({ resolvedAt: null, data: { status: 'pending' } });
    // ... and only once.
    expect((await round()).alarmed).toBe(0);
  });

  it('bad input: typed errors, nothing written', async () => {
    const fx = await redeemFixture(t.db, 'ab', { stock: 10, maxAttempts: 1 });
    fx.prizes.faults.loseReplyNext = 1;
    await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    fx.clock.advance(20 * MIN);
    await reconcileCommands({
      db: t.db,
      type: 'ab_redeem',
      downstream: { lookup: lookupOf(fx) },
      clock: fx.clock.now,
    });
    const [a] = (await fx.tally.alerts.list({ type: 'ab_redeem' })).filter(
      (x) => x.kind === 'reconcile_mismatch',
    );
    const alerts = fx.tally.alerts;
    expect(await codeOf(alerts.resolve(a!.id, { actor: '', reason: 'x' }))).toBe('MISSING_ACTOR');
    expect(await codeOf(alerts.resolve(a!.id, { actor: 'ops', reason: '  ' }))).toBe('MISSING_REASON');
    expect(await codeOf(alerts.resolve('not-a-number', { actor: 'ops', reason: 'x' }))).toBe(
      'ALERT_NOT_FOUND',
    );
    expect(await codeOf(alerts.resolve('999999999', { actor: 'ops', reason: 'x' }))).toBe('ALERT_NOT_FOUND');
    expect(await codeOf(alerts.list({ commandId: 'x' }))).toBe('INVALID_SELECTION');
    expect((await alerts.list({ type: 'ab_redeem', open: true })).map((x) => x.id)).toContain(a!.id);
  });
});
