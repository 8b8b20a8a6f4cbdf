import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pglite } from '../../src/db/pglite/index.js';
import type { Executor } from '../../src/db/types.js';
import { readCheckpointFile } from '../../src/evidence/checkpoint-file.js';
import { generateSealKey, publicKeyPem, sealKeyPem } from '../../src/evidence/index.js';
import { createTally } from '../../src/tally.js';
import { runCliInProcess, tempDir } from './run-cli.js';

// tally seal, proof, verify-proof and verify on one PGlite directory: a few transitions are sealed, a row's
// proof verifies offline with the public key only, and plain SQL that rewrites a sealed row, or rolls the
// database back behind the external checkpoint file, is named by tally verify.
describe('tally seal / proof / verify-proof / verify', () => {
  const dir = tempDir('tally-evidence-');
  const data = join(dir, 'data');
  const pem = join(dir, 'seal.pem');
  const pub = join(dir, 'seal.pub');
  const otherPub = join(dir, 'other.pub');
  const cps = join(dir, 'checkpoints.txt');
  const proof = join(dir, 'proof.json');
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
    writeFileSync(otherPub, publicKeyPem(generateSealKey()));
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
      await resources.transition({ keys: [1, 2], to: 'frozen', actor: 'ops:alice', reason: 'incident 7' });
    });
  }, 30_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('malformed arguments are usage errors (exit 2) before anything is opened', async () => {
    const cases: [string[], RegExp][] = [
      [['proof', '--id', '5', '--entity', 'resource', ...db], /name the row by --entity NAME/],
      [['proof', '--entity', 'resource', '--key', '2', ...db], /name the row by --entity NAME/],
      [['proof', '--id', 'five', ...db], /--id must be a log row id/],
      [['seal', '--origin', ' spaced ', ...db], /^usage error: tally seal: .*origin/],
      [['verify-proof'], /FILE \(the proof file\) is required/],
      [['verify-proof', 'a.json', 'b.json'], /unexpected argument "b.json"/],
    ];
    for (const [args, message] of cases) {
      const r = await tally(...args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([2, expect.stringMatching(message)]);
    }
  });

  it('seals, proves a row, and the proof verifies offline with the public key only', async () => {
    const noKey = await tally('seal', ...db);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/^error NO_SEAL_KEY: /);

    const sealed = await tally('seal', '--key-file', pem, '--out', cps, ...db);
    expect(sealed.stderr).toBe('');
    expect(sealed.code).toBe(0);
    expect(sealed.stdout).toMatch(
      /^sealed 5 new rows of tally tally: tree size 5, root \S{44}\ncheckpoint:\ntally tally\n5\n/,
    );
    expect(sealed.stdout).toContain('appended the checkpoint of 5 rows to');
    expect(readCheckpointFile(readFileSync(cps, 'utf8'))).toHaveLength(1);

    const again = await tally('seal', '--key-file', pem, '--out', cps, ...db);
    expect(again.stdout).toBe(
      'nothing new to seal: the latest checkpoint of tally tally covers all 5 rows\n',
    );
    expect(readCheckpointFile(readFileSync(cps, 'utf8'))).toHaveLength(1); // not appended twice

    const p = await tally(
      'proof',
      '--entity',
      'resource',
      '--key',
      '2',
      '--version',
      '2',
      '--out',
      proof,
      ...db,
    );
    expect(p.stderr).toBe('');
    expect(p.stdout).toMatch(/resource 2 version 2\) at tree position 4 of the checkpoint of 5 rows/);
    const ok = await tally('verify-proof', proof, '--key', pub, '--origin', 'tally tally');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /^ok: log row \d+ \(resource 2 version 2, transition by ops:alice at .*\) is at tree position 4 of tally tally\n/,
    );

    // Another key, a changed row, no key at all: each refused with its reason.
    const other = await tally('verify-proof', proof, '--key', otherPub);
    expect([other.code, other.stderr.split(':')[0]]).toEqual([1, 'error UNKNOWN_KEY']);
    const bundle = JSON.parse(readFileSync(proof, 'utf8'));
    writeFileSync(proof, JSON.stringify({ ...bundle, row: { ...bundle.row, actor: 'ops:bob' } }));
    const changed = await tally('verify-proof', proof, '--key', pub);
    expect([changed.code, changed.stderr.split(':')[0]]).toEqual([1, 'error ROOT_MISMATCH']);
    const none = await tally('verify-proof', proof);
    expect([none.code, none.stderr.split(':')[0]]).toEqual([1, 'error NO_TRUSTED_KEY']);
  });

  it('a row after the latest checkpoint has no proof yet; once sealed, the new checkpoint provably extends the copied one', async () => {
    await withDb(async (d) => {
      const t = await createTally({ db: d });
      const resources = t.entity('resource', {
        table: 'resources',
        states: { active: ['frozen'], frozen: ['active'] },
      });
      await resources.transition({ keys: [3], to: 'frozen', actor: 'ops:bob' });
    });
    const r = await tally('proof', '--entity', 'resource', '--key', '3', '--version', '2', ...db);
    expect([r.code, r.stderr.split(':')[0]]).toEqual([1, 'error NOT_SEALED']);
    const v = await tally('verify', '--key', pub, '--checkpoint', cps, ...db);
    expect(v.stderr).toBe('');
    // The new row is in the log, not yet in the tree: what is sealed still matches, here and outside, and
    // the row no checkpoint covers is counted rather than passed over.
    expect(v.stdout).toBe(
      'ok: tally tally: 5 sealed rows match 1 checkpoint (signatures, chain, roots)\n' +
        'the external checkpoint of 5 rows matches too\n' +
        '1 log row not sealed yet (after the latest checkpoint; run tally seal)\n',
    );

    // Sealed now (not copied out): the latest checkpoint extends the one in the file, provably.
    expect((await tally('seal', '--key-file', pem, ...db)).stdout).toMatch(
      /^sealed 1 new row of tally tally: tree size 6/,
    );
    const c = await tally('proof', '--consistency-from', cps, '--out', proof, ...db);
    expect(c.stdout).toMatch(/: the checkpoint of 6 rows extends the one of 5\n$/);
    const extends_ = await tally('verify-proof', proof, '--key', pub);
    expect(extends_.stdout).toMatch(
      /^ok: the checkpoint of 6 rows at .* extends the one of 5 rows at .* of tally tally\nadjacent/,
    );
  });

  it('tally worker --seal-every seals and copies the checkpoint to its sinks; tally verify --sink reads it back', async () => {
    const mod = join(dir, 'setup.mjs');
    writeFileSync(
      mod,
      `export default (tally) => tally.command('noop', {
        fingerprint: (i) => i,
        steps: [{ name: 'noop', run: async () => ({ ok: true }) }],
      });\n`,
    );
    const sinkFile = join(dir, 'worker-cps.txt');
    const usage = await tally('worker', '--module', mod, '--once', '--seal-every', '1', ...db);
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringMatching(/needs at least one --sink/)]);
    await withDb(async (d) => {
      const t = await createTally({ db: d });
      const resources = t.entity('resource', {
        table: 'resources',
        states: { active: ['frozen'], frozen: ['active'] },
      });
      await resources.transition({ keys: [1], to: 'active', actor: 'ops:carol' });
    });
    const w = await tally(
      'worker',
      '--module',
      mod,
      '--once',
      '--seal-every',
      '5',
      '--key-file',
      pem,
      '--sink',
      `file:${sinkFile}`,
      ...db,
    );
    expect(w.stderr).toBe('');
    expect(w.stdout).toMatch(/seal: tally tally: tree size 7 \(\+1\)/);
    expect(readCheckpointFile(readFileSync(sinkFile, 'utf8')).at(-1)).toMatch(/^tally tally\n7\n/);
    const v = await tally('verify', '--key', pub, '--sink', `file:${sinkFile}`, ...db);
    expect(v.stdout).toContain('the external checkpoint of 7 rows matches too');
  });

  it('tally verify names a sealed row rewritten with plain SQL, and a rollback behind the external file', async () => {
    // A sealed row's metadata rewritten: only the tree sees it (the row carries no chain since decision
    // 0065, and its versions and images still fit); verify bounds it to the checkpoint's positions.
    await withDb((d) =>
      d.exec(`UPDATE tally.log SET actor = 'ops:mallory' WHERE entity_key = '2' AND version = 2`),
    );
    const edited = await tally('verify', '--key', pub, ...db);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toMatch(/^error ROOT_MISMATCH: tally tally: .* \(tree positions 0 to 4\); /);
    expect(edited.stderr).not.toContain('position 4: log row');

    // Its before image rewritten as well: no longer the previous entry's after image, so verify names it.
    await withDb((d) =>
      d.exec(
        `UPDATE tally.log SET before = before || '{"state": "retired"}' WHERE entity_key = '2' AND version = 2`,
      ),
    );
    const named = await tally('verify', '--key', pub, ...db);
    expect(named.code).toBe(1);
    expect(named.stderr).toMatch(
      /^error ROOT_MISMATCH: tally tally: .* \(tree positions 0 to 4\); position 4: log row \d+ \(resource 2 version 2\) /,
    );
    await withDb((d) =>
      d.exec(
        `UPDATE tally.log SET before = before || '{"state": "active"}' WHERE entity_key = '2' AND version = 2`,
      ),
    );

    // Restore the row and delete the stored checkpoints: the rows still match the external copy, which
    // shows checkpoints are missing.
    await withDb((d) =>
      d.exec(`UPDATE tally.log SET actor = 'ops:alice' WHERE entity_key = '2' AND version = 2;
              DELETE FROM tally.checkpoints`),
    );
    const lost = await tally('verify', '--key', pub, '--checkpoint', cps, ...db);
    expect(lost.stderr).toMatch(
      /^error CHECKPOINTS_MISSING: tally tally: the external checkpoint sealed 5 rows, the database's checkpoints only 0/,
    );

    // Then roll the sealed history back: its tree and newest rows gone too.
    await withDb((d) =>
      d.exec(
        `DELETE FROM tally.seal_leaves; DELETE FROM tally.seal_state; DELETE FROM tally.log WHERE version = 2`,
      ),
    );
    const rolledBack = await tally('verify', '--key', pub, '--checkpoint', cps, ...db);
    expect(rolledBack.code).toBe(1);
    expect(rolledBack.stderr).toMatch(
      /^error ROWS_MISSING: tally tally: a checkpoint sealed 5 rows; the log has 0/,
    );
  });
});
