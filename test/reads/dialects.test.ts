// The read router's guarantees, one test body per guarantee, run on each dialect that has a delayed replica:
// PostgreSQL (scripts/replica.sh, 500 ms apply delay) and MariaDB (scripts/mariadb-replica.sh, MASTER_DELAY
// 1 s; causal tokens are GTID positions, waits are MASTER_GTID_WAIT — decision 0136).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadCache } from '../../src/reads/cache/cache.js';
import { createReadRouter, type ReadRouter } from '../../src/reads/router.js';
import { forcePrimary } from '../../src/reads/scope.js';
import { createShardedReads } from '../../src/reads/sharded.js';
import { bucketTable, createShardLayout } from '../../src/reads/sharding.js';
import { type CausalToken, mergeTokens, tokenPosition } from '../../src/reads/token.js';
import { createTokenCodec } from '../../src/reads/token-codec.js';
import { freshRedis, redisAvailable, type TestRedis } from '../support/redis.js';
import { type OpenPair, pairs } from './pairs.js';

const USERS = 20;
// Lag health is not what most of these tests look at: bounds loose enough that other test files writing to
// the same replica never take it out of rotation.
const LOOSE = { maxLagMs: 60_000, maxLagBytes: 2 ** 40 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

for (const pair of pairs) {
  describe.skipIf(!pair.available || !redisAvailable)(`reads on ${pair.dialect} (a delayed replica)`, () => {
    let db: OpenPair;
    let redis: TestRedis;
    let router: ReadRouter;
    let delayMs = 0;
    let level = 0;
    const replicas = () => [{ name: 'r1', pool: db.replica }];
    const levelOf = (rows: Record<string, unknown>[]) => Number(rows[0]?.level);

    beforeAll(async () => {
      [db, redis] = await Promise.all([pair.open(), freshRedis()]);
      for (const q of pair.setup(USERS)) await db.run(q);
      await db.catchUp();
      delayMs = await db.delayMs();
      expect(delayMs).toBeGreaterThanOrEqual(500); // the premise of every stale count below
      router = await createReadRouter({
        shard: 'db0',
        primary: db.primary,
        replicas: replicas(),
        ...LOOSE,
        pollIntervalMs: 50,
      });
      await until('r1 in rotation', () => router.health()[0]!.inRotation);
    }, 60_000);
    afterAll(async () => {
      await router?.close();
      await Promise.all([db?.close(), redis?.close()]);
    });

    it('read-your-writes: a token read never returns the old value; a tokenless replica read does (the ghost read)', async () => {
      expect(router.serverKind).toBe(pair.dialect);
      router.resetStats();
      let ghost = 0;
      let stale = 0;
      await Promise.all(
        Array.from({ length: USERS }, async (_, i) => {
          const id = i + 1;
          for (let round = 0; round < 3; round++) {
            const mine = ++level;
            const w = await router.execute(pair.update(mine, id));
            expect(w.route.target).toBe('primary');
            expect(w.token).not.toBeNull();
            const [naive, tokened] = await Promise.all([
              router.execute(pair.select(id)),
              router.execute(pair.select(id), { token: w.token }),
            ]);
            if (levelOf(naive.rows) !== mine) ghost++;
            if (levelOf(tokened.rows) !== mine) stale++;
          }
        }),
      );
      expect(stale).toBe(0);
      // Not a test that cannot fail: the replica did serve the old level to reads without a token.
      expect(ghost).toBeGreaterThan(USERS);
      expect(router.stats().targets.r1).toBeGreaterThan(USERS);
      expect(router.stats().reasons.TOKEN_TIMEOUT).toBeGreaterThan(0);
    });

    it('a token read with a wait bound above the delay waits on the replica for its write, then reads there', async () => {
      const waiting = await createReadRouter({
        shard: 'db0',
        primary: db.primary,
        replicas: replicas(),
        ...LOOSE,
        tokenWaitMs: 10_000,
      });
      try {
        await until('r1 in rotation', () => waiting.health()[0]!.inRotation);
        let stale = 0;
        await Promise.all(
          Array.from({ length: USERS }, async (_, i) => {
            const mine = ++level;
            const w = await waiting.execute(pair.update(mine, i + 1));
            const r = await waiting.execute(pair.select(i + 1), { token: w.token });
            if (levelOf(r.rows) !== mine) stale++;
          }),
        );
        expect(stale).toBe(0);
        const s = waiting.stats();
        expect(s.reasons.TOKEN_WAITED).toBe(USERS);
        expect(s.targets.r1).toBe(USERS);
        // Each read waited for its own commit to be applied: on PostgreSQL most of the replica's delay;
        // MariaDB's whole-second delay may leave almost nothing of it (Pair.sureDelayShare), but never none.
        expect(s.waits.count).toBe(USERS);
        expect(s.waits.totalMs / s.waits.count).toBeGreaterThan(
          Math.max(1, delayMs * 0.5 * pair.sureDelayShare),
        );
      } finally {
        await waiting.close();
      }
    });

    it('a stale replica is skipped (lag from samples of the primary position, injected clock) and rejoins', async () => {
      let now = 1_000_000;
      const timed = await createReadRouter({
        shard: 'db0',
        primary: db.primary,
        replicas: replicas(),
        maxLagMs: 5_000,
        maxLagBytes: Number.MAX_SAFE_INTEGER,
        pollIntervalMs: 600_000, // polled by hand below
        clock: () => now,
      });
      try {
        await db.catchUp();
        await timed.poll();
        expect(timed.health()[0]).toMatchObject({ status: 'healthy', lagMs: 0 });
        expect((await timed.execute(pair.select(1))).route.target).toBe('r1');
        await timed.execute(pair.update(++level, 1));
        await timed.poll(); // the primary is ahead now; the replica holds the commit back
        now += 10_000; // ten seconds pass on the injected clock, a few ms in reality
        await timed.poll();
        expect(timed.health()[0]!.lagMs).toBeGreaterThanOrEqual(10_000);
        expect(timed.health()[0]).toMatchObject({ status: 'lagging', inRotation: false });
        const r = await timed.execute(pair.select(1));
        expect(r.route).toMatchObject({ target: 'primary', reason: 'NO_HEALTHY_REPLICA' });
        await db.catchUp();
        await timed.poll();
        expect(timed.health()[0]).toMatchObject({ status: 'healthy', lagMs: 0, inRotation: true });
        expect((await timed.execute(pair.select(1))).route.target).toBe('r1');
      } finally {
        await timed.close();
      }
    });

    it('a replica that goes down mid-run: reads go to the primary without an error, and come back', async () => {
      const cut = await db.proxied();
      const r = await createReadRouter({
        shard: 'db0',
        primary: db.primary,
        replicas: [{ name: 'r1', pool: cut.pool }],
        ...LOOSE,
        pollIntervalMs: 50,
        pollTimeoutMs: 500,
      });
      try {
        await until('r1 in rotation', () => r.health()[0]!.inRotation);
        expect((await r.execute(pair.select(1))).route.target).toBe('r1');
        cut.proxy.cut('refuse');
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const out = await r.execute(pair.select(1));
          expect(out.route.target).toBe('primary');
          expect(Number.isFinite(levelOf(out.rows))).toBe(true);
          seen.add(out.route.reason);
        }
        expect([...seen].some((x) => x === 'REPLICA_FAILED' || x === 'NO_HEALTHY_REPLICA')).toBe(true);
        await until('r1 marked down', () => r.health()[0]!.status === 'down');
        cut.proxy.restore();
        await until('r1 back in rotation', () => r.health()[0]!.inRotation);
        expect((await r.execute(pair.select(1))).route.target).toBe('r1');
      } finally {
        await r.close();
        await cut.end();
        await cut.proxy.close();
      }
    });

    it('transaction pinning: every statement of a transaction runs on the primary; its token reads the commit', async () => {
      const mine = ++level;
      router.resetStats();
      const { result, token } = await router.transactionWithToken(async (tx) => {
        await tx.query(pair.update(mine, 5));
        // Pinned to the primary's connection: the read sees the transaction's own uncommitted write.
        return levelOf(await tx.query(pair.select(5)));
      });
      expect(result).toBe(mine);
      expect(router.stats().reasons).toEqual({ TRANSACTION: 1 });
      const naive = await router.execute(pair.select(5));
      expect(naive.route.target).toBe('r1');
      expect(levelOf(naive.rows)).not.toBe(mine); // the replica has not applied the commit yet
      const r = await router.execute(pair.select(5), { token });
      expect(levelOf(r.rows)).toBe(mine);
    });

    it('virtual buckets over two databases: keys land in the table their route names; one merged token reads them back', async () => {
      const second = await pair.open();
      const both = [db, second];
      const layout = createShardLayout({ databases: 2, tablesPerDatabase: 2 });
      const routers: ReadRouter[] = [];
      try {
        for (let b = 0; b < layout.assignment.length; b++) {
          const t = bucketTable(layout, 'accounts', b);
          await both[layout.assignment[b]!]!.run({
            text: `CREATE TABLE ${t} (id VARCHAR(64) PRIMARY KEY, level INT NOT NULL)`,
          });
        }
        await Promise.all(both.map((d) => d.catchUp()));
        for (const [i, d] of both.entries()) {
          routers.push(
            await createReadRouter({
              shard: `db${i}`,
              primary: d.primary,
              replicas: [{ name: `db${i}-r1`, pool: d.replica }],
              ...LOOSE,
            }),
          );
        }
        const shards = createShardedReads(layout, routers);
        const users = Array.from({ length: 20 }, (_, i) => `user-${i}`);
        let token: CausalToken | null = null;
        for (const id of users) {
          const { router: r, table } = shards.route(id, 'accounts');
          const w = await r.execute({
            text: `INSERT INTO ${table} (id, level) VALUES (${pair.param(1)}, 7)`,
            values: [id],
          });
          token = mergeTokens(token, w.token);
        }
        expect(Object.keys(token!.positions).sort()).toEqual(['db0', 'db1']);
        for (const id of users) {
          const { router: r, table, database } = shards.route(id, 'accounts');
          const out = await r.execute(
            { text: `SELECT level FROM ${table} WHERE id = ${pair.param(1)}`, values: [id] },
            { token },
          );
          expect({ id, level: levelOf(out.rows) }).toEqual({ id, level: 7 });
          expect(r.shard).toBe(`db${database}`);
        }
        const counts = await Promise.all(
          layout.assignment.map((d, b) =>
            forcePrimary(() =>
              routers[d]!.execute({
                text: `SELECT COUNT(*) AS n FROM ${bucketTable(layout, 'accounts', b)}`,
              }),
            ),
          ),
        );
        const expected = new Array(layout.assignment.length).fill(0);
        for (const id of users) expected[shards.route(id, 'accounts').bucket]++;
        expect(counts.map((c) => Number(c.rows[0]!.n))).toEqual(expected);
      } finally {
        await Promise.all(routers.map((r) => r.close()));
        await second.close();
      }
    }, 60_000);

    it('forcePrimary: every read inside the scope goes to the primary; a concurrent read outside does not', async () => {
      const mine = ++level;
      await router.execute(pair.update(mine, 2));
      const [inside, outside] = await Promise.all([
        forcePrimary(async () => {
          await sleep(5);
          return router.execute(pair.select(2));
        }),
        router.execute(pair.select(2)),
      ]);
      expect(inside.route).toMatchObject({ target: 'primary', reason: 'FORCED_PRIMARY' });
      expect(levelOf(inside.rows)).toBe(mine);
      expect(outside.route.target).toBe('r1');
      expect(levelOf(outside.rows)).not.toBe(mine); // the replica is still a delay behind
    });

    it('a tampered or expired token reads as absent: a replica read, no error', async () => {
      let now = 5_000_000;
      const codec = createTokenCodec({ secret: 'x'.repeat(32), ttlMs: 60_000, clock: () => now });
      const w = await router.execute(pair.update(++level, 3));
      const text = codec.encode(w.token!);
      expect(codec.decode(text).token).toEqual(w.token);
      // A client raising its position (every read would wait, then hit the primary): the signature refuses it.
      const [v, , mac] = text.split('.');
      const raised = Buffer.from(JSON.stringify({ p: { db0: 'FFFF/0' }, x: now + 1000 })).toString(
        'base64url',
      );
      const tampered = `${v}.${raised}.${mac}`;
      now += 120_000;
      for (const bad of [tampered, text, 'v1.garbage', '']) {
        const { token, status } = codec.decode(bad);
        expect(token).toBeNull();
        expect(status).not.toBe('ok');
        const r = await router.execute(pair.select(3), { token });
        expect(r.route).toMatchObject({ target: 'r1', reason: 'REPLICA' });
      }
    });

    it('the cache guard: 0 stale fills and 0 stale reads; the tokenless readers old values were refused', async () => {
      const cache = createReadCache({
        redis: redis.redis,
        prefix: `${redis.prefix}:${pair.dialect}`,
        waitMs: 20,
      });
      const key = (id: number) => `member:${id}`;
      const read = (id: number, token: CausalToken | null) =>
        cache.read(key(id), async () => {
          const r = await router.execute(pair.select(id), { token, version: true });
          expect(r.version).not.toBeNull();
          return { value: levelOf(r.rows), version: r.version! };
        });
      let staleReads = 0;
      let staleFills = 0;
      await Promise.all(
        Array.from({ length: USERS }, async (_, i) => {
          const id = i + 1;
          for (let round = 0; round < 4; round++) {
            const mine = ++level;
            const w = await router.execute(pair.update(mine, id));
            await cache.invalidate(key(id), tokenPosition(w.token, 'db0')!);
            const [, own] = await Promise.all([read(id, null), read(id, w.token)]);
            if (own.value !== mine) staleReads++;
            const held = await cache.peek(key(id));
            if (held.state === 'fresh' && held.value !== mine) staleFills++;
          }
        }),
      );
      expect({ staleReads, staleFills }).toEqual({ staleReads: 0, staleFills: 0 });
      expect(cache.stats().refusedFills).toBeGreaterThan(USERS);
    });

    it('versions under concurrent writes: a primary read at version V sees every write whose token is <= V', async () => {
      const writes: { id: number; level: number; token: bigint }[] = [];
      const reads: { id: number; level: number; version: bigint }[] = [];
      let writing = true;
      const writers = Array.from({ length: 8 }, async (_, i) => {
        const id = 11 + i;
        for (let n = 0; n < 25; n++) {
          const mine = ++level;
          const w = await router.execute(pair.update(mine, id));
          writes.push({ id, level: mine, token: tokenPosition(w.token, 'db0')! });
        }
      });
      const readers = Array.from({ length: 4 }, async (_, i) => {
        while (writing) {
          const id = 11 + ((reads.length + i) % 8);
          const r = await forcePrimary(() => router.execute(pair.select(id), { version: true }));
          reads.push({ id, level: levelOf(r.rows), version: r.version! });
        }
      });
      await Promise.all(writers);
      writing = false;
      await Promise.all(readers);
      expect(reads.length).toBeGreaterThan(20);
      let broken = 0;
      for (const r of reads) {
        // Levels only grow per row: the read must be at least the newest write its version claims.
        const claimed = writes.filter((w) => w.id === r.id && w.token <= r.version);
        const need = Math.max(0, ...claimed.map((w) => w.level));
        if (r.level < need) broken++;
      }
      expect(broken).toBe(0);
    });

    it('versions: a primary read is at or past a write it sees; a lagging replica read is below it', async () => {
      const mine = ++level;
      const w = await router.execute(pair.update(mine, 4));
      const t = tokenPosition(w.token, 'db0')!;
      const onPrimary = await forcePrimary(() => router.execute(pair.select(4), { version: true }));
      expect(levelOf(onPrimary.rows)).toBe(mine);
      expect(onPrimary.version! >= t - 1n).toBe(true);
      const onReplica = await router.execute(pair.select(4), { version: true });
      expect(onReplica.route.target).toBe('r1');
      expect(levelOf(onReplica.rows)).not.toBe(mine);
      expect(onReplica.version! < t).toBe(true);
    });
  });
}
