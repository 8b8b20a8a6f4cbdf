import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimCommandSql } from '../../src/commands/sql.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { testClock } from './support/redeem.js';

// A local step and the call that follows it commit in one transaction (the step's effects, the stored
// request and the counted first send), and a definite reply is recorded against the command as that
// transaction left it, without locking it first (compare-and-set; decision 0024's rule, extended). These
// tests hold the shortcuts to what the locked rounds guaranteed. A takeover needs a second connection
// while the call is out, so this runs on PostgreSQL.
describe.skipIf(!postgresAvailable)('a local step followed by a call [postgres]', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await freshPostgres(4);
  });
  afterAll(() => t.close());

  async function fixture(prefix: string) {
    const clock = testClock();
    await t.db.exec(`CREATE TABLE ${prefix}_accounts (id text PRIMARY KEY, state text NOT NULL DEFAULT 'open',
                       version integer NOT NULL DEFAULT 0, points integer NOT NULL);
                     INSERT INTO ${prefix}_accounts (id, points) VALUES ('u1', 100)`);
    const tally = await createTally({ db: t.db, clock: clock.now });
    await tally.migrate();
    const accounts = tally.entity(`${prefix}_account`, {
      table: `${prefix}_accounts`,
      states: { open: ['closed'], closed: [] },
    });
    const fx = { debits: 0, requestThrows: 0, sends: 0, takeOver: false };
    const redeem = tally.command<{ user: string }>(`${prefix}_redeem`, {
      fingerprint: (i) => ({ user: i.user }),
      leaseMs: 10_000,
      retry: { baseMs: 1000, maxMs: 1000 },
      steps: [
        {
          name: 'debit',
          async run(ctx) {
            fx.debits++;
            const [a] = await ctx.tx.query<{ points: number }>({
              text: `SELECT points FROM ${prefix}_accounts WHERE id = $1 FOR UPDATE`,
              values: [ctx.input.user],
            });
            await accounts.update({ key: ctx.input.user, set: { points: a!.points - 10 }, ...ctx.write });
            return { left: a!.points - 10 };
          },
        },
        {
          name: 'issue',
          call: {
            request: (ctx) => {
              if (fx.requestThrows > 0) {
                fx.requestThrows--;
                throw new Error('the prize catalogue is not loaded yet');
              }
              return { user: ctx.input.user, prize: 'mug' };
            },
            send: async (_req, meta) => {
              fx.sends++;
              if (fx.takeOver) {
                fx.takeOver = false;
                // The call outlives the lease and another attempt claims the command meanwhile.
                clock.advance(20_000);
                const now = clock.now();
                const id = meta.key.split('.')[0]!;
                const [claimed] = await t.db.query(
                  claimCommandSql('tally', id, 'intruder', now, new Date(now.getTime() + 10_000)),
                );
                expect(claimed, 'the other attempt took the lease').toBeDefined();
              }
              return { prizeId: `P-${fx.sends}` };
            },
          },
        },
      ],
    });
    const points = async () =>
      (
        await t.db.query<{ points: number }>({
          text: `SELECT points FROM ${prefix}_accounts WHERE id = 'u1'`,
        })
      )[0]!.points;
    const events = async (id: string) =>
      (
        await t.db.query<{ kind: string }>({
          text: `SELECT kind FROM tally.command_events WHERE command_id = $1::uuid ORDER BY id`,
          values: [id],
        })
      ).map((e) => e.kind);
    const call = async (id: string) =>
      (
        await t.db.query<{ sends: number; outcome: string | null }>({
          text: `SELECT sends, outcome FROM tally.command_calls WHERE command_id = $1::uuid`,
          values: [id],
        })
      )[0];
    return { tally, redeem, fx, clock, points, events, call };
  }

  it('the step, the stored request and the first send commit together; the reply finishes it', async () => {
    const f = await fixture('cr_ok');
    const r = await f.redeem.submit({ key: 'k1', principal: 'p', input: { user: 'u1' } });
    expect(r).toMatchObject({ status: 'succeeded', result: { prizeId: 'P-1' } });
    expect(await f.points()).toBe(90);
    expect(await f.call(r.id)).toMatchObject({ sends: 1, outcome: 'success' });
    expect(await f.events(r.id)).toEqual([
      'submitted',
      'step_done',
      'snapshot',
      'send',
      'outcome',
      'step_done',
      'succeeded',
    ]);
  });

  it('a request that cannot be built keeps the step: the call round records the error and retries', async () => {
    const f = await fixture('cr_request');
    f.fx.requestThrows = 2; // once in the step's transaction, once in the call's own round
    const r = await f.redeem.submit({ key: 'k1', principal: 'p', input: { user: 'u1' } });
    expect(r.status).toBe('pending');
    // The debit committed once, without the call; the call's round failed and backs off.
    expect(await f.points()).toBe(90);
    expect(f.fx.debits).toBe(1);
    expect(await f.call(r.id)).toBeUndefined();
    expect(await f.events(r.id)).toEqual(['submitted', 'step_done', 'error', 'backoff']);
    f.clock.advance(2_000);
    await f.tally.worker({ id: 'w1' }).runOnce();
    expect(await f.redeem.get({ key: 'k1', principal: 'p' })).toMatchObject({
      status: 'succeeded',
      result: { prizeId: 'P-1' },
    });
    expect(f.fx.debits).toBe(1);
    expect(await f.points()).toBe(90);
  });

  it('a reply that comes back after the lease was taken over is recorded under the lock, once', async () => {
    const f = await fixture('cr_moved');
    f.fx.takeOver = true;
    const r = await f.redeem.submit({ key: 'k1', principal: 'p', input: { user: 'u1' } });
    // The unlocked save found another lease owner and kept nothing; the locked round recorded the reply.
    expect(r).toMatchObject({ status: 'succeeded', result: { prizeId: 'P-1' } });
    expect(await f.call(r.id)).toMatchObject({ sends: 1, outcome: 'success' });
    const kinds = await f.events(r.id);
    expect(kinds.filter((k) => k === 'outcome')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'succeeded')).toHaveLength(1);
    // The intruder finds it finished: nothing is sent again.
    f.clock.advance(20_000);
    await f.tally.worker({ id: 'w1' }).runOnce();
    expect(f.fx.sends).toBe(1);
    expect(f.fx.debits).toBe(1);
    expect(await f.points()).toBe(90);
  });
});
