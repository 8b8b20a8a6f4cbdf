import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/run.js';
import { pglite } from '../../src/db/pglite/index.js';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../support/databases.js';
import { count, resourcesFixture } from '../support/resources.js';

/** The CLI in-process, with its output captured. */
async function tally(args: string[], extra: { cwd?: string; isTTY?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io & { isTTY: boolean } = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: {},
    cwd: extra.cwd ?? tmpdir(),
    isTTY: extra.isTTY ?? false,
  };
  const code = await run(args, io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const ENTITY = ['--entity', 'resource', '--table', 'resources'];

describe('tally reconcile / repair: usage', () => {
  it('needs the entities, and --actor/--reason with --apply', async () => {
    const none = await tally(['reconcile', '--data-dir', 'x']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('name the entities: --module PATH, or --entity NAME --table TABLE');
    const apply = await tally(['repair', ...ENTITY, '--apply', '--actor', 'ops']);
    expect(apply.code).toBe(2);
    expect(apply.stderr).toContain('--apply needs --actor WHO and --reason WHY');
    const dry = await tally(['repair', ...ENTITY, '--reason', 'r']);
    expect(dry.code).toBe(2);
    const bad = await tally(['reconcile', ...ENTITY, '--chunk-size', '-4']);
    expect(bad.code).toBe(2);
    const help = await tally(['help', 'repair']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Without --apply nothing is written');
  });
});

describe.skipIf(!postgresAvailable)('tally reconcile / repair on PostgreSQL', () => {
  let t: TestDatabase;
  let url: string;
  beforeAll(async () => {
    t = await freshPostgres(4);
    url = t.url!;
    const { resources } = await resourcesFixture(t.db, 0);
    await resources.create({
      rows: Array.from({ length: 50 }, (_, i) => ({ id: i + 1, state: 'active' })),
      actor: 'seed',
    });
    await t.db.exec(`UPDATE resources SET state = 'frozen' WHERE id BETWEEN 11 AND 15`);
  });
  afterAll(() => t.close());

  it('reports drift with exit 3, as text with progress lines or as JSON', async () => {
    const r = await tally(['reconcile', ...ENTITY, '--database-url', url, '--chunk-size', '20']);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('DRIFT: 5 findings');
    expect(r.stdout).toContain('resource 11: row_changed_outside_log: state changed without a log entry');
    expect(r.stderr).toMatch(/resource state \[#+\.*\] +\d+% \d+\/\d+, 5 findings/);
    expect(r.stderr).not.toContain('\x1b[');

    const j = await tally(['reconcile', ...ENTITY, '--database-url', url, '--json']);
    expect(j.code).toBe(3);
    const report = JSON.parse(j.stdout);
    expect(report.total).toBe(5);
    expect(report.findings.map((f: { key: string }) => f.key).sort()).toEqual(['11', '12', '13', '14', '15']);
    expect(j.stderr).toBe('');

    const tty = await tally(['reconcile', ...ENTITY, '--database-url', url, '--chunk-size', '10'], {
      isTTY: true,
    });
    expect(tty.stderr).toContain('\x1b[1A\x1b[2K');
  });

  it('repair dry-runs, then --apply backfills and the next reconcile is clean', async () => {
    const logRows = () => count(t.db, 'SELECT 1 FROM tally.log');
    const before = await logRows();
    const dry = await tally(['repair', ...ENTITY, '--database-url', url]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('plan: 5 repair entries, 0 findings left for a person');
    expect(dry.stdout).toContain('dry run: nothing was written');
    expect(await logRows()).toBe(before);

    const apply = await tally([
      'repair',
      ...ENTITY,
      '--database-url',
      url,
      '--apply',
      '--actor',
      'ops:alice',
      '--reason',
      'INC-7',
    ]);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain('repaired 5 rows');
    expect(apply.stdout).toContain('ok: every row is explained by its log');
    expect(await logRows()).toBe(before + 5);

    const again = await tally([
      'repair',
      ...ENTITY,
      '--database-url',
      url,
      '--apply',
      '--actor',
      'ops:alice',
      '--reason',
      'INC-7',
    ]);
    expect(again.stdout).toContain('repaired 0 rows');
    expect(await logRows()).toBe(before + 5);
    expect((await tally(['reconcile', ...ENTITY, '--database-url', url])).code).toBe(0);
  });

  it('--compare-with compares each entity table with the same table in another database', async () => {
    const other = await freshPostgres(2);
    onTestFinished(() => other.close());
    const rows = await t.db.query<Record<string, unknown>>({ text: 'SELECT * FROM resources ORDER BY id' });
    await other.db.exec(`CREATE TABLE resources (id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0,
                           owner text, amount numeric(12, 2) NOT NULL DEFAULT 0)`);
    await other.db.query({
      text: `INSERT INTO resources SELECT * FROM jsonb_populate_recordset(NULL::resources, $1::jsonb)`,
      values: [JSON.stringify(rows)],
    });
    const compare = ['reconcile', ...ENTITY, '--database-url', url, '--compare-with', other.url!, '--json'];
    const same = await tally(compare);
    expect(same.code).toBe(0);
    expect(JSON.parse(same.stdout).compare[0].report.equal).toBe(true);

    await other.db.exec(
      `UPDATE resources SET owner = 'elsewhere' WHERE id = 21; DELETE FROM resources WHERE id = 22`,
    );
    const differ = await tally(compare);
    expect(differ.code).toBe(3);
    const report = JSON.parse(differ.stdout).compare[0].report;
    expect(report.changed.map((c: { key: string }) => c.key)).toEqual(['21']);
    expect(report.missingRight).toEqual(['22']);
  });

  it('takes the entities from a module, like tally worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-reconcile-'));
    writeFileSync(
      join(dir, 'setup.mjs'),
      `export default (tally) => { tally.entity('resource', { table: 'resources', states: { active: ['frozen'], frozen: ['active'] } }); };`,
    );
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const r = await tally(['reconcile', '--module', 'setup.mjs', '--database-url', url], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('resource ("resources"): 50 rows');
    const wrong = await tally(
      ['reconcile', '--module', 'setup.mjs', '--entity', 'nope', '--database-url', url],
      { cwd: dir },
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('error UNKNOWN_ENTITY');
  });
});

describe('tally reconcile on PGlite (--data-dir)', () => {
  it('finds a row logged nowhere and exits 3', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-reconcile-pglite-'));
    const db = await pglite(join(dir, 'data'));
    const { resources } = await resourcesFixture(db, 5);
    await resources.transition({ keys: [1, 3, 4], to: 'frozen', actor: 'seed' });
    await db.exec(`UPDATE resources SET version = 1 WHERE id = 2`);
    // A column added with a default rewrites no row: only --precise compares the rows Tally wrote.
    await db.exec(`ALTER TABLE resources ADD COLUMN flag text NOT NULL DEFAULT 'x'`);
    await db.close();
    try {
      const r = await tally(['reconcile', ...ENTITY, '--data-dir', 'data'], { cwd: dir });
      expect(r.code).toBe(3);
      expect(r.stdout).toContain('resource 2: no_log');
      expect(r.stdout).toContain('DRIFT: 1 finding\n');
      const deep = await tally(['reconcile', ...ENTITY, '--data-dir', 'data', '--precise', '--json'], {
        cwd: dir,
      });
      expect(deep.code).toBe(3);
      expect(JSON.parse(deep.stdout).counts).toEqual({ no_log: 1, row_changed_outside_log: 3 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
