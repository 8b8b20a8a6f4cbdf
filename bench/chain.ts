// `npm run bench -- chain`: the points redemption as users drive it — HTTP load on Tally's B (the example in
// examples/points-redemption) next to the same redemption written by hand, both on PostgreSQL, both calling
// the example's C. MISSION §2, issue 21 ("the path users write, measured as users drive it").
//
// Against PostgreSQL (DATABASE_URL, default the local server), in dedicated databases it creates and drops:
// tally_bench_chain_b (B's, a fresh start with RESET=1) and tally_bench_chain_hand (the hand-written one's).
// Every node is its own Node process (B, C and the hand-written service under tsx), started with the public
// env knobs only (B: PORT, DATABASE_URL, C_URL, RESET; C: PORT, CALLBACK_URL; C's stock over POST /admin/stock).
// Phases, one after another, each with a fresh C whose callbacks go to the service under load:
//   tally   B's POST /redemptions (Fastify + tally/fastify: the command records the key and fingerprint,
//           locks the account, records the risk verdict, deducts with an audited log row, snapshots and
//           sends C's request, records the outcome; its worker runs beside)
//   hand    bench/_chain-hand.ts: Fastify + pg, one transaction (SELECT … FOR UPDATE with the risk verdict,
//           check, UPDATE, INSERT of the redemption keyed by the idempotency key with the request snapshot,
//           ON CONFLICT → replay), commit, POST to C, record the outcome
//   naive   the hand-written service's /naive/redemptions: one guarded UPDATE, POST to C, no key, no record
//           (BENCH_CHAIN_NAIVE=0 leaves it out)
// Load: autocannon, 32 connections, a unique Idempotency-Key per request, users u0 … u255 in turn (each with
// 10^9 points, qty 1 of 'mug'), BENCH_CHAIN_WARMUP s (3) of warm-up (repeated, up to 5 times, while it
// got fewer than 200 answers), then BENCH_CHAIN_SECONDS s (15) measured. BENCH_CHAIN_ROUNDS (2) rounds in
// mirrored order — tally, hand, naive, then naive, hand, tally — each phase on a fresh start of its service
// (B with RESET=1), so a change in the shared machine's other load weighs on both sides alike; each kind's
// figures are merged (answers over seconds, CPU over answers, p50/p99 the mean of its phases').
// Per phase: 2xx answers per second, p50/p99 latency, CPU ms per answered request of the service's process,
// of C's, and of the database's PostgreSQL backends (from /proc; "n/a" when the server is not on this
// machine). Afterwards every key the load sent (warm-up included) is retried by the client until it has a
// final answer, and the check: every key answered 200 with its own prize, C issued exactly one prize per
// key, and the points deducted are exactly 10 per key. BENCH_CHAIN_PROFILE=dir runs B with --cpu-prof.
// Printed: chain_vs_hand (Tally's req/s over the hand-written one's) and cpu_vs_hand (service + PostgreSQL
// CPU per request, hand-written over Tally's: the rate ratio both would have if CPU-bound, which moves less
// with the machine's other load). The very last line is one JSON object.
import pg from 'pg';
import { chainLoad } from './_chain-load.js';
import { ensureBuilt, freePort, type Proc, startProc } from './_chain-procs.js';
import { backendCpu, cpuSince, dedicatedDatabase, load, masked, PG_URL, round } from './_shared.js';

const SECONDS = Number(process.env.BENCH_CHAIN_SECONDS ?? 15);
const WARMUP = Number(process.env.BENCH_CHAIN_WARMUP ?? 3);
const ROUNDS = Number(process.env.BENCH_CHAIN_ROUNDS ?? 2);
const USERS = 256;
const POINTS = 1_000_000_000;
const NAIVE = process.env.BENCH_CHAIN_NAIVE !== '0';
const PROFILE = process.env.BENCH_CHAIN_PROFILE;
const log = (msg: string) => console.log(msg);

interface Figures {
  perS: number;
  p50: number;
  p99: number;
  ok: number;
  /** Measured seconds. */
  s: number;
  /** CPU seconds spent over the measured seconds (null: not measurable), summed when phases are merged. */
  spent: { service: number | null; c: number | null; pg: number | null; xacts: number };
  other: Record<string, number>;
  serviceCpu: number | null;
  cCpu: number | null;
  pgCpu: number | null;
  /** Transactions committed or rolled back in the database per answered request (an autocommit statement is one). */
  xacts: number;
  check: string;
  once: boolean;
}

async function json(url: string, body?: unknown): Promise<any> {
  const res = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/**
 * Transactions committed and rolled back in `database` so far (pg_stat_database: backends report them within
 * about a second, so the figure per request is approximate).
 */
async function xacts(database: string): Promise<number> {
  const { rows } = await admin.query(
    'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1',
    [database],
  );
  return Number(rows[0]?.n ?? 0);
}

const perRequest = (s: number | null, n: number) => (s === null || n === 0 ? null : (s * 1000) / n);
const ms = (x: number | null) => (x === null ? 'n/a' : `${x.toFixed(2)} ms`);

/**
 * One phase: a fresh C, the service, warm-up, the measured run, the client's retries, the check.
 * `pointsLeft` reads the users' points (from the service's public API or its own table).
 */
async function phase(o: {
  label: string;
  database: string;
  path: string;
  keyed: boolean;
  start(port: number, cUrl: string): Promise<Proc>;
  pointsLeft(service: Proc): Promise<number>;
  setUp?(service: Proc): Promise<void>;
}): Promise<Figures> {
  const port = await freePort();
  const c = await startProc('C', 'examples/points-redemption/c/server.ts', {
    CALLBACK_URL: `http://127.0.0.1:${port}/callbacks/prizes`,
  });
  let service: Proc | undefined;
  try {
    await json(`${c.url}/admin/stock`, { stock: 100_000_000 });
    service = await o.start(port, c.url);
    await o.setUp?.(service);
    const before = await o.pointsLeft(service);
    const driver = chainLoad({
      url: service.url,
      path: o.path,
      users: USERS,
      tag: `${o.label}-${Date.now().toString(36)}`,
      keyed: o.keyed,
    });
    // Warm-up (not measured): again while it answered fewer than 200 requests (a cold start on a busy machine).
    for (let i = 0; i < 5 && (await driver.run(WARMUP)).ok < 200; i++);
    const [svc0, c0, pg0, x0] = [
      service.cpu(),
      c.cpu(),
      await backendCpu(admin, o.database),
      await xacts(o.database),
    ];
    const run = await driver.run(SECONDS);
    const [svc1, c1, pg1, x1] = [
      service.cpu(),
      c.cpu(),
      await backendCpu(admin, o.database),
      await xacts(o.database),
    ];
    const sub = (a: number | null, b: number | null) => (a === null || b === null ? null : b - a);
    const spent = { service: sub(svc0, svc1), c: sub(c0, c1), pg: cpuSince(pg0, pg1), xacts: x1 - x0 };
    const figures = {
      perS: run.perS,
      p50: run.p50,
      p99: run.p99,
      ok: run.ok,
      s: run.s,
      spent,
      other: run.other,
      serviceCpu: perRequest(sub(svc0, svc1), run.ok),
      cCpu: perRequest(sub(c0, c1), run.ok),
      pgCpu: perRequest(cpuSince(pg0, pg1), run.ok),
      xacts: run.ok ? (x1 - x0) / run.ok : 0,
    };
    log(
      `${o.label.padEnd(6)} ${run.perS.toFixed(0)}/s (${run.ok} 2xx in ${run.s.toFixed(1)} s` +
        `${Object.keys(run.other).length ? `, others ${JSON.stringify(run.other)}` : ''}${run.errors ? `, ${run.errors} connection errors` : ''}); ` +
        `p50 ${run.p50} ms, p99 ${run.p99} ms; CPU per request: service ${ms(figures.serviceCpu)}, ` +
        `PostgreSQL ${ms(figures.pgCpu)}, C ${ms(figures.cCpu)}; ~${figures.xacts.toFixed(1)} PostgreSQL ` +
        `transactions per request; ${load()}`,
    );

    // The client's retries, then: one effect per key.
    const settled = o.keyed ? await driver.settle(60_000) : { retried: 0, unsettled: 0 };
    // Requests cut off at the end of the run still finish on the server: wait until C and the points agree
    // (or stop changing).
    let state: { effects: number; records: { status: string; prizeId?: string }[] };
    let deducted = 0;
    for (let i = 0, last = -1; ; i++) {
      await new Promise((r) => setTimeout(r, 300));
      state = await json(`${c.url}/admin/state`);
      deducted = before - (await o.pointsLeft(service));
      if (deducted === 10 * state.effects || (deducted === last && i > 10) || i > 100) break;
      last = deducted;
    }
    const issued = state.records.filter((r) => r.status === 'issued');
    const sent = driver.keys.size;
    let check: string;
    let once: boolean;
    if (o.keyed) {
      const answered = [...driver.keys.values()];
      const prizes = new Set(answered.map((s) => s.prizeId).filter((p) => p !== undefined));
      const issuedIds = new Set(issued.map((r) => r.prizeId));
      const withPrize = answered.filter((s) => s.status === 200 && s.prizeId !== undefined).length;
      once =
        settled.unsettled === 0 &&
        withPrize === sent &&
        prizes.size === sent &&
        state.effects === sent &&
        issued.length === sent &&
        [...prizes].every((p) => issuedIds.has(p)) &&
        deducted === 10 * sent;
      check =
        `${sent} keys sent (warm-up included), ${settled.retried} client retries after the run; ` +
        `${withPrize} answered 200 with ${prizes.size} distinct prizes; C issued ${state.effects}; ` +
        `${deducted / 10} × 10 points deducted → ${once ? 'each key took effect exactly once' : 'NOT exactly once'}`;
    } else {
      const ok = [...driver.keys.values()].filter((s) => s.status === 200).length;
      once = state.effects === deducted / 10 && ok <= state.effects;
      check =
        `${sent} requests sent, ${ok} answered 200; C issued ${state.effects}; ${deducted / 10} × 10 points ` +
        `deducted → ${once ? 'consistent' : 'NOT consistent'} (no keys: a retry would take effect twice)`;
    }
    log(`       check: ${check}`);
    return { ...figures, check, once };
  } catch (err) {
    if (service) log(`${o.label} output:\n${service.output()}`);
    throw err;
  } finally {
    await service?.stop();
    await c.stop();
  }
}

log(
  `chain: PostgreSQL at ${masked(PG_URL)}; 32 connections, ${WARMUP} s warm-up + ${SECONDS} s per phase, ` +
    `${USERS} users; ${load()}`,
);
await ensureBuilt();
const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
const dbB = await dedicatedDatabase('tally_bench_chain_b');
const dbHand = await dedicatedDatabase('tally_bench_chain_hand');
const handPool = new pg.Pool({ connectionString: dbHand.url, max: 1 });
const results: Record<string, Figures[]> = {};
try {
  log(`server ${(await admin.query('SHOW server_version')).rows[0].server_version}; B and hand: pools of 8`);
  const pointsOfB = async (b: Proc) => {
    let sum = 0;
    for (let i = 0; i < USERS; i++) sum += (await json(`${b.url}/accounts/u${i}`)).points;
    return sum;
  };
  const tally = () =>
    phase({
      label: 'tally',
      database: 'tally_bench_chain_b',
      path: '/redemptions',
      keyed: true,
      start: (port, cUrl) =>
        startProc(
          'B',
          'examples/points-redemption/b/server.ts',
          { DATABASE_URL: dbB.url, C_URL: cUrl, RESET: '1' },
          { port, nodeArgs: PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [] },
        ),
      async setUp(b) {
        for (let i = 0; i < USERS; i++)
          await json(`${b.url}/admin/accounts`, { user: `u${i}`, points: POINTS });
      },
      pointsLeft: pointsOfB,
    });
  const hand = (port: number, cUrl: string) =>
    startProc(
      'hand',
      'bench/_chain-hand.ts',
      { DATABASE_URL: dbHand.url, C_URL: cUrl, USERS: String(USERS), POINTS: String(POINTS) },
      { port },
    );
  const sumOf = (table: string) => async () =>
    Number((await handPool.query(`SELECT sum(points)::bigint AS s FROM ${table}`)).rows[0].s);
  const handPhase = () =>
    phase({
      label: 'hand',
      database: 'tally_bench_chain_hand',
      path: '/redemptions',
      keyed: true,
      start: hand,
      pointsLeft: sumOf('hand.accounts'),
    });
  const naive = () =>
    phase({
      label: 'naive',
      database: 'tally_bench_chain_hand',
      path: '/naive/redemptions',
      keyed: false,
      start: hand,
      pointsLeft: sumOf('hand.naive_accounts'),
    });
  // Rounds in mirrored order (tally, hand, naive, then naive, hand, tally, ...), so a change in the machine's
  // other load during the run weighs on both sides alike.
  const phases = { tally, hand: handPhase, ...(NAIVE ? { naive } : {}) };
  for (let r = 0; r < ROUNDS; r++) {
    const order = Object.entries(phases);
    for (const [name, run] of r % 2 === 0 ? order : order.reverse()) {
      const f = await run();
      results[name] = [...(results[name] ?? []), f];
    }
  }
} finally {
  await handPool.end();
  await dbB.drop();
  await dbHand.drop();
  await admin.end();
}

/** Phases of one kind merged: answers over seconds, CPU over answers, latencies averaged. */
function merged(fs: Figures[] | undefined): Figures | undefined {
  if (!fs) return undefined;
  const ok = fs.reduce((a, f) => a + f.ok, 0);
  const s = fs.reduce((a, f) => a + f.s, 0);
  const total = (k: 'service' | 'c' | 'pg') =>
    fs.some((f) => f.spent[k] === null) ? null : fs.reduce((a, f) => a + f.spent[k]!, 0);
  const mean = (k: 'p50' | 'p99') => round(fs.reduce((a, f) => a + f[k], 0) / fs.length, 1);
  const spent = { service: total('service'), c: total('c'), pg: total('pg'), xacts: 0 };
  spent.xacts = fs.reduce((a, f) => a + f.spent.xacts, 0);
  return {
    perS: ok / s,
    p50: mean('p50'),
    p99: mean('p99'),
    ok,
    s,
    spent,
    other: {},
    serviceCpu: perRequest(spent.service, ok),
    cCpu: perRequest(spent.c, ok),
    pgCpu: perRequest(spent.pg, ok),
    xacts: ok ? spent.xacts / ok : 0,
    check: fs.map((f) => f.check).join('; '),
    once: fs.every((f) => f.once),
  };
}
const t = merged(results.tally)!;
const h = merged(results.hand)!;
const n = merged(results.naive);
const ratio = t.perS / h.perS;
// What the ratio would be if each side were limited only by the CPU its service and its database spend per
// request (less sensitive than req/s to what else runs on a shared machine).
const spent = (f: Figures) => (f.serviceCpu === null || f.pgCpu === null ? null : f.serviceCpu + f.pgCpu);
const cpuRatio = spent(t) && spent(h) ? spent(h)! / spent(t)! : null;
log('');
log('| phase | req/s | p50 | p99 | service CPU/req | PostgreSQL CPU/req | C CPU/req | PG transactions/req |');
log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [name, f] of Object.entries({ tally: t, hand: h, ...(n ? { naive: n } : {}) }))
  log(
    `| ${name} | ${f.perS.toFixed(0)} | ${f.p50} ms | ${f.p99} ms | ${ms(f.serviceCpu)} | ${ms(f.pgCpu)} | ` +
      `${ms(f.cCpu)} | ~${f.xacts.toFixed(1)} |`,
  );
log(
  `chain_vs_hand = ${ratio.toFixed(3)} (Tally's B serves ${(ratio * 100).toFixed(0)}% of the hand-written rate; ` +
    `target ≥ 0.5)${n ? `; hand vs naive ${(h.perS / n.perS).toFixed(3)}` : ''}; ${load()}`,
);
log(
  `cpu_vs_hand = ${cpuRatio === null ? 'n/a' : cpuRatio.toFixed(3)} (service + PostgreSQL CPU per request, ` +
    `hand-written / Tally: the rate ratio if both were CPU-bound)`,
);
const once = t.once && h.once && (n?.once ?? true);
if (!once) {
  log('CHECK FAILED: a request did not take effect exactly once (see the checks above)');
  process.exitCode = 1;
}
const cpu = (x: number | null) => (x === null ? null : round(x, 2));
console.log(
  JSON.stringify({
    bench: 'chain',
    tally_per_s: round(t.perS, 0),
    hand_per_s: round(h.perS, 0),
    chain_vs_hand: round(ratio, 3),
    tally_p50_ms: t.p50,
    tally_p99_ms: t.p99,
    hand_p50_ms: h.p50,
    hand_p99_ms: h.p99,
    tally_cpu_ms: cpu(t.serviceCpu),
    hand_cpu_ms: cpu(h.serviceCpu),
    tally_pg_cpu_ms: cpu(t.pgCpu),
    hand_pg_cpu_ms: cpu(h.pgCpu),
    ...(n ? { naive_per_s: round(n.perS, 0), naive_p99_ms: n.p99 } : {}),
    cpu_vs_hand: cpuRatio === null ? null : round(cpuRatio, 3),
    exactly_once: once,
  }),
);
