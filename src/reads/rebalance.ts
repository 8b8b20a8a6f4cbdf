import { TallyError } from '../errors.js';
import { freeze, type ShardLayout } from './sharding.js';

export interface BucketMove {
  readonly bucket: number;
  readonly from: number;
  readonly to: number;
}

/**
 * A plan: the layout to switch to once the listed buckets (tables) have been copied. Keys never change
 * bucket; only these buckets' tables change database. Carry it out per bucket: copy the table to `to`,
 * catch up, switch routing to `next` (by generation), then drop the table from `from`.
 */
export interface MovePlan {
  readonly next: ShardLayout;
  readonly moves: readonly BucketMove[];
}

const bad = (m: string): never => {
  throw new TallyError('INVALID_BUCKET_MOVE', m);
};

/**
 * Plans moving named buckets to other databases (possibly new ones: `to` may be ≥ layout.databases,
 * which grows the layout).
 *
 * @example
 * const plan = planBucketMoves(layout, [{ bucket: 5, to: 8 }]);
 * plan.moves // [{ bucket: 5, from: 0, to: 8 }]; plan.next.generation === layout.generation + 1
 */
export function planBucketMoves(
  layout: ShardLayout,
  moves: readonly { bucket: number; to: number }[],
): MovePlan {
  if (!Array.isArray(moves) || moves.length === 0) bad('moves must be a non-empty array of { bucket, to }');
  const assignment = [...layout.assignment];
  const seen = new Set<number>();
  const out: BucketMove[] = [];
  let databases = layout.databases;
  for (const m of moves) {
    if (!Number.isInteger(m?.bucket) || m.bucket < 0 || m.bucket >= assignment.length) {
      bad(`bucket must be an integer from 0 to ${assignment.length - 1}`);
    }
    if (!Number.isInteger(m.to) || m.to < 0 || m.to >= 4096)
      bad('to must be a database index from 0 to 4095');
    if (seen.has(m.bucket)) bad(`bucket ${m.bucket} is moved twice in one plan`);
    seen.add(m.bucket);
    const from = assignment[m.bucket]!;
    if (from === m.to) continue; // already there: nothing to copy
    assignment[m.bucket] = m.to;
    databases = Math.max(databases, m.to + 1);
    out.push(Object.freeze({ bucket: m.bucket, from, to: m.to }));
  }
  return Object.freeze({
    next: freeze({ format: 1, generation: layout.generation + 1, databases, assignment }),
    moves: Object.freeze(out),
  });
}

/**
 * Plans spreading the buckets evenly over `databases` databases while moving as few as possible: each
 * database keeps up to its fair share and only the excess moves, to the databases below their share.
 *
 * @example
 * const plan = planRebalance(createShardLayout(), 10); // grow 8 → 10 databases
 * plan.moves.length // 24: 12 or 13 buckets each, no key rehashed
 */
export function planRebalance(layout: ShardLayout, databases: number): MovePlan {
  if (!Number.isInteger(databases) || databases < 1 || databases > 4096) bad('databases must be 1 to 4096');
  const n = layout.assignment.length;
  if (databases > n) bad(`cannot spread ${n} buckets over ${databases} databases`);
  // Fair shares: the first (n % databases) databases take one bucket more.
  const quota = (d: number) => Math.floor(n / databases) + (d < n % databases ? 1 : 0);
  const held: number[][] = Array.from({ length: Math.max(databases, layout.databases) }, () => []);
  for (const [b, d] of layout.assignment.entries()) held[d]!.push(b);
  const spare: number[] = [];
  held.forEach((buckets, d) => {
    const keep = d < databases ? quota(d) : 0;
    // Keep the lowest-numbered buckets, release the rest (deterministic plans for the same input).
    spare.push(...buckets.slice(keep));
  });
  spare.sort((a, b) => a - b);
  const moves: { bucket: number; to: number }[] = [];
  for (let d = 0; d < databases; d++) {
    for (let have = Math.min(held[d]!.length, quota(d)); have < quota(d); have++) {
      moves.push({ bucket: spare.shift()!, to: d });
    }
  }
  if (moves.length === 0) {
    return Object.freeze({
      next: freeze({ ...layout, generation: layout.generation + 1, databases }),
      moves: [],
    });
  }
  const plan = planBucketMoves(layout, moves);
  return Object.freeze({ next: freeze({ ...plan.next, databases }), moves: plan.moves });
}
