import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readsDialect } from '../../src/reads/dialect/index.js';
import { HealthMonitor } from '../../src/reads/health.js';
import { createReadRouter } from '../../src/reads/router.js';
import {
  freshReplicated,
  type ReplicatedDatabase,
  replicaAvailable,
  tolerantPool,
  waitCaughtUp,
} from '../support/replica.js';

const WHERE = { text: 'SELECT pg_is_in_recovery() AS standby' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  ok: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<number> {
  const t0 = Date.now();
  while (!(await ok())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
  return Date.now() - t0;
}

describe.skipIf(!replicaAvailable)('replica lag health (real replica, 500 ms apply delay)', () => {
  let db: ReplicatedDatabase;

  beforeAll(async () => {
    db = await freshReplicated();
    await db.primary.query('CREATE TABLE ticks (id int PRIMARY KEY, n int NOT NULL, pad text)');
    await db.primary.query('INSERT INTO ticks VALUES (1, 0, NULL)');
    await waitCaughtUp(db.primary, db.replica);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('a replica past the byte bound leaves rotation too', async () => {
    const router = await createReadRouter({
      primary: db.primary,
      replicas: [{ name: 'r1', pool: db.replica }],
      maxLagBytes: 256 * 1024,
      pollIntervalMs: 25,
    });
    try {
      await until('r1 in rotation', () => router.health()[0]!.inRotation);
      // ~2 MB of WAL in one commit: the replica receives it but holds it back for 500 ms.
      await db.primary.query(
        "INSERT INTO ticks SELECT g, 0, repeat('x', 100) FROM generate_series(2, 20001) g",
      );
      await until('r1 leaves rotation', () => router.health()[0]!.status === 'lagging');
      expect(router.health()[0]!.lagBytes).toBeGreaterThan(256 * 1024);
      await until('r1 rejoins', () => router.health()[0]!.status === 'healthy');
    } finally {
      await router.close();
    }
  });

  it('measures time lag with the injected clock, not the replica clock', async () => {
    let now = 1_000_000;
    const monitor = new HealthMonitor({
      dialect: await readsDialect(db.primary, 10),
      replicas: [{ name: 'r1', pool: db.replica }],
      maxLagMs: 5_000,
      maxLagBytes: Number.MAX_SAFE_INTEGER,
      pollTimeoutMs: 1_000,
      clock: () => now,
    });
    await waitCaughtUp(db.primary, db.replica);
    await monitor.poll();
    expect(monitor.snapshot()[0]).toMatchObject({ status: 'healthy', lagMs: 0 });
    await db.primary.query('UPDATE ticks SET n = n + 1 WHERE id = 1');
    await monitor.poll(); // the primary is ahead now; the replica holds the commit back for 500 ms
    now += 10_000; // ten seconds pass on the injected clock, a few ms in reality
    await monitor.poll();
    const h = monitor.snapshot()[0]!;
    expect(h.lagMs).toBeGreaterThanOrEqual(10_000);
    expect(h).toMatchObject({ status: 'lagging', inRotation: false });
    await waitCaughtUp(db.primary, db.replica);
    await monitor.poll();
    expect(monitor.snapshot()[0]).toMatchObject({ status: 'healthy', lagMs: 0, inRotation: true });
  });

  it('skips a replica that does not answer, without failing a read', async () => {
    const dead = tolerantPool('postgres://postgres@127.0.0.1:1/postgres'); // nothing listens on port 1
    const router = await createReadRouter({
      primary: db.primary,
      replicas: [
        { name: 'dead', pool: dead },
        { name: 'r1', pool: db.replica },
      ],
      pollIntervalMs: 50,
    });
    try {
      expect(router.health()[0]).toMatchObject({ name: 'dead', status: 'down', inRotation: false });
      expect(router.health()[0]!.lastError).toBeTruthy();
      // (Other test files write to the same cluster: give r1 the moment it may need to be within bounds.)
      await until('r1 in rotation', () => router.health()[1]!.inRotation);
      for (let i = 0; i < 20; i++) {
        const r = await router.execute<{ standby: boolean }>(WHERE);
        expect(r.route.target).toBe('r1');
        expect(r.rows[0]!.standby).toBe(true);
      }
      // Only a dead replica left: reads go to the primary, still without an error.
      const onlyDead = await createReadRouter({
        primary: db.primary,
        replicas: [{ name: 'dead', pool: dead }],
      });
      const r = await onlyDead.execute(WHERE);
      expect(r.route).toMatchObject({ target: 'primary', reason: 'NO_HEALTHY_REPLICA' });
      await onlyDead.close();
    } finally {
      await router.close();
      await dead.end();
    }
  });
});
