// `npm run bench -- observe`: the commands rate with metrics and tracing off vs on, in one run (issue 15,
// decision 0140). `metrics_overhead` = commands/s off ÷ on (the issue asks ≤ 1.05).
//
// Against PostgreSQL (DATABASE_URL, default the local server), in a dedicated database tally_bench_observe
// created and dropped by the run. accounts(id int PK, state, version, points) — one row per command.
// Three Tally instances over the same pool: `off` (no observe option: NOOP_OBSERVER), metrics only, and
// `on` (observe: { metrics: true, tracing }) with the SDK's BasicTracerProvider, an AsyncLocalStorage context
// manager (what sdk-trace-node registers) and an exporter that drops the spans. The command: one JS step
// (lock, check, update through the entity, so one log row) then one call to an in-process fake downstream,
// concurrency 8. ROUNDS pairs of N-command phases, off and on back to back (which goes first alternates),
// so drift in the machine's load hits both sides; each side's rate is its total commands over its total
// time (metrics_overhead), and overhead_median_pair is the median of the pairs' ratios (robust to a burst
// of load in one phase). The very last line is one JSON object.
import { AsyncLocalStorage } from 'node:async_hooks';
import { loadavg } from 'node:os';
import { type Context, type ContextManager, context, ROOT_CONTEXT } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import pg from 'pg';
import { postgres } from '../src/db/postgres/index.js';
import { createTally, type Tally } from '../src/tally.js';

const N = Number(process.env.BENCH_OBSERVE_N ?? 500);
const ROUNDS = Number(process.env.BENCH_OBSERVE_ROUNDS ?? 12);
const C = 8;
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = 'tally_bench_observe';

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

class AlsContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active = () => this.#als.getStore() ?? ROOT_CONTEXT;
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable = () => this;
  disable = () => this;
}

let spans = 0;
const dropping = {
  export(batch: unknown[], done: (r: { code: number }) => void) {
    spans += batch.length;
    done({ code: 0 });
  },
  shutdown: async () => {},
};

function declare(tally: Tally) {
  const accounts = tally.entity('account', { table: 'accounts', states: { open: [] } });
  return tally.command<{ id: number }>('debit', {
    fingerprint: (i) => ({ id: i.id }),
    steps: [
      {
        name: 'debit',
        async run(ctx) {
          const [a] = await ctx.tx.query<{ points: string }>({
            text: 'SELECT points FROM accounts WHERE id = $1 FOR UPDATE',
            values: [ctx.input.id],
          });
          if (Number(a!.points) < 10) ctx.fail('insufficient');
          await accounts.update({ key: ctx.input.id, set: { points: Number(a!.points) - 10 }, ...ctx.write });
          return null;
        },
      },
      {
        name: 'notify',
        call: { request: (ctx) => ({ id: ctx.input.id }), send: async (_r, meta) => ({ ok: meta.attempt }) },
      },
    ],
  });
}

async function phase(cmd: ReturnType<typeof declare>, from: number, n = N): Promise<number> {
  let next = from;
  const end = from + n;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (next < end) {
        const id = next++;
        const r = await cmd.submit({ key: `k${id}`, principal: 'bench', input: { id } });
        if (r.status !== 'succeeded') throw new Error(`command ${id}: ${r.status}`);
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
await admin(`CREATE DATABASE ${DB}`);
const url = new URL(PG_URL);
url.pathname = `/${DB}`;
const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
pool.on('error', () => {}); // the final DROP ... WITH (FORCE) ends connections pool.end() is still closing
try {
  const db = postgres(pool);
  const total = N * ROUNDS * 3;
  await db.exec(`CREATE TABLE accounts (id integer PRIMARY KEY, state text NOT NULL DEFAULT 'open',
                   version integer NOT NULL DEFAULT 0, points bigint NOT NULL);
                 INSERT INTO accounts (id, points) SELECT g, 1000 FROM generate_series(0, ${N * ROUNDS * 3 + 300}) g`);
  context.setGlobalContextManager(new AlsContextManager());
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(dropping)] });
  const off = await createTally({ db });
  await off.migrate();
  const on = await createTally({ db, observe: { metrics: true, tracing: provider.getTracer('bench') } });
  const cmdOff = declare(off);
  const cmdOn = declare(on);
  // Warm-up, not measured: connections, prepared statements, JIT, on both sides.
  await phase(cmdOff, total, 100);
  await phase(cmdOn, total + 100, 100);
  const mOnly = await createTally({ db, observe: { metrics: true } });
  const cmdM = declare(mOnly);
  await phase(cmdM, total + 200, 100);
  // Three sides per round, in an order that rotates, so a trend in the load favours none.
  const sides = [cmdOff, cmdM, cmdOn];
  const secs = [0, 0, 0];
  const pairs: number[] = [];
  let id = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const took = [0, 0, 0];
    for (let k = 0; k < 3; k++) {
      const i = (r + k) % 3;
      took[i] = await phase(sides[i]!, id);
      id += N;
    }
    for (let i = 0; i < 3; i++) secs[i]! += took[i]!;
    pairs.push(took[2]! / took[0]!); // time on ÷ time off = rate off ÷ rate on
    const rate = (i: number) => ((N * (r + 1)) / secs[i]!).toFixed(0);
    console.log(
      `round ${r + 1}: off ${rate(0)}/s, metrics ${rate(1)}/s, metrics+tracing ${rate(2)}/s  (load ${loadavg()[0]!.toFixed(2)})`,
    );
  }
  const [offS, mS, onS] = secs as [number, number, number];
  const offRate = (N * ROUNDS) / offS;
  const onRate = (N * ROUNDS) / onS;
  const scraped = await on.metrics().metrics();
  const submits = /tally_command_submits_total\{type="debit",outcome="succeeded"\} (\d+)/.exec(scraped)?.[1];
  console.log(`on: ${submits} submits counted, ${spans} spans exported`);
  console.log(
    JSON.stringify({
      bench: 'observe',
      n_per_side: N * ROUNDS,
      concurrency: C,
      off_per_s: Math.round(offRate),
      on_per_s: Math.round(onRate),
      metrics_only_per_s: Math.round((N * ROUNDS) / mS),
      metrics_overhead: Number((offRate / onRate).toFixed(3)),
      metrics_only_overhead: Number((offRate / ((N * ROUNDS) / mS)).toFixed(3)),
      overhead_median_pair: Number(median(pairs).toFixed(3)),
      load: Number(loadavg()[0]!.toFixed(2)),
    }),
  );
} finally {
  await pool.end();
  await admin(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
}
