import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import { templateOptions } from '../../src/db/pglite/template.js';
import { isTallyError } from '../../src/errors.js';

const base = mkdtempSync(join(tmpdir(), 'tally-template-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

// The run's globalSetup made the template and set TALLY_PGLITE_TEMPLATE (test/support/pglite-template-setup.ts).
describe('TALLY_PGLITE_TEMPLATE (decision 0114)', () => {
  it('is set for the run, and a new database from it is an empty, working one', async () => {
    expect(existsSync(process.env.TALLY_PGLITE_TEMPLATE ?? '')).toBe(true);
    expect(templateOptions().loadDataDir).toBeInstanceOf(Blob);
    const db = await pglite();
    try {
      const tables = await db.query<{ n: number }>({
        text: `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
      });
      expect(tables[0]!.n).toBe(0);
      await db.exec('CREATE TABLE t (a int); INSERT INTO t VALUES (1)');
      expect(await db.query({ text: 'SELECT a FROM t' })).toEqual([{ a: 1 }]);
    } finally {
      await db.close();
    }
  });

  it('starts a new data directory from it, and never touches one that holds a database', async () => {
    const dir = join(base, 'data');
    const first = await pglite(dir);
    await first.exec('CREATE TABLE kept (a int); INSERT INTO kept VALUES (7)');
    await first.close();
    expect(templateOptions(dir)).toEqual({});
    const again = await pglite(dir);
    try {
      expect(await again.query({ text: 'SELECT a FROM kept' })).toEqual([{ a: 7 }]);
    } finally {
      await again.close();
    }
  });

  it('a template that cannot be read is a clear INVALID_CONFIG, not a stack from inside PGlite', () => {
    const env = { TALLY_PGLITE_TEMPLATE: join(base, 'missing.tar') };
    const err = (() => {
      try {
        templateOptions(undefined, env);
      } catch (e) {
        return e;
      }
    })();
    expect(isTallyError(err, 'INVALID_CONFIG')).toBe(true);
    expect((err as Error).message).toContain('TALLY_PGLITE_TEMPLATE names');
    expect(templateOptions(undefined, { TALLY_PGLITE_TEMPLATE: '' })).toEqual({});
  });
});
