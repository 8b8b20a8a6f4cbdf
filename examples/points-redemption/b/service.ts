// B's business logic on Tally: accounts are an audited entity; a redemption is a once-only command that
// checks the user (the verdict is recorded), deducts 10 points per prize (an audited change in the
// command's locked transaction), asks C to issue (the request is stored and re-sent verbatim), and gives
// the points back once if C definitely refuses.
import { randomUUID } from 'node:crypto';
import type { Command, Entity, Executor, Tally } from 'tally';
import { z } from 'zod';
import { classifyIssue, type IssueRequest, issue, lookup } from './prizes-client.js';

export const APP = 'points_b';
export const POINTS_PER_PRIZE = 10;
/** The prizes C hands out (the page's choices). */
export const PRIZES = ['mug', 'hoodie', 'sticker'] as const;
/** The most prizes one redemption may ask for. */
export const MAX_QTY = 10;

/**
 * A redemption as B accepts it, checked before anything is recorded: a quantity of -50, 0, 1.5 or
 * 2147483648, or a missing or unknown prize, is refused with 400 and the failing paths, and nothing runs.
 */
export const RedeemInput = z.object({
  user: z.string().min(1).max(40),
  prize: z.enum(PRIZES),
  qty: z.number().int().min(1).max(MAX_QTY),
});
export type RedeemInput = z.infer<typeof RedeemInput>;

export interface ServiceOptions {
  cUrl: string;
  cTimeoutMs: number;
  queryAfterMs: number;
  retryBaseMs: number;
  /** The retry budget as a time (default '24h'); a count of attempts only if `maxAttempts` is set. */
  deadline?: string;
  maxAttempts?: number;
  leaseMs: number;
  /** Called at named points; the chain's tests make B stop there and kill it. */
  checkpoint(name: string, user: string): Promise<void>;
}

/**
 * B's own tables (created once; kept across restarts).
 *
 * @example
 * await createTables(db);
 */
export async function createTables(db: Executor): Promise<void> {
  await db.exec(`CREATE SCHEMA IF NOT EXISTS ${APP};
    CREATE TABLE IF NOT EXISTS ${APP}.accounts (
      id text PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0,
      points integer NOT NULL CHECK (points >= 0));
    CREATE TABLE IF NOT EXISTS ${APP}.risk (id text PRIMARY KEY, verdict text NOT NULL);`);
}

async function pointsOf(tx: Executor, user: string): Promise<number | null> {
  const [row] = await tx.query<{ points: number }>({
    text: `SELECT points FROM ${APP}.accounts WHERE id = $1 FOR UPDATE`,
    values: [user],
  });
  return row ? Number(row.points) : null;
}

/**
 * Declares the accounts entity and the redeem command on a Tally instance.
 *
 * @example
 * const { accounts, redeem } = declare(tally, options);
 */
export function declare(tally: Tally, o: ServiceOptions): { accounts: Entity; redeem: Command<RedeemInput> } {
  const accounts = tally.entity('account', {
    table: `${APP}.accounts`,
    states: { open: ['closed'], closed: [] },
  });
  const redeem = tally.command('redeem', {
    input: RedeemInput, // the input type follows from it
    fingerprint: (i) => ({ user: i.user, prize: i.prize, qty: i.qty }),
    // Attempts follow this schedule whatever the page does; the budget is a time (decision 0027).
    retry: { baseMs: o.retryBaseMs, maxMs: 30_000, ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}) },
    ...(o.deadline ? { deadline: o.deadline } : {}),
    leaseMs: o.leaseMs,
    steps: [
      {
        name: 'deduct',
        async run(ctx) {
          const verdict = await ctx.decide('risk', async () => {
            const [row] = await ctx.tx.query<{ verdict: string }>({
              text: `SELECT verdict FROM ${APP}.risk WHERE id = $1`,
              values: [ctx.input.user],
            });
            return row?.verdict ?? 'ok';
          });
          if (verdict !== 'ok') return ctx.fail('risk_denied');
          const points = await pointsOf(ctx.tx, ctx.input.user);
          if (points === null) return ctx.fail('no_account');
          const cost = POINTS_PER_PRIZE * ctx.input.qty;
          if (points < cost) return ctx.fail('insufficient_points', { needed: cost, have: points });
          await accounts.update({
            key: ctx.input.user,
            set: { points: points - cost },
            action: 'deduct',
            ...ctx.write,
          });
          await o.checkpoint('deduct:before-commit', ctx.input.user);
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
          async send(request: IssueRequest, { key }) {
            await o.checkpoint('issue:before-send', request.user);
            const reply = await issue(o.cUrl, key, request, o.cTimeoutMs);
            await o.checkpoint('issue:after-send', request.user);
            return reply;
          },
          classify: classifyIssue,
          query: (key) => lookup(o.cUrl, key, o.cTimeoutMs),
          queryAfter: o.queryAfterMs,
          // C, for every command that calls it: when it cannot be reached, its breaker opens for all.
          downstream: 'prizes',
        },
      },
    ],
    async compensate(ctx) {
      const points = await pointsOf(ctx.tx, ctx.input.user);
      const cost = POINTS_PER_PRIZE * ctx.input.qty;
      await accounts.update({
        key: ctx.input.user,
        set: { points: (points ?? 0) + cost },
        action: 'refund',
        reason: ctx.failure?.reason ?? 'refused',
        ...ctx.write,
      });
      await o.checkpoint('compensate:before-commit', ctx.input.user);
    },
    result: (outputs) => ({
      prize: outputs.issue,
      deducted: (outputs.deduct as { deducted: number }).deducted,
    }),
  });
  return { accounts, redeem };
}
