// Issue 21: B took a quantity of -50 (and 0, -5, 1.5, 2147483648, a missing prize) and ran a deduct with
// it. The example's redeem command declares its input; each of those is refused before anything is
// recorded. This runs B's own declaration (b/service.ts) in process, on both dialects.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  APP,
  createTables,
  declare,
  MAX_QTY,
  PRIZES,
  type ServiceOptions,
} from '../../../examples/points-redemption/b/service.js';
import type { Command } from '../../../src/commands/command.js';
import { isTallyError } from '../../../src/errors.js';
import { createTally } from '../../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../../support/databases.js';
import { count } from '../../support/resources.js';

describeEachDialect("points redemption: B's redeem command refuses bad input", (fresh) => {
  let t: TestDatabase;
  let redeem: Command;
  const S = 'points_tally';
  beforeAll(async () => {
    t = await fresh();
    await createTables(t.db);
    const tally = await createTally({ db: t.db, schema: S });
    await tally.migrate();
    const options = {
      cUrl: 'http://127.0.0.1:9', // nobody listens: a valid redemption stays pending, which is all we need
      cTimeoutMs: 200,
      queryAfterMs: 60_000,
      retryBaseMs: 60_000,
      maxAttempts: 10,
      leaseMs: 10_000,
      checkpoint: async () => {},
    } as ServiceOptions;
    // The example is typed against the built package ('tally'); this is the same class from src/.
    const b = declare(tally as never, options);
    redeem = b.redeem as unknown as Command;
    await b.accounts.create({ rows: [{ id: 'alice', state: 'open', points: 100 }], actor: 'seed' });
  });
  afterAll(() => t.close());

  const points = async () => {
    const [r] = await t.db.query<{ points: number }>({
      text: `SELECT points FROM ${APP}.accounts WHERE id = 'alice'`,
    });
    return Number(r!.points);
  };

  it('refuses quantities -50, 0, -5, 1.5, 2147483648 and a missing, empty or unknown prize; records nothing', async () => {
    const cases: [unknown, string][] = [
      [{ user: 'alice', prize: 'mug', qty: -50 }, '$.qty'],
      [{ user: 'alice', prize: 'mug', qty: 0 }, '$.qty'],
      [{ user: 'alice', prize: 'mug', qty: -5 }, '$.qty'],
      [{ user: 'alice', prize: 'mug', qty: 1.5 }, '$.qty'],
      [{ user: 'alice', prize: 'mug', qty: 2147483648 }, '$.qty'],
      [{ user: 'alice', prize: 'mug', qty: MAX_QTY + 1 }, '$.qty'],
      [{ user: 'alice', prize: 'mug', qty: '1' }, '$.qty'],
      [{ user: 'alice', prize: 'mug', qty: null }, '$.qty'],
      [{ user: 'alice', qty: 1 }, '$.prize'],
      [{ user: 'alice', prize: '', qty: 1 }, '$.prize'],
      [{ user: 'alice', prize: 'yacht', qty: 1 }, '$.prize'],
      [{ prize: 'mug', qty: 1 }, '$.user'],
    ];
    for (const [input, path] of cases) {
      const err = await redeem.submit({ key: 'bad-1', principal: 'alice', input }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isTallyError(err, 'INVALID_COMMAND_INPUT') ? err.details?.issues : err).toEqual([
        { path, message: expect.any(String) },
      ]);
    }
    expect(await count(t.db, `SELECT 1 FROM ${S}.commands`)).toBe(0);
    expect(await count(t.db, `SELECT 1 FROM ${S}.command_events`)).toBe(0);
    expect(await points()).toBe(100);
  });

  it('a valid redemption passes and is recorded as the schema returns it', async () => {
    expect(PRIZES).toEqual(['mug', 'hoodie', 'sticker']);
    const r = await redeem.submit({
      key: 'ok-1',
      principal: 'alice',
      input: { user: 'alice', prize: 'hoodie', qty: 2 },
    });
    expect(r.status).not.toBe('failed'); // pending: C is not there, so the outcome is unknown
    const [row] = await t.db.query<{ input: string }>({
      text: `SELECT input::text AS input FROM ${S}.commands WHERE key = 'ok-1'`,
    });
    expect(JSON.parse(row!.input)).toEqual({ user: 'alice', prize: 'hoodie', qty: 2 });
    expect(await points()).toBe(80);
  });
});
