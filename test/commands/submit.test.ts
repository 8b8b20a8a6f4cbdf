import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count } from '../support/resources.js';
import { redeemFixture } from './support/redeem.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };

describeEachDialect('commands: submit, replay, fingerprint, scope, lock-check-update steps', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t.close());

  it('runs once; a retry returns the recorded result and re-runs nothing', async () => {
    const fx = await redeemFixture(t.db, 's_once');
    const key = fx.nextKey();
    const first = await fx.redeem.submit({
      key,
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(first).toMatchObject({ status: 'succeeded', replayed: false, result: { prizeId: 'P-1' } });
    const again = await fx.redeem.submit({
      key,
      principal: 'u1',
      input: { qty: 1.0, prize: 'mug', user: 'u1' },
    });
    expect(again).toMatchObject({
      id: first.id,
      status: 'succeeded',
      replayed: true,
      result: { prizeId: 'P-1' },
    });
    expect(fx.fx.deducts).toBe(1);
    expect(fx.prizes.received).toHaveLength(1);
    expect(await fx.points('u1')).toBe(90);
    // A finished failure is replayed the same way.
    fx.fx.risk = 'deny';
    const k2 = fx.nextKey();
    const denied = await fx.redeem.submit({
      key: k2,
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(denied).toMatchObject({ status: 'failed', error: { step: 'deduct', reason: 'risk_denied' } });
    fx.fx.risk = 'ok';
    const deniedAgain = await fx.redeem.submit({
      key: k2,
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(deniedAgain).toMatchObject({ status: 'failed', replayed: true, error: { reason: 'risk_denied' } });
    expect(fx.fx.riskChecks).toBe(2);
    await fx.checkInvariants();
  });

  it('a retry with changed quantity is rejected with IDEMPOTENCY_KEY_REUSED and changes nothing', async () => {
    const fx = await redeemFixture(t.db, 's_reuse');
    const key = fx.nextKey();
    await fx.redeem.submit({ key, principal: 'u1', input: { user: 'u1', prize: 'mug', qty: 1 } });
    const events = await count(t.db, `SELECT 1 FROM tally.command_events`);
    const err = await fx.redeem
      .submit({ key, principal: 'u1', input: { user: 'u1', prize: 'mug', qty: 2 } })
      .catch((e: unknown) => e);
    expect(isTallyError(err, 'IDEMPOTENCY_KEY_REUSED')).toBe(true);
    expect(String((err as Error).message)).not.toContain('2');
    expect(await count(t.db, `SELECT 1 FROM tally.command_events`)).toBe(events);
    expect(await fx.points('u1')).toBe(90);
    expect(fx.prizes.issuedQty()).toBe(1);
    // Non-key fields may differ: the recorded input is what runs, and it has run already.
    const same = await fx.redeem.submit({
      key,
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1, note: 'x' },
    });
    expect(same.replayed).toBe(true);
    await fx.checkInvariants();
  });

  it('keys are scoped by principal: another principal neither replays nor sees the command', async () => {
    const fx = await redeemFixture(t.db, 's_scope');
    const key = fx.nextKey();
    const a = await fx.redeem.submit({ key, principal: 'u1', input: { user: 'u1', prize: 'mug', qty: 1 } });
    expect(await fx.redeem.get({ key, principal: 'u2' })).toBeNull();
    expect(await fx.redeem.timeline({ key, principal: 'u2' })).toBeNull();
    const b = await fx.redeem.submit({ key, principal: 'u2', input: { user: 'u2', prize: 'mug', qty: 1 } });
    expect(b.id).not.toBe(a.id);
    expect(b.replayed).toBe(false);
    expect((await fx.redeem.get({ key, principal: 'u1' }))?.id).toBe(a.id);
    await fx.checkInvariants();
  });

  it('validates keys and principals', async () => {
    const fx = await redeemFixture(t.db, 's_valid');
    const input = { user: 'u1', prize: 'mug', qty: 1 };
    for (const key of ['', 'has space', 'x'.repeat(256), 'semi;colon', 'ünï', 42]) {
      const err = await fx.redeem
        .submit({ key: key as string, principal: 'u1', input })
        .catch((e: unknown) => e);
      expect(isTallyError(err, 'INVALID_IDEMPOTENCY_KEY'), String(key)).toBe(true);
    }
    const err = await fx.redeem
      .submit({ key: 'ok-key', principal: 'bad\nprincipal', input })
      .catch((e: unknown) => e);
    expect(isTallyError(err, 'INVALID_PRINCIPAL')).toBe(true);
    const nan = await fx.redeem
      .submit({ key: 'ok-key', principal: 'u1', input: { ...input, qty: Number.NaN } })
      .catch((e: unknown) => e);
    expect(isTallyError(nan, 'INVALID_COMMAND_INPUT')).toBe(true);
    expect(await count(t.db, `SELECT 1 FROM tally.commands WHERE type = 's_valid_redeem'`)).toBe(0);
    expect((await fx.redeem.submit({ key: 'A-z_0.9:~+/=', principal: 'u1', input })).status).toBe(
      'succeeded',
    );
  });

  it('records key, fingerprint and input before any effect; a crash in the step leaves the record, no effect', async () => {
    const fx = await redeemFixture(t.db, 's_record', { users: { u1: 100 } });
    await t.db.exec(`ALTER TABLE s_record_accounts ADD CONSTRAINT no_low CHECK (points >= 95)`);
    const key = fx.nextKey();
    const r = await fx.redeem.submit({ key, principal: 'u1', input: { user: 'u1', prize: 'mug', qty: 1 } });
    expect(r.status).toBe('pending'); // the deduct violated the check: a transient error, retried later
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.command).toMatchObject({
      input: { user: 'u1', prize: 'mug', qty: 1 },
      stepIndex: 0,
      attempts: 1,
    });
    expect(tl.command.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(tl.events.map((e) => e.kind)).toEqual(['submitted', 'error', 'backoff']);
    expect(await fx.points('u1')).toBe(100);
    expect(fx.prizes.received).toHaveLength(0);
    await t.db.exec(`ALTER TABLE s_record_accounts DROP CONSTRAINT no_low`);
    fx.clock.advance(1000); // the retry is due after its backoff (a retry before that answers the record)
    const retry = await fx.redeem.submit({
      key,
      principal: 'u1',
      input: { user: 'u1', prize: 'mug', qty: 1 },
    });
    expect(retry).toMatchObject({ status: 'succeeded', replayed: true });
    await fx.checkInvariants();
  });

  it('a retry while another attempt holds the command: COMMAND_IN_FLIGHT, or waits up to waitMs', async () => {
    for (const waitMs of [0, 5000]) {
      const fx = await redeemFixture(t.db, `s_flight${waitMs}`, { waitMs });
      let open!: () => void;
      fx.prizes.faults.gate = new Promise<void>((r) => {
        open = r;
      });
      const key = fx.nextKey();
      const input = { user: 'u1', prize: 'mug', qty: 1 };
      const first = fx.redeem.submit({ key, principal: 'u1', input });
      while (fx.prizes.received.length === 0) await new Promise((r) => setTimeout(r, 5));
      if (waitMs === 0) {
        const err = await fx.redeem.submit({ key, principal: 'u1', input }).catch((e: unknown) => e);
        expect(isTallyError(err, 'COMMAND_IN_FLIGHT')).toBe(true);
        open();
      } else {
        const second = fx.redeem.submit({ key, principal: 'u1', input });
        setTimeout(open, 50);
        expect(await second).toMatchObject({ status: 'succeeded', replayed: true });
      }
      expect(await first).toMatchObject({ status: 'succeeded', replayed: false });
      expect(fx.prizes.received).toHaveLength(1);
      await fx.checkInvariants();
    }
  });

  it("a step's audited changes commit with the command's state or not at all", async () => {
    const fx = await redeemFixture(t.db, 'st_atomic');
    let crash = true;
    let failAfter = false;
    const local = fx.tally.command<typeof input>('st_atomic_local', {
      fingerprint: (i) => i,
      steps: [
        {
          name: 'deduct',
          async run(ctx) {
            await fx.accounts.update({ key: 'u1', set: { points: 50 }, action: 'deduct', ...ctx.write });
            if (crash) throw new Error('process died mid-step');
            if (failAfter) return ctx.fail('campaign_ended');
            return { ok: true };
          },
        },
      ],
    });
    const r1 = await local.submit({ key: 'a1', principal: 'u1', input });
    expect(r1).toMatchObject({ status: 'pending', attempts: 1 });
    expect(await fx.points('u1')).toBe(100);
    expect(await count(t.db, `SELECT 1 FROM tally.log WHERE entity_type = 'st_atomic_account'`)).toBe(0);
    crash = false;
    failAfter = true;
    fx.clock.advance(1000); // due after its backoff
    const r2 = await local.submit({ key: 'a1', principal: 'u1', input });
    expect(r2).toMatchObject({ status: 'failed', error: { step: 'deduct', reason: 'campaign_ended' } });
    expect(await fx.points('u1')).toBe(100); // the failing step's own write was rolled back: nothing to refund
    failAfter = false;
    const r3 = await local.submit({ key: 'a2', principal: 'u1', input });
    expect(r3).toMatchObject({ status: 'succeeded', result: { ok: true } });
    const log = await fx.accounts.history('u1');
    expect(log.map((l) => [l.action, l.command_id, l.actor, l.request_id])).toEqual([
      ['deduct', r3.id, 'u1', 'a2'],
    ]);
    expect((await fx.accounts.verify('u1')).ok).toBe(true);
  });

  it('a compensation that crashes is retried, and the points come back exactly once', async () => {
    const fx = await redeemFixture(t.db, 'st_comp', { stock: 0 });
    fx.fx.compensationCrashes = 1;
    const key = fx.nextKey();
    const r = await fx.redeem.submit({ key, principal: 'u1', input });
    expect(r.status).toBe('compensating');
    expect(await fx.points('u1')).toBe(90);
    fx.clock.advance(60_000);
    const round = await fx.tally.worker().runOnce();
    expect(round.results[0]).toMatchObject({
      status: 'failed',
      error: { reason: 'out_of_stock', compensated: true },
    });
    fx.clock.advance(60_000);
    expect((await fx.tally.worker().runOnce()).claimed).toBe(0);
    expect(await fx.points('u1')).toBe(100);
    expect(fx.fx.refunds).toBe(1);
    const tl = (await fx.redeem.timeline({ key, principal: 'u1' }))!;
    expect(tl.events.filter((e) => e.kind === 'compensated')).toHaveLength(1);
    await fx.checkInvariants();
  });

  it('a check that says no before any effect fails the command without compensation', async () => {
    const fx = await redeemFixture(t.db, 'st_deny', { users: { u1: 5 } });
    const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect(r).toMatchObject({
      status: 'failed',
      error: { reason: 'insufficient_points', details: { needed: 10 } },
    });
    expect(fx.prizes.received).toHaveLength(0);
    expect(fx.fx.refunds).toBe(0);
    const tl = (await fx.redeem.timeline({ id: r.id }))!;
    expect(tl.command.decisions).toEqual({ risk: 'ok' }); // the decision that led here is kept
    await fx.checkInvariants();
  });
});
