import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fingerprintOf } from '../../src/commands/canonical.js';
import { uuidV7 } from '../../src/commands/failover.js';
import { insertIntakeSql } from '../../src/commands/intake-sql.js';
import { recordedRequest } from '../../src/commands/sql.js';
import { createTally, type Tally } from '../../src/tally.js';
import { testClock } from '../commands/support/redeem.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count } from '../support/resources.js';

const HOUR = 3_600_000;

// A command type with a failover store: once handed over and past the retention, its intake row on the
// secondary goes too; an intake row not handed over yet never does.
describeEachDialect('retention: handed-over failover intake rows are pruned', (fresh) => {
  let primary: TestDatabase;
  let secondary: TestDatabase;
  let tally: Tally;
  const clock = testClock();
  beforeAll(async () => {
    [primary, secondary] = await Promise.all([fresh(), fresh()]);
    tally = await createTally({ db: primary.db, clock: clock.now });
    await tally.migrate();
    await (await createTally({ db: secondary.db })).migrate();
  });
  afterAll(async () => {
    await primary.close();
    await secondary.close();
  });

  /** Records a request on the secondary, as a submit during an outage does. */
  const recordDuringOutage = async (input: { n: number }) => {
    const { fingerprint, canonical } = fingerprintOf(input);
    const key = uuidV7(clock.now());
    const p = { key, principal: 'u1', input, fingerprint, canonical };
    await secondary.db.query(
      insertIntakeSql('"tally"', recordedRequest('k_fo', p, randomUUID(), clock.now())),
    );
    return key;
  };

  it('deletes handed-over intake rows past the retention, with the primary record; keeps open ones', async () => {
    const fo = tally.command('k_fo', {
      fingerprint: (i: { n: number }) => i,
      keyRetention: '1h',
      failover: { db: secondary.db },
      steps: [{ name: 'a', run: () => 1 }],
    });
    const key = await recordDuringOutage({ n: 1 });
    await tally.worker().runOnce(); // the primary is back: handed over and driven there
    expect(await fo.get({ key, principal: 'u1' })).toMatchObject({ status: 'succeeded' });
    clock.advance(2 * HOUR);
    const open = await recordDuringOutage({ n: 2 }); // recorded, not handed over yet
    const intake = 'SELECT 1 FROM tally.command_intake';
    expect(await count(secondary.db, intake)).toBe(2);

    const r = await tally.prune();
    expect(r).toMatchObject({ deleted: { k_fo: 1 }, intakeDeleted: 1, done: true });
    expect(await count(secondary.db, `${intake} WHERE key = '${open}'`)).toBe(1);
    expect(await count(secondary.db, intake)).toBe(1);
  });
});
