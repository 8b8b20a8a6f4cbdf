// B's /admin/report is one snapshot: read while redemptions commit, every report's balances and the points
// its log says were moved agree (start points − deducted + refunded = balance, summed over the accounts).
// On PostgreSQL, where redemptions commit in parallel with the report's statements; read one statement at a
// time (READ COMMITTED), about half the reports disagreed. On PGlite every transaction is a snapshot.
import { afterAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../../support/databases.js';
import { ChainUnderTest } from './support.js';

const USERS = Array.from({ length: 4 }, (_, i) => `snap${i}`);
const START = 1000;

async function underTraffic(t: ChainUnderTest): Promise<{ reports: number; disagreeing: string[] }> {
  for (const user of USERS) await t.account(user, START);
  let running = true;
  const clients = USERS.map(async (user) => {
    let n = 0;
    while (running && n < 60) {
      n++;
      await t.once({ key: t.key(`snap-${user}`), user, prize: 'sticker', qty: 1 });
    }
  });
  let reports = 0;
  const disagreeing: string[] = [];
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    const r = await t.report();
    reports++;
    const balance = r.accounts.reduce((n: number, a: { points: number }) => n + a.points, 0);
    const start = START * r.accounts.length;
    if (start - r.deducted + r.refunded !== balance)
      disagreeing.push(`balances ${balance}, log: ${start} - ${r.deducted} + ${r.refunded}`);
  }
  running = false;
  await Promise.all(clients);
  return { reports, disagreeing };
}

describe("B's report is one snapshot", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  it.skipIf(!postgresAvailable)(
    'on PostgreSQL: balances and log totals agree in every report read under concurrent redemptions',
    async () => {
      const pg: TestDatabase = await freshPostgres(1);
      cleanup.push(() => pg.close());
      const t = await ChainUnderTest.start({ resetB: true, bEnv: { DATABASE_URL: pg.url! } });
      cleanup.push(() => t.chain.stop());
      const { reports, disagreeing } = await underTraffic(t);
      expect(reports).toBeGreaterThan(3);
      expect(disagreeing).toEqual([]);
      await t.checkInvariants();
    },
  );
});
