import { diffRows, type Found } from './chunks.js';
import type { Session } from './session.js';
import { hashPassSql, hashRowsSql } from './sql.js';

/** What the hash-partitioned compare needs from the range compare's plan. */
export interface HashModePlan {
  sides: readonly [Session, Session];
  tables: readonly [string, string];
  keySql: string;
  hash: string;
  chunkRows: number;
  maxChunks: number;
  factor: number;
  leafRows: number;
}

type Sums = Map<string, { n: number; x: string }>;

const sumsOf = (rows: { c: string; n: number; x: string | null }[]): Sums =>
  new Map(rows.map((r) => [r.c, { n: Number(r.n), x: r.x ?? '0' }]));

const log2floor = (n: number) => Math.max(0, Math.floor(Math.log2(n)));

/**
 * The compare over hash partitions of the key (see `keyBits`): level 0 groups every row by the low
 * bits of its key hash; each differing chunk is split by the next bits, in one scan per level, until it
 * holds at most `leafRows` rows; then keys and row hashes of those chunks are fetched and diffed.
 */
export async function hashModeCompare(
  p: HashModePlan,
  estimate: number,
  found: Found,
  stats: { chunks: number; levels: number; subChunks: number; rowsFetched: number },
  onLevel: (level: number, chunks: number, differing: number) => void,
): Promise<[number, number]> {
  const both = <R>(fn: (s: Session, table: string) => Promise<R>) =>
    Promise.all([fn(p.sides[0], p.tables[0]), fn(p.sides[1], p.tables[1])]);
  const wanted = Math.min(p.maxChunks, Math.max(1, Math.ceil(estimate / p.chunkRows)));
  let bits = Math.min(log2floor(wanted), 20);
  const step = Math.max(1, log2floor(p.factor));
  let mask = (1n << BigInt(bits)) - 1n;
  let parents: { mask: bigint; values: string[] } | null = null;
  const rows: [number, number] = [0, 0];
  const leaves: { mask: bigint; values: string[] }[] = [];
  for (let level = 0; ; level++) {
    const [l, r] = (await both((s, t) =>
      s.query<{ c: string; n: number; x: string | null }>(hashPassSql(t, p.keySql, p.hash, mask, parents)),
    ).then(([a, b]) => [sumsOf(a), sumsOf(b)])) as [Sums, Sums];
    if (level === 0) {
      for (const v of l.values()) rows[0] += v.n;
      for (const v of r.values()) rows[1] += v.n;
      stats.chunks = 1 << bits;
    } else {
      stats.levels = level;
      stats.subChunks += new Set([...l.keys(), ...r.keys()]).size;
    }
    const small: string[] = [];
    const big: string[] = [];
    for (const c of new Set([...l.keys(), ...r.keys()])) {
      const a = l.get(c) ?? { n: 0, x: '0' };
      const b = r.get(c) ?? { n: 0, x: '0' };
      if (a.n === b.n && a.x === b.x) continue;
      (Math.max(a.n, b.n) <= p.leafRows || bits + step > 62 ? small : big).push(c);
    }
    onLevel(level, new Set([...l.keys(), ...r.keys()]).size, small.length + big.length);
    if (small.length > 0) leaves.push({ mask, values: small });
    if (big.length === 0) break;
    parents = { mask, values: big };
    // Without planner statistics level 0 is one chunk: jump straight to chunks of about chunkRows rows.
    const jump = level === 0 ? log2floor(Math.max(...rows) / p.chunkRows) : 0;
    bits = Math.min(62, Math.max(bits + step, jump));
    mask = (1n << BigInt(bits)) - 1n;
  }
  for (const leaf of leaves) {
    const [l, r] = await both((s, t) =>
      s.query<{ k: string; x: string }>(hashRowsSql(t, p.keySql, p.hash, leaf.mask, leaf.values)),
    );
    stats.rowsFetched += l.length + r.length;
    diffRows(l, r, found);
  }
  return rows;
}
