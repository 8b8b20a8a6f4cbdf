import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { Command } from '../../../src/commands/command.js';
import type { CallSpec, CommandDefinition } from '../../../src/commands/definition.js';
import type { Executor } from '../../../src/db/types.js';
import { createTally, type Tally } from '../../../src/tally.js';
import { classifyPrizeReply, FakePrizes, type IssueRequest } from './prizes.js';

export interface RedeemInput {
  user: string;
  prize: string;
  qty: number;
  note?: string;
}

/** A clock tests move by hand: no sleeps where a clock will do. */
export function testClock(start = '2026-03-01T10:00:00.000Z') {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
  };
}

export interface RedeemOptions {
  stock?: number;
  users?: Record<string, number>;
  maxAttempts?: number;
  queryAfter?: string | number;
  resend?: boolean;
  withQuery?: boolean;
  leaseMs?: number;
  waitMs?: number;
  pool?: Executor;
  /** Extra steps after the call (e.g. one that reads the recorded risk decision). */
  after?: CommandDefinition<RedeemInput>['steps'];
  deadline?: string | number;
  breaker?: CallSpec['breaker'];
}

/**
 * Node B of the points-redemption chain, on Tally: check the user (risk, recorded), deduct 10 points
 * per prize (an audited change in the step's transaction), ask C to issue, refund on a definite failure.
 */
export async function redeemFixture(db: Executor, prefix: string, o: RedeemOptions = {}) {
  const clock = testClock();
  const table = `${prefix}_accounts`;
  const users = o.users ?? { u1: 100, u2: 100 };
  await db.exec(`CREATE TABLE ${table} (id text PRIMARY KEY, state text NOT NULL DEFAULT 'open',
                   version integer NOT NULL DEFAULT 0, points integer NOT NULL CHECK (points >= 0))`);
  for (const [id, points] of Object.entries(users)) {
    await db.query({ text: `INSERT INTO ${table} (id, points) VALUES ($1, $2)`, values: [id, points] });
  }
  const tally: Tally = await createTally({ db: o.pool ?? db, clock: clock.now });
  await tally.migrate();
  const accounts = tally.entity(`${prefix}_account`, { table, states: { open: ['closed'], closed: [] } });
  const prizes = new FakePrizes(clock.now, o.stock ?? 100);
  const fx = {
    risk: 'ok' as 'ok' | 'deny',
    riskChecks: 0,
    deducts: 0,
    refunds: 0,
    random: 0.5,
    /** The next n compensations crash right after their refund write (so it rolls back). */
    compensationCrashes: 0,
  };
  const redeem: Command<RedeemInput> = tally.command<RedeemInput>(`${prefix}_redeem`, {
    fingerprint: (i) => ({ user: i.user, prize: i.prize, qty: i.qty }),
    retry: { maxAttempts: o.maxAttempts ?? 5, baseMs: 1000, maxMs: 60_000, random: () => fx.random },
    ...(o.leaseMs ? { leaseMs: o.leaseMs } : {}),
    ...(o.waitMs ? { waitMs: o.waitMs } : {}),
    ...(o.deadline === undefined ? {} : { deadline: o.deadline }),
    steps: [
      {
        name: 'deduct',
        async run(ctx) {
          const risk = await ctx.decide('risk', () => {
            fx.riskChecks++;
            return fx.risk;
          });
          if (risk !== 'ok') ctx.fail('risk_denied');
          const [acc] = await ctx.tx.query<{ points: number }>({
            text: `SELECT points FROM ${table} WHERE id = $1 FOR UPDATE`,
            values: [ctx.input.user],
          });
          if (!acc) return ctx.fail('no_account');
          const cost = 10 * ctx.input.qty;
          if (acc.points < cost) return ctx.fail('insufficient_points', { needed: cost });
          await accounts.update({
            key: ctx.input.user,
            set: { points: acc.points - cost },
            action: 'deduct',
            ...ctx.write,
          });
          fx.deducts++;
          return { deducted: cost };
        },
      },
      {
        name: 'issue',
        call: {
          request: (ctx): IssueRequest => ({
            user: ctx.input.user,
            prize: ctx.input.prize,
            qty: ctx.input.qty,
            ts: ctx.now.toISOString(),
            nonce: randomUUID(),
          }),
          send: (req: IssueRequest, meta) => prizes.issue(meta.key, req),
          ...(o.withQuery === false ? {} : { query: (key: string) => prizes.query(key) }),
          queryAfter: o.queryAfter ?? '5s',
          ...(o.resend === undefined ? {} : { resend: o.resend }),
          classify: classifyPrizeReply,
          downstream: `${prefix}.prizes`,
          ...(o.breaker === undefined ? {} : { breaker: o.breaker }),
        },
      },
      ...(o.after ?? []),
    ],
    async compensate(ctx) {
      const cost = 10 * ctx.input.qty;
      const [acc] = await ctx.tx.query<{ points: number }>({
        text: `SELECT points FROM ${table} WHERE id = $1 FOR UPDATE`,
        values: [ctx.input.user],
      });
      await accounts.update({
        key: ctx.input.user,
        set: { points: acc!.points + cost },
        action: 'refund',
        ...ctx.write,
      });
      if (fx.compensationCrashes > 0) {
        fx.compensationCrashes--;
        throw new Error('crash after the refund write');
      }
      fx.refunds++;
    },
  });

  async function points(user: string): Promise<number> {
    const [r] = await db.query<{ points: number }>({
      text: `SELECT points FROM ${table} WHERE id = $1`,
      values: [user],
    });
    return Number(r!.points);
  }

  /**
   * The chain's invariants: points deducted = 10 × prizes issued at C + refunds (+ points of commands
   * still in doubt), nothing issued twice, C never oversold, every account row equals the fold of its log.
   */
  async function checkInvariants(opts: { inDoubtPoints?: number } = {}) {
    const [sums] = await db.query<{ deducted: number; refunded: number }>({
      text: `SELECT coalesce(sum(CASE WHEN action = 'deduct' THEN (before->>'points')::int - (after->>'points')::int END), 0)::int AS deducted,
                    coalesce(sum(CASE WHEN action = 'refund' THEN (after->>'points')::int - (before->>'points')::int END), 0)::int AS refunded
               FROM tally.log WHERE entity_type = $1`,
      values: [`${prefix}_account`],
    });
    const deducted = Number(sums!.deducted);
    const refunded = Number(sums!.refunded);
    expect(deducted, 'points deducted = 10 × issued + refunds').toBe(
      10 * prizes.issuedQty() + refunded + (opts.inDoubtPoints ?? 0),
    );
    expect(prizes.effects, 'nothing issued twice').toBe(prizes.issued.size);
    expect(prizes.stock, 'C never oversells').toBeGreaterThanOrEqual(0);
    const twice = await db.query({
      text: `SELECT command_id, action FROM tally.log WHERE entity_type = $1 AND action IN ('deduct', 'refund')
              GROUP BY command_id, action HAVING count(*) > 1 OR command_id IS NULL`,
      values: [`${prefix}_account`],
    });
    expect(twice, 'each command deducts at most once and refunds at most once').toEqual([]);
    for (const user of Object.keys(users)) {
      const check = await accounts.verify(user);
      expect(check.problems, `account ${user} equals the fold of its log`).toEqual([]);
    }
  }

  let n = 0;
  const nextKey = () => `${prefix}-key-${++n}`;
  return { tally, accounts, redeem, prizes, clock, fx, points, checkInvariants, nextKey, table };
}

export type RedeemFixture = Awaited<ReturnType<typeof redeemFixture>>;
