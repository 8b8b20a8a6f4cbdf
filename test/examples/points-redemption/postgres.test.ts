// The chain with B on PostgreSQL (DATABASE_URL): real row locks across a connection pool, and a restart
// against a server that outlives B. Skipped only outside CI when no PostgreSQL answers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../../support/databases.js';
import { ChainUnderTest } from './support.js';

describe.skipIf(!postgresAvailable)('points redemption with B on PostgreSQL', () => {
  let pg: TestDatabase;
  let t: ChainUnderTest;

  beforeAll(async () => {
    pg = await freshPostgres(1);
    t = await ChainUnderTest.start({
      resetB: true,
      bEnv: {
        DATABASE_URL: pg.url!,
        RETRY_BASE_MS: '200',
        WORKER_POLL_MS: '200',
        LEASE_MS: '1500',
        PAUSE_AT: 'issue:after-send@pat',
      },
    });
    for (const user of ['olga', 'pat']) await t.account(user, 100);
  });
  afterAll(async () => {
    await t?.chain.stop();
    await pg?.close();
  });
  afterEach(async () => {
    await t.checkInvariants();
  });

  it('64 concurrent identical requests make one effect', async () => {
    await t.faults({ delayMs: 300 });
    const call = { key: t.key('pg-burst'), user: 'olga', prize: 'mug', qty: 3 };
    const answers = await Promise.all(Array.from({ length: 64 }, () => t.viaA(call)));
    expect(new Set(answers.map((a) => JSON.stringify([a.status, a.body]))).size).toBe(1);
    expect(answers[0]).toMatchObject({
      status: 200,
      body: { status: 'succeeded', result: { deducted: 30 } },
    });
    expect((await t.c()).effects).toBe(1);
    expect(await t.points('olga')).toBe(70);
    await t.faults({ delayMs: 0 });
  });

  it('B killed with SIGKILL after C issued is completed by the worker after a restart', async () => {
    const key = t.key('pg-kill');
    const request = t.once({ key, user: 'pat', prize: 'mug', qty: 1 }).catch((err: Error) => err);
    await t.chain.b.waitFor('PAUSED issue:after-send@pat', 30_000);
    t.chain.b.process.kill('SIGKILL');
    await t.chain.b.exited;
    expect(await request).toBeInstanceOf(Error);
    await t.chain.restartB({ PAUSE_AT: '' });
    const report = await t.settle(30_000);
    expect(report.commands.find((c: { key: string }) => c.key === key).status).toBe('succeeded');
    expect(await t.points('pat')).toBe(90);
  });
});
