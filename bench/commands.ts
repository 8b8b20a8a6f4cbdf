// `npm run bench -- commands`: once-only commands next to a bare UPDATE and DBOS.
//
// Against PostgreSQL (DATABASE_URL, default the local server). Dedicated databases, created and dropped
// by the run: tally_bench_commands (Tally and the floor), tally_bench_dbos_sys (DBOS's system database)
// and tally_bench_dbos_app (the table DBOS's step updates).
//   accounts(id int PK, state text, version int, points bigint) — 5,000 rows, one per command.
// Phases, N = 5,000 operations each, one account per operation:
//   floor     bare autocommit `UPDATE floor_accounts SET points = points - 10 WHERE id = $1` (a copy of
//             accounts, so its unlogged updates leave the checked chains alone), concurrency 8
//   c1 / c8   Tally, the way this command is written (decision 0025): a change command —
//             `change: { entity: accounts, key, add: { points: -10 }, guard: { points: { gte: 10 } } }` —
//             lock, check, update the entity with its log row (hash chained) and record the outcome, all
//             in one statement; concurrency 1, 8. These are c1_per_s / c8_per_s. With the default
//             batching (decision 0026), submits that arrive while two statements run share the next one.
//   alone c8  the same change command with `batch: false`: one statement per submit (unbatched_c8_per_s)
//   js c1/c8  Tally, the same command with its step as JavaScript (general path): lock (SELECT ... FOR
//             UPDATE), check (points >= 10, else ctx.fail), `accounts.update` — record first, then the
//             step's transaction; concurrency 1, 8. These are js_step_c1_per_s / js_step_c8_per_s.
//   with_call the JS-step command plus one downstream call to an in-process fake (answers at once), c=8
//   hand      the same flow written by hand: one transaction (BEGIN, SELECT … FOR UPDATE, check, UPDATE,
//             INSERT of a log row, COMMIT), then the same call; no record, no idempotency (c=8)
//   dbos      DBOS: a workflow with one step doing the same lock, check, update and log row in one
//             transaction, c=8; and with a second step making the same call (dbos_with_call)
// Afterwards every command must have succeeded with exactly one log row, and every account's chain
// must verify (`accounts.verify`). The very last line is one JSON object.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { postgres } from '../src/db/postgres/index.js';
import { createTally } from '../src/tally.js';

const N = Number(process.env.BENCH_COMMANDS_N ?? 5000);
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (msg: string) => console.log(msg);
const load = () =>
  `load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;
const round = (x: number, d: number) => Number(x.toFixed(d));

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A database of this run's own (dropped first if a previous run left it, dropped again by drop()). */
async function dedicated(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (!/^tally_bench_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to manage ${name}`);
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Runs op(1..n) from `c` lanes; returns operations per second over the wall time. */
async function run(c: number, n: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next < n) await op(++next);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

/** The in-process downstream every with-call phase calls: it answers at once (on the next turn). */
async function downstream(req: { account: number }, key: string): Promise<unknown> {
  await new Promise((r) => setImmediate(r));
  return { ok: true, key, account: req.account };
}

const accountsTable = (
  name: string,
) => `CREATE TABLE ${name} (id integer PRIMARY KEY, state text NOT NULL DEFAULT 'open',
  version integer NOT NULL DEFAULT 0, points bigint NOT NULL);
  INSERT INTO ${name} (id, points) SELECT g, 1000000000 FROM generate_series(1, ${N}) g;`;
const ACCOUNTS = accountsTable('accounts');

log(`commands: PostgreSQL at ${PG_URL.replace(/:[^:@/]*@/, ':***@')}, N = ${N}; ${load()}`);
const dbs = await Promise.all([
  dedicated('tally_bench_commands'),
  dedicated('tally_bench_dbos_sys'),
  dedicated('tally_bench_dbos_app'),
]);
const [main, dbosSys, dbosApp] = dbs;
const pool = new pg.Pool({ connectionString: main!.url, max: 10, idleTimeoutMillis: 0 });
// Every statement a pooled connection sends is one round trip (pg waits for each answer).
const counted = { statements: 0 };
pool.on('connect', (client) => {
  const query = client.query.bind(client) as (...a: unknown[]) => unknown;
  (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    counted.statements++;
    return query(...a);
  };
});
/** CPU seconds of this database's server processes (when the server runs on this machine). */
async function serverCpu(): Promise<number | null> {
  const pids = (await pool.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)).rows;
  let ticks = 0;
  for (const { pid } of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      return null;
    }
  }
  return ticks / 100;
}
/** Runs a phase and prints what one operation cost: Node CPU, round trips, server CPU. */
async function measured(
  label: string,
  c: number,
  n: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  const server0 = await serverCpu();
  counted.statements = 0;
  const cpu0 = process.cpuUsage();
  const rate = await run(c, n, op);
  const cpu = process.cpuUsage(cpu0);
  const statements = counted.statements;
  const server1 = await serverCpu();
  const node = (cpu.user + cpu.system) / 1000 / n;
  const srv =
    server0 === null || server1 === null ? 'n/a' : `${(((server1 - server0) * 1000) / n).toFixed(2)} ms`;
  log(
    `${label.padEnd(46)} ${rate.toFixed(0)}/s; per op: Node CPU ${node.toFixed(2)} ms, ` +
      `${(statements / n).toFixed(2)} round trips, server CPU ${srv}; ${load()}`,
  );
  return rate;
}
const appPool = new pg.Pool({ connectionString: dbosApp!.url, max: 10 });
const results: Record<string, number> = {};
try {
  const server = (await pool.query('SHOW server_version')).rows[0].server_version;
  log(`server ${server}; pools of 10`);
  await pool.query(ACCOUNTS);
  // The floor's own copy: its unlogged updates must not break the chains checked at the end.
  await pool.query(accountsTable('floor_accounts'));
  // The hand-written flow's own copy and log table.
  await pool.query(accountsTable('hand_accounts'));
  await pool.query(`CREATE TABLE hand_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account integer NOT NULL, before bigint NOT NULL, after bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())`);
  const tally = await createTally({ db: postgres(pool) });
  await tally.migrate();
  const accounts = tally.entity('account', { table: 'accounts', states: { open: ['closed'], closed: [] } });
  const debitStep = {
    name: 'debit',
    async run(ctx: import('../src/commands/definition.js').StepContext<{ account: number }>) {
      const [a] = await ctx.tx.query<{ points: string }>({
        text: 'SELECT points FROM accounts WHERE id = $1 FOR UPDATE',
        values: [ctx.input.account],
      });
      const points = Number(a!.points);
      if (points < 10) ctx.fail('insufficient_points');
      await accounts.update({
        key: ctx.input.account,
        set: { points: points - 10 },
        action: 'debit',
        ...ctx.write,
      });
      return { left: points - 10 };
    },
  };
  const debit = tally.command<{ account: number }>('debit', {
    fingerprint: (i) => ({ account: i.account }),
    steps: [debitStep],
  });
  const debitCall = tally.command<{ account: number }>('debit_call', {
    fingerprint: (i) => ({ account: i.account }),
    steps: [
      debitStep,
      {
        name: 'notify',
        call: {
          request: (ctx) => ({ account: ctx.input.account, amount: 10 }),
          send: (req: { account: number }, meta) => downstream(req, meta.key),
        },
      },
    ],
  });
  // The same command declared as a change: no JavaScript between the read and the write, one statement
  // (shared by the submits that arrive while two run, decision 0026; or, with batch: false, one each).
  const changeCommand = (name: string, batch?: false) =>
    tally.command<{ account: number }>(name, {
      fingerprint: (i) => ({ account: i.account }),
      change: {
        entity: accounts,
        key: (i) => i.account,
        add: { points: -10 },
        guard: { points: { gte: 10 } },
        action: 'debit',
        reason: 'insufficient_points',
      },
      ...(batch === false ? { batch } : {}),
    });
  const debitChange = changeCommand('debit_change');
  const debitChangeAlone = changeCommand('debit_change_alone', false);
  const submit = (cmd: typeof debit, tag: string) => async (i: number) => {
    const r = await cmd.submit({ key: `${tag}-${i}`, principal: 'bench', input: { account: i } });
    if (r.status !== 'succeeded') throw new Error(`command ${tag}-${i} ended ${r.status}`);
  };

  // Warm-up: pools filled, statements and entity shape cached, JIT warm (not measured).
  await run(8, 200, submit(debit, 'warm'));
  await run(8, 200, submit(debitChange, 'warmc'));
  await run(8, 200, submit(debitChangeAlone, 'warma'));
  await run(8, 200, (i) => pool.query('UPDATE floor_accounts SET points = points - 10 WHERE id = $1', [i]));

  results.floor_c8 = await measured('floor      bare autocommit UPDATE, c=8:', 8, N, (i) =>
    pool.query('UPDATE floor_accounts SET points = points - 10 WHERE id = $1', [i]),
  );
  results.c1 = await measured('tally c=1  change command:', 1, N, submit(debitChange, 'c1'));
  results.c8 = await measured(
    'tally c=8  change command (shared statements):',
    8,
    N,
    submit(debitChange, 'c8'),
  );
  results.alone_c8 = await measured(
    'tally c=8  change command, batch: false:',
    8,
    N,
    submit(debitChangeAlone, 'a8'),
  );
  results.js_c1 = await measured('tally c=1  JS step (general path):', 1, N, submit(debit, 'js1'));
  results.js_c8 = await measured('tally c=8  JS step (general path):', 8, N, submit(debit, 'js8'));
  results.with_call = await measured(
    'tally c=8  JS step + one downstream call:',
    8,
    N,
    submit(debitCall, 'call'),
  );
  // The same flow written by hand: lock, check, update and log in one transaction, then the call.
  const handWithCall = async (i: number) => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query('SELECT points FROM hand_accounts WHERE id = $1 FOR UPDATE', [i]);
      const points = Number(rows[0].points);
      if (points < 10) throw new Error('insufficient_points');
      await c.query('UPDATE hand_accounts SET points = $2, version = version + 1 WHERE id = $1', [
        i,
        points - 10,
      ]);
      await c.query('INSERT INTO hand_log (account, before, after) VALUES ($1, $2, $3)', [
        i,
        points,
        points - 10,
      ]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK');
      throw err;
    } finally {
      c.release();
    }
    await downstream({ account: i }, `hand-${i}`);
  };
  await run(8, 200, handWithCall);
  results.hand_with_call = await measured('hand c=8   one transaction + the same call:', 8, N, handWithCall);
  const [check] = (
    await pool.query(`SELECT count(*)::int AS commands, count(*) FILTER (WHERE status = 'succeeded')::int AS ok,
                             count(*) FILTER (WHERE type = 'debit_change')::int AS change,
                             count(*) FILTER (WHERE attempts <> 0)::int AS retried
                        FROM tally.commands`)
  ).rows;
  const expected = 6 * N + 600;
  if (
    check.commands !== expected ||
    check.ok !== expected ||
    check.change !== 2 * N + 200 ||
    check.retried !== 0
  )
    throw new Error(`commands: ${JSON.stringify(check)}`);
  // Exactly one log row per command, written by that command.
  const [logs] = (
    await pool.query(`SELECT count(*)::int AS n, count(DISTINCT l.command_id)::int AS commands,
                             count(*) FILTER (WHERE c.id IS NULL)::int AS orphans
                        FROM tally.log l LEFT JOIN tally.commands c ON c.id::text = l.command_id
                       WHERE l.action = 'debit'`)
  ).rows;
  if (logs.n !== expected || logs.commands !== expected || logs.orphans !== 0)
    throw new Error(`log rows ${JSON.stringify(logs)}, expected ${expected}, one per command`);
  // Every account's log folds to its row and its hash chain is intact.
  let broken = 0;
  await run(8, N, async (i) => {
    const v = await accounts.verify(i);
    if (!v.ok) broken++;
  });
  if (broken > 0) throw new Error(`${broken} accounts failed verify()`);
  log(`checked: ${expected} commands succeeded, ${logs.n} log rows (one per command), ${N} chains verified`);

  // DBOS: a workflow with one step doing the same lock, check, update and log row.
  await appPool.query(ACCOUNTS);
  await appPool.query(`CREATE TABLE account_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account integer NOT NULL, workflow text NOT NULL, before bigint NOT NULL, after bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now())`);
  const dbosDebit = async (account: number, workflow: string) => {
    const c = await appPool.connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query('SELECT points FROM accounts WHERE id = $1 FOR UPDATE', [account]);
      const points = Number(rows[0].points);
      if (points < 10) throw new Error('insufficient_points');
      await c.query('UPDATE accounts SET points = $2, version = version + 1 WHERE id = $1', [
        account,
        points - 10,
      ]);
      await c.query('INSERT INTO account_log (account, workflow, before, after) VALUES ($1, $2, $3, $4)', [
        account,
        workflow,
        points,
        points - 10,
      ]);
      await c.query('COMMIT');
      return points - 10;
    } catch (err) {
      await c.query('ROLLBACK');
      throw err;
    } finally {
      c.release();
    }
  };
  DBOS.setConfig({ name: 'tally-bench', systemDatabaseUrl: dbosSys!.url, logLevel: 'error' });
  const workflow = DBOS.registerWorkflow(
    async (account: number) =>
      DBOS.runStep(() => dbosDebit(account, DBOS.workflowID ?? ''), { name: 'debit' }),
    { name: 'debitWorkflow' },
  );
  const workflowCall = DBOS.registerWorkflow(
    async (account: number) => {
      await DBOS.runStep(() => dbosDebit(account, DBOS.workflowID ?? ''), { name: 'debit' });
      return DBOS.runStep(() => downstream({ account }, `${DBOS.workflowID}.notify`), { name: 'notify' });
    },
    { name: 'debitCallWorkflow' },
  );
  await DBOS.launch();
  try {
    const start = (tag: string) => (i: number) =>
      DBOS.startWorkflow(workflow, { workflowID: `${tag}-${i}-${randomUUID()}` })(i).then((h) =>
        h.getResult(),
      );
    await run(8, 200, start('warm'));
    results.dbos_c8 = await run(8, N, start('c8'));
    await appPool.query('UPDATE accounts SET points = 1000000000');
    const startCall = (tag: string) => (i: number) =>
      DBOS.startWorkflow(workflowCall, { workflowID: `${tag}-${i}-${randomUUID()}` })(i).then((h) =>
        h.getResult(),
      );
    await run(8, 200, startCall('warmcall'));
    results.dbos_with_call = await run(8, N, startCall('call'));
  } finally {
    await DBOS.shutdown();
  }
  log(`dbos c=8   workflow, one step:            ${results.dbos_c8.toFixed(0)}/s; ${load()}`);
  log(`dbos c=8   workflow, step + the same call:  ${results.dbos_with_call!.toFixed(0)}/s; ${load()}`);
} finally {
  await pool.end();
  await appPool.end();
  for (const d of dbs) await d.drop();
}

const out = {
  bench: 'commands',
  c1_per_s: round(results.c1!, 0),
  c8_per_s: round(results.c8!, 0),
  floor_c8_per_s: round(results.floor_c8!, 0),
  dbos_c8_per_s: round(results.dbos_c8!, 0),
  vs_floor: round(results.c8! / results.floor_c8!, 3),
  vs_dbos: round(results.c8! / results.dbos_c8!, 2),
  with_call_c8_per_s: round(results.with_call!, 0),
  hand_with_call_c8_per_s: round(results.hand_with_call!, 0),
  with_call_vs_hand: round(results.with_call! / results.hand_with_call!, 3),
  dbos_with_call_c8_per_s: round(results.dbos_with_call!, 0),
  with_call_vs_dbos: round(results.with_call! / results.dbos_with_call!, 2),
  unbatched_c8_per_s: round(results.alone_c8!, 0),
  unbatched_vs_floor: round(results.alone_c8! / results.floor_c8!, 3),
  js_step_c1_per_s: round(results.js_c1!, 0),
  js_step_c8_per_s: round(results.js_c8!, 0),
  js_step_vs_floor: round(results.js_c8! / results.floor_c8!, 3),
  js_step_vs_dbos: round(results.js_c8! / results.dbos_c8!, 2),
};
log(
  `change command c=8 is ${(out.vs_floor * 100).toFixed(1)}% of the floor (goal ≥ 50%) and ${out.vs_dbos}× DBOS (goal ≥ 5×); ` +
    `JS step c=8 ${(out.js_step_vs_floor * 100).toFixed(1)}% (goal ≥ 40%) and ${out.js_step_vs_dbos}×; ` +
    `with a call c=8 ${(out.with_call_vs_hand * 100).toFixed(1)}% of the hand-written flow (goal ≥ 50%) and ${out.with_call_vs_dbos}× DBOS`,
);
console.log(JSON.stringify(out));
