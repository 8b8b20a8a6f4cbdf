import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { Command } from '../../../src/commands/command.js';
import type { Executor } from '../../../src/db/types.js';
import { createTally } from '../../../src/tally.js';
import type { TestDatabase } from '../../support/databases.js';
import { classifyPrizeReply, FakePrizes, type IssueRequest } from './prizes.js';
import { type RedeemInput, testClock } from './redeem.js';

export interface VoucherOptions {
  users?: readonly string[];
  stock?: number;
  maxAttempts?: number;
  waitMs?: number;
  leaseMs?: number;
  queryAfter?: string | number;
  pool?: Executor;
}

/**
 * Node B of the redemption chain in a form every dialect runs (issue 17): each user holds one voucher
 * (an audited entity); the first step spends it (a transition in the step's transaction, after a recorded
 * risk decision), the call asks C to issue, the compensation gives the voucher back. Transitions are what
 * MySQL's changes path runs so far (docs/mysql.md), where redeem.ts's points need `entity.update`.
 */
export async function voucherFixture(t: TestDatabase, prefix: string, o: VoucherOptions = {}) {
  const clock = testClock();
  const table = `${prefix}_vouchers`;
  const users = o.users ?? ['u1', 'u2'];
  const text = t.dialect === 'mariadb' ? 'VARCHAR(64)' : 'text';
  await t.db.exec(`CREATE TABLE ${table} (id ${text} PRIMARY KEY, state ${text} NOT NULL,
    version integer NOT NULL DEFAULT 0)`);
  const tally = await createTally({ db: o.pool ?? t.db, clock: clock.now });
  await tally.migrate();
  const vouchers = tally.entity(`${prefix}_voucher`, {
    table,
    states: { available: ['spent'], spent: ['available'] },
  });
  await vouchers.create({ rows: users.map((id) => ({ id, state: 'available' })), actor: 'seed' });
  const prizes = new FakePrizes(clock.now, o.stock ?? 100);
  const fx = { risk: 'ok' as 'ok' | 'deny', riskChecks: 0, spends: 0, refunds: 0, compensationCrashes: 0 };
  const redeem: Command<RedeemInput> = tally.command<RedeemInput>(`${prefix}_redeem`, {
    fingerprint: (i) => ({ user: i.user, prize: i.prize, qty: i.qty }),
    retry: { maxAttempts: o.maxAttempts ?? 5, baseMs: 1000, maxMs: 60_000, random: () => 0.5 },
    ...(o.leaseMs ? { leaseMs: o.leaseMs } : {}),
    ...(o.waitMs ? { waitMs: o.waitMs } : {}),
    steps: [
      {
        name: 'spend',
        async run(ctx) {
          const risk = await ctx.decide('risk', () => {
            fx.riskChecks++;
            return fx.risk;
          });
          if (risk !== 'ok') ctx.fail('risk_denied');
          const r = await vouchers.transition({
            key: ctx.input.user,
            to: 'spent',
            action: 'spend',
            ...ctx.write,
          });
          if (r.changed.length !== 1) ctx.fail('no_voucher');
          fx.spends++;
          return { spent: ctx.input.user };
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
          query: (key: string) => prizes.query(key),
          queryAfter: o.queryAfter ?? '5s',
          classify: classifyPrizeReply,
          downstream: `${prefix}.prizes`,
          breaker: false, // breakers are not on MySQL yet (docs/mysql.md)
        },
      },
    ],
    async compensate(ctx) {
      await vouchers.transition({ key: ctx.input.user, to: 'available', action: 'refund', ...ctx.write });
      if (fx.compensationCrashes > 0) {
        fx.compensationCrashes--;
        throw new Error('crash after the refund write');
      }
      fx.refunds++;
    },
  });

  /** The voucher's state as its row holds it. */
  async function stateOf(user: string): Promise<string | undefined> {
    const [row] = await t.db.query<{ state: string }>({
      text: `SELECT state FROM ${table} WHERE id = ${t.dialect === 'mariadb' ? '?' : '$1'}`,
      values: [user],
    });
    return row?.state;
  }

  /**
   * The chain's invariants, from the log: spends = prizes issued + refunds (+ commands in doubt), each
   * command spends and refunds at most once, nothing is issued twice, C never oversells.
   */
  async function checkInvariants(opts: { inDoubt?: number } = {}) {
    const entries = (await Promise.all(users.map((u) => vouchers.history(u)))).flat();
    const spends = entries.filter((e) => e.action === 'spend');
    const refunds = entries.filter((e) => e.action === 'refund');
    expect(spends.length, 'spends = issued + refunds').toBe(
      prizes.issuedQty() + refunds.length + (opts.inDoubt ?? 0),
    );
    const byCommand = (xs: typeof entries) => xs.map((e) => e.command_id);
    for (const xs of [spends, refunds]) {
      expect(
        byCommand(xs).every((id) => id !== null),
        'every spend and refund names its command',
      ).toBe(true);
      expect(new Set(byCommand(xs)).size, 'at most once per command').toBe(xs.length);
    }
    expect(prizes.effects, 'nothing issued twice').toBe(prizes.issued.size);
    expect(prizes.stock, 'C never oversells').toBeGreaterThanOrEqual(0);
  }

  let n = 0;
  const nextKey = () => `${prefix}-key-${++n}`;
  return { tally, vouchers, redeem, prizes, clock, fx, stateOf, checkInvariants, nextKey, table };
}

/** Tally's table `name` as the dialect names it (`tally.commands`, or `tally_commands` on MySQL). */
export function tallyTableOf(t: TestDatabase, name: string): string {
  return t.dialect === 'mariadb' ? `tally_${name}` : `tally.${name}`;
}

/** Counts the rows of a query on any dialect. */
export async function countRows(t: TestDatabase, from: string): Promise<number> {
  const [row] = await t.db.query<{ n: number }>({ text: `SELECT count(*) AS n FROM (${from}) q` });
  return Number(row!.n);
}
