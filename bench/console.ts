// `npm run bench -- console`: the console's API on 1,000,000 commands (issue 15, decision 0141). Seeds the
// commands with one generate_series INSERT (types, principals and statuses spread, one a second back in
// time) plus calls, events and an alert on the commands whose pages are read, then measures, side by side
// in one run: GET /api/commands (five list shapes in turn: first and later pages, a status, a principal),
// GET /api/commands/:id, and the same list statements run by hand on the same pool (no HTTP, no JSON).
// p95 in ms over REQUESTS sequential requests each. `metrics_overhead` is bench/observe's figure (commands/s
// with metrics and tracing off ÷ on), run as a child in this run unless CONSOLE_BENCH_OBSERVE=0 (then null).
// The last line is the JSON summary. Env: CONSOLE_BENCH_N (default 1,000,000), CONSOLE_BENCH_REQUESTS (500).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { type PgPoolLike, postgres } from '../src/db/postgres/index.js';
import { startConsoleServer } from '../src/http/console/index.js';
import { Query } from '../src/http/console/query.js';
import { commandFilter } from '../src/http/console/reads/commands.js';
import { listCommandsSql } from '../src/http/console/reads/commands-sql.js';
import { migrate } from '../src/schema/migrate.js';
import { dedicatedDatabase, load, masked, median, round } from './_shared.js';

const N = Number(process.env.CONSOLE_BENCH_N ?? 1_000_000);
const REQUESTS = Number(process.env.CONSOLE_BENCH_REQUESTS ?? 500);

const p95 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!;
};

async function timeEach(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 20; i++) await fn(i); // warm-up: plans, caches
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

const bench = await dedicatedDatabase('tally_bench_console');
const pool = new pg.Pool({ connectionString: bench.url, max: 4 });
try {
  const db = postgres(pool as unknown as PgPoolLike);
  await migrate(db, 'tally', '"tally"');
  console.log(
    `console bench on ${masked(bench.url)}: seeding ${N.toLocaleString('en')} commands (${load()})`,
  );
  let t = performance.now();
  await db.exec(`
    INSERT INTO tally.commands (id, type, principal, key, fingerprint, params, input, status, step_index,
                                attempts, next_at, created_at, updated_at, finished_at)
    SELECT gen_random_uuid(), 'type_' || (g % 8), 'user_' || (g % 50000), 'key-' || g, md5(g::text),
           jsonb_build_object('user', 'user_' || (g % 50000)), jsonb_build_object('qty', 1 + g % 3),
           (ARRAY['succeeded','succeeded','succeeded','succeeded','succeeded','succeeded','failed','pending','needs_attention','succeeded'])[1 + g % 10],
           1, 1 + g % 3, now(), now() - g * interval '1 second', now() - g * interval '1 second',
           CASE WHEN g % 10 IN (0,1,2,3,4,5,6,9) THEN now() - g * interval '1 second' END
      FROM generate_series(1, ${N}) g;
    ANALYZE tally.commands;`);
  console.log(`seeded in ${round((performance.now() - t) / 1000, 1)} s`);
  // The pages read: 200 commands, each with 2 calls, 8 events and an alert.
  const picked = (
    await db.query<{ id: string }>({
      text: `SELECT id::text AS id FROM tally.commands TABLESAMPLE SYSTEM (1) LIMIT 200`,
    })
  ).map((r) => r.id);
  await db.query({
    text: `INSERT INTO tally.command_calls (command_id, step, downstream_key, request, sends, outcome, value, created_at)
           SELECT id::uuid, s, id || ':' || s, jsonb_build_object('user', 'u', 'qty', 1, 'nonce', md5(id || s)), 1,
                  'success', jsonb_build_object('ok', true), now()
             FROM unnest($1::text[]) id, unnest(ARRAY['issue', 'notify']) s`,
    values: [picked],
  });
  await db.query({
    text: `INSERT INTO tally.command_events (command_id, kind, step, data, at)
           SELECT id::uuid, (ARRAY['submitted','decision','step_done','send','query_answer','backoff','needs_attention','requeued'])[n],
                  'issue', jsonb_build_object('n', n), now()
             FROM unnest($1::text[]) id, generate_series(1, 8) n`,
    values: [picked],
  });
  await db.query({
    text: `INSERT INTO tally.command_alerts (command_id, command_type, kind, message, at)
           SELECT c.id, c.type, 'needs_attention', 'attempts exhausted', now()
             FROM tally.commands c WHERE c.id = ANY($1::uuid[])`,
    values: [picked],
  });
  await db.exec('ANALYZE');

  // No per-token rate limit (decision 0148): the bench times 300 lists in a row, not the limiter.
  const server = await startConsoleServer({ db, port: 0, consoleDir: null, rateLimit: false });
  try {
    const get = async (path: string) => {
      const r = await fetch(`${server.url}${path}`);
      const body = await r.text();
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${body}`);
      return body;
    };
    // Cursors to start later pages from: 20 pages in, without and with a status filter.
    const later = async (q: string) => {
      let next: string | null = null;
      for (let i = 0; i < 20; i++) {
        next = JSON.parse(await get(`/api/commands?limit=50${q}${next ? `&after=${next}` : ''}`)).next;
      }
      return next!;
    };
    const afterAll = await later('');
    const afterFailed = await later('&status=failed');
    const lists = [
      '/api/commands?limit=50',
      `/api/commands?limit=50&after=${afterAll}`,
      '/api/commands?limit=50&status=needs_attention',
      `/api/commands?limit=50&status=failed&after=${afterFailed}`,
      '/api/commands?limit=50&principal=user_4242',
    ];
    t = performance.now();
    const listMs = await timeEach(REQUESTS, async (i) => {
      await get(lists[i % lists.length]!);
    });
    const pageMs = await timeEach(REQUESTS, async (i) => {
      await get(`/api/commands/${picked[i % picked.length]}`);
    });
    // The same list statements by hand: listCommandsSql's text for each shape, run on the same pool (no
    // HTTP, no JSON, no cursor decoding): what the API adds on top of its SQL.
    const shapes = lists.map((path) => {
      const f = commandFilter(new Query(new URL(path, 'http://x').searchParams));
      return listCommandsSql('"tally"', f);
    });
    const handMs = await timeEach(REQUESTS, async (i) => {
      const q = shapes[i % shapes.length]!;
      await pool.query(q.text, q.values as unknown[]);
    });
    // For scale: the list as one plain statement (no index has created_at first: it sorts the table).
    const naive: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await pool.query(
        `SELECT id, type, principal, key, status, created_at FROM tally.commands ORDER BY created_at DESC, id DESC LIMIT 51`,
      );
      naive.push(performance.now() - t0);
    }
    console.log(
      `GET /api/commands p95 ${round(p95(listMs), 2)} ms (${lists.length} list shapes in turn), GET /api/commands/:id p95 ${round(p95(pageMs), 2)} ms, the same statements by hand p95 ${round(p95(handMs), 2)} ms; one plain ORDER BY ... LIMIT 51 over the table: median ${round(median(naive), 1)} ms (${REQUESTS} requests each, ${load()}; the machine is shared)`,
    );
    let metricsOverhead: number | null = null;
    if (process.env.CONSOLE_BENCH_OBSERVE !== '0') {
      const r = spawnSync(
        join(import.meta.dirname, '../node_modules/.bin/tsx'),
        [join(import.meta.dirname, 'observe.ts')],
        { encoding: 'utf8', timeout: 900_000 },
      );
      const last = r.stdout.trim().split('\n').pop() ?? '';
      try {
        metricsOverhead = JSON.parse(last).metrics_overhead ?? null;
      } catch {
        metricsOverhead = null;
      }
      console.log(`bench/observe in this run: ${last}`);
    }
    console.log(
      JSON.stringify({
        bench: 'console',
        commands: N,
        list_p95_ms: round(p95(listMs), 2),
        page_p95_ms: round(p95(pageMs), 2),
        hand_list_p95_ms: round(p95(handMs), 2),
        naive_list_median_ms: round(median(naive), 1),
        metrics_overhead: metricsOverhead,
        requests: REQUESTS,
        load: load(),
      }),
    );
  } finally {
    await server.close();
  }
} finally {
  await pool.end();
  await bench.drop();
}
