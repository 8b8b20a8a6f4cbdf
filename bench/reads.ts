// `npm run bench -- reads`: MISSION §3 as a workload. 1,000 users, each acting on average every 500 ms
// (exponential gaps), 10% writes and 90% reads of its own row, against a real replica that applies commits
// late: PostgreSQL's streaming replica 200 ms late, or — with DATABASE_URL=mysql://… — MariaDB's
// (scripts/mariadb-replica.sh, MASTER_DELAY 1 s: MariaDB counts whole seconds). The same workload runs
// three ways:
//   tally         reads carry the user's causal token (replica if replayed, brief wait, else primary)
//   force_primary the field fix: every read of one's own data inside forcePrimary(...)
//   naive         reads go to the replica, no token
// A read is stale when it returns a value older than the user's own last completed write.
// The last line printed is one JSON object (with "dialect":"mariadb" on MariaDB).
import { createReadRouter, type ReadRouter } from '../src/reads/router.js';
import { forcePrimary } from '../src/reads/scope.js';
import type { CausalToken } from '../src/reads/token.js';
import { mariadbSetup } from './_reads-mariadb.js';
import { postgresSetup } from './_reads-postgres.js';
import type { ReadsBenchSetup } from './_reads-setup.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const USERS = 1000;
const MEAN_GAP_MS = 500;
const WRITE_SHARE = 0.1;
const MYSQL = /^(mysql|mariadb):/.test(process.env.DATABASE_URL ?? '');

type Mode = 'tally' | 'force_primary' | 'naive';

interface Result {
  mode: Mode;
  reads: number;
  writes: number;
  replicaReads: number;
  stale: number;
  p50: number;
  p99: number;
}

// Seeded randomness: every mode sees the same kind of schedule, and reruns are comparable.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

async function workload(
  mode: Mode,
  router: ReadRouter,
  env: ReadsBenchSetup,
  seed: number,
  seconds = SECONDS,
): Promise<Result> {
  const random = rng(seed);
  const latencies: number[] = [];
  let writes = 0;
  let replicaReads = 0;
  let stale = 0;
  const end = performance.now() + seconds * 1000;
  const user = async (id: number) => {
    let token: CausalToken | null = null;
    let written = 0; // the value of this user's last completed write
    let next = 0;
    await sleep(random() * MEAN_GAP_MS); // spread the start
    while (performance.now() < end) {
      if (random() < WRITE_SHARE) {
        const value = ++next;
        const w = await router.execute(env.update(value, id));
        token = w.token;
        written = value;
        writes++;
      } else {
        const q = env.select(id);
        const t0 = performance.now();
        const r =
          mode === 'force_primary'
            ? await forcePrimary(() => router.execute<{ v: string }>(q))
            : await router.execute<{ v: string }>(q, { token: mode === 'tally' ? token : null });
        latencies.push(performance.now() - t0);
        if (r.route.target !== 'primary') replicaReads++;
        if (Number(r.rows[0]!.v) < written) stale++;
      }
      await sleep(-Math.log(1 - random()) * MEAN_GAP_MS); // exponential gap, mean 500 ms
    }
  };
  await Promise.all(Array.from({ length: USERS }, (_, i) => user(i + 1)));
  latencies.sort((a, b) => a - b);
  return {
    mode,
    reads: latencies.length,
    writes,
    replicaReads,
    stale,
    p50: Math.round(pct(latencies, 0.5) * 100) / 100,
    p99: Math.round(pct(latencies, 0.99) * 100) / 100,
  };
}

async function main(): Promise<void> {
  const env = await (MYSQL ? mariadbSetup(USERS) : postgresSetup(USERS));
  console.log(
    `reads (${env.dialect}): ${USERS} users, mean gap ${MEAN_GAP_MS} ms, ${WRITE_SHARE * 100}% writes, replica ${env.delay} behind, ${SECONDS} s per mode`,
  );
  const results: Result[] = [];
  try {
    const router = await createReadRouter({
      shard: 'bench',
      primary: env.primary,
      replicas: [{ name: 'r1', pool: env.replica }],
      tokenWaitMs: 25,
    });
    try {
      // Warm-up (not measured): fill both pools and let the planner cache settle.
      await workload('naive', router, env, 7, 2);
      router.resetStats();
      for (const mode of ['tally', 'force_primary', 'naive'] as const) {
        await env.reset();
        const r = await workload(mode, router, env, 42);
        results.push(r);
        const share = r.replicaReads / r.reads;
        console.log(
          `${mode.padEnd(14)} reads ${String(r.reads).padStart(6)}  writes ${String(r.writes).padStart(5)}  ` +
            `on replicas ${(share * 100).toFixed(1).padStart(5)}%  stale ${String(r.stale).padStart(5)}  ` +
            `p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`,
        );
      }
      const s = router.stats();
      console.log(`router decisions (all modes): ${JSON.stringify(s.reasons)}`);
    } finally {
      await router.close();
    }
  } finally {
    await env.close();
  }
  const by = (m: Mode) => results.find((r) => r.mode === m)!;
  const share = (m: Mode) => Math.round((by(m).replicaReads / by(m).reads) * 1000) / 1000;
  console.log(
    JSON.stringify({
      bench: 'reads',
      tally_replica_share: share('tally'),
      tally_stale: by('tally').stale,
      naive_stale: by('naive').stale,
      force_primary_replica_share: share('force_primary'),
      tally_p99_ms: by('tally').p99,
      ...(env.dialect === 'mariadb' ? { dialect: 'mariadb' } : {}),
    }),
  );
}

await main();
