import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { createReadRouter, type ReadRouter } from '../../src/reads/router.js';
import { createShardedReads } from '../../src/reads/sharded.js';
import { bucketTable, createShardLayout } from '../../src/reads/sharding.js';
import { type CausalToken, mergeTokens } from '../../src/reads/token.js';
import { createTokenCodec } from '../../src/reads/token-codec.js';
import {
  freshReplicated,
  type ReplicatedDatabase,
  replicaAvailable,
  waitCaughtUp,
} from '../support/replica.js';

// Other test files write to the same cluster (the replica replays all of it): lag health is not what
// this file tests, so its bounds are loose enough that load elsewhere never takes the replica out.
const LOOSE = { maxLagMs: 60_000, maxLagBytes: 2 ** 40 };

// Two databases on the primary stand in for two shard servers; each has its replica database on the
// streaming replica (500 ms behind). 2 databases × 4 tables = 8 buckets.
describe.skipIf(!replicaAvailable)('sharded reads with per-shard causal tokens', () => {
  const layout = createShardLayout({ databases: 2, tablesPerDatabase: 4 });
  let dbs: ReplicatedDatabase[] = [];
  let routers: ReadRouter[] = [];

  beforeAll(async () => {
    dbs = await Promise.all([freshReplicated(), freshReplicated()]);
    for (let b = 0; b < layout.assignment.length; b++) {
      const t = bucketTable(layout, 'members', b);
      await dbs[layout.assignment[b]!]!.primary.query(
        `CREATE TABLE ${t} (id text PRIMARY KEY, level int NOT NULL)`,
      );
    }
    await Promise.all(dbs.map((d) => waitCaughtUp(d.primary, d.replica)));
    routers = await Promise.all(
      dbs.map((d, i) =>
        createReadRouter({
          shard: `db${i}`,
          primary: d.primary,
          replicas: [{ name: `db${i}-r1`, pool: d.replica }],
          ...LOOSE,
        }),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all(routers.map((r) => r.close()));
    await Promise.all(dbs.map((d) => d.close()));
  });

  it('routes keys to their database and table and reads them back with one merged token', async () => {
    const shards = createShardedReads(layout, routers);
    const codec = createTokenCodec({ secret: 'sharded-test-secret-at-least-32-bytes' });
    const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    let token: CausalToken | null = null;
    for (const id of users) {
      const { router, table } = shards.route(id, 'members');
      const w = await router.execute({
        text: `INSERT INTO ${table} (id, level) VALUES ($1, 7)`,
        values: [id],
      });
      token = mergeTokens(token, w.token);
    }
    // The token travels as a cookie and comes back with the next request.
    const cookie = codec.encode(token!);
    const back = codec.decode(cookie).token;
    expect(Object.keys(back!.positions).sort()).toEqual(['db0', 'db1']);
    for (const id of users) {
      const { router, table, database } = shards.route(id, 'members');
      const r = await router.execute<{ level: number }>(
        { text: `SELECT level FROM ${table} WHERE id = $1`, values: [id] },
        { token: back },
      );
      expect({ id, rows: r.rows }).toEqual({ id, rows: [{ level: 7 }] });
      expect(router.shard).toBe(`db${database}`);
    }
    // Each key is in exactly the table routeKey named, on exactly that database.
    const counts = await Promise.all(
      layout.assignment.map((d, b) =>
        dbs[d]!.primary.query(`SELECT count(*)::int AS n FROM ${bucketTable(layout, 'members', b)}`),
      ),
    );
    const expected = new Array(layout.assignment.length).fill(0);
    for (const id of users) expected[shards.route(id, 'members').bucket]++;
    expect(counts.map((c) => c.rows[0].n)).toEqual(expected);
  });

  it('needs one router per database, each with its own shard name', () => {
    for (const rs of [[routers[0]!], [routers[0]!, routers[0]!]]) {
      try {
        createShardedReads(layout, rs);
        expect.unreachable();
      } catch (err) {
        expect(isTallyError(err, 'INVALID_SHARD_LAYOUT')).toBe(true);
      }
    }
  });
});
