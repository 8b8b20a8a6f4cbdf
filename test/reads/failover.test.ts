import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadRouter, type ReadRouter } from '../../src/reads/router.js';
import type { RouteReason } from '../../src/reads/stats.js';
import {
  freshReplicated,
  type ReplicatedDatabase,
  replicaAvailable,
  replicaScript,
} from '../support/replica.js';

// A replica of its own (port 5434, through scripts/replica.sh), so killing it mid-run cannot disturb the
// other test files that read from the shared replica on 5433.
const PORT = process.env.REPLICA_KILL_PORT ?? '5434';
const ENV = { REPLICA_PORT: PORT, REPLICA_APPLY_DELAY: '0' };
const WHERE = { text: 'SELECT pg_is_in_recovery() AS standby' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!replicaAvailable)('a replica killed mid-run and restarted', () => {
  let db: ReplicatedDatabase;
  let router: ReadRouter;

  beforeAll(async () => {
    await replicaScript(['start'], ENV);
    db = await freshReplicated(`postgres://postgres@127.0.0.1:${PORT}/postgres`);
    router = await createReadRouter({
      primary: db.primary,
      replicas: [{ name: 'victim', pool: db.replica }],
      pollIntervalMs: 100,
    });
  }, 180_000);
  afterAll(async () => {
    await router?.close();
    await db?.close();
    await replicaScript(['destroy'], ENV);
  }, 180_000);

  async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
    const t0 = Date.now();
    while (!ok()) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
      await sleep(10);
    }
  }

  it('a replica past the time bound leaves rotation and rejoins once caught up', async () => {
    const strict = await createReadRouter({
      primary: db.primary,
      replicas: [{ name: 'victim', pool: db.replica }],
      maxLagMs: 500,
      pollIntervalMs: 25,
    });
    await db.primary.query('CREATE TABLE ticks (id int PRIMARY KEY, n int NOT NULL)');
    await db.primary.query('INSERT INTO ticks VALUES (1, 0)');
    try {
      await until('victim in rotation', () => strict.health()[0]!.inRotation);
      await replicaScript(['set-delay', '1500ms'], ENV);
      let writing = true;
      const writer = (async () => {
        while (writing) {
          await db.primary.query('UPDATE ticks SET n = n + 1 WHERE id = 1');
          await sleep(10);
        }
      })();
      try {
        await until('victim leaves rotation', () => strict.health()[0]!.status === 'lagging');
        expect(strict.health()[0]!.lagMs).toBeGreaterThan(500);
        const during = await strict.execute<{ standby: boolean }>(WHERE);
        expect(during.route).toMatchObject({ target: 'primary', reason: 'NO_HEALTHY_REPLICA' });
        expect(during.rows[0]!.standby).toBe(false);
        // The replica catches up (no more delay) while the writes go on: it rejoins.
        await replicaScript(['set-delay', '0'], ENV);
        await until('victim rejoins', () => strict.health()[0]!.status === 'healthy');
        expect(strict.health()[0]!.lagMs).toBeLessThanOrEqual(250); // under half the bound to come back
      } finally {
        writing = false;
        await writer;
      }
      const after = await strict.execute<{ standby: boolean }>(WHERE);
      expect(after.route).toMatchObject({ target: 'victim', reason: 'REPLICA' });
    } finally {
      await strict.close();
      await replicaScript(['set-delay', '0'], ENV);
    }
  }, 180_000);

  it('reads move to the primary with no error to the caller, and come back after the restart', async () => {
    type Phase = 'before' | 'killed' | 'restarting' | 'restarted';
    let phase: Phase = 'before';
    let running = true;
    const log: { phase: Phase; target: string; reason: RouteReason; standby: boolean }[] = [];
    const errors: unknown[] = [];
    const readers = Array.from({ length: 8 }, async () => {
      while (running) {
        try {
          const r = await router.execute<{ standby: boolean }>(WHERE);
          log.push({ phase, target: r.route.target, reason: r.route.reason, standby: r.rows[0]!.standby });
        } catch (err) {
          errors.push(err);
        }
        await sleep(5);
      }
    });

    await until('victim in rotation', () => router.health()[0]!.inRotation);
    await sleep(500);
    phase = 'killed';
    await replicaScript(['kill'], ENV); // immediate shutdown: connections cut mid-query
    await sleep(1_000);
    phase = 'restarting';
    await replicaScript(['restart'], ENV);
    phase = 'restarted';
    const t0 = Date.now();
    while (!log.some((e) => e.phase === 'restarted' && e.target === 'victim')) {
      if (Date.now() - t0 > 120_000) break; // a loaded machine replays the downtime's WAL slowly
      await sleep(50);
    }
    await sleep(300);
    running = false;
    await Promise.all(readers);

    expect(errors).toEqual([]);
    const by = (p: Phase) => log.filter((e) => e.phase === p);
    expect(by('before').filter((e) => e.target === 'victim' && e.standby).length).toBeGreaterThan(20);
    // While it is down every read still answers, from the primary.
    const down = by('killed').slice(-50);
    expect(down.length).toBeGreaterThan(20);
    expect(down.every((e) => e.target === 'primary' && !e.standby)).toBe(true);
    const reasons = new Set(by('killed').map((e) => e.reason));
    expect(reasons.has('NO_HEALTHY_REPLICA')).toBe(true);
    // Back in rotation after the restart.
    expect(by('restarted').some((e) => e.target === 'victim' && e.standby)).toBe(true);
    expect(router.health()[0]).toMatchObject({ name: 'victim', status: 'healthy', inRotation: true });
  }, 300_000);
});
