import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Executor } from '../../src/db/types.js';
import { isTallyError } from '../../src/errors.js';
import {
  applyRedrive,
  type DownstreamRecord,
  formatCommandsReport,
  planRedrive,
  reconcileCommands,
} from '../../src/reconcile/commands/index.js';
import { HttpError } from '../commands/support/prizes.js';
import { type RedeemFixture, redeemFixture } from '../commands/support/redeem.js';
import {
  describeEachDialect,
  freshPostgres,
  postgresAvailable,
  type TestDatabase,
} from '../support/databases.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };
const MIN = 60_000;

/** C's records as a query adapter; `faults` make it misbehave on purpose. */
function adapter(fx: RedeemFixture) {
  const faults = { throwOnCall: 0, extraKey: false, badOutcome: false };
  let calls = 0;
  const lookup = async (keys: readonly string[]): Promise<DownstreamRecord[]> => {
    calls++;
    if (faults.throwOnCall === calls) throw new Error('downstream query API is down');
    const out: DownstreamRecord[] = [];
    for (const key of keys) {
      if (fx.prizes.issued.has(key)) out.push({ key, outcome: 'success' });
      else if (fx.prizes.refused.has(key))
        out.push({ key, outcome: faults.badOutcome ? ('maybe' as 'failure') : 'failure' });
      else out.push({ key, outcome: 'not_found' });
    }
    if (faults.extraKey) out.push({ key: 'someone-else.issue', outcome: 'success' });
    return out;
  };
  return { lookup, faults };
}

async function alerts(
  db: Executor,
  type: string,
): Promise<{ command_id: string; kind: string; data: { mismatch: string } }[]> {
  return db.query({
    text: `SELECT command_id::text AS command_id, kind, data FROM tally.command_alerts WHERE command_type = $1 AND kind = 'reconcile_mismatch' ORDER BY id`,
    values: [type],
  });
}

async function expectCode(p: Promise<unknown>, code: string) {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTallyError(err), String(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

describeEachDialect('commands against the downstream', (fresh) => {
  let t: TestDatabase;
  // The downstream's own database (a table source) is always a PostgreSQL server.
  let other: TestDatabase;
  beforeAll(async () => {
    [t, other] = await Promise.all([
      fresh(),
      postgresAvailable ? freshPostgres(2) : (null as unknown as TestDatabase),
    ]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), other?.close()]);
  });

  it('finds each kind of mismatch; the worker gets the first chance; a rerun does not alarm twice', async () => {
    const fx = await redeemFixture(t.db, 'rk', { stock: 100, users: { u1: 1000 } });
    const type = 'rk_redeem';
    const submit = async () => fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    const ok = await submit(); // both agree
    fx.prizes.faults.loseReplyNext = 1; // C issues, the reply is lost: upstream unknown, downstream succeeded
    const lost = await submit();
    const issue = fx.prizes.issue.bind(fx.prizes);
    fx.prizes.issue = async (key, req) => {
      await issue(key, req); // C issues, then answers 409: upstream failed (refunded), downstream succeeded
      throw new HttpError(409, 'refused');
    };
    const refusedButIssued = await submit();
    fx.prizes.issue = issue;
    const dropped = await submit(); // C later loses its record: upstream succeeded, downstream has nothing
    fx.prizes.issued.delete(`${dropped.id}.issue`);
    const flipped = await submit(); // C later says refused: upstream succeeded, downstream failed
    fx.prizes.refused.set(`${flipped.id}.issue`, {
      request: fx.prizes.issued.get(`${flipped.id}.issue`)!.request,
      reason: 'x',
    });
    fx.prizes.issued.delete(`${flipped.id}.issue`);
    fx.prizes.faults.crashNext = 1; // 503 before C recorded anything: upstream unknown, downstream has nothing
    const crashed = await submit();
    expect([
      ok.status,
      lost.status,
      refusedButIssued.status,
      dropped.status,
      flipped.status,
      crashed.status,
    ]).toEqual(['succeeded', 'pending', 'failed', 'succeeded', 'succeeded', 'pending']);

    const { lookup } = adapter(fx);
    const r = await reconcileCommands({ db: t.db, type, downstream: { lookup }, clock: fx.clock.now });
    expect(r.checked).toBe(6);
    expect(r.agree).toBe(1);
    const byId = (list: typeof r.pending) => Object.fromEntries(list.map((d) => [d.commandId, d.kind]));
    expect(byId(r.pending)).toEqual({
      [lost.id]: 'upstream_unknown_downstream_succeeded',
      [crashed.id]: 'upstream_unknown_downstream_missing',
    });
    expect(byId(r.mismatches)).toEqual({
      [refusedButIssued.id]: 'upstream_failed_downstream_succeeded',
      [dropped.id]: 'upstream_succeeded_downstream_missing',
      [flipped.id]: 'upstream_succeeded_downstream_failed',
    });
    expect(r.mismatches.every((m) => m.alert === 'new')).toBe(true);
    expect(r.alarmed).toBe(3);
    expect((await alerts(t.db, type)).map((a) => a.data.mismatch).sort()).toEqual([
      'upstream_failed_downstream_succeeded',
      'upstream_succeeded_downstream_failed',
      'upstream_succeeded_downstream_missing',
    ]);
    const tl = await fx.redeem.timeline({ id: refusedButIssued.id });
    expect(tl!.events.at(-1)).toMatchObject({ kind: 'reconcile_mismatch', step: 'issue' });

    // Real-time use: a few commands by id; a time window; one step.
    const few = await reconcileCommands({
      db: t.db,
      type,
      ids: [dropped.id],
      step: 'issue',
      downstream: { lookup },
      clock: fx.clock.now,
    });
    expect(few).toMatchObject({ checked: 1, agree: 0, alarmed: 0 });
    expect(few.mismatches.map((m) => [m.commandId, m.alert])).toEqual([[dropped.id, 'open']]);
    const later = new Date(fx.clock.now().getTime() + 1);
    expect(
      (await reconcileCommands({ db: t.db, type, since: later, downstream: { lookup }, alarm: false }))
        .checked,
    ).toBe(0);
    // The agreeing call of a finished command was settled by the first run: only `scope: 'all'` reads it.
    expect(r.settled).toBe(1);
    expect(
      (await reconcileCommands({ db: t.db, type, until: later, downstream: { lookup }, alarm: false }))
        .checked,
    ).toBe(5);
    expect(
      (
        await reconcileCommands({
          db: t.db,
          type,
          until: later,
          scope: 'all',
          downstream: { lookup },
          alarm: false,
        })
      ).checked,
    ).toBe(6);
    expect(
      (await reconcileCommands({ db: t.db, type, step: 'other', downstream: { lookup }, alarm: false }))
        .checked,
    ).toBe(0);
    const again = await reconcileCommands({ db: t.db, type, downstream: { lookup }, clock: fx.clock.now });
    expect(again.alarmed).toBe(0);
    expect(again.mismatches.map((m) => m.alert)).toEqual(['open', 'open', 'open']);
    expect(await alerts(t.db, type)).toHaveLength(3);
    expect(formatCommandsReport(again)).toMatch(
      /5 calls checked, 0 agree, 2 pending .* 3 mismatches \(0 newly alarmed\)/,
    );
  });

  it('worker first: a nudged pending difference is resolved by the worker and never alarmed', async () => {
    const fx = await redeemFixture(t.db, 'rw', { stock: 10 });
    fx.prizes.faults.loseReplyNext = 1;
    const lost = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect(lost.status).toBe('pending');
    const before = await fx.redeem.timeline({ id: lost.id });
    expect(before!.command.nextAt.getTime()).toBeGreaterThan(fx.clock.now().getTime()); // backed off
    const { lookup } = adapter(fx);
    const r = await reconcileCommands({
      db: t.db,
      type: 'rw_redeem',
      downstream: { lookup },
      clock: fx.clock.now,
      nudge: true,
    });
    expect(r.pending.map((d) => [d.commandId, d.kind])).toEqual([
      [lost.id, 'upstream_unknown_downstream_succeeded'],
    ]);
    expect(r).toMatchObject({ nudged: 1, alarmed: 0, mismatches: [] });
    const nudged = await fx.redeem.timeline({ id: lost.id });
    expect(nudged!.command.nextAt.getTime()).toBe(fx.clock.now().getTime());
    expect(nudged!.events.at(-1)!.kind).toBe('reconcile_nudge');
    // Due now without moving the clock: the worker re-sends the stored request, C answers from its record.
    const round = await fx.tally.worker().runOnce();
    expect(round.claimed).toBe(1);
    expect(round.results[0]).toMatchObject({ id: lost.id, status: 'succeeded' });
    fx.clock.advance(60 * MIN);
    const after = await reconcileCommands({
      db: t.db,
      type: 'rw_redeem',
      downstream: { lookup },
      clock: fx.clock.now,
    });
    expect(after).toMatchObject({ checked: 1, agree: 1, pending: [], mismatches: [], alarmed: 0 });
    expect(await alerts(t.db, 'rw_redeem')).toEqual([]);
    expect(fx.prizes.effects).toBe(1);
  });

  it('what the worker cannot resolve within the grace period is alarmed, once', async () => {
    const fx = await redeemFixture(t.db, 'rg', { stock: 10, withQuery: false, resend: false });
    fx.prizes.faults.loseReplyNext = 1;
    const lost = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    const { lookup } = adapter(fx);
    const run = () =>
      reconcileCommands({
        db: t.db,
        type: 'rg_redeem',
        downstream: { lookup },
        clock: fx.clock.now,
        graceMs: 10 * MIN,
      });
    fx.clock.advance(9 * MIN);
    await fx.tally.worker().runOnce(); // nothing it can do: no re-send, no query
    expect((await run()).pending).toHaveLength(1);
    expect(await alerts(t.db, 'rg_redeem')).toEqual([]);
    fx.clock.advance(2 * MIN);
    const late = await run();
    expect(late.mismatches.map((m) => [m.commandId, m.kind, m.status, m.alert])).toEqual([
      [lost.id, 'upstream_unknown_downstream_succeeded', 'pending', 'new'],
    ]);
    expect((await run()).alarmed).toBe(0);
    expect(await alerts(t.db, 'rg_redeem')).toHaveLength(1);
  });

  it('re-drive: a command the worker gave up on is made due again, logged, idempotent, then settles', async () => {
    const fx = await redeemFixture(t.db, 'rr', { stock: 10, maxAttempts: 1 });
    fx.prizes.faults.loseReplyNext = 1;
    const lost = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    expect(lost.status).toBe('needs_attention');
    fx.clock.advance(20 * MIN);
    const { lookup } = adapter(fx);
    const r = await reconcileCommands({
      db: t.db,
      type: 'rr_redeem',
      downstream: { lookup },
      clock: fx.clock.now,
    });
    expect(r.mismatches.map((m) => [m.kind, m.status])).toEqual([
      ['upstream_unknown_downstream_succeeded', 'needs_attention'],
    ]);
    const plan = planRedrive(r);
    expect(plan.redrive.map((m) => m.commandId)).toEqual([lost.id]);
    expect(plan.manual).toEqual([]);
    const first = await applyRedrive({
      db: t.db,
      plan,
      actor: 'ops:ana',
      reason: 'daily reconcile',
      clock: fx.clock.now,
    });
    expect(first.redriven).toEqual([{ id: lost.id, from: 'needs_attention' }]);
    const second = await applyRedrive({
      db: t.db,
      plan,
      actor: 'ops:ana',
      reason: 'daily reconcile',
      clock: fx.clock.now,
    });
    expect(second.redriven).toEqual([]);
    const tl = await fx.redeem.timeline({ id: lost.id });
    expect(tl!.events.filter((e) => e.kind === 'reconcile_redrive')).toEqual([
      expect.objectContaining({
        data: { actor: 'ops:ana', reason: 'daily reconcile', from: 'needs_attention' },
      }),
    ]);
    const round = await fx.tally.worker().runOnce();
    expect(round.results[0]).toMatchObject({ id: lost.id, status: 'succeeded' });
    const after = await reconcileCommands({
      db: t.db,
      type: 'rr_redeem',
      downstream: { lookup },
      clock: fx.clock.now,
    });
    expect(after).toMatchObject({ agree: 1, mismatches: [], pending: [] });
    expect(fx.prizes.effects).toBe(1);
    await fx.checkInvariants();
  });

  it('finished commands are for a person, not for a re-drive', async () => {
    const fx = await redeemFixture(t.db, 'rm', { stock: 10 });
    const done = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    fx.prizes.issued.delete(`${done.id}.issue`);
    const { lookup } = adapter(fx);
    const r = await reconcileCommands({
      db: t.db,
      type: 'rm_redeem',
      downstream: { lookup },
      clock: fx.clock.now,
      alarm: false,
    });
    expect(r.alarmed).toBe(0);
    expect(await alerts(t.db, 'rm_redeem')).toEqual([]);
    const plan = planRedrive(r);
    expect(plan).toMatchObject({ redrive: [], manual: [{ commandId: done.id, status: 'succeeded' }] });
    expect((await applyRedrive({ db: t.db, plan, actor: 'ops', reason: 'x' })).redriven).toEqual([]);
  });

  it.skipIf(!postgresAvailable)(
    'the downstream as a table in another database (by connection string), paged in batches',
    async () => {
      const fx = await redeemFixture(t.db, 'rt', { stock: 3 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push((await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input })).id);
      // 3 issued, 2 refused (out of stock) at C; C's table then loses one issued row.
      await other.db.exec(
        'CREATE SCHEMA c; CREATE TABLE c.issues (dkey text PRIMARY KEY, state text NOT NULL)',
      );
      for (const [k] of fx.prizes.issued)
        await other.db.query({ text: `INSERT INTO c.issues VALUES ($1, 'issued')`, values: [k] });
      for (const [k] of fx.prizes.refused)
        await other.db.query({ text: `INSERT INTO c.issues VALUES ($1, 'refused')`, values: [k] });
      await other.db.query({ text: 'DELETE FROM c.issues WHERE dkey = $1', values: [`${ids[0]}.issue`] });
      const progress: number[] = [];
      const r = await reconcileCommands({
        db: t.db,
        type: 'rt_redeem',
        downstream: {
          db: other.url!,
          table: 'c.issues',
          key: 'dkey',
          status: { column: 'state', success: ['issued'] },
        },
        clock: fx.clock.now,
        batchSize: 2,
        onProgress: (p) => progress.push(p.checked),
      });
      expect(progress).toEqual([2, 4, 5]);
      expect(r).toMatchObject({ checked: 5, agree: 4, pending: [] });
      expect(r.mismatches.map((m) => [m.commandId, m.kind])).toEqual([
        [ids[0], 'upstream_succeeded_downstream_missing'],
      ]);
    },
  );

  it('a misbehaving downstream fails the run with DOWNSTREAM_ERROR and nothing is written', async () => {
    const fx = await redeemFixture(t.db, 'rb', { stock: 10 });
    const a = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    fx.prizes.faults.loseReplyNext = 1;
    const b = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
    fx.prizes.issued.delete(`${a.id}.issue`); // a mismatch that would be alarmed
    const nextAt = (await fx.redeem.timeline({ id: b.id }))!.command.nextAt;
    const ad = adapter(fx);
    const run = () =>
      reconcileCommands({
        db: t.db,
        type: 'rb_redeem',
        downstream: { lookup: ad.lookup },
        clock: fx.clock.now,
        nudge: true,
        batchSize: 1,
      });
    ad.faults.throwOnCall = 2; // the first batch was looked up, the second fails
    await expectCode(run(), 'DOWNSTREAM_ERROR');
    ad.faults.throwOnCall = 0;
    ad.faults.extraKey = true;
    await expectCode(run(), 'DOWNSTREAM_ERROR');
    expect(await alerts(t.db, 'rb_redeem')).toEqual([]);
    expect((await fx.redeem.timeline({ id: b.id }))!.command.nextAt).toEqual(nextAt);
    ad.faults.extraKey = false;
    fx.prizes.faults.crashNext = 0;
    await expectCode(
      reconcileCommands({
        db: t.db,
        type: 'rb_redeem',
        downstream: { lookup: async () => 42 as never },
        clock: fx.clock.now,
      }),
      'DOWNSTREAM_ERROR',
    );
    const ok = await run();
    expect(ok.mismatches.map((m) => m.commandId)).toEqual([a.id]);
  });

  it('bad options: typed errors, nothing read or written', async () => {
    const lookup = async () => [];
    const base = { db: t.db, type: 'x', downstream: { lookup } };
    await expectCode(reconcileCommands({ ...base, schema: 'bad schema' }), 'INVALID_IDENTIFIER');
    await expectCode(reconcileCommands({ ...base, type: '' }), 'INVALID_RECONCILE_OPTIONS');
    await expectCode(reconcileCommands({ ...base, graceMs: -1 }), 'INVALID_RECONCILE_OPTIONS');
    await expectCode(reconcileCommands({ ...base, ids: ['not-a-uuid'] }), 'INVALID_RECONCILE_OPTIONS');
    await expectCode(reconcileCommands({ ...base, since: new Date('nope') }), 'INVALID_RECONCILE_OPTIONS');
    await expectCode(reconcileCommands({ ...base, downstream: {} as never }), 'INVALID_DOWNSTREAM');
    await expectCode(
      reconcileCommands({ ...base, downstream: { db: t.db, table: 'c.issues; --', key: 'dkey' } }),
      'INVALID_IDENTIFIER',
    );
    await expectCode(
      reconcileCommands({
        ...base,
        downstream: {
          db: t.db,
          table: 'c.issues',
          key: 'dkey',
          status: { column: 'state', success: 'issued' as never },
        },
      }),
      'INVALID_DOWNSTREAM',
    );
    await expectCode(
      applyRedrive({ db: t.db, plan: { redrive: [], manual: [] }, actor: '', reason: 'x' }),
      'MISSING_ACTOR',
    );
    await expectCode(
      applyRedrive({ db: t.db, plan: { redrive: [], manual: [] }, actor: 'a', reason: ' ' }),
      'MISSING_REASON',
    );
  });
});
