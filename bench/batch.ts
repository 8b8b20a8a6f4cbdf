// `npm run bench -- batch`: what an audited batch costs next to a plain UPDATE and a hand-written loop.
//
// Against PostgreSQL (DATABASE_URL, default the local server), in a dedicated database
// `tally_bench_batch` created and dropped by the run:
//   accounts(id int PK, state text, version int, owner text, region text, amount numeric(12,2),
//            updated_at timestamptz) — 1,000,000 rows, all 'active' at version 1, and (by default) one
//   `create` log row each, as if every row had been created through Tally
//   (BENCH_BATCH_HISTORY=0 starts with an empty log instead).
// Phases, each on its own fresh, disjoint, randomly scattered keys, with VACUUM ANALYZE + CHECKPOINT
// between phases (autovacuum off on the bench tables) so no phase pays for another's dead tuples or WAL:
//   (a) plain   `UPDATE accounts SET state = $2 WHERE id = ANY($1)` of 100,000 rows — the floor
//   (b) tally   `entity.transition({ keys, to, actor })` of 100,000 rows with full log rows
//       (a) and (b) run 3 times each, interleaved a b b a a b; the medians are reported
//   (c) naive   per row: BEGIN; SELECT ... FOR UPDATE; UPDATE; INSERT log row; COMMIT — each a round
//       trip — over 10,000 rows, scaled ×10
//   single      `transition({ key })` per call, concurrency 1 and 8 (pool of 10), and beside it the
//       floor: a bare autocommit single-row UPDATE at concurrency 8 and 1. Before them, round trips and
//       statements per single-key transition, counted by wrapping every pooled client's `query`
//       (one call is one round trip: pg sends a prepared statement's Bind/Execute/Sync together);
//       statements are the calls other than BEGIN/COMMIT/ROLLBACK.
// The very last line is one JSON object.
import pg from 'pg';
import { insertLogSql } from '../src/changes/hash-sql.js';
import { postgres } from '../src/db/postgres/index.js';
import { createTally } from '../src/tally.js';
import {
  backendCpu,
  cpuSince,
  dedicatedDatabase,
  KeyDealer,
  load,
  masked,
  median,
  PG_URL,
  round,
  shuffledIds,
  since,
  throughput,
  timed,
} from './_shared.js';
import { measureSealLag } from './seal-lag.js';

const TABLE_ROWS = 1_000_000;
const BATCH = 100_000;
const NAIVE_ROWS = 10_000;
const ROUNDS = ['plain', 'tally', 'tally', 'plain', 'plain', 'tally'] as const;
const SINGLE_SECONDS = Number(process.env.BENCH_BATCH_SINGLE_SECONDS ?? 5);
const HISTORY = process.env.BENCH_BATCH_HISTORY !== '0';
const ACTOR = 'bench:batch';

const log = (msg: string) => console.log(msg);
const wallStart = performance.now();
log(`batch: PostgreSQL at ${masked(PG_URL)}, database tally_bench_batch; ${load()}`);

const database = await dedicatedDatabase('tally_bench_batch');
// Idle connections stay open, so per-backend CPU readings cover whole phases.
const pool = new pg.Pool({ connectionString: database.url, max: 10, idleTimeoutMillis: 0 });
// The database is dropped WITH (FORCE) at the end: a pooled connection it terminates must not crash the
// run after its last line (an error on a query in flight still rejects that query).
pool.on('error', () => {});
const wire = countRoundTrips(pool);
try {
  const q = (text: string, values?: unknown[]) => pool.query(text, values);
  const serverVersion = (await q('SHOW server_version')).rows[0].server_version;
  const tally = await createTally({ db: postgres(pool) });
  await tally.migrate();
  const s = tally.config.s;

  // ---- the table (and its history in the log)
  const t0 = performance.now();
  await q(`CREATE TABLE accounts (
             id         int PRIMARY KEY,
             state      text NOT NULL,
             version    int NOT NULL,
             owner      text NOT NULL,
             region     text NOT NULL,
             amount     numeric(12,2) NOT NULL,
             updated_at timestamptz NOT NULL
           ) WITH (autovacuum_enabled = false)`);
  await q(
    `INSERT INTO accounts
           SELECT g, 'active', 1, 'user_' || (g::int8 * 7919 % 200000),
                  (ARRAY['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south'])[1 + g % 5],
                  round((g::int8 * 37 % 100000) / 100.0, 2), timestamptz '2025-01-01 00:00:00Z' + g * interval '1 s'
             FROM generate_series(1, $1::int) g`,
    [TABLE_ROWS],
  );
  await q(`ALTER TABLE ${s}.log SET (autovacuum_enabled = false)`);
  if (HISTORY) {
    // Exactly what entity.create() writes: a version-1 `create` row per entity (no hash since decision 0065).
    await q(
      insertLogSql(
        s,
        `SELECT 'account'::text AS entity_type, t.id::text AS entity_key, 1::int8 AS version,
                'create'::text AS action, 'bench:seed'::text AS actor, NULL::text AS source_ip,
                NULL::text AS reason, NULL::text AS request_id, NULL::text AS command_id,
                NULL::jsonb AS before, to_jsonb(t) AS after,
                ARRAY(SELECT jsonb_object_keys(to_jsonb(t)) ORDER BY 1) AS changed,
                timestamptz '2025-01-01 00:00:00Z' AS at
           FROM accounts t ORDER BY t.id::text`,
      ),
    );
  }
  await q(`CREATE TABLE naive_log (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             entity_type text NOT NULL, entity_key text NOT NULL, version bigint NOT NULL,
             action text NOT NULL, actor text NOT NULL, before jsonb, after jsonb, at timestamptz NOT NULL,
             UNIQUE (entity_type, entity_key, version)
           ) WITH (autovacuum_enabled = false)`);
  const settle = async () => {
    for (const t of ['accounts', `${s}.log`, 'naive_log']) await q(`VACUUM (ANALYZE) ${t}`);
    await q('CHECKPOINT');
  };
  await settle();
  const sizes = (
    await q(`SELECT pg_size_pretty(pg_total_relation_size('accounts')) AS accounts,
                    pg_size_pretty(pg_total_relation_size('${s}.log')) AS log`)
  ).rows[0];
  log(
    `setup: PostgreSQL ${serverVersion}; ${TABLE_ROWS.toLocaleString('en')} rows (${sizes.accounts}), ` +
      `log ${HISTORY ? `with one create row per entity (${sizes.log})` : 'empty'} in ${since(t0).toFixed(1)} s`,
  );

  const accounts = tally.entity('account', {
    table: 'accounts',
    states: { active: ['frozen'], frozen: ['active'] },
  });
  const keys = new KeyDealer(shuffledIds(TABLE_ROWS, 20_260_501));
  // Learn the table's shape outside any timing (the first call of an entity introspects it).
  await accounts.transition({ key: keys.one(), to: 'frozen', actor: ACTOR });

  // ---- (a) plain vs (b) tally, interleaved
  const plain: number[] = [];
  const viaTally: number[] = [];
  const cpu: Record<'plain' | 'tally', number[]> = { plain: [], tally: [] };
  let tallyKey = 0;
  for (const [i, kind] of ROUNDS.entries()) {
    await settle();
    const batch = keys.take(BATCH);
    // Open every pooled connection first, so the CPU sum covers the backend that will run the phase.
    await Promise.all(Array.from({ length: 10 }, () => q('SELECT 1')));
    const cpu0 = await backendCpu(pool, 'tally_bench_batch');
    if (kind === 'plain') {
      const r = await timed(() =>
        q(`UPDATE accounts SET state = $2 WHERE id = ANY($1::int[])`, [batch, 'frozen']),
      );
      if (r.value.rowCount !== BATCH) throw new Error(`plain updated ${r.value.rowCount} rows`);
      plain.push(r.s);
    } else {
      const r = await timed(() => accounts.transition({ keys: batch, to: 'frozen', actor: ACTOR }));
      if (r.value.changed.length !== BATCH) throw new Error(`tally changed ${r.value.changed.length} rows`);
      tallyKey = batch[0]!;
      viaTally.push(r.s);
    }
    const cpu1 = await backendCpu(pool, 'tally_bench_batch');
    const used = cpuSince(cpu0, cpu1);
    if (used !== null) cpu[kind].push(used);
    const wall = (kind === 'plain' ? plain : viaTally).at(-1)!;
    const cpuNote = used === null ? '' : `  (server CPU ${used.toFixed(2)} s)`;
    log(
      `  round ${i + 1}: ${kind.padEnd(5)} ${BATCH.toLocaleString('en')} rows  ${wall.toFixed(3)} s${cpuNote}   ${load()}`,
    );
  }

  // ---- (c) the hand-written loop: one transaction and four round trips per row
  await settle();
  const naiveKeys = keys.take(NAIVE_ROWS);
  const client = await pool.connect();
  let naiveS: number;
  try {
    const r = await timed(async () => {
      for (const id of naiveKeys) {
        await client.query('BEGIN');
        const { rows } = await client.query(
          'SELECT id, state, version, owner, region, amount, updated_at FROM accounts WHERE id = $1 FOR UPDATE',
          [id],
        );
        const before = rows[0];
        if (before?.state !== 'active') throw new Error(`naive: row ${id} is not active`);
        await client.query('UPDATE accounts SET state = $2, version = version + 1 WHERE id = $1', [
          id,
          'frozen',
        ]);
        const after = { ...before, state: 'frozen', version: before.version + 1 };
        await client.query(
          `INSERT INTO naive_log (entity_type, entity_key, version, action, actor, before, after, at)
           VALUES ('account', $1, $2, 'transition', $3, $4, $5, now())`,
          [String(id), after.version, ACTOR, JSON.stringify(before), JSON.stringify(after)],
        );
        await client.query('COMMIT');
      }
    });
    naiveS = r.s;
  } finally {
    client.release();
  }
  log(
    `  naive: ${NAIVE_ROWS.toLocaleString('en')} rows  ${naiveS.toFixed(3)} s  (×${BATCH / NAIVE_ROWS} → ${(naiveS * (BATCH / NAIVE_ROWS)).toFixed(1)} s)   ${load()}`,
  );

  // ---- single-key calls: what one costs on the wire, then per second
  const single = (key: number) => accounts.transition({ key, to: 'frozen', actor: ACTOR });
  await settle();
  const COUNTED = 200;
  const counted = keys.take(COUNTED);
  await single(counted[0]!); // the connection prepares the statement once; the rest reuse it
  wire.start();
  for (const key of counted.slice(1)) await single(key);
  const perCall = wire.stop(COUNTED - 1);
  log(
    `  single transition on the wire: ${perCall.roundTrips} round trips, ${perCall.statements} statements per call (${perCall.texts})`,
  );
  const c1 = await throughput(1, SINGLE_SECONDS, () => keys.one(), single);
  log(
    `  single transition, concurrency 1: ${c1.perS.toFixed(0)}/s (${c1.ops} in ${c1.s.toFixed(1)} s)   ${load()}`,
  );
  await settle();
  const c8 = await throughput(8, SINGLE_SECONDS, () => keys.one(), single);
  log(
    `  single transition, concurrency 8: ${c8.perS.toFixed(0)}/s (${c8.ops} in ${c8.s.toFixed(1)} s)   ${load()}`,
  );
  await settle();
  const floor = await throughput(
    8,
    SINGLE_SECONDS,
    () => keys.one(),
    (id) => q('UPDATE accounts SET state = $2 WHERE id = $1', [id, 'frozen']),
  );
  log(
    `  bare UPDATE,       concurrency 8: ${floor.perS.toFixed(0)}/s (${floor.ops} in ${floor.s.toFixed(1)} s)   ${load()}`,
  );
  // The issue asks for concurrency 1 at >= 60% of the floor too: the same bare UPDATE, one at a time.
  await settle();
  const floor1 = await throughput(
    1,
    SINGLE_SECONDS,
    () => keys.one(),
    (id) => q('UPDATE accounts SET state = $2 WHERE id = $1', [id, 'frozen']),
  );
  log(
    `  bare UPDATE,       concurrency 1: ${floor1.perS.toFixed(0)}/s (${floor1.ops} in ${floor1.s.toFixed(1)} s)   ${load()}`,
  );

  // ---- sanity: every Tally change left exactly one log row, and a chain verifies
  const [{ n }] = (await q(`SELECT count(*)::int AS n FROM ${s}.log WHERE action = 'transition'`)).rows;
  const expected = 1 + 3 * BATCH + COUNTED + c1.ops + c8.ops;
  if (n !== expected) throw new Error(`expected ${expected} transition log rows, found ${n}`);
  if (HISTORY) {
    // With the seeded create rows, a changed entity's whole chain (create, transition) must verify.
    const check = await accounts.verify(tallyKey);
    if (!check.ok)
      throw new Error(`log chain of account ${tallyKey} does not verify: ${JSON.stringify(check)}`);
  }

  // ---- seal lag: a sealer every second beside a writer at the batch's rate (one 100k-row transition), in
  // a Tally schema of its own so the seeded 1M-row history is not sealed first (that is a one-time backlog,
  // not the lag of the write path).
  await q(`CREATE TABLE seal_lag_accounts (LIKE accounts INCLUDING ALL)`);
  await q(`INSERT INTO seal_lag_accounts SELECT * FROM accounts WHERE id <= ${BATCH}`);
  await q(`UPDATE seal_lag_accounts SET state = 'active'`);
  const sealTally = await createTally({ db: postgres(pool), schema: 'tally_seal_lag' });
  await sealTally.migrate();
  const sealAccounts = sealTally.entity('account', {
    table: 'seal_lag_accounts',
    states: { active: ['frozen'], frozen: ['active'] },
  });
  const sealKeys = Array.from({ length: BATCH }, (_, i) => i + 1);
  const sealLag = await measureSealLag(
    sealTally,
    () => sealAccounts.transition({ keys: sealKeys, to: 'frozen', actor: ACTOR }),
    { intervalMs: 1000 },
  );
  log(
    `seal lag at the batch's rate (${BATCH.toLocaleString('en')} rows in one transition, sealer every 1 s): max ${sealLag.maxS.toFixed(2)} s, mean ${sealLag.meanS.toFixed(2)} s, caught up ${sealLag.catchUpS.toFixed(2)} s after the last commit`,
  );
  await sealTally.close();

  const plainS = median(plain);
  const tallyS = median(viaTally);
  const naiveScaled = naiveS * (BATCH / NAIVE_ROWS);
  log('');
  log(
    `| ${BATCH.toLocaleString('en')} rows of ${TABLE_ROWS.toLocaleString('en')}  | seconds (median of 3) | × plain |`,
  );
  log('|---|---:|---:|');
  log(`| (a) plain UPDATE           | ${plainS.toFixed(3)} | 1.00 |`);
  log(`| (b) Tally, with log rows   | ${tallyS.toFixed(3)} | ${(tallyS / plainS).toFixed(2)} |`);
  log(`| (c) naive loop (10k ×10)   | ${naiveScaled.toFixed(2)} | ${(naiveScaled / plainS).toFixed(1)} |`);
  if (cpu.plain.length === 3 && cpu.tally.length === 3) {
    const [pc, tc] = [median(cpu.plain), median(cpu.tally)];
    log(`server CPU (median): plain ${pc.toFixed(2)} s, tally ${tc.toFixed(2)} s, ×${(tc / pc).toFixed(2)}`);
  }
  log(
    `runs: plain ${plain.map((x) => x.toFixed(3)).join(' ')}; tally ${viaTally.map((x) => x.toFixed(3)).join(' ')}`,
  );
  log(
    `single transitions/s: c1 ${c1.perS.toFixed(0)}, c8 ${c8.perS.toFixed(0)}; bare UPDATE c1 ${floor1.perS.toFixed(0)}, c8 ${floor.perS.toFixed(0)} (c1 ${(c1.perS / floor1.perS).toFixed(2)}, c8 ${(c8.perS / floor.perS).toFixed(2)} of the floor); ${perCall.roundTrips} round trip(s), ${perCall.statements} statement(s) per call`,
  );
  log(`whole run ${since(wallStart).toFixed(0)} s; ${load()}`);
  await tally.close();
  console.log(
    JSON.stringify({
      bench: 'batch',
      rows: BATCH,
      plain_s: round(plainS, 3),
      tally_s: round(tallyS, 3),
      naive_s: round(naiveScaled, 2),
      tally_vs_plain: round(tallyS / plainS, 2),
      naive_vs_tally: round(naiveScaled / tallyS, 1),
      single_c1_per_s: Math.round(c1.perS),
      single_c8_per_s: Math.round(c8.perS),
      floor_c8_per_s: Math.round(floor.perS),
      floor_c1_per_s: Math.round(floor1.perS),
      single_round_trips: perCall.roundTrips,
      single_statements: perCall.statements,
      seal_lag_s: round(sealLag.maxS, 3),
    }),
  );
} finally {
  await pool.end().catch(() => {});
  await database.drop();
}

/**
 * Counts what the pool's clients send while counting is on: every `query` call is one round trip
 * (node-postgres writes a query's protocol messages, prepared or not, and waits for its answer);
 * every call but transaction control is a statement. Installed before the pool opens a connection.
 */
function countRoundTrips(p: pg.Pool) {
  let on = false;
  let trips = 0;
  let statements = 0;
  const kinds = new Map<string, number>();
  p.on('connect', (client) => {
    const inner = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      if (on) {
        const a = args[0] as string | { text?: string };
        const text = (typeof a === 'string' ? a : (a?.text ?? '')).trim();
        trips++;
        const control = /^(BEGIN|COMMIT|ROLLBACK)\b/i.test(text);
        if (!control) statements++;
        const kind = text.split(/\s/)[0]!.toUpperCase();
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      return inner(...args);
    };
  });
  return {
    start() {
      on = true;
      trips = statements = 0;
      kinds.clear();
    },
    stop(calls: number) {
      on = false;
      const per = (n: number) => round(n / calls, 2);
      const texts = [...kinds].map(([k, n]) => `${k} ×${per(n)}`).join(', ');
      return { roundTrips: per(trips), statements: per(statements), texts };
    },
  };
}
