// `npm run bench -- feed`: commit -> NATS JetStream publish-ack through Tally's relay, next to a naive
// `id > last_seen` poller.
//
// Against PostgreSQL (DATABASE_URL, default the local server) in a dedicated database `tally_bench_feed`
// created and dropped for each phase, and NATS at NATS_URL (default 127.0.0.1:4222) in dedicated streams
// deleted before and after:
//   items(id int PK, state text, version int, owner text) — 4 × 20,000 rows.
//   Load (bench/_feed-writers.ts, a child process): 4 concurrent writers, each `entity.transition({ keys,
//   to })` over its own keys in batches of BATCH (one transaction, BATCH log rows each), for SECONDS.
//   A writer records the commit time of every log row (key, version) when transition() resolves.
//   The relay (or the poller) runs in this process and records the publish-ack time of each entry.
// Phases, each on a fresh database:
//   (1) tally, full speed   writers as fast as they go; startRelay() polling every 20 ms -> events/s
//   (2) tally, paced        writers offered RATE entries/s in total -> p50/p99 below saturation
//   (3) naive, full speed   the same load with a poller reading `id > last` (the field practice),
//                           publishing the same way (async acks) -> events/s and its gaps
// events/s = entries published / (last ack - writers' start). gaps = committed, never published;
// duplicates = published twice (the stream's message count is checked too). The last line is JSON.
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { postgres } from '../src/db/postgres/index.js';
import type { Executor, Row, SqlQuery } from '../src/db/types.js';
import { connectNats } from '../src/feed/nats/connect.js';
import { startRelay } from '../src/feed/nats/index.js';
import { AckedPublisher } from '../src/feed/nats/publish.js';
import { setFeedNotify } from '../src/feed/notify.js';
import { createTally } from '../src/tally.js';
import { now, percentile } from './_feed-load.js';
import { startNaivePoller } from './_feed-naive.js';
import { dedicatedDatabase, load, masked, PG_URL, round, since } from './_shared.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const WRITERS = 4;
const BATCH = Number(process.env.BENCH_FEED_BATCH ?? 500);
const SECONDS = Number(process.env.BENCH_FEED_SECONDS ?? 8);
const RATE = Number(process.env.BENCH_FEED_RATE ?? 4000);
const PER_WRITER = 20_000;
const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const STREAMS = { tally: 'TALLY_BENCH_FEED', naive: 'TALLY_BENCH_FEED_NAIVE' } as const;

const RELAY_BATCH = Number(process.env.BENCH_FEED_RELAY_BATCH ?? 2000);
const RELAY_IN_FLIGHT = Number(process.env.BENCH_FEED_RELAY_IN_FLIGHT ?? 1024);
const RELAY_MIN_BATCH = process.env.BENCH_FEED_RELAY_MIN_BATCH
  ? Number(process.env.BENCH_FEED_RELAY_MIN_BATCH)
  : undefined;
// Which phases to run (comma list of full, paced, notify, naive); default all. The JSON line needs all.
const PHASES = new Set((process.env.BENCH_FEED_PHASES ?? 'full,paced,notify,naive').split(','));

// Where the relay's time goes: time inside publish (send + every ack) against the whole phase.
let publishMs = 0;
// BENCH_FEED_TRACE=1: for the slowest transactions of a phase, when their entries began to be published.
const TRACE = process.env.BENCH_FEED_TRACE === '1';
const publishStarts = new Map<string, number>(); // log id -> publish call start
const publish = AckedPublisher.prototype.publish;
AckedPublisher.prototype.publish = async function (
  this: AckedPublisher,
  ...args: Parameters<typeof publish>
) {
  const t0 = performance.now();
  if (TRACE) for (const e of args[0]) publishStarts.set(e.id, performance.timeOrigin + t0);
  try {
    return await publish.apply(this, args);
  } finally {
    publishMs += performance.now() - t0;
  }
};

// And how long the feed's page reads took (round trip and row parsing; they overlap publishing).
let readMs = 0;
let reads = 0;
function timedReads(db: Executor): Executor {
  return {
    ...db,
    dialect: db.dialect,
    inTransaction: db.inTransaction,
    async query<R extends Row = Row>(q: SqlQuery): Promise<R[]> {
      if (
        !q.text.includes('NOT pg_visible_in_snapshot(t.txid, $2::pg_snapshot)') ||
        !q.text.includes('LIMIT')
      )
        return db.query<R>(q);
      const t0 = performance.now();
      try {
        return await db.query<R>(q);
      } finally {
        readMs += performance.now() - t0;
        reads++;
      }
    },
    exec: (text) => db.exec(text),
    transaction: (fn, o) => db.transaction(fn, o),
    close: () => db.close(),
  };
}

const log = (msg: string) => console.log(msg);
const wallStart = performance.now();
log(`feed: PostgreSQL at ${masked(PG_URL)}, database tally_bench_feed; NATS ${NATS_URL}; ${load()}`);
log(
  `load: ${WRITERS} writers (child process) x transitions of ${BATCH} rows, ${SECONDS} s per phase; paced phase offers ${RATE.toLocaleString('en')}/s; relay batches of ${RELAY_BATCH}, ${RELAY_IN_FLIGHT} publishes in flight`,
);

const nc = await connectNats(NATS_URL);
const jsm = await nc.jetstreamManager();
const dropStreams = async () => {
  for (const s of Object.values(STREAMS)) await jsm.streams.delete(s).catch(() => false);
};
await dropStreams();

interface Phase {
  label: string;
  committed: number;
  published: number;
  duplicates: number;
  gaps: number;
  perS: number;
  committedPerS: number;
  p50: number;
  p99: number;
}

/** Starts the writers' child; resolves its commit times once it is done. */
function writers(
  url: string,
  rate: number,
): {
  go(): void;
  ready: Promise<void>;
  done: Promise<{ commits: Map<string, number>; startedAt: number; endedAt: number; transactions: number }>;
} {
  const child: ChildProcess = fork(join(HERE, '_feed-writers.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      FEED_DB_URL: url,
      FEED_WRITERS: String(WRITERS),
      FEED_PER_WRITER: String(PER_WRITER),
      FEED_BATCH: String(BATCH),
      FEED_SECONDS: String(SECONDS),
      FEED_RATE: String(rate),
    },
  });
  const commits = new Map<string, number>();
  let readyResolve: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const done = new Promise<{
    commits: Map<string, number>;
    startedAt: number;
    endedAt: number;
    transactions: number;
  }>((resolve, reject) => {
    child.on('message', (m: any) => {
      if (m.ready) readyResolve();
      if (m.commits) for (const [k, t] of m.commits) commits.set(k, t);
      if (m.done)
        resolve({
          commits,
          startedAt: m.done.startedAt,
          endedAt: m.done.endedAt,
          transactions: m.done.transactions,
        });
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`writers exited with ${code}`));
    });
  });
  return { go: () => child.send('go'), ready, done };
}

/** Prints the five slowest transactions: commit -> publish start -> first and last ack, per entry range. */
async function traceSlowest(
  pool: pg.Pool,
  s: string,
  commits: Map<string, number>,
  acked: Map<string, number>,
): Promise<void> {
  const { rows } = await pool.query(
    `SELECT txid::text AS tx, min(id)::text AS first, max(id)::text AS last, count(*)::int AS n,
            array_agg(entity_key || ':' || version ORDER BY id) AS keys, array_agg(id::text ORDER BY id) AS ids
       FROM ${s}.log WHERE actor LIKE 'bench:%' GROUP BY txid`,
  );
  const txs = rows.map((r) => {
    const c = commits.get(r.keys[0]) ?? Number.NaN;
    const acks = (r.keys as string[]).map((k) => acked.get(k) ?? Number.NaN);
    const starts = (r.ids as string[]).map((id) => publishStarts.get(id) ?? Number.NaN);
    return {
      tx: r.tx,
      n: r.n,
      commit: c,
      worst: Math.max(...acks) - c,
      startFirst: Math.min(...starts) - c,
      startLast: Math.max(...starts) - c,
      ackFirst: Math.min(...acks) - c,
    };
  });
  txs.sort((a, b) => b.worst - a.worst);
  const t0 = Math.min(...txs.map((t) => t.commit));
  for (const t of txs.slice(0, 5)) {
    const near = txs.filter((o) => Math.abs(o.commit - t.commit) < 150 && o !== t).length;
    log(
      `      slow tx ${t.tx} (${t.n} entries) committed at +${(t.commit - t0).toFixed(0)} ms: publish of its first entry began +${t.startFirst.toFixed(1)} ms, ` +
        `its last +${t.startLast.toFixed(1)}; first ack +${t.ackFirst.toFixed(1)}, last +${t.worst.toFixed(1)}; ${near} other transactions committed within 150 ms`,
    );
  }
  publishStarts.clear();
}

async function phase(kind: 'tally' | 'naive', rate: number, notify = false): Promise<Phase> {
  const label = `${kind}${rate > 0 ? ` paced ${rate.toLocaleString('en')}/s` : ', full speed'}${notify ? ', NOTIFY hint on' : ''}`;
  const database = await dedicatedDatabase('tally_bench_feed');
  const pool = new pg.Pool({ connectionString: database.url, max: 4 });
  pool.on('error', () => {});
  try {
    const tally = await createTally({ db: timedReads(postgres(pool)) });
    await tally.migrate();
    await pool.query(
      `CREATE TABLE items (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL, owner text NOT NULL);
       INSERT INTO items SELECT g, 'active', 0, 'owner-' || g FROM generate_series(1, ${WRITERS * PER_WRITER}) g;`,
    );
    await pool.query('VACUUM ANALYZE items');
    await dropStreams();
    const acked = new Map<string, number>(); // key:version -> ack time (first)
    const times = new Map<string, number>(); // log id -> times published
    let lastAck = 0;
    let stopConsumer: () => Promise<void>;
    let batches = 0; // handed out and published (relay) or polled pages (naive)
    // With the hint on (decision 0042: the choice for batch writers), the relay wakes on each commit.
    if (notify) await setFeedNotify(tally, true);
    if (kind === 'tally') {
      const relay = await startRelay({
        ...(notify ? { listen: pool } : {}),
        tally,
        nats: nc,
        stream: STREAMS.tally,
        prefix: 'benchfeed',
        sources: ['log'],
        batchSize: RELAY_BATCH,
        maxInFlight: RELAY_IN_FLIGHT,
        ...(RELAY_MIN_BATCH ? { minBatchSize: RELAY_MIN_BATCH } : {}),
        pollMs: 20, // the NOTIFY hint is off by default (decision 0042): a short poll instead
        onBatch: (b) => {
          // Each entry counts as published when its own ack arrived (the stream had stored it), not
          // when the last ack of its batch did.
          b.entries.forEach((e, i) => {
            times.set(e.id, (times.get(e.id) ?? 0) + 1);
            if (e.source === 'log') {
              const k = `${e.entry.entity_key}:${e.entry.version}`;
              if (!acked.has(k)) acked.set(k, b.ackTimes[i]!);
            }
          });
          lastAck = b.ackedAt;
          batches++;
        },
      });
      stopConsumer = () => relay.stop();
    } else {
      await jsm.streams.add({ name: STREAMS.naive, subjects: ['benchnaive.>'] });
      const poller = startNaivePoller(pool, tally.config.s, nc, {
        prefix: 'benchnaive',
        schema: 'tally',
        stream: STREAMS.naive,
        pollMs: 20,
        onAck: (ids, keys, ackTimes) => {
          for (const id of ids) times.set(id, (times.get(id) ?? 0) + 1);
          keys.forEach((k, i) => {
            if (!acked.has(k)) acked.set(k, ackTimes[i]!);
          });
          lastAck = Math.max(lastAck, ...ackTimes);
          batches++;
        },
      });
      stopConsumer = () => poller.stop();
    }

    const w = writers(database.url, rate);
    await w.ready;
    publishMs = 0;
    readMs = 0;
    reads = 0;
    const cpu0 = process.cpuUsage();
    w.go();
    const result = await w.done;
    const committed = result.commits.size;
    const writeS = (result.endedAt - result.startedAt) / 1000;
    // Drain: until every committed entry is published, or nothing moved for 5 s (the poller's gaps).
    const drain0 = now();
    let last = -1;
    let still = now();
    while (acked.size < committed) {
      if (acked.size !== last) {
        last = acked.size;
        still = now();
      } else if (now() - still > 5000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const drainS = (now() - drain0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    await stopConsumer();
    const busyS = (lastAck - result.startedAt) / 1000;

    const { rows } = await pool.query(
      `SELECT id::text FROM ${tally.config.s}.log WHERE actor LIKE 'bench:%'`,
    );
    let gaps = 0;
    let duplicates = 0;
    for (const r of rows) {
      const n = times.get(r.id) ?? 0;
      if (n === 0) gaps++;
      if (n > 1) duplicates += n - 1;
    }
    const inStream = (await jsm.streams.info(kind === 'tally' ? STREAMS.tally : STREAMS.naive)).state
      .messages;
    if (TRACE) await traceSlowest(pool, tally.config.s, result.commits, acked);
    const latencies: number[] = [];
    for (const [k, c] of result.commits) {
      const a = acked.get(k);
      if (a !== undefined) latencies.push(a - c);
    }
    const published = rows.length - gaps;
    const p: Phase = {
      label,
      committed: rows.length,
      published,
      duplicates,
      gaps,
      perS: published / ((lastAck - result.startedAt) / 1000),
      committedPerS: committed / writeS,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
    log(
      `  [${label}] committed ${committed.toLocaleString('en')} in ${result.transactions} transactions, ${writeS.toFixed(1)} s ` +
        `(${Math.round(p.committedPerS).toLocaleString('en')}/s); published ${published.toLocaleString('en')} ` +
        `(stream holds ${inStream.toLocaleString('en')}), ${Math.round(p.perS).toLocaleString('en')} events/s commit->ack; ` +
        `p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms; gaps ${gaps}, duplicates ${duplicates}; ` +
        `drained ${drainS.toFixed(1)} s after the writers stopped   ${load()}`,
    );
    log(
      `      ${batches} batches (${Math.round(published / Math.max(1, batches))} entries, ${((busyS * 1000) / Math.max(1, batches)).toFixed(0)} ms each on average); ` +
        `publishing (send + acks) took ${(publishMs / 1000).toFixed(1)} s of ${busyS.toFixed(1)} s, ${reads} page reads ${(readMs / 1000).toFixed(1)} s (they overlap); ` +
        `this process used ${cpuS.toFixed(1)} s of CPU (${Math.round((100 * cpuS) / busyS)}% of one core)`,
    );
    publishMs = 0;
    await tally.close();
    return p;
  } finally {
    await pool.end().catch(() => {});
    await database.drop();
  }
}

try {
  const skipped = (label: string): Phase => ({
    label: `${label} (not run)`,
    ...{ committed: 0, published: 0, duplicates: 0, gaps: 0, perS: Number.NaN, committedPerS: 0 },
    ...{ p50: Number.NaN, p99: Number.NaN },
  });
  const full = PHASES.has('full') ? await phase('tally', 0) : skipped('tally, full speed');
  const paced = PHASES.has('paced') ? await phase('tally', RATE) : skipped('tally paced');
  const pacedNotify = PHASES.has('notify') ? await phase('tally', RATE, true) : skipped('notify');
  const naive = PHASES.has('naive') ? await phase('naive', 0) : skipped('naive, full speed');
  log('');
  log(
    '| commit -> JetStream ack, 4 writers | committed/s | events/s | p50 ms | p99 ms | gaps | duplicates |',
  );
  log('|---|---:|---:|---:|---:|---:|---:|');
  for (const p of [full, paced, pacedNotify, naive]) {
    log(
      `| ${p.label} | ${Math.round(p.committedPerS).toLocaleString('en')} | ${Math.round(p.perS).toLocaleString('en')} | ${p.p50.toFixed(1)} | ${p.p99.toFixed(1)} | ${p.gaps} | ${p.duplicates} |`,
    );
  }
  log(
    `ratios tally/naive at full speed: events/s x${(full.perS / naive.perS).toFixed(2)}, p99 x${(full.p99 / naive.p99).toFixed(2)}; gaps ${full.gaps} vs ${naive.gaps}`,
  );
  log(`whole run ${since(wallStart).toFixed(0)} s; ${load()}`);
  await dropStreams();
  await nc.drain();
  console.log(
    JSON.stringify({
      bench: 'feed',
      events_per_s: Math.round(full.perS),
      p50_ms: round(paced.p50, 1),
      p99_ms: round(paced.p99, 1),
      gaps:
        full.gaps +
        full.duplicates +
        paced.gaps +
        paced.duplicates +
        pacedNotify.gaps +
        pacedNotify.duplicates,
      paced_rate: RATE,
      full_speed_p99_ms: round(full.p99, 1),
      notify_p50_ms: round(pacedNotify.p50, 1),
      notify_p99_ms: round(pacedNotify.p99, 1),
      naive_events_per_s: Math.round(naive.perS),
      naive_gaps: naive.gaps,
    }),
  );
} catch (err) {
  await dropStreams();
  await nc.close();
  throw err;
}
