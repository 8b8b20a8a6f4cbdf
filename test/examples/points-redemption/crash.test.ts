// B killed with SIGKILL at a named point between (or inside) its steps; after a restart the in-process
// worker finishes the command — without the client retrying — and every invariant still holds. Killed
// inside its first step, B leaves nothing (the record commits with the step, decision 0125): the head's
// retry runs the request, once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrlUnanswered } from '../../support/databases.js';
import { ChainUnderTest } from './support.js';

let t: ChainUnderTest;
// B stops at each of these once, for one user each: armed from the start, disarmed at each restart, so
// every kill costs one restart and the recovering worker never stops at the next test's point.
const POINTS = [
  ['deduct:before-commit', 'hana'], // the deduction rolled back with the record (decision 0125)
  ['issue:before-send', 'ivan'], // deducted and the snapshot stored; C never asked
  ['issue:after-send', 'jon'], // C issued; B never recorded the reply
  ['compensate:before-commit', 'kim'], // C refused; the refund rolled back
] as const;
let armed: string[] = POINTS.map(([p, u]) => `${p}@${u}`);
const B_ENV = {
  QUERY_AFTER_MS: '800',
  RETRY_BASE_MS: '200',
  WORKER_POLL_MS: '200',
  C_TIMEOUT_MS: '1000',
  LEASE_MS: '1500', // a killed attempt's hold on its command expires quickly
};

beforeAll(async () => {
  t = await ChainUnderTest.start({ bEnv: { ...B_ENV, PAUSE_AT: armed.join(',') } });
  for (const user of ['hana', 'ivan', 'jon', 'kim']) await t.account(user, 100);
});
afterAll(async () => {
  await t?.chain.stop();
});
afterEach(async () => {
  await t.checkInvariants();
  await t.faults({ refuseNext: 0 });
});

/** Sends one request, waits until B stops at `point` for `user`, kills B with SIGKILL there, restarts it. */
async function killAt(point: string, user: string, key: string): Promise<void> {
  const request = t.once({ key, user, prize: 'mug', qty: 2 }).catch((err: Error) => err);
  await t.chain.b.waitFor(`PAUSED ${point}@${user}`, 30_000);
  t.chain.b.process.kill('SIGKILL');
  expect(await t.chain.b.exited).toBe(null); // killed by the signal, no exit code
  expect(await request).toBeInstanceOf(Error); // the client saw the connection die
  armed = armed.filter((a) => a !== `${point}@${user}`);
  await t.chain.restartB({ PAUSE_AT: armed.join(',') });
}

// B runs on DATABASE_URL when it is set: a server that does not answer skips the suite like the other
// PostgreSQL suites (outside CI; under CI=true it fails the run).
describe.skipIf(databaseUrlUnanswered)(
  'B killed between steps is completed by the worker after a restart',
  () => {
    it('killed inside the first step (deduct, before its commit): nothing remains; the head retry runs it once', async () => {
      const [point, user] = POINTS[0];
      const key = t.key(point.replace(':', '-'));
      await killAt(point, user, key);
      const report = await t.settle(30_000);
      // Without decision 0125 the record survived the kill and the worker finished the command.
      expect(report.commands.find((c: { key: string }) => c.key === key)).toBeUndefined();
      expect(await t.points(user)).toBe(100);
      const head = await t.viaA({ key, user, prize: 'mug', qty: 2 });
      expect(head).toMatchObject({ status: 200, body: { status: 'succeeded', result: { deducted: 20 } } });
      expect(await t.points(user)).toBe(80);
    });

    it.each(POINTS.slice(1, 3))('killed at %s', async (point, user) => {
      const key = t.key(point.replace(':', '-'));
      await killAt(point, user, key);
      const report = await t.settle(30_000);
      expect(await t.statusOf(key, report)).toBe('succeeded');
      expect(await t.points(user)).toBe(80);
      // The head's retry now gets the recorded outcome.
      const head = await t.viaA({ key, user, prize: 'mug', qty: 2 });
      expect(head).toMatchObject({ status: 200, body: { status: 'succeeded', result: { deducted: 20 } } });
    });

    it('killed inside the compensation after C refused: the points come back exactly once', async () => {
      await t.faults({ refuseNext: 1 });
      const key = t.key('compensate');
      await killAt('compensate:before-commit', 'kim', key);
      const report = await t.settle(30_000);
      expect(await t.statusOf(key, report)).toBe('failed');
      expect(await t.points('kim')).toBe(100);
      const head = await t.viaA({ key, user: 'kim', prize: 'mug', qty: 2 });
      expect(head).toMatchObject({
        status: 422,
        body: { status: 'failed', error: { reason: 'campaign_ended', compensated: true } },
      });
    });
  },
);
