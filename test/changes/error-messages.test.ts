// Decision 0009: a refused change never echoes a key value in its message (keys are often personal data,
// and messages end up in log lines); the keys stay in structured details for the code that handles it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Entity } from '../../src/changes/entity.js';
import { isTallyError, type TallyError } from '../../src/errors.js';
import { createTally, type Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

const ALICE = 'alice.smith@example.com';
const BOB = 'bob.jones@example.org';
const NOBODY = 'nobody.here@example.net';

async function refused(p: Promise<unknown>, code: string): Promise<TallyError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTallyError(err)).toBe(true);
  expect((err as TallyError).code).toBe(code);
  return err as TallyError;
}

/** Nothing of any of the keys in what a logger prints by default: message, and `String(err)`. */
function expectNoKeys(err: TallyError): void {
  for (const key of [ALICE, BOB, NOBODY]) {
    expect(err.message).not.toContain(key);
    expect(String(err)).not.toContain(key);
    expect(err.message).not.toContain(key.split('@')[0]!);
  }
}

describeEachDialect('error messages without key values', (fresh) => {
  let t: TestDatabase;
  let tally: Tally;
  let subscribers: Entity;

  beforeAll(async () => {
    t = await fresh();
    await t.db.exec(`CREATE TABLE subscribers (
      email text PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0)`);
    await t.db.exec(`INSERT INTO subscribers (email, state) VALUES
      ('${ALICE}', 'active'), ('${BOB}', 'unsubscribed')`);
    tally = await createTally({ db: t.db });
    await tally.migrate();
    subscribers = tally.entity('subscriber', {
      table: 'subscribers',
      key: 'email',
      states: { active: ['paused', 'unsubscribed'], paused: ['active'], unsubscribed: [] },
    });
  });
  afterAll(() => t?.close());

  it('NOT_FOUND: the key is in details.rejected, not in the message', async () => {
    const err = await refused(
      subscribers.transition({ key: NOBODY, to: 'paused', actor: 'ops' }),
      'NOT_FOUND',
    );
    expectNoKeys(err);
    expect(err.message).toContain('subscriber');
    expect(err.message).toContain('does not exist');
    expect(err.details?.rejected).toEqual([expect.objectContaining({ key: NOBODY, reason: 'not_found' })]);
  });

  it('ILLEGAL_TRANSITION: states are named, the key is not', async () => {
    const err = await refused(
      subscribers.transition({ key: BOB, to: 'active', actor: 'ops' }),
      'ILLEGAL_TRANSITION',
    );
    expectNoKeys(err);
    expect(err.message).toContain('cannot go from unsubscribed to active');
    expect(err.details?.rejected).toEqual([
      expect.objectContaining({ key: BOB, reason: 'illegal_transition', from: 'unsubscribed' }),
    ]);
  });

  it('BATCH_REJECTED: counts and the first reason, every key in details only', async () => {
    const err = await refused(
      subscribers.transition({ keys: [ALICE, BOB, NOBODY], to: 'paused', actor: 'ops' }),
      'BATCH_REJECTED',
    );
    expectNoKeys(err);
    expect(err.message).toContain('2 of 3 keys were rejected');
    const keys = (err.details!.rejected as { key: string }[]).map((r) => r.key).sort();
    expect(keys).toEqual([BOB, NOBODY].sort());
    // Nothing changed: atomic.
    const [row] = await t.db.query<{ state: string }>({
      text: 'SELECT state FROM subscribers WHERE email = $1',
      values: [ALICE],
    });
    expect(row!.state).toBe('active');
  });
});
