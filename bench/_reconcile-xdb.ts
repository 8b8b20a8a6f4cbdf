// The cross-database half of `npm run bench -- reconcile` (engineer H4's; the leading `_` keeps bench/run.ts
// from listing it; `npm run bench -- xdb` runs it alone). 1,000,000 rows of the same table in two dedicated
// databases, 1,000 planted differences (400 changed, 300 only left, 300 only right). Timed: compareTables
// (median of 3), beside a naive baseline that fetches both tables through cursors and compares row by row.
import { loadavg } from 'node:os';
import pg from 'pg';
import { postgres } from '../src/db/postgres/index.js';
import type { Executor } from '../src/db/types.js';
import { compareTables, naiveCompare } from '../src/reconcile/xdb/index.js';
import type { CompareReport } from '../src/reconcile/xdb/types.js';
import { backendCpu, cpuSince, dedicatedDatabase, median, round, shuffledIds, timed } from './_shared.js';

const ROWS = 1_000_000;
const COLUMNS = ['name', 'amount', 'qty', 'at', 'flag', 'score', 'note'];

export interface XdbFigures {
  rows: number;
  rows_per_s: number;
  found: number;
  planted: number;
  extra: number;
  s: number;
  naive_s?: number;
  ratio?: number;
  /** One more compare with parallel query off: CPU seconds of the two servers' backends and of Node. */
  server_cpu_s?: number | null;
  node_cpu_s?: number;
}

/** Disjoint planted keys from one seeded permutation. */
function plan() {
  const ids = shuffledIds(ROWS, 11);
  let next = 0;
  const take = (n: number) => {
    const out = Array.from(ids.subarray(next, next + n));
    next += n;
    return out;
  };
  return { changed: take(400), onlyLeft: take(300), onlyRight: take(300) };
}

export async function benchXdb(
  log: (line: string) => void = console.log,
  opts: { naive?: boolean } = {},
): Promise<XdbFigures> {
  const [l, r] = await Promise.all([
    dedicatedDatabase('tally_bench_xdb_left'),
    dedicatedDatabase('tally_bench_xdb_right'),
  ]);
  const pools = [l, r].map((d) => {
    const p = new pg.Pool({ connectionString: d.url, max: 2 });
    p.on('error', () => {});
    return p;
  });
  try {
    const [left, right] = pools.map((p) => postgres(p)) as [Executor, Executor];
    const p = plan();
    const build = await timed(async () => {
      await Promise.all(
        [left, right].map((db) =>
          db.exec(`CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12, 2), qty integer,
                     at timestamptz, flag boolean, score double precision, note text);
                   INSERT INTO items SELECT g, 'item-' || g, g * 1.25, g % 100,
                     timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', g % 2 = 0, g / 7.0,
                     CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || (g % 11) END FROM generate_series(1, ${ROWS}) g;`),
        ),
      );
      await right.query({
        text: `UPDATE items SET name = name || '!', note = NULL, score = score + 1e-9 WHERE id = ANY($1::bigint[])`,
        values: [p.changed],
      });
      await right.query({ text: 'DELETE FROM items WHERE id = ANY($1::bigint[])', values: [p.onlyLeft] });
      await left.query({ text: 'DELETE FROM items WHERE id = ANY($1::bigint[])', values: [p.onlyRight] });
      await Promise.all(pools.map((pool) => pool.query('VACUUM ANALYZE items')));
    });
    log(`built 2 x ${ROWS.toLocaleString('en')} rows in ${build.s.toFixed(1)} s`);
    // XDB_OPTS='{"leafRows":16}' tries other chunk sizes; the figures are for the defaults.
    const tuning = JSON.parse(process.env.XDB_OPTS ?? '{}') as Record<string, number>;
    const options = {
      left: { db: left, table: 'items' },
      right: { db: right, table: 'items' },
      key: 'id',
      columns: COLUMNS,
      ...tuning,
    };
    const runs: { s: number; value: CompareReport }[] = [];
    for (let i = 0; i < 3; i++) runs.push(await timed(() => compareTables(options)));
    const s = median(runs.map((x) => x.s));
    const report = runs[runs.length - 1]!.value;
    const expect = {
      changed: new Set(p.changed.map(String)),
      missingRight: new Set(p.onlyLeft.map(String)),
      missingLeft: new Set(p.onlyRight.map(String)),
    };
    const hits = (keys: readonly string[], set: Set<string>) => keys.filter((k) => set.has(k)).length;
    const found =
      hits(
        report.changed.map((c) => c.key),
        expect.changed,
      ) +
      hits(report.missingRight, expect.missingRight) +
      hits(report.missingLeft, expect.missingLeft);
    const extra = report.changed.length + report.missingLeft.length + report.missingRight.length - found;
    const rows = Math.max(report.left.rows, report.right.rows);
    const figures: XdbFigures = {
      rows,
      rows_per_s: Math.round(rows / s),
      found,
      planted: 1000,
      extra,
      s: round(s, 2),
    };
    log(
      `compareTables: ${s.toFixed(2)} s (runs ${runs.map((x) => x.s.toFixed(2)).join(', ')}), ` +
        `${figures.rows_per_s.toLocaleString('en')} rows/s; found ${found}/1000, ${extra} unexpected; ` +
        `${report.stats.chunks} chunks, ${report.stats.levels} bisection levels, ${report.stats.rowsFetched} rows fetched`,
    );
    // CPU, less sensitive than wall time to a shared machine: one run on fresh connections with parallel
    // query off (parallel workers exit before their CPU can be read), both servers' backends summed.
    for (const d of [l, r]) {
      const name = new URL(d.url).pathname.slice(1);
      await pools[0]!.query(`ALTER DATABASE ${name} SET max_parallel_workers_per_gather = 0`);
    }
    const cpuPools = [l, r].map((d) => {
      const p = new pg.Pool({ connectionString: d.url, max: 1 });
      p.on('error', () => {});
      return p;
    });
    try {
      const names = [l, r].map((d) => new URL(d.url).pathname.slice(1));
      const before = await Promise.all(cpuPools.map((p, i) => backendCpu(p, names[i]!)));
      const node0 = process.cpuUsage();
      const [cl, cr] = cpuPools.map((p) => postgres(p)) as [Executor, Executor];
      await compareTables({
        ...options,
        left: { db: cl, table: 'items' },
        right: { db: cr, table: 'items' },
      });
      const node = process.cpuUsage(node0);
      const after = await Promise.all(cpuPools.map((p, i) => backendCpu(p, names[i]!)));
      const server = [0, 1].map((i) => cpuSince(before[i]!, after[i]!));
      figures.server_cpu_s = server.every((x) => x !== null)
        ? round((server[0] ?? 0) + (server[1] ?? 0), 2)
        : null;
      figures.node_cpu_s = round((node.user + node.system) / 1e6, 2);
      log(
        `CPU for one compare (parallel query off): servers ${figures.server_cpu_s ?? 'n/a'} s ` +
          `(left ${server[0] ?? 'n/a'}, right ${server[1] ?? 'n/a'}), Node ${figures.node_cpu_s} s`,
      );
    } finally {
      await Promise.all(cpuPools.map((p) => p.end().catch(() => {})));
    }
    if (opts.naive !== false) {
      const naive = await naiveCompare(options);
      figures.naive_s = round(naive.ms / 1000, 2);
      figures.ratio = round(naive.ms / 1000 / s, 1);
      log(
        `naive full fetch and compare: ${figures.naive_s} s, ${naive.differences} differences, ${naive.rows.toLocaleString('en')} rows moved; ` +
          `compareTables is ${figures.ratio}x faster`,
      );
    }
    log(
      `load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    return figures;
  } finally {
    await Promise.all(pools.map((p) => p.end().catch(() => {})));
    await Promise.all([l.drop(), r.drop()]);
  }
}

export default benchXdb;
