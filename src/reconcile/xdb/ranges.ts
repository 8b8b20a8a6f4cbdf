import {
  type Chunk,
  chunksBetween,
  differing,
  diffRows,
  type Found,
  integerChunks,
  type Sums,
  splitInteger,
  toArrays,
  toSums,
} from './chunks.js';
import type { ResolvedCompare } from './options.js';
import type { Session } from './session.js';
import {
  chunkRowsSql,
  chunkSumsSql,
  integerPassSql,
  integerSubSumsSql,
  splitPointsSql,
  textPassPointsSql,
} from './sql.js';

// Key-range chunking (integer keys, and text keys ordered by bytes on both sides): the first pass, the
// bisection levels and the final fetch of small chunks. Each step runs the same statement on both sides.

export type Sides = [Session, Session];

/** What one compare knows once both tables are read: the SQL pieces both sides share. */
export interface Plan {
  o: ResolvedCompare;
  sides: Sides;
  kind: 'integer' | 'text';
  keyType: string;
  collate: string;
  hash: string;
  exprs: string[];
  started: number;
}

/** Runs one statement per side at the same time (each side on its own connection). */
export function both<R>(p: Plan, fn: (s: Session, i: 0 | 1) => Promise<R>): Promise<[R, R]> {
  return Promise.all([fn(p.sides[0], 0), fn(p.sides[1], 1)]);
}

export const tableOf = (p: Plan, i: 0 | 1) => (i === 0 ? p.o.left.sql : p.o.right.sql);

export async function sums(p: Plan, chunks: readonly Chunk[]): Promise<[Sums, Sums]> {
  const arrays = toArrays(chunks);
  const r = await both(p, (s, i) =>
    s.query<{ c: number; n: number; x: string | null }>(
      chunkSumsSql(tableOf(p, i), p.o.keySql, p.keyType, p.collate, p.hash, arrays),
    ),
  );
  return [toSums(r[0]), toSums(r[1])];
}

/** First pass over an integer key: one grouped scan per side, buckets by arithmetic. */
export async function integerPass(p: Plan, lo: string, hi: string) {
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
export async function textPass(p: Plan, lo: string, hi: string, est: [number, number]) {
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
export async function integerLevel(p: Plan, chunks: Chunk[]): Promise<Level> {
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
export async function textLevel(p: Plan, chunks: Chunk[]): Promise<Level> {
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
export async function diffLeaves(
  p: Plan,
  leaves: readonly Chunk[],
  found: Found,
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
    diffRows(l, r, found);
  }
}
