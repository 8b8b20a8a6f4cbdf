// The built-in scenario `resource-freeze` (MISSION §1, decision 0155): operators freeze and unfreeze
// resources one at a time and in chunked jobs; the process dies between chunks, after a job is created,
// after a single change, or in the middle of a log consumer's batch; the next life resumes jobs whose
// lease ran out, and operators retry with the same job key. A log-driven consumer mirrors the resources
// from the log alone. After each schedule: every state change has its log row, every job finished with
// each item changed at most once, and the consumer missed and reordered nothing.
import type { Entity } from '../../changes/entity.js';
import type { Executor } from '../../db/types.js';
import { isTallyError } from '../../errors.js';
import { reconcile } from '../../reconcile/reconcile.js';
import { createTally, type Tally } from '../../tally.js';
import { crashable } from '../crash.js';
import { describeFault as describe, drawFaults } from '../faults.js';
import { Prng } from '../prng.js';
import type { RunOptions, Scenario, Violation } from '../scenario.js';
import type { World } from '../world.js';
import { checkMirror, Mirror, mirrorDdl, mirrorTables } from './mirror.js';

const APP = 'sim_freeze';
const TALLY_SCHEMA = 'sim_freeze_tally';
const JOB_LEASE_MS = 5_000;
const HORIZON_MS = 120_000;

type State = 'active' | 'frozen';
interface Op {
  /** A job (chunked, resumable) or a single transition. */
  kind: 'job' | 'single';
  key: string;
  keys: number[];
  to: State;
  chunkSize: number;
  atMs: number;
}

export interface FreezeWorkload {
  resources: number;
  ops: Op[];
}

function draw(rng: Prng): { workload: FreezeWorkload; faults: ReturnType<typeof drawFaults> } {
  const resources = rng.int(6, 30);
  const ops: Op[] = Array.from({ length: rng.int(1, 4) }, (_, i) => {
    const job = rng.chance(0.7);
    const n = job ? rng.int(2, resources) : 1;
    const keys = [...new Set(Array.from({ length: n }, () => rng.int(1, resources)))].sort((a, b) => a - b);
    return {
      kind: job ? 'job' : 'single',
      key: `j${i + 1}`,
      keys,
      to: rng.chance(0.7) ? 'frozen' : 'active',
      chunkSize: rng.int(3, 12),
      atMs: rng.int(0, 6_000),
    } satisfies Op;
  });
  const faults = drawFaults(rng, {
    crashPoints: ['job:created', 'job:between-chunks', 'single:after', 'consumer:mid-batch'],
    parties: ['none'],
    requests: ops.length,
    spanMs: 10_000,
  }).filter((f) => f.kind === 'crash'); // no downstream party here: the faults are the process's deaths
  return { workload: { resources, ops }, faults };
}

/** One life of the process: its Tally, the resources entity and the log consumer. */
interface Life {
  tally: Tally;
  resources: Entity;
  mirror: Mirror;
}

async function boot(world: World, db: Executor, mirrorIds: Prng, options: RunOptions): Promise<Life> {
  const tally = await createTally({
    db,
    schema: TALLY_SCHEMA,
    clock: world.clock.now,
    ids: world.ids,
    jobLeaseMs: JOB_LEASE_MS,
    ...(options.mutant ? { mutant: options.mutant } : {}),
  });
  const resources = tally.entity('resource', {
    table: `${APP}.resources`,
    states: { active: ['frozen'], frozen: ['active'] },
  });
  const feedTally = await createTally({
    db,
    schema: TALLY_SCHEMA,
    clock: world.clock.now,
    ids: () => mirrorIds.uuid(),
    ...(options.mutant ? { mutant: options.mutant } : {}),
  });
  return { tally, resources, mirror: new Mirror(world, APP, 'resource', feedTally, db) };
}

async function run(world: World, db: Executor, w: FreezeWorkload, options: RunOptions): Promise<Violation[]> {
  await db.exec(
    [
      ...mirrorTables(APP),
      `${APP}.resources`,
      ...['log', 'job_items', 'jobs', 'feed_consumers'].map((t) => `${TALLY_SCHEMA}.${t}`),
    ]
      .map((t) => `DELETE FROM ${t};`)
      .join('\n'),
  );
  const mirrorIds = new Prng(world.seed, 4);
  let life!: Life;
  const start = async () => {
    life = await boot(world, crashable(db, world.life), mirrorIds, options);
  };
  world.onRestart(start);
  await start();
  const rows = Array.from({ length: w.resources }, (_, i) => ({ id: i + 1, state: 'active' }));
  await life.resources.create({ rows, actor: 'sim:setup' });
  world.log(`start: ${w.resources} resources, ${w.ops.length} operations`);
  for (const f of world.faults.faults) world.log(`fault planned: ${describe(f)}`);

  /** An operator: a job is created (by key: a retry finds the same job) and run; a single change is sent. */
  const operator = (op: Op, tries: number) => {
    const label = `${op.kind} ${op.key} ${op.to} ${op.keys.length === 1 ? op.keys[0] : `${op.keys.length} keys`}`;
    const later = (n: number) =>
      world.at(world.clock.elapsed + world.jitter.int(1_000, 4_000), `${label} retry`, attempt(n), {
        onCrash: cut(n),
      });
    const cut = (n: number) => () => {
      world.log(`ops ${label} try ${n}: connection cut`);
      if (n < tries) later(n + 1);
    };
    const attempt = (n: number) => async (): Promise<void> => {
      let outcome: string;
      let again = false;
      try {
        if (op.kind === 'single') {
          const r = await life.resources.transition({
            key: op.keys[0]!,
            to: op.to,
            actor: 'ops',
            reason: op.key,
          });
          world.point('single:after');
          outcome = r.changed.length ? 'changed' : r.unchanged.length ? 'unchanged' : 'rejected';
        } else {
          const job = await life.resources.job({
            key: op.key,
            keys: op.keys,
            to: op.to,
            actor: 'ops',
            reason: op.key,
            chunkSize: op.chunkSize,
          });
          world.point('job:created');
          const s = await job.run({ onChunk: async () => world.point('job:between-chunks') });
          outcome = `${s.status} changed ${s.changed} unchanged ${s.unchanged} rejected ${s.rejected}`;
        }
      } catch (err) {
        if (world.life.dead || (err as Error)?.name === 'SimCrash') throw err;
        outcome = isTallyError(err) ? err.code : `error ${(err as Error)?.name}`;
        again = isTallyError(err, 'JOB_BUSY') || isTallyError(err, 'JOB_LEASE_LOST');
      }
      world.log(`ops ${label} try ${n}: ${outcome}`);
      if (again && n < tries) later(n + 1);
    };
    return { attempt, cut };
  };
  for (const op of w.ops) {
    const o = operator(op, 4);
    world.at(op.atMs, `ops ${op.key}`, o.attempt(1), { onCrash: o.cut(1) });
  }

  const unfinished = async () => {
    const [row] = await db.query<{ n: number }>({
      text: `SELECT count(*)::int AS n FROM ${TALLY_SCHEMA}.jobs WHERE status IN ('pending', 'running')`,
    });
    return Number(row?.n);
  };
  // The process's resumer: jobs whose runner died are picked up once their lease has run out.
  const nextResume = () =>
    world.at(world.clock.elapsed + world.jitter.int(2_000, 6_000), 'resume', resume, {
      background: true,
      onCrash: nextResume,
    });
  const resume = async () => {
    if ((await unfinished()) > 0) {
      const r = await life.tally.jobs.resume({ onChunk: async () => world.point('job:between-chunks') });
      for (const s of r.resumed) world.log(`resumed job ${s.key}: ${s.status} changed ${s.changed}`);
    }
    nextResume();
  };
  nextResume();
  const mirrorJitter = new Prng(world.seed, 5);
  const nextDelivery = () =>
    world.at(world.clock.elapsed + mirrorJitter.int(2_000, 8_000), 'consumer', deliver, {
      background: true,
      onCrash: nextDelivery,
    });
  const deliver = async () => {
    const n = await life.mirror.round();
    if (n > 0) world.log(`consumer delivered ${n}`);
    nextDelivery();
  };
  nextDelivery();
  await world.run(HORIZON_MS, async () => (await unfinished()) === 0);
  world.log(`end at +${(world.clock.elapsed / 1000).toFixed(3)}s`);
  world.settle();

  const live = world.life.dead ? await boot(world, db, mirrorIds, options) : life;
  return [
    ...(await checkJobs(db, w, live.resources, world)),
    ...(await checkMirror(live.mirror, db, TALLY_SCHEMA, `${APP}.resources`)),
  ];
}

/** `state-has-log` and `jobs-finish-once`. */
async function checkJobs(
  db: Executor,
  w: FreezeWorkload,
  resources: Entity,
  world: World,
): Promise<Violation[]> {
  const out: Violation[] = [];
  const report = await reconcile([resources], { clock: world.clock.now });
  if (!report.ok) {
    const kinds = [...new Set(report.findings.map((f) => f.kind))].join(', ');
    out.push({
      invariant: 'state-has-log',
      message: `the reconciler found ${report.findings.length} finding(s): ${kinds}`,
    });
  }
  const jobs = await db.query<{
    key: string;
    status: string;
    total: number;
    changed: number;
    unchanged: number;
    rejected: number;
    logged: number;
  }>({
    text: `SELECT j.key, j.status, j.total::int AS total, j.changed::int AS changed, j.unchanged::int AS unchanged,
        j.rejected::int AS rejected,
        (SELECT count(*)::int FROM ${TALLY_SCHEMA}.log l WHERE l.entity_type = 'resource' AND l.reason = j.key) AS logged
      FROM ${TALLY_SCHEMA}.jobs j ORDER BY j.key`,
  });
  for (const j of jobs) {
    if (j.status !== 'done')
      out.push({ invariant: 'jobs-finish-once', message: `job ${j.key} is ${j.status} at the end` });
    else if (j.changed + j.unchanged + j.rejected !== j.total)
      out.push({
        invariant: 'jobs-finish-once',
        message: `job ${j.key} is done with ${j.total - j.changed - j.unchanged - j.rejected} item(s) without a result`,
      });
    if (j.logged !== j.changed)
      out.push({
        invariant: 'jobs-finish-once',
        message: `job ${j.key} changed ${j.changed} item(s) but wrote ${j.logged} log row(s)`,
      });
  }
  const expected = w.ops.filter((o) => o.kind === 'job').length;
  const created = new Set(jobs.map((j) => j.key));
  for (const o of w.ops)
    if (o.kind === 'job' && !created.has(o.key) && expected > 0)
      out.push({
        invariant: 'jobs-finish-once',
        message: `job ${o.key} was never created (its operator gave up)`,
      });
  return out;
}

/** The resource-freeze batch of MISSION §1 as a built-in scenario. */
export const resourceFreeze: Scenario<FreezeWorkload> = {
  name: 'resource-freeze',
  invariants: ['state-has-log', 'jobs-finish-once', 'feed-no-miss-no-reorder'],
  async prepare(db) {
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${APP};
      CREATE TABLE IF NOT EXISTS ${APP}.resources (
        id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0);
      ${mirrorDdl(APP)}`);
    await (await createTally({ db, schema: TALLY_SCHEMA })).migrate();
  },
  draw,
  run,
};
