import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { planRepair, reconcile } from '../../src/reconcile/index.js';
import { redeemFixture } from '../commands/support/redeem.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES, resourcesFixture } from '../support/resources.js';

const input = { user: 'u1', prize: 'mug', qty: 1 };
const by = { actor: 'ops:ana', reason: 'ticket 81' };

async function refusal(p: Promise<unknown>): Promise<{ code: string; state?: unknown } | null> {
  try {
    await p;
    return null;
  } catch (err) {
    if (!isTallyError(err)) throw err;
    return { code: err.code, ...(err.details?.state === undefined ? {} : { state: err.details.state }) };
  }
}

describeEachDialect(
  'operator actions: recorded with who and why, refused when they no longer apply',
  (fresh) => {
    let t: TestDatabase;
    beforeAll(async () => {
      t = await fresh();
    });
    afterAll(async () => {
      await t?.close();
    });

    it('retry now: a backing-off command is due now, its budget untouched; refused once it finished', async () => {
      const fx = await redeemFixture(t.db, 'ra', { maxAttempts: 5 });
      fx.prizes.faults.down = true; // C refuses connections: the first attempt fails, the command backs off
      const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
      expect(r).toMatchObject({ status: 'pending', attempts: 1 });
      const worker = fx.tally.worker();
      expect((await worker.runOnce()).claimed).toBe(0); // backing off: not due
      const actions = fx.tally.actions;

      // Refused before anything is written: no actor, no reason, no such command.
      expect(await refusal(actions.retryNow(r.id, { actor: '', reason: 'x' }))).toEqual({
        code: 'MISSING_ACTOR',
      });
      expect(await refusal(actions.retryNow(r.id, { actor: 'ops', reason: ' ' }))).toEqual({
        code: 'MISSING_REASON',
      });
      expect(await refusal(actions.retryNow('nope', by))).toEqual({ code: 'COMMAND_NOT_FOUND' });
      expect(await refusal(actions.retryNow(randomUUID(), by))).toEqual({ code: 'COMMAND_NOT_FOUND' });
      expect(await actions.list({ target: r.id })).toEqual([]);

      const before = await fx.redeem.timeline({ id: r.id });
      const wasDueAt = [...before!.events].reverse().find((e) => e.kind === 'backoff')!.data as {
        nextAt: string;
      };
      const done = await actions.retryNow(r.id, by);
      expect(done).toEqual({
        id: r.id,
        type: 'ra_redeem',
        status: 'pending',
        wasDueAt: new Date(wasDueAt.nextAt),
      });
      const tl = await fx.redeem.timeline({ id: r.id });
      const ev = tl!.events
        .filter((e) => e.kind === 'retry_now')
        .map((e) => e.data as Record<string, unknown>);
      expect(ev).toMatchObject([{ actor: 'ops:ana', reason: 'ticket 81', pausedOn: null }]);
      expect(Date.parse(String(ev[0]!.wasDueAt))).toBe(Date.parse(wasDueAt.nextAt));
      expect(await actions.list({ target: r.id })).toMatchObject([
        {
          action: 'retry_now',
          target: r.id,
          actor: 'ops:ana',
          reason: 'ticket 81',
          data: { status: 'pending' },
        },
      ]);

      // Due now (the clock has not moved): the next round drives it; the retry counted as one attempt.
      fx.prizes.faults.down = false;
      const round = await worker.runOnce();
      expect(round.claimed).toBe(1);
      expect(round.results[0]).toMatchObject({ id: r.id, status: 'succeeded', attempts: 1 });

      expect(await refusal(actions.retryNow(r.id, by))).toEqual({
        code: 'ACTION_NOT_APPLICABLE',
        state: 'succeeded',
      });
      expect(await actions.list({ target: r.id })).toHaveLength(1);
    });

    it('retry now is refused for a command waiting for a person; requeue frees it, once', async () => {
      const fx = await redeemFixture(t.db, 'rb', { maxAttempts: 1 });
      fx.prizes.faults.loseReplyNext = 1;
      const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
      expect(r.status).toBe('needs_attention');
      const actions = fx.tally.actions;
      expect(await refusal(actions.retryNow(r.id, by))).toEqual({
        code: 'ACTION_NOT_APPLICABLE',
        state: 'needs_attention',
      });
      expect(await refusal(actions.requeue(r.id, { actor: 'ops', reason: '' }))).toEqual({
        code: 'MISSING_REASON',
      });
      const q = await actions.requeue(r.id, by);
      expect(q).toMatchObject({ id: r.id, type: 'rb_redeem', status: 'pending' });
      const tl = await fx.redeem.timeline({ id: r.id });
      expect(tl!.events.filter((e) => e.kind === 'requeued').map((e) => e.data)).toEqual([
        { actor: 'ops:ana', reason: 'ticket 81', to: 'pending' },
      ]);
      expect(await refusal(actions.requeue(r.id, by))).toEqual({
        code: 'ACTION_NOT_APPLICABLE',
        state: 'pending',
      });
      expect(await refusal(actions.requeue(randomUUID(), by))).toEqual({ code: 'COMMAND_NOT_FOUND' });
      expect((await actions.list({ target: r.id })).map((a) => [a.action, a.actor, a.reason])).toEqual([
        ['requeue', 'ops:ana', 'ticket 81'],
      ]);
    });

    it('resolve an alert: recorded on the timeline and as an action; refused when resolved already', async () => {
      const fx = await redeemFixture(t.db, 'rc', { maxAttempts: 1 });
      fx.prizes.faults.loseReplyNext = 1;
      const r = await fx.redeem.submit({ key: fx.nextKey(), principal: 'u1', input });
      const [alert] = await fx.tally.alerts.list({ commandId: r.id, open: true });
      const actions = fx.tally.actions;
      expect(await refusal(actions.resolveAlert(alert!.id, { actor: ' ', reason: 'x' }))).toEqual({
        code: 'MISSING_ACTOR',
      });
      const resolved = await actions.resolveAlert(alert!.id, by);
      expect(resolved).toMatchObject({ id: alert!.id, resolvedBy: 'ops:ana', resolvedReason: 'ticket 81' });
      const tl = await fx.redeem.timeline({ id: r.id });
      expect(tl!.events.filter((e) => e.kind === 'alert_resolved')).toHaveLength(1);
      expect(await refusal(actions.resolveAlert(alert!.id, by))).toEqual({
        code: 'ACTION_NOT_APPLICABLE',
        state: 'resolved',
      });
      expect(await refusal(actions.resolveAlert('999999999', by))).toEqual({ code: 'ALERT_NOT_FOUND' });
      expect((await actions.list({ target: alert!.id })).map((a) => [a.action, a.data])).toEqual([
        ['resolve_alert', { kind: 'needs_attention', commandId: r.id }],
      ]);
    });

    it('resume a job: recorded before it runs; refused once done; JOB_BUSY while a runner holds it', async () => {
      const { tally, resources } = await resourcesFixture(t.db, 30, 'rd_resources');
      const job = await resources.job({
        keys: Array.from({ length: 30 }, (_, i) => i + 1),
        to: 'frozen',
        actor: 'ops:bo',
        chunkSize: 10,
      });
      // Its runner stopped after one chunk (released the job): 20 items left.
      expect(await tally.jobs.run(job.id, { maxChunks: 1 })).toMatchObject({
        status: 'running',
        pending: 20,
      });
      expect(await refusal(tally.actions.resumeJob(job.id, { actor: 'ops', reason: '' }))).toEqual({
        code: 'MISSING_REASON',
      });
      const done = await tally.actions.resumeJob(job.id, by);
      expect(done).toMatchObject({ status: 'done', changed: 30, pending: 0 });
      expect(await tally.actions.list({ target: job.id })).toMatchObject([
        {
          action: 'resume_job',
          actor: 'ops:ana',
          reason: 'ticket 81',
          data: { status: 'running', pending: 20 },
        },
      ]);
      expect(await refusal(tally.actions.resumeJob(job.id, by))).toEqual({
        code: 'ACTION_NOT_APPLICABLE',
        state: 'done',
      });

      // A job a live runner holds.
      const held = await resources.job({ keys: [1, 2], to: 'active', actor: 'ops:bo' });
      await t.db.query({
        text: `UPDATE tally.jobs SET status = 'running', lease_owner = 'other', lease_until = now() + interval '1 hour' WHERE id = $1`,
        values: [held.id],
      });
      expect(await refusal(tally.actions.resumeJob(held.id, by))).toEqual({ code: 'JOB_BUSY' });
      expect(await tally.actions.list({ target: held.id })).toEqual([]);
    });

    it('apply a repair: each entry logged with who and why, the action recorded; refused when nothing is left', async () => {
      const { tally } = await resourcesFixture(t.db, 5, 're_resources');
      const resources = tally.entity('re_resource', { table: 're_resources', states: RESOURCE_STATES });
      await resources.transition({ keys: [1, 2, 3], to: 'frozen', actor: 'seed' });
      await t.db.exec(`UPDATE re_resources SET owner = 'mallory' WHERE id IN (1, 2)`);
      const plan = planRepair(await reconcile([resources], { chains: false }));
      expect(plan.repairs.map((r) => r.key).sort()).toEqual(['1', '2']);
      expect(await refusal(tally.actions.repair(plan, { actor: 'ops', reason: '' }))).toEqual({
        code: 'MISSING_REASON',
      });
      const r = await tally.actions.repair(plan, by);
      expect(r.repaired).toBe(2);
      const log = await t.db.query<{ actor: string; reason: string }>({
        text: `SELECT actor, reason FROM tally.log WHERE entity_type = 're_resource' AND action = 'repair' ORDER BY entity_key`,
      });
      expect(log).toEqual([
        { actor: 'ops:ana', reason: 'ticket 81' },
        { actor: 'ops:ana', reason: 'ticket 81' },
      ]);
      expect(await tally.actions.list({ action: 'repair' })).toMatchObject([
        { target: 're_resource', actor: 'ops:ana', data: { planned: 2, repaired: 2, withheld: 0 } },
      ]);
      expect(await refusal(tally.actions.repair(plan, by))).toEqual({
        code: 'ACTION_NOT_APPLICABLE',
        state: 'repaired already',
      });
      expect(await refusal(tally.actions.repair({ repairs: [], manual: [] }, by))).toEqual({
        code: 'ACTION_NOT_APPLICABLE',
        state: 'nothing planned',
      });
      expect(await tally.actions.list({ action: 'repair' })).toHaveLength(1);
    });
  },
);
