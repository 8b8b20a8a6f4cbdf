import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/run.js';
import { createTally } from '../../src/tally.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';

/** The CLI in-process: stdout and stderr in the order they were written, and the exit code. */
async function tally(args: string[], isTTY = false) {
  const out: string[] = [];
  const all: string[] = [];
  const io: Io = {
    out: (t) => {
      out.push(t);
      all.push(t);
    },
    err: (t) => all.push(t),
    env: {},
    cwd: process.cwd(),
    isTTY,
  };
  const code = await run(args, io);
  return { code, stdout: out.join('\n'), all: all.join('\n') };
}

// A table with history from before Tally: 100 rows, 1..90 at versions 1..3, 91..100 at version 0. On
// PostgreSQL: every command opens the database again, which a PGlite directory makes slow.
describe.skipIf(!postgresAvailable)('tally adopt: dry run, then adopt, then reconcile finds nothing', () => {
  let t: TestDatabase;
  let ADOPT: string[];
  let RECONCILE: string[];
  beforeAll(async () => {
    t = await freshPostgres(2);
    ADOPT = ['adopt', 'accounts', '--entity', 'account', '--chunk-size', '40', t.url!];
    RECONCILE = ['reconcile', '--entity', 'account', '--table', 'accounts', t.url!];
    const db = t.db;
    await db.exec(`
      CREATE TABLE accounts (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, owner text);
      INSERT INTO accounts SELECT g, 'open', CASE WHEN g <= 90 THEN g % 3 + 1 ELSE 0 END, 'o' || g
        FROM generate_series(1, 100) g;`);
    await (await createTally({ db })).migrate();
  });
  afterAll(() => t.close());

  it('before adoption the reconciler reports every versioned row', async () => {
    const r = await tally([...RECONCILE, '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).counts).toEqual({ no_log: 90 });
  });

  it('--dry-run counts, with progress per chunk, and writes nothing', async () => {
    const r = await tally([...ADOPT, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.all.split('\n')).toEqual([
      'account adopt [############..................]  40% 40/100, 40 to adopt',
      'account adopt [########################......]  80% 80/100, 80 to adopt',
      'account adopt [##############################] 100% 100/100, 90 to adopt',
      'dry run: 90 of 100 rows of accounts would get a genesis entry (entity account); 0 rows already logged, 10 rows at version 0 (nothing to explain)',
      'nothing was written; run again without --dry-run to adopt, then `tally reconcile`',
    ]);
    expect((await tally([...RECONCILE, '--json'])).code).toBe(3);
  });

  it('adopts, draws a bar on a terminal, and the reconciler then finds nothing; a second run writes nothing', async () => {
    const r = await tally([...ADOPT, '--reason', 'onboarding'], true);
    expect(r.code).toBe(0);
    // On a terminal the bar is redrawn in place: up one line and clear it before each redraw.
    expect(r.all).toContain(
      '\x1b[1A\x1b[2Kaccount adopt [##############################] 100% 100/100, 90 adopted',
    );
    expect(r.stdout).toContain(
      'adopted 90 of 100 rows of accounts: one genesis entry each (action adopt, actor tally-adopt, entity account)',
    );
    const check = await tally(RECONCILE);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('ok: every row is explained by its log and every chain is intact');
    // `tally log` takes the genesis entry as the chain's start (7 was adopted at version 2).
    const log = await tally(['log', '--entity', 'account', '--key', '7', t.url!]);
    expect(log.code).toBe(0);
    expect(log.stdout).toMatch(/^v2 {2}\S+ {2}adopt {2}by tally-adopt$/m);
    expect(log.stdout).toContain('chain: ok (versions 2..2 contiguous;');
    const again = await tally([...ADOPT, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      entity: 'account',
      dryRun: false,
      rows: 100,
      adopted: 0,
      logged: 90,
      unversioned: 10,
      chunks: 3,
    });
  });

  it('usage errors exit 2 before anything is opened', async () => {
    const noTable = await tally(['adopt', '--entity', 'account']);
    expect(noTable.code).toBe(2);
    expect(noTable.all).toContain('the table to adopt is required');
    const noEntity = await tally(['adopt', 'accounts', t.url!]);
    expect(noEntity.code).toBe(2);
    expect(noEntity.all).toContain('name the entity');
    expect((await tally(['adopt', 'bad;table', '--entity', 'account', t.url!])).code).toBe(2);
    expect((await tally([...ADOPT, '--chunk-size', '0'])).code).toBe(2);
    expect((await tally(['adopt', 'accounts', '--module', 'm.mjs', '--key', 'id', t.url!])).code).toBe(2);
  });
});
