import { type Chunk, compareText } from './chunks.js';
import { describeChanges } from './detail.js';
import { hashModeCompare } from './hashmode.js';
import { columnForms, keyKindOf, readShape } from './introspect.js';
import { type ResolvedCompare, resolveCompare } from './options.js';
import {
  both,
  diffLeaves,
  integerLevel,
  integerPass,
  type Plan,
  type Sides,
  textLevel,
  textPass,
} from './ranges.js';
import { withSides } from './session.js';
import { boundsSql, rowHash } from './sql.js';
import type { CompareOptions, CompareProgress, CompareReport } from './types.js';

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
  return withSides(o.left.db, o.right.db, (sides) => run(o, sides, started));
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
