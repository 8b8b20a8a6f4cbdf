import type { ChunkArrays } from './sql.js';

/** A slice of the key space: `lo <= key < hi`, or `lo <= key <= hi` when `last`. Keys as text. */
export interface Chunk {
  lo: string;
  hi: string;
  last: boolean;
  /** Rows on the left and on the right (once checksummed). */
  n: [number, number];
}

/** Per-chunk count and XOR of row hashes, as one side returned them. */
export type Sums = Map<number, { n: number; x: string }>;

export function toSums(rows: { c: number; n: number; x: string | null }[]): Sums {
  return new Map(rows.map((r) => [Number(r.c), { n: Number(r.n), x: r.x ?? '0' }]));
}

export function toArrays(chunks: readonly Chunk[], ids?: readonly number[]): ChunkArrays {
  return {
    ids: ids ? [...ids] : chunks.map((_, i) => i),
    los: chunks.map((c) => c.lo),
    his: chunks.map((c) => c.hi),
    lasts: chunks.map((c) => c.last),
  };
}

/**
 * Keeps the chunks whose counts or hashes differ between the sides (a chunk absent from one side's
 * answer has no rows there) and records both counts on each.
 */
export function differing(chunks: readonly (Chunk | null)[], left: Sums, right: Sums): Chunk[] {
  const out: Chunk[] = [];
  chunks.forEach((c, i) => {
    if (!c) return; // a slot no chunk fills (see integerLevel)
    const l = left.get(i) ?? { n: 0, x: '0' };
    const r = right.get(i) ?? { n: 0, x: '0' };
    c.n = [l.n, r.n];
    if (l.n !== r.n || l.x !== r.x) out.push(c);
  });
  return out;
}

/** Equal-width integer chunks covering [lo, hi] (inclusive), at most `count` of them. */
export function integerChunks(lo: bigint, hi: bigint, count: bigint): { chunks: Chunk[]; width: bigint } {
  const span = hi - lo + 1n;
  const width = (span + count - 1n) / count;
  const chunks: Chunk[] = [];
  for (let a = lo; a <= hi; a += width) {
    const end = a + width;
    const last = end > hi;
    chunks.push({ lo: a.toString(), hi: (last ? hi : end).toString(), last, n: [0, 0] });
  }
  return { chunks, width };
}

/**
 * Splits an integer chunk into up to `factor` equal parts of `width` keys (sub-chunk j starts at
 * lo + j × width); null when it holds a single key.
 */
export function splitInteger(c: Chunk, factor: number): { parts: Chunk[]; width: bigint } | null {
  const lo = BigInt(c.lo);
  const hi = BigInt(c.hi);
  const top = c.last ? hi : hi - 1n; // the largest key the chunk can hold
  if (top <= lo) return null;
  const { chunks, width } = integerChunks(lo, top, BigInt(factor));
  const parts = chunks.map((s, i, all) =>
    i === all.length - 1 && !c.last ? { ...s, hi: c.hi, last: false } : s,
  );
  return { parts, width };
}

/** Chunks between sorted split points: [lo, p1), [p1, p2), ..., [pk, hi] (last as the parent). */
export function chunksBetween(lo: string, hi: string, last: boolean, points: readonly string[]): Chunk[] {
  const bounds = [lo, ...points];
  return bounds.map((b, i) => ({
    lo: b,
    hi: i + 1 < bounds.length ? bounds[i + 1]! : hi,
    last: i + 1 < bounds.length ? false : last,
    n: [0, 0] as [number, number],
  }));
}

/** Byte order of UTF-8 text, as the database's "C" collation compares it. */
export function compareText(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Keys found missing on one side or changed, as a compare collects them. */
export interface Found {
  missingLeft: string[];
  missingRight: string[];
  changed: string[];
}

/** Sorts the fetched (key, row hash) pairs of one small chunk into `found`: missing left, right, or changed. */
export function diffRows(
  left: readonly { k: string; x: string }[],
  right: readonly { k: string; x: string }[],
  found: Found,
): void {
  const rest = new Map(right.map((row) => [row.k, row.x]));
  for (const row of left) {
    const x = rest.get(row.k);
    if (x === undefined) found.missingRight.push(row.k);
    else if (x !== row.x) found.changed.push(row.k);
    rest.delete(row.k);
  }
  for (const k of rest.keys()) found.missingLeft.push(k);
}
