// The commands half of `npm run bench -- reconcile` (the leading `_` keeps bench/run.ts from listing it):
// one round of the commands reconciler (upstream calls against the downstream's records) over a history of
// 1,000,000 finished commands with 100 open ones, beside the same round over 1,000 finished + 100 open,
// each in its own dedicated database. A round must cost what is open, not the history (decision 0058).
//
// Seeded with INSERT ... SELECT generate_series, shaped as Tally writes them: a finished `redeem` command
// per row (succeeded, one attempt), its `issue` call (sent once, outcome success), and three timeline
// events (submitted, snapshot, succeeded); the 100 open ones are pending, created now, their call sent
// with no answer yet. The downstream (a query adapter) has every key as issued. Timed: the first round
// (it reads the whole history once and settles what agrees), then the median of ROUNDS further rounds.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { postgres } from '../src/db/postgres/index.js';
import type { Executor } from '../src/db/types.js';
import { reconcileCommands } from '../src/reconcile/commands/index.js';
import { callsPageSql } from '../src/reconcile/commands/sql.js';
import { createTally } from '../src/tally.js';
import { dedicatedDatabase, median, round, timed } from './_shared.js';

const OPEN = 100;
const ROUNDS = 5;
const BEFORE_ROUNDS = Number(process.env.BENCH_BEFORE_ROUNDS ?? 3);

export interface CommandsRoundFigures {
  commands_round_1m_ms: number;
  commands_round_1k_ms: number;
  /** 1m over 1k: must stay <= 2 (a round does not grow with history). */
  commands_round_ratio: number;
  commands_first_round_1m_ms: number;
}

const seedSql = (finished: number, open: number) => `
SET synchronous_commit = off;
INSERT INTO tally.commands (id, type, principal, key, fingerprint, params, input, status, step_index,
                            result, attempts, next_at, created_at, updated_at, finished_at)
SELECT md5('c' || i)::uuid, 'redeem', 'u' || (i % 5000), 'k' || i, md5('f' || i),
       jsonb_build_object('user', 'u' || (i % 5000), 'prize', 'mug', 'qty', 1),
       jsonb_build_object('user', 'u' || (i % 5000), 'prize', 'mug', 'qty', 1),
       'succeeded', 2, jsonb_build_object('prize', 'p' || i), 1, t, t, t + interval '200 ms', t + interval '200 ms'
  FROM generate_series(1, ${finished}) i,
       LATERAL (SELECT timestamptz '2026-01-01' + i * interval '1 second' AS t) x;
INSERT INTO tally.commands (id, type, principal, key, fingerprint, params, input, status, step_index,
                            attempts, next_at, created_at, updated_at)
SELECT md5('o' || i)::uuid, 'redeem', 'u' || i, 'open' || i, md5('g' || i),
       jsonb_build_object('user', 'u' || i, 'prize', 'mug', 'qty', 1),
       jsonb_build_object('user', 'u' || i, 'prize', 'mug', 'qty', 1),
       'pending', 1, 1, now() + interval '1 hour', now(), now()
  FROM generate_series(1, ${open}) i;
INSERT INTO tally.command_calls (command_id, step, downstream_key, request, sends, first_sent_at, last_sent_at,
                                 outcome, value, resolved_by, resolved_at, created_at)
SELECT id, 'issue', id::text || '.issue', jsonb_build_object('prize', 'mug', 'qty', 1), 1, created_at, created_at,
       CASE WHEN status = 'succeeded' THEN 'success' END,
       CASE WHEN status = 'succeeded' THEN result END,
       CASE WHEN status = 'succeeded' THEN 'reply' END,
       CASE WHEN status = 'succeeded' THEN updated_at END, created_at
  FROM tally.commands;
INSERT INTO tally.command_events (command_id, kind, step, data, at)
SELECT c.id, e.kind, e.step, '{}'::jsonb, c.created_at
  FROM tally.commands c
  CROSS JOIN (VALUES (1, 'submitted', NULL), (2, 'snapshot', 'issue'), (3, 'succeeded', NULL)) e(n, kind, step)
 WHERE e.n < 3 OR c.status = 'succeeded';
ANALYZE;`;

/** The downstream: every key issued (the finished calls agree; the open ones are the worker's). */
const lookup = async (keys: readonly string[]) => keys.map((key) => ({ key, outcome: 'success' as const }));

type Reconciler = typeof reconcileCommands;
const round1 = (db: Executor, fn: Reconciler = reconcileCommands) =>
  fn({ db, type: 'redeem', downstream: { lookup } });

/**
 * BENCH_BEFORE=DIR: also time rounds of the reconciler in DIR/src (an older checkout, e.g. `git archive
 * COMMIT src | tar -x -C DIR`, with node_modules linked) on the same data, before this code's first round.
 */
async function beforeReconciler(): Promise<Reconciler | null> {
  const dir = process.env.BENCH_BEFORE;
  if (!dir) return null;
  const mod = (await import(pathToFileURL(join(dir, 'src/reconcile/commands/index.ts')).href)) as {
    reconcileCommands: Reconciler;
  };
  return mod.reconcileCommands;
}

export async function one(
  label: string,
  finished: number,
  log: (line: string) => void,
): Promise<{ roundMs: number; firstMs: number }> {
  const database = await dedicatedDatabase(`tally_bench_cmd_${label}`);
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  pool.on('error', () => {});
  try {
    const db = postgres(pool);
    await (await createTally({ db })).migrate();
    const seed = await timed(() => db.exec(seedSql(finished, OPEN)));
    log(
      `${label}: seeded ${finished.toLocaleString('en')} finished + ${OPEN} open commands in ${round(seed.s, 1)} s`,
    );
    const before = await beforeReconciler();
    if (before) {
      const bt: number[] = [];
      for (let i = 0; i < BEFORE_ROUNDS; i++) {
        const r = await timed(() => round1(db, before));
        bt.push(r.s * 1000);
        log(
          `${label}: BEFORE (${process.env.BENCH_BEFORE}) round ${round(r.s * 1000, 1)} ms, ${r.value.checked} calls checked`,
        );
      }
      log(`${label}: BEFORE round median ${round(median(bt), 1)} ms of ${bt.length}`);
    }
    const first = await timed(() => round1(db));
    const r = first.value as { checked: number; settled?: number };
    log(
      `${label}: first round ${round(first.s * 1000, 1)} ms, ${r.checked} calls checked, ${r.settled ?? '-'} settled`,
    );
    // VACUUM so the settle marks are visible to index-only paths and the statistics are fresh.
    await db.exec('VACUUM ANALYZE tally.command_calls');
    const times: number[] = [];
    let checked = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const t = await timed(() => round1(db));
      times.push(t.s * 1000);
      checked = t.value.checked;
    }
    const q = callsPageSql(
      'tally',
      { type: 'redeem', step: null, since: null, until: null, ids: null, open: true },
      '',
      1000,
    );
    // As the reconciler reads an open page (src/reconcile/commands/reconcile.ts: readPage).
    const plan = await db.transaction(async (tx) => {
      await tx.exec('SET LOCAL enable_seqscan = off');
      return tx.query<{ 'QUERY PLAN': string }>({
        text: `EXPLAIN (ANALYZE, BUFFERS) ${q.text}`,
        values: q.values,
      });
    });
    log(`${label}: plan of one page:\n    ${plan.map((p) => p['QUERY PLAN']).join('\n    ')}`);
    const roundMs = median(times);
    log(
      `${label}: round ${round(roundMs, 1)} ms (median of ${ROUNDS}: ${times.map((x) => round(x, 1)).join(', ')}), ${checked} calls checked`,
    );
    return { roundMs, firstMs: first.s * 1000 };
  } finally {
    await pool.end();
    if (process.env.BENCH_KEEP === '1') log(`kept ${database.url}`);
    else await database.drop();
  }
}

export async function commandsRoundBench(
  log: (line: string) => void = console.log,
): Promise<CommandsRoundFigures> {
  const small = await one('1k', 1_000, log);
  const big = await one('1m', 1_000_000, log);
  return {
    commands_round_1m_ms: round(big.roundMs, 2),
    commands_round_1k_ms: round(small.roundMs, 2),
    commands_round_ratio: round(big.roundMs / small.roundMs, 2),
    commands_first_round_1m_ms: round(big.firstMs, 0),
  };
}

// `npx tsx bench/_reconcile-commands.ts` runs this half alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  const f = await commandsRoundBench();
  console.log(JSON.stringify({ bench: 'reconcile-commands', ...f }));
}
