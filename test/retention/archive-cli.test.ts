import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveProgress } from '../../src/cli/archive-progress.js';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { generateSealKey, publicKeyPem, sealKeyPem } from '../../src/evidence/index.js';
import { createTally } from '../../src/tally.js';
import { runCliInProcess, tempDir } from '../cli/run-cli.js';

// tally archive on one PGlite directory: a dry run, the move, and --verify over the archive.
describe('tally archive', () => {
  const dir = tempDir('tally-archive-cli-');
  const data = join(dir, 'data');
  const archive = join(dir, 'archive');
  const pem = join(dir, 'seal.pem');
  const pub = join(dir, 'seal.pub');
  const db = ['--data-dir', data];
  const tally = (...args: string[]) => runCliInProcess(args);

  async function withDb(fn: (db: Executor) => Promise<void>): Promise<void> {
    const d = await pglite(data);
    try {
      await fn(d);
    } finally {
      await d.close();
    }
  }

  beforeAll(async () => {
    const key = generateSealKey();
    writeFileSync(pem, sealKeyPem(key));
    writeFileSync(pub, publicKeyPem(key));
    await withDb(async (d) => {
      const t = await createTally({ db: d });
      await t.migrate();
      await d.exec(
        `CREATE TABLE resources (id int PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0)`,
      );
      const resources = t.entity('resource', {
        table: 'resources',
        states: { active: ['frozen'], frozen: ['active'] },
      });
      await resources.create({ rows: [1, 2, 3].map((id) => ({ id, state: 'active' })), actor: 'seed' });
      await resources.transition({ keys: [1, 2], to: 'frozen', actor: 'ops:alice' });
    });
  }, 30_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('usage errors exit 2 before anything is opened', async () => {
    const cases: [string[], RegExp][] = [
      [['archive', '--older-than', '1d', ...db], /--dir DIR is required/],
      [['archive', '--dir', archive, ...db], /exactly one of --older-than AGE and --before TIME/],
      [['archive', '--dir', archive, '--older-than', '3 days', ...db], /--older-than must be like/],
      [['archive', '--dir', archive, '--before', 'yesterday', ...db], /--before must be an ISO 8601 time/],
    ];
    for (const [args, message] of cases) {
      const r = await tally(...args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([2, expect.stringMatching(message)]);
    }
  });

  it('moves only what is sealed; a dry run first; --verify reads the archive', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = await tally('archive', '--dir', archive, '--before', future, ...db);
    expect(none.stdout).toContain('archived 0 rows in 0 files');
    expect((await tally('seal', '--key-file', pem, ...db)).code).toBe(0);
    const dry = await tally(
      'archive',
      '--dir',
      archive,
      '--before',
      future,
      '--rows-per-file',
      '3',
      '--dry-run',
      ...db,
    );
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /^would write log-000000000000-000000000003\.cp000000000005\.ndjson\.gz: 3 rows, /m,
    );
    expect(dry.stdout).toContain('dry run: 5 rows in 2 files would move; nothing changed');
    expect(readdirSync(archive)).toEqual([]); // the first run made the directory, nothing else
    const moved = await tally(
      'archive',
      '--dir',
      archive,
      '--before',
      future,
      '--rows-per-file',
      '3',
      '--pause-ms',
      '1',
      ...db,
    );
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain('5 log rows deleted');
    expect(moved.stdout).toContain(
      'tree positions 0 to 4 are archived; everything the latest checkpoint sealed has moved',
    );
    expect(moved.stderr).toMatch(/archive delete .*100% 5\/5/);
    expect(readdirSync(archive).sort()).toEqual([
      'log-000000000000-000000000003.cp000000000005.ndjson.gz',
      'log-000000000003-000000000005.cp000000000005.ndjson.gz',
      'manifest.json',
    ]);
    const ok = await tally('archive', '--verify', '--dir', archive, '--key', pub, ...db);
    expect([ok.code, ok.stdout]).toEqual([0, expect.stringContaining('ok: tally tally: 5 sealed rows')]);
    const wrong = await tally('archive', '--verify', '--dir', join(dir, 'nowhere'), '--key', pub, ...db);
    expect([wrong.code, wrong.stderr]).toEqual([1, expect.stringContaining('error ARCHIVE_UNUSABLE')]);
    // Plain tally verify: archived ranges are read back with --archive, never taken for deleted rows.
    const plain = await tally('verify', '--key', pub, ...db);
    expect([plain.code, plain.stderr]).toEqual([
      1,
      expect.stringMatching(/^error ARCHIVED: .*--archive DIR/),
    ]);
    const withArchive = await tally('verify', '--key', pub, '--archive', archive, ...db);
    expect([withArchive.code, withArchive.stderr]).toEqual([0, '']);
    const elsewhere = await tally('verify', '--key', pub, '--archive', join(dir, 'nowhere'), ...db);
    expect([elsewhere.code, elsewhere.stderr]).toEqual([
      1,
      expect.stringContaining('error ARCHIVE_UNUSABLE'),
    ]);
  });

  it('tally proof --archive proves an archived row; without it the row is not in the log, and it says why', async () => {
    const row = ['--entity', 'resource', '--key', '2', '--version', '2'];
    const missing = await tally('proof', ...row, ...db);
    expect([missing.code, missing.stderr]).toEqual([
      1,
      expect.stringMatching(/^error NOT_IN_LOG: .*part of the log is archived: pass --archive DIR/),
    ]);
    const out = join(dir, 'proof-from-archive.json');
    const p = await tally('proof', ...row, '--archive', archive, '--out', out, ...db);
    expect([p.code, p.stdout]).toEqual([0, expect.stringContaining('archived resource 2 version 2')]);
    expect((await tally('verify-proof', out, '--key', pub)).code).toBe(0);
  });

  it('--prove gives proofs of archived rows and of consistency that tally verify-proof accepts', async () => {
    const proof = join(dir, 'archived-proof.json');
    const p = await tally(
      'archive',
      '--prove',
      '--dir',
      archive,
      '--entity',
      'resource',
      '--row-key',
      '2',
      '--version',
      '2',
      '--out',
      proof,
      ...db,
    );
    expect([p.code, p.stdout]).toEqual([
      0,
      expect.stringContaining('resource 2 version 2 at tree position 4'),
    ]);
    const v = await tally('verify-proof', proof, '--key', pub);
    expect([v.code, v.stdout]).toEqual([
      0,
      expect.stringMatching(/^ok: .* is at tree position 4 of tally tally/),
    ]);
    // tally proof alone no longer finds the row: it is archived.
    expect(
      (await tally('proof', '--entity', 'resource', '--key', '2', '--version', '2', ...db)).stderr,
    ).toContain('NOT_IN_LOG');
    const cps = join(dir, 'checkpoints.txt');
    expect((await tally('seal', '--key-file', pem, '--out', cps, ...db)).code).toBe(0);
    await withDb(async (d) => {
      const t = await createTally({ db: d });
      const resources = t.entity('resource', {
        table: 'resources',
        states: { active: ['frozen'], frozen: ['active'] },
      });
      await resources.transition({ keys: [3], to: 'frozen', actor: 'ops:bob' });
    });
    expect((await tally('seal', '--key-file', pem, ...db)).code).toBe(0);
    const grew = join(dir, 'grew.json');
    const c = await tally(
      'archive',
      '--prove',
      '--dir',
      archive,
      '--consistency-from',
      cps,
      '--out',
      grew,
      ...db,
    );
    expect([c.code, c.stdout]).toEqual([
      0,
      expect.stringContaining('the checkpoint of 6 rows extends the one of 5'),
    ]);
    expect((await tally('verify-proof', grew, '--key', pub)).code).toBe(0);
    const bad = await tally('archive', '--prove', '--dir', archive, '--entity', 'resource', ...db);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      expect.stringContaining('name the row by --entity NAME --row-key KEY'),
    ]);
  });

  it('draws one bar in place on a terminal, and plain lines elsewhere', () => {
    const lines: string[] = [];
    const io = { out: () => {}, err: (t: string) => lines.push(t), env: {}, cwd: dir };
    const tty = archiveProgress({ ...io, isTTY: true });
    tty.update({ phase: 'write', done: 0, total: 4, file: 'a' });
    tty.update({ phase: 'delete', done: 4, total: 4, file: 'a' });
    expect(lines).toEqual([
      'archive write  [..............................]   0% 0/4 a',
      '\x1b[1A\x1b[2Karchive delete [##############################] 100% 4/4 a',
    ]);
  });
});
