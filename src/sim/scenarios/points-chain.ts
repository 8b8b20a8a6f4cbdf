// The points-redemption chain (examples/points-redemption) as the simulator runs it: B's accounts entity
// and `redeem` command, declared as the example declares them, on the world's clock, ids and jitter, with
// C as a simulated party. Crash points sit where the example's own crash tests stop B.
import type { Entity } from '../../changes/entity.js';
import type { Command } from '../../commands/command.js';
import type { Reply } from '../../commands/definition.js';
import type { Executor } from '../../db/types.js';
import type { MutantName } from '../../mutants.js';
import { createTally } from '../../tally.js';
import type { Worker } from '../../worker/worker.js';
import type { PartySpec, SimParty } from '../party.js';
import type { World } from '../world.js';
import { mirrorDdl, mirrorTables } from './mirror.js';

export const APP = 'sim_points';
export const TALLY_SCHEMA = 'sim_tally';
export const POINTS = 10;
export const START_POINTS = 100;
export const DEADLINE_MS = 60_000;
export const LEASE_MS = 5_000;

export interface Input {
  user: string;
  prize: string;
  qty: number;
}
interface IssueRequest extends Input {
  ref: string;
  ts: string;
  nonce: string;
}
interface IssueReply {
  httpStatus: number;
  status?: 'issued' | 'refused';
  prizeId?: string;
}

/** What C has recorded: one entry per downstream key. */
export interface PrizeRecord {
  outcome: 'success' | 'failure';
  prizeId?: string;
  request: IssueRequest;
}

/** C, the prize platform: idempotent by key, limited stock, a callback after each decision. */
export function prizeParty(
  records: Map<string, PrizeRecord>,
  stock: { left: number },
): PartySpec<IssueRequest, IssueReply> {
  let next = 1;
  const reply = (r: PrizeRecord): IssueReply =>
    r.outcome === 'success'
      ? { httpStatus: 200, status: 'issued', prizeId: r.prizeId! }
      : { httpStatus: 200, status: 'refused' };
  return {
    name: 'prizes',
    act(key, request) {
      const known = records.get(key);
      if (known) return reply(known);
      const ok = stock.left >= request.qty;
      if (ok) stock.left -= request.qty;
      const r: PrizeRecord = ok
        ? { outcome: 'success', prizeId: `P-${next++}`, request }
        : { outcome: 'failure', request };
      records.set(key, r);
      return reply(r);
    },
    unavailable: () => ({ httpStatus: 503 }),
    lookup(key) {
      const r = records.get(key);
      if (!r) return { outcome: 'not_found' };
      return r.outcome === 'success'
        ? { outcome: 'success', value: { prizeId: r.prizeId } }
        : { outcome: 'failure', reason: 'out_of_stock' };
    },
    message(key) {
      const r = records.get(key)!;
      return r.outcome === 'success'
        ? { outcome: 'success', value: { prizeId: r.prizeId } }
        : { outcome: 'failure', reason: 'out_of_stock' };
    },
    show: (r) => (r.status ? `${r.status}${r.prizeId ? ` ${r.prizeId}` : ''}` : `http ${r.httpStatus}`),
  };
}

function classify(reply: Reply<IssueReply>) {
  if (!reply.ok) {
    const e = reply.error as { name?: string; code?: string };
    return { outcome: 'unknown' as const, reason: e.code ?? e.name ?? 'error' };
  }
  const v = reply.value;
  if (v.httpStatus === 200 && v.status === 'issued')
    return { outcome: 'success' as const, value: { prizeId: v.prizeId } };
  if (v.httpStatus === 200 && v.status === 'refused')
    return { outcome: 'failure' as const, reason: 'out_of_stock' };
  return { outcome: 'unknown' as const, reason: `c_http_${v.httpStatus}` };
}

/** B on one incarnation: its Tally, entity, command and worker. */
export interface B {
  accounts: Entity;
  redeem: Command<Input>;
  worker: Worker;
}

/** Boots B on `db` (the incarnation's view of the database) with C behind `party`. */
export async function bootB(
  world: World,
  db: Executor,
  party: SimParty<IssueRequest, IssueReply>,
  mutant: MutantName | undefined,
): Promise<B> {
  const tally = await createTally({
    db,
    schema: TALLY_SCHEMA,
    clock: world.clock.now,
    ids: world.ids,
    ...(mutant ? { mutant } : {}),
  });
  const accounts = tally.entity('account', {
    table: `${APP}.accounts`,
    states: { open: ['closed'], closed: [] },
  });
  const pointsOf = async (tx: Executor, user: string) => {
    const [row] = await tx.query<{ points: number }>({
      text: `SELECT points FROM ${APP}.accounts WHERE id = $1 FOR UPDATE`,
      values: [user],
    });
    return row ? Number(row.points) : null;
  };
  const redeem = tally.command('redeem', {
    fingerprint: (i: Input) => ({ user: i.user, prize: i.prize, qty: i.qty }),
    retry: { baseMs: 1000, maxMs: 8000, random: () => world.jitter.next() },
    deadline: DEADLINE_MS,
    leaseMs: LEASE_MS,
    steps: [
      {
        name: 'deduct',
        async run(ctx) {
          const input = ctx.input as Input;
          const points = await pointsOf(ctx.tx, input.user);
          if (points === null) return ctx.fail('no_account');
          const cost = POINTS * input.qty;
          if (points < cost) return ctx.fail('insufficient_points');
          await accounts.update({
            key: input.user,
            set: { points: points - cost },
            action: 'deduct',
            ...ctx.write,
          });
          world.point('deduct:mid-step');
          return { deducted: cost };
        },
      },
      {
        name: 'issue',
        call: {
          request: (ctx): IssueRequest => {
            const i = ctx.input as Input;
            return { ...i, ref: ctx.key, ts: ctx.now.toISOString(), nonce: world.ids() };
          },
          async send(request: IssueRequest, { key }) {
            world.point('issue:before-send');
            const reply = await party.send(key, request);
            world.point('issue:after-send');
            return reply;
          },
          classify,
          query: (key) => party.query(key),
          queryAfter: 3000,
          downstream: 'prizes',
        },
      },
    ],
    async compensate(ctx) {
      const input = ctx.input as Input;
      const points = await pointsOf(ctx.tx, input.user);
      await accounts.update({
        key: input.user,
        set: { points: (points ?? 0) + POINTS * input.qty },
        action: 'refund',
        ...ctx.write,
      });
      world.point('compensate:mid-step');
    },
  }) as Command<Input>;
  const worker = tally.worker({
    id: `worker:life-${world.life.n}`,
    leaseMs: LEASE_MS,
    batchSize: 16,
    concurrency: 1,
  });
  return { accounts, redeem, worker };
}

/** B's tables, once per run. */
export async function createTables(db: Executor): Promise<void> {
  await db.exec(`CREATE SCHEMA IF NOT EXISTS ${APP};
    CREATE TABLE IF NOT EXISTS ${APP}.accounts (
      id text PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0,
      points integer NOT NULL CHECK (points >= 0));
    ${mirrorDdl(APP)}`);
}

/**
 * Empties what the last schedule left (the run then opens the accounts again, through the log). DELETE,
 * not TRUNCATE: on these few rows it is about ten times cheaper on PGlite, and nothing in a trace reads
 * the identity columns it leaves running on.
 */
export async function resetTables(db: Executor): Promise<void> {
  const t = (n: string) => `${TALLY_SCHEMA}.${n}`;
  await db.exec(
    [
      APP + '.accounts',
      ...mirrorTables(APP),
      t('feed_consumers'),
      t('log'),
      t('command_alerts'),
      t('command_events'),
      t('command_calls'),
      t('commands'),
      t('downstreams'),
    ]
      .map((x) => `DELETE FROM ${x};`)
      .join('\n'),
  );
}
