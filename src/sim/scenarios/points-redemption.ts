// The built-in scenario `points-redemption`: A (clients that retry with the same key) → B (Tally's
// redeem command) → C (a simulated prize platform). A schedule is a few redemptions by two users against
// a small stock, with faults drawn from the seed.

import type { Executor } from '../../db/types.js';
import { isTallyError } from '../../errors.js';
import { createTally } from '../../tally.js';
import { crashable } from '../crash.js';
import { describeFault as describe, drawFaults, type Fault } from '../faults.js';
import { SimParty } from '../party.js';
import { Prng } from '../prng.js';
import type { RunOptions, Scenario, Violation } from '../scenario.js';
import type { World } from '../world.js';
import { checkMirror, Mirror } from './mirror.js';
import {
  APP,
  type B,
  bootB,
  createTables,
  DEADLINE_MS,
  type Input,
  type PrizeRecord,
  prizeParty,
  resetTables,
  TALLY_SCHEMA,
} from './points-chain.js';
import { checkPoints, type Seen } from './points-invariants.js';

const USERS = ['alice', 'bob'] as const;
const PRIZES = ['mug', 'hoodie', 'sticker'] as const;

export interface PointsWorkload {
  requests: (Input & { key: string; atMs: number })[];
  stock: number;
}

function draw(rng: Prng): { workload: PointsWorkload; faults: ReturnType<typeof drawFaults> } {
  const n = rng.int(1, 4);
  const requests = Array.from({ length: n }, (_, i) => ({
    key: `k${i + 1}`,
    user: rng.pick(USERS),
    prize: rng.pick(PRIZES),
    qty: rng.int(1, 3),
    atMs: rng.int(0, 4_000),
  }));
  const workload = { requests, stock: rng.int(1, 8) };
  const faults: Fault[] = drawFaults(rng, {
    crashPoints: [
      'deduct:mid-step',
      'issue:before-send',
      'issue:after-send',
      'compensate:mid-step',
      'respond',
    ],
    parties: ['prizes'],
    requests: n,
    spanMs: 10_000,
  });
  // The log consumer's crash is drawn after the rest, so that a seed's other faults stay what they were.
  if (rng.chance(0.25)) faults.push({ kind: 'crash', point: 'consumer:mid-batch', nth: rng.int(1, 2) });
  return { workload, faults };
}

/** The log consumer that mirrors the accounts, on one life of B (its own Tally, its own ids). */
async function openMirror(
  world: World,
  db: Executor,
  ids: Prng,
  mutant: RunOptions['mutant'],
): Promise<Mirror> {
  const tally = await createTally({
    db,
    schema: TALLY_SCHEMA,
    clock: world.clock.now,
    ids: () => ids.uuid(),
    ...(mutant ? { mutant } : {}),
  });
  return new Mirror(world, APP, 'account', tally, db);
}

async function run(world: World, db: Executor, w: PointsWorkload, options: RunOptions): Promise<Violation[]> {
  await resetTables(db);
  const records = new Map<string, PrizeRecord>();
  const stock = { left: w.stock };
  let b!: B;
  let mirror!: Mirror;
  // The consumer's ids and timing come from streams of their own: the chain's ids and jitter stay as
  // they were without it.
  const mirrorIds = new Prng(world.seed, 4);
  const mirrorJitter = new Prng(world.seed, 5);
  const party = new SimParty(prizeParty(records, stock), world, async (key, m) => {
    const r = await b.redeem.notify(key, m);
    return r.status;
  });
  const boot = async () => {
    const life = crashable(db, world.life);
    b = await bootB(world, life, party, options.mutant);
    mirror = await openMirror(world, life, mirrorIds, options.mutant);
  };
  world.onRestart(boot);
  await boot();
  await b.accounts.create({
    rows: USERS.map((id) => ({ id, state: 'open', points: 100 })),
    actor: 'sim:setup',
  });
  world.log(`start: ${w.requests.length} redemptions, stock ${w.stock}`);
  for (const f of world.faults.faults) world.log(`fault planned: ${describe(f)}`);

  const seen: Seen[] = [];
  /** Client A: one try now; on "not final yet", a cut connection or 409 it tries again with the same key. */
  const client = (label: string, input: Input, key: string, tries: number) => {
    const later = (n: number) =>
      world.at(world.clock.elapsed + world.jitter.int(1_000, 3_000), `${label} retry`, attempt(n), {
        onCrash: cut(n),
      });
    const cut = (n: number) => () => {
      world.log(`A ${label} try ${n}: connection cut`);
      if (n < tries) later(n + 1);
    };
    const attempt = (n: number) => async (): Promise<void> => {
      let outcome: string;
      let again = false;
      try {
        const r = await b.redeem.submit({ key, principal: input.user, input });
        world.point('respond');
        outcome = r.status;
        if (r.status === 'succeeded' || r.status === 'failed') seen.push({ key, input, status: r.status });
        else again = true;
      } catch (err) {
        if (world.life.dead || (err as Error)?.name === 'SimCrash') throw err;
        outcome = isTallyError(err) ? err.code : `error ${(err as Error)?.name}`;
        again = !isTallyError(err) || err.code === 'COMMAND_IN_FLIGHT';
      }
      world.log(`A ${label} try ${n}: ${outcome}`);
      if (again && n < tries) later(n + 1);
    };
    return { attempt, cut };
  };
  let last = 0;
  w.requests.forEach((r, i) => {
    const input = { user: r.user, prize: r.prize, qty: r.qty };
    last = Math.max(last, r.atMs);
    const c = client(`${r.key} ${r.user} ${r.prize}x${r.qty}`, input, r.key, 5);
    world.at(r.atMs, `A ${r.key}`, c.attempt(1), { onCrash: c.cut(1) });
    for (const f of world.faults.faults) {
      if (f.kind !== 'key-reuse' || f.request !== i) continue;
      const other = { ...input, qty: (r.qty % 3) + 1 };
      const c2 = client(`${r.key} reused ${r.user} ${r.prize}x${other.qty}`, other, r.key, 1);
      world.at(
        r.atMs + f.afterMs,
        `A ${r.key} reused`,
        async () => {
          world.faults.fire(f);
          await c2.attempt(1)();
        },
        { onCrash: c2.cut(1) },
      );
    }
  });
  const nextRound = () =>
    world.at(world.clock.elapsed + world.jitter.int(1_000, 4_000), 'round', round, {
      background: true,
      onCrash: nextRound,
    });
  const open = async () => {
    const [row] = await db.query<{ n: number }>({
      text: `SELECT count(*)::int AS n FROM ${TALLY_SCHEMA}.commands WHERE status IN ('pending', 'compensating')`,
    });
    return Number(row?.n);
  };
  const round = async () => {
    // A round with nothing open would claim nothing: skip its three statements (a quarter of a schedule's).
    if ((await open()) === 0) return nextRound();
    const res = await b.worker.runOnce();
    if (res.claimed > 0) {
      const done = res.results.map((x) => `${x.key}:${x.status}`).join(' ');
      world.log(`B worker claimed ${res.claimed}: ${done}`);
    }
    nextRound();
  };
  nextRound();
  const nextDelivery = () =>
    world.at(world.clock.elapsed + mirrorJitter.int(2_000, 8_000), 'consumer', deliver, {
      background: true,
      onCrash: nextDelivery,
    });
  const deliver = async () => {
    const n = await mirror.round();
    if (n > 0) world.log(`B consumer delivered ${n}`);
    nextDelivery();
  };
  nextDelivery();
  const horizon = last + DEADLINE_MS + 30_000;
  await world.run(horizon, async () => (await open()) === 0);
  world.log(`end at +${(world.clock.elapsed / 1000).toFixed(3)}s`);
  world.settle();
  // The invariants read through a live incarnation: the last one, unless it died in its last event.
  const dead = world.life.dead;
  const accounts = dead ? (await bootB(world, db, party, undefined)).accounts : b.accounts;
  const out = await checkPoints({ db, world, records, seen, accounts });
  const live = dead ? await openMirror(world, db, mirrorIds, options.mutant) : mirror;
  return [...out, ...(await checkMirror(live, db, TALLY_SCHEMA, `${APP}.accounts`))];
}

/** The points-redemption chain of examples/points-redemption as a built-in scenario. */
export const pointsRedemption: Scenario<PointsWorkload> = {
  name: 'points-redemption',
  invariants: [
    'at-most-once-downstream',
    'exactly-once-on-success',
    'compensation-once-never-after-success',
    'state-has-log',
    'deadline-flagged',
    'feed-no-miss-no-reorder',
  ],
  async prepare(db) {
    await createTables(db);
    const tally = await createTally({ db, schema: TALLY_SCHEMA });
    await tally.migrate();
  },
  draw,
  run,
};
