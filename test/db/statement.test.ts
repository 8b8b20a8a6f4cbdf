// Executor.query is given { text, values }: a bare string (or anything else) is a typed error on every
// executor, never a silent empty answer.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Executor } from '../../src/db/types.js';
import { isTallyError } from '../../src/errors.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';

async function refused(run: () => Promise<unknown>): Promise<string> {
  const err = await run().then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTallyError(err, 'INVALID_STATEMENT')).toBe(true);
  return (err as Error).message;
}

describeEachDialect('Executor.query given a malformed statement', (fresh) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await fresh();
  });
  afterAll(() => t?.close());

  const cases = (db: () => Executor) => {
    it('a string is refused with a typed error that says what to pass, without echoing it', async () => {
      const message = await refused(() => db().query("SELECT 'secret@example.com' AS x" as never));
      expect(message).toContain('{ text:');
      expect(message).not.toContain('secret@example.com');
    });
    it('an object without text, or with values that are not an array, is refused', async () => {
      await refused(() => db().query({} as never));
      await refused(() => db().query({ text: '  ' }));
      await refused(() => db().query({ text: 'SELECT $1::int AS x', values: 1 as never }));
    });
    it('a statement object still runs', async () => {
      expect(await db().query({ text: 'SELECT $1::int AS x', values: [7] })).toEqual([{ x: 7 }]);
    });
  };

  cases(() => t.db);

  it('inside a transaction too', async () => {
    await t.db.transaction(async (tx) => {
      await refused(() => tx.query('SELECT 1' as never));
      expect(await tx.query({ text: 'SELECT 1 AS one' })).toEqual([{ one: 1 }]);
    });
  });
});
