import { postgres } from '../../db/postgres/index.js';
import type { Executor } from '../../db/types.js';
import {
  type Chunk,
  chunksBetween,
  compareText,
  differing,
  integerChunks,
  type Sums,
  splitInteger,
  toArrays,
  toSums,
} from './chunks.js';
import { describeChanges } from './detail.js';
import { hashModeCompare } from './hashmode.js';
import { columnForms, keyKindOf, readShape } from './introspect.js';
import { type ResolvedCompare, resolveCompare } from './options.js';
import { openSessions, type Session } from './session.js';
import {
  boundsSql,
  chunkRowsSql,
  chunkSumsSql,
  integerPassSql,
  integerSubSumsSql,
  rowHash,
  splitPointsSql,
  textPassPointsSql,
} from './sql.js';
import type { CompareOptions, CompareProgress, CompareReport } from './types.js';

type Sides = [Session, Session];

/** What one compare knows once both tables are read: the SQL pieces both sides share. */
interface Plan {
  o: ResolvedCompare;
  sides: Sides;
  kind: 'integer' | 'text';
  keyType: string;
  collate: string;
  hash: string;
  exprs: string[];
  started: number;
}

/**
 * Compares a table in two PostgreSQL databases by checksums of key-range chunks (the data-diff
 * approach): one pass checksums every chunk on both sides at once, only chunks whose count or hash
 * differ are split and checksummed again until they are small, and only those small chunks' keys and
 * row hashes travel. Each side reads one snapshot. Reports keys missing on either side and changed rows.
 *
 * @example
 * const report = await compareTables({
 *   left: { db: postgres(upstreamPool), table: 'public.orders' },
 *   right: { db: 'postgres://replica.example/warehouse', table: 'sales.orders_copy' },
 *   key: 'id',
 *   columns: ['status', 'amount', 'updated_at'],
 *   onProgress: (p) => console.error(p.phase, p.level, p.differing),
 * });
 * if (!report.equal) console.log(report.missingLeft, report.missingRight, report.changed);
 */
export async function compareTables(options: CompareOptions): Promise<CompareReport> {
  const o = resolveCompare(options);
  const started = Date.now();
  const owned: Executor[] = [];
  const open = async (db: Executor | string) => {
    if (typeof db !== 'string') return db;
    const e = await postgres(db);
    owned.push(e);
    return e;
  };
  const sessions: Session[] = [];
  try {
    const [ldb, rdb] = await Promise.all([open(o.left.db), open(o.right.db)]);
    sessions.push(...(await openSessions([ldb, rdb])));
    return await run(o, sessions as Sides, started);
  } finally {
    await Promise.all(sessions.map((s) => s.end().catch(() => {})));
    await Promise.all(owned.map((e) => e.close().catch(() => {})));
  }
}

async function run(o: ResolvedCompare, sides: Sides, started: number): Promise<CompareReport> {
  const [ls, rs] = await Promise.all([
    readShape(sides[0], 'left', o.left.sql, o.key, o.columns),
    readShape(sides[1], 'right', o.right.sql, o.key, o.columns),
  ]);
  const { kind, collate } = keyKindOf(o.key, ls, rs);
  const forms = columnForms(o.columns, o.columnsSql, ls, rs, o.allowTypeMismatch);
  const exprs = forms.map((f) => f.expr);
  const keyHash =
    kind === 'integer'
      ? `hashint8extended(${o.keySql}::int8, 0)`
      : `hashtextextended(${o.keySql}::text COLLATE "C", 0)`;
  const p: Plan = {
    o,
    sides,
    kind,
    keyType: kind === 'integer' ? 'int8' : 'text',
    collate,
    hash: rowHash(
      keyHash,
      forms.map((f) => f.hash),
    ),
    exprs,
    started,
  };
  const progress = (phase: CompareProgress['phase'], level: number, chunks: number, diff: number) =>
    o.onProgress({ phase, level, chunks, differing: diff, elapsedMs: Date.now() - started });

  const bounds = await both(p, (s, i) =>
    s.query<{ lo: string | null; hi: string | null; est: number | null }>(
      boundsSql(i === 0 ? o.left.sql : o.right.sql, o.keySql, collate),
    ),
  );
  progress('bounds', 0, 0, 0);
  const [lb, rb] = bounds.map((b) => b[0]!);
  const los = [lb!.lo, rb!.lo].filter((v): v is string => v !== null);
  const his = [lb!.hi, rb!.hi].filter((v): v is string => v !== null);
  const rows: [number, number] = [0, 0];
  const found = { missingLeft: [] as string[], missingRight: [] as string[], changed: [] as string[] };
  const stats = { chunks: 0, levels: 0, subChunks: 0, rowsFetched: 0 };
  if (los.length > 0) {
    const cmp =
      kind === 'integer'
        ? (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0)
        : compareText;
    const lo = los.reduce((a, b) => (cmp(a, b) <= 0 ? a : b));
    const hi = his.reduce((a, b) => (cmp(a, b) >= 0 ? a : b));
    const est: [number, number] = [Number(lb!.est ?? 0), Number(rb!.est ?? 0)];
    if (collate !== '') {
      // Text keys not ordered by bytes on both sides: ranges could not use an index, so hash partitions.
      const counted = await hashModeCompare(
        { ...o, sides, tables: [o.left.sql, o.right.sql], keySql: o.keySql, hash: p.hash },
        Math.max(...est),
        found,
        stats,
        (level, chunks, diff) => progress(level === 0 ? 'checksum' : 'bisect', level, chunks, diff),
      );
      rows[0] = counted[0];
      rows[1] = counted[1];
    } else {
      const first = kind === 'integer' ? await integerPass(p, lo, hi) : await textPass(p, lo, hi, est);
      stats.chunks = first.chunks.length;
      for (const c of first.chunks) {
        rows[0] += c.n[0];
        rows[1] += c.n[1];
      }
      progress('checksum', 0, first.chunks.length, first.diff.length);
      let pending = first.diff;
      const leaves: Chunk[] = [];
      while (pending.length > 0) {
        const big = pending.filter((c) => Math.max(c.n[0], c.n[1]) > o.leafRows);
        leaves.push(...pending.filter((c) => Math.max(c.n[0], c.n[1]) <= o.leafRows));
        if (big.length === 0) break;
        const level = p.kind === 'integer' ? await integerLevel(p, big) : await textLevel(p, big);
        leaves.push(...level.unsplittable);
        if (level.subs.length === 0) break;
        stats.levels++;
        stats.subChunks += level.subs.length;
        pending = level.diff;
        progress('bisect', stats.levels, level.subs.length, pending.length);
      }
      await diffLeaves(p, leaves, found, stats);
    }
    const differences = found.missingLeft.length + found.missingRight.length + found.changed.length;
    progress('fetch', stats.levels, stats.rowsFetched, differences);
  }
  const sortKeys = (a: string[]) =>
    kind === 'integer' ? a.sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1)) : a.sort(compareText);
  sortKeys(found.changed);
  const changed = await describeChanges(
    p.sides,
    [o.left.sql, o.right.sql],
    o.keySql,
    p.keyType,
    exprs,
    o.columns,
    found.changed,
    o.detailLimit,
  );
  if (found.changed.length > 0) progress('detail', stats.levels, changed.length, found.changed.length);
  const ms = Date.now() - started;
  progress('done', stats.levels, 0, 0);
  return {
    equal: found.missingLeft.length + found.missingRight.length + found.changed.length === 0,
    left: { table: o.left.table, rows: rows[0] },
    right: { table: o.right.table, rows: rows[1] },
    key: o.key,
    keyKind: kind,
    columns: o.columns,
    missingLeft: sortKeys(found.missingLeft),
    missingRight: sortKeys(found.missingRight),
    changed,
    stats: {
      ...stats,
      ms,
      rowsPerSecond: Math.round(Math.max(rows[0], rows[1]) / Math.max(ms / 1000, 0.001)),
    },
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
  };
}

/** Runs one statement per side at the same time (each side on its own connection). */
function both<R>(p: Plan, fn: (s: Session, i: 0 | 1) => Promise<R>): Promise<[R, R]> {
  return Promise.all([fn(p.sides[0], 0), fn(p.sides[1], 1)]);
}

const tableOf = (p: Plan, i: 0 | 1) => (i === 0 ? p.o.left.sql : p.o.right.sql);

async function sums(p: Plan, chunks: readonly Chunk[]): Promise<[Sums, Sums]> {
  const arrays = toArrays(chunks);
  const r = await both(p, (s, i) =>
    s.query<{ c: number; n: number; x: string | null }>(
      chunkSumsSql(tableOf(p, i), p.o.keySql, p.keyType, p.collate, p.hash, arrays),
    ),
  );
  return [toSums(r[0]), toSums(r[1])];
}

/** First pass over an integer key: one grouped scan per side, buckets by arithmetic. */
async function integerPass(p: Plan, lo: string, hi: string) {
  const l = BigInt(lo);
  const h = BigInt(hi);
  const count = (h - l + 1n + BigInt(p.o.chunkRows) - 1n) / BigInt(p.o.chunkRows);
  const cap = BigInt(p.o.maxChunks);
  const { chunks, width } = integerChunks(l, h, count < 1n ? 1n : count > cap ? cap : count);
  const wide = h - l >= 2n ** 62n; // key - lo could leave bigint: bucket in numeric
  const r = await both(p, (s, i) =>
    s.query<{ c: number; n: number; x: string | null }>(
      integerPassSql(tableOf(p, i), p.o.keySql, p.hash, l, width, wide),
    ),
  );
  return { chunks, diff: differing(chunks, toSums(r[0]), toSums(r[1])) };
}

/** First pass over a text key: split points every `step` keys of the larger side, then chunk sums. */
async function textPass(p: Plan, lo: string, hi: string, est: [number, number]) {
  // Planner statistics are enough to size chunks; a stale estimate only changes how much bisection does.
  const step = Math.max(p.o.chunkRows, Math.ceil(Math.max(...est) / p.o.maxChunks));
  const from = est[1] > est[0] ? 1 : 0;
  const points = await p.sides[from].query<{ k: string }>(
    textPassPointsSql(tableOf(p, from), p.o.keySql, p.collate, step),
  );
  const chunks = chunksBetween(
    lo,
    hi,
    true,
    points.map((r) => r.k),
  );
  const [l, r] = await sums(p, chunks);
  return { chunks, diff: differing(chunks, l, r) };
}

interface Level {
  subs: Chunk[];
  diff: Chunk[];
  unsplittable: Chunk[];
}

/** One bisection level over integer keys: each chunk into up to `factor` equal-width parts. */
async function integerLevel(p: Plan, chunks: Chunk[]): Promise<Level> {
  const parents: Chunk[] = [];
  const widths: string[] = [];
  const slots: (Chunk | null)[] = [];
  const unsplittable: Chunk[] = [];
  let wide = false;
  for (const c of chunks) {
    const s = splitInteger(c, p.o.factor);
    if (!s) {
      unsplittable.push(c);
      continue;
    }
    wide ||= BigInt(c.hi) - BigInt(c.lo) >= 2n ** 62n;
    parents.push(c);
    widths.push(s.width.toString());
    // Sub-chunk ids as the SQL numbers them: parent index × factor + part.
    const base = slots.length;
    slots.push(...s.parts);
    while (slots.length < base + p.o.factor) slots.push(null);
  }
  const subs = slots.filter((c): c is Chunk => c !== null);
  if (parents.length === 0) return { subs: [], diff: [], unsplittable };
  let l: Sums;
  let r: Sums;
  if (wide) {
    // Key spans beyond bigint arithmetic: one range scan per sub-chunk instead.
    [l, r] = await sums(p, subs);
    return { subs, diff: differing(subs, l, r), unsplittable };
  }
  const arrays = toArrays(parents);
  const res = await both(p, (s, i) =>
    s.query<{ c: number; n: number; x: string | null }>(
      integerSubSumsSql(tableOf(p, i), p.o.keySql, p.hash, arrays, widths, p.o.factor),
    ),
  );
  [l, r] = [toSums(res[0]), toSums(res[1])];
  return { subs, diff: differing(slots, l, r), unsplittable };
}

/** One bisection level over text keys: split points read from the side with more rows in each chunk. */
async function textLevel(p: Plan, chunks: Chunk[]): Promise<Level> {
  const subs: Chunk[] = [];
  const unsplittable: Chunk[] = [];
  const groups: [Chunk[], Chunk[]] = [[], []];
  for (const c of chunks) groups[c.n[1] > c.n[0] ? 1 : 0].push(c);
  const points = await both(p, (s, i) =>
    groups[i].length === 0
      ? Promise.resolve([])
      : s.query<{ c: number; k: string }>(
          splitPointsSql(tableOf(p, i), p.o.keySql, p.collate, toArrays(groups[i]), p.o.factor),
        ),
  );
  for (const i of [0, 1] as const) {
    const byChunk = new Map<number, string[]>();
    for (const r of points[i]) {
      const list = byChunk.get(Number(r.c)) ?? [];
      list.push(r.k);
      byChunk.set(Number(r.c), list);
    }
    groups[i].forEach((c, j) => {
      const pts = byChunk.get(j);
      if (pts && pts.length > 0) subs.push(...chunksBetween(c.lo, c.hi, c.last, pts));
      else unsplittable.push(c);
    });
  }
  if (subs.length === 0) return { subs, diff: [], unsplittable };
  const [l, r] = await sums(p, subs);
  return { subs, diff: differing(subs, l, r), unsplittable };
}

/** Fetches keys and row hashes of the small differing chunks from both sides and diffs them by key. */
async function diffLeaves(
  p: Plan,
  leaves: readonly Chunk[],
  found: { missingLeft: string[]; missingRight: string[]; changed: string[] },
  stats: { rowsFetched: number },
): Promise<void> {
  const BATCH = 4096;
  for (let i = 0; i < leaves.length; i += BATCH) {
    const arrays = toArrays(leaves.slice(i, i + BATCH));
    const [l, r] = await both(p, (s, side) =>
      s.query<{ k: string; x: string }>(
        chunkRowsSql(tableOf(p, side), p.o.keySql, p.keyType, p.collate, p.hash, arrays),
      ),
    );
    stats.rowsFetched += l.length + r.length;
    const right = new Map(r.map((row) => [row.k, row.x]));
    for (const row of l) {
      const x = right.get(row.k);
      if (x === undefined) found.missingRight.push(row.k);
      else if (x !== row.x) found.changed.push(row.k);
      right.delete(row.k);
    }
    for (const k of right.keys()) found.missingLeft.push(k);
  }
}
