import { describe, expect, it } from 'vitest';
import { stableHash } from '../../src/reads/hash.js';
import { planBucketMoves, planRebalance } from '../../src/reads/rebalance.js';
import { bucketOf, createShardLayout, loadShardLayout, routeKey } from '../../src/reads/sharding.js';

// Keys → (database, table) under the default layout (8 databases × 16 tables). These must never change:
// data was placed by them. A change here means every existing deployment would read from wrong tables.
// Cross-check: bucket = first 4 bytes of sha256(key) mod 128, e.g. `printf 'user-42' | sha256sum`.
const GOLDEN: [string | number | bigint, number, string][] = [
  [0, 6, 'members_102'],
  [1, 7, 'members_115'],
  [2, 3, 'members_058'],
  [42, 3, 'members_052'],
  [1001, 6, 'members_103'],
  [123456789, 5, 'members_083'],
  [9007199254740991, 3, 'members_060'],
  [18446744073709551615n, 2, 'members_038'],
  ['user-1', 6, 'members_100'],
  ['user-42', 2, 'members_035'],
  ['alice@example.com', 1, 'members_025'],
  ['张三', 4, 'members_064'],
  ['ORD-2024-000017', 7, 'members_115'],
  ['a', 1, 'members_018'],
];

describe('sharding by virtual buckets', () => {
  const layout = createShardLayout();

  it('routes a fixed table of keys to the same database and table, forever', () => {
    expect(layout.assignment).toHaveLength(128);
    for (const [key, database, table] of GOLDEN) {
      expect({ key: String(key), ...routeKey(layout, key, 'members') }).toEqual({
        key: String(key),
        bucket: Number(table.slice(-3)),
        database,
        table,
      });
    }
    const small = createShardLayout({ databases: 4, tablesPerDatabase: 8 });
    expect(routeKey(small, 'user-1', 'orders')).toEqual({ bucket: 4, database: 0, table: 'orders_04' });
    expect(routeKey(small, 42, 'orders')).toEqual({ bucket: 20, database: 2, table: 'orders_20' });
  });

  it('treats 42, 42n and "42" as one key and spreads keys evenly', () => {
    expect(stableHash(42)).toBe(stableHash('42'));
    expect(stableHash(42n)).toBe(stableHash('42'));
    const perDb = new Array(8).fill(0);
    for (let i = 0; i < 40_000; i++) perDb[routeKey(layout, `user-${i}`, 'm').database]++;
    for (const n of perDb) expect(Math.abs(n - 5_000)).toBeLessThan(400);
  });

  it('moves buckets without rehashing a single key', () => {
    const plan = planRebalance(layout, 10);
    // 128 buckets over 10 databases: 13,13,13,13,13,13,13,13,12,12. The 8 old ones give 3 each.
    expect(plan.moves).toHaveLength(24);
    expect(plan.next.generation).toBe(2);
    const counts = new Array(10).fill(0);
    for (const d of plan.next.assignment) counts[d]++;
    expect(counts).toEqual([13, 13, 13, 13, 13, 13, 13, 13, 12, 12]);
    const moved = new Set(plan.moves.map((m) => m.bucket));
    for (let i = 0; i < 5_000; i++) {
      const key = `user-${i}`;
      const before = routeKey(layout, key, 'members');
      const after = routeKey(plan.next, key, 'members');
      expect(after.bucket).toBe(before.bucket); // never rehashed
      expect(after.table).toBe(before.table); // the table keeps its name, it only changes database
      expect(after.database !== before.database).toBe(moved.has(before.bucket));
    }
    // Planning the same target again moves nothing.
    expect(planRebalance(plan.next, 10).moves).toHaveLength(0);
    // Shrinking back works the same way.
    const back = planRebalance(plan.next, 8);
    expect(back.moves).toHaveLength(24);
    expect(new Set(back.next.assignment).size).toBe(8);
  });

  it('plans explicit bucket moves and round-trips layouts through JSON', () => {
    const plan = planBucketMoves(layout, [
      { bucket: 5, to: 8 },
      { bucket: 6, to: 0 }, // already there: no step
    ]);
    expect(plan.moves).toEqual([{ bucket: 5, from: 0, to: 8 }]);
    expect(plan.next.databases).toBe(9);
    const loaded = loadShardLayout(JSON.parse(JSON.stringify(plan.next)));
    expect(loaded).toEqual(plan.next);
    expect(bucketOf(loaded, 'user-42')).toBe(bucketOf(layout, 'user-42'));
  });

  it('rejects bad keys, layouts and moves with stable codes', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as { code?: string }).code;
      }
      return 'no error';
    };
    expect(code(() => routeKey(layout, 1.5, 'm'))).toBe('INVALID_SHARD_KEY');
    expect(code(() => routeKey(layout, '', 'm'))).toBe('INVALID_SHARD_KEY');
    expect(code(() => routeKey(layout, {} as never, 'm'))).toBe('INVALID_SHARD_KEY');
    expect(code(() => routeKey(layout, 1, 'bad name;'))).toBe('INVALID_IDENTIFIER');
    expect(code(() => createShardLayout({ databases: 0 }))).toBe('INVALID_SHARD_LAYOUT');
    expect(code(() => loadShardLayout({ format: 1, generation: 1, databases: 2, assignment: [0, 2] }))).toBe(
      'INVALID_SHARD_LAYOUT',
    );
    expect(code(() => loadShardLayout(null))).toBe('INVALID_SHARD_LAYOUT');
    expect(code(() => planBucketMoves(layout, []))).toBe('INVALID_BUCKET_MOVE');
    expect(code(() => planBucketMoves(layout, [{ bucket: 128, to: 1 }]))).toBe('INVALID_BUCKET_MOVE');
    expect(
      code(() =>
        planBucketMoves(layout, [
          { bucket: 1, to: 2 },
          { bucket: 1, to: 3 },
        ]),
      ),
    ).toBe('INVALID_BUCKET_MOVE');
    expect(code(() => planRebalance(layout, 200))).toBe('INVALID_BUCKET_MOVE');
  });
});
