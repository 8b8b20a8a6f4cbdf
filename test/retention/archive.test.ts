import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Executor } from '../../src/db/types.js';
import { isTallyError } from '../../src/errors.js';
import { type ArchiveProgress, archiveLog } from '../../src/evidence/archive.js';
import { type ArchiveManifest, sha256Hex } from '../../src/evidence/archive-file.js';
import { historyWithArchive, proveArchivedRow, stateAtWithArchive } from '../../src/evidence/archive-read.js';
import { type ArchiveAudit, verifyArchivedLog } from '../../src/evidence/archive-verify.js';
import { generateSealKey, trustedKeys, verifyProof } from '../../src/evidence/index.js';
import { sealOnce, verifySealedLog } from '../../src/evidence/sealer.js';
import { dropConsumer } from '../../src/feed/admin.js';
import { openConsumer } from '../../src/feed/consumer.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, resourcesFixture, type Tally } from '../support/resources.js';

const ORIGIN = 'tally archive-test';
const KEY = generateSealKey();
const TRUSTED = trustedKeys([KEY]);
const ROLLBACK = new Error('rollback');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Log archival (decision 0062): only sealed, old, delivered rows move; verification, history, as-of and
// proofs still cover them through the archive.
describeEachDialect('retention: tally archive moves sealed old log ranges to files', (fresh) => {
  let t: TestDatabase;
  let tally: Tally;
  let resources: Awaited<ReturnType<typeof resourcesFixture>>['resources'];
  let dir: string;
  let horizon: Date;
  const loc = () => ({ origin: ORIGIN, dir });
  const logRows = () => count(t.db, 'SELECT 1 FROM tally.log');

  beforeAll(async () => {
    t = await fresh();
    ({ tally, resources } = await resourcesFixture(t.db, 12));
    dir = mkdtempSync(join(tmpdir(), 'tally-archive-'));
    await resources.transition({ keys: [1, 2, 3, 4, 5, 6], to: 'frozen', actor: 'ops:alice' });
    await resources.update({ keys: [3, 7], set: { amount: 99.5 }, actor: 'svc:points' });
    expect(await sealOnce(tally, { key: KEY, origin: ORIGIN })).toMatchObject({ treeSize: 8 });
    await sleep(30);
    horizon = new Date();
    await sleep(30);
    await resources.transition({ keys: [7, 8], to: 'frozen', actor: 'ops:bob' });
    expect(await sealOnce(tally, { key: KEY, origin: ORIGIN })).toMatchObject({ treeSize: 10 });
    await resources.transition({ keys: [9], to: 'frozen', actor: 'ops:bob' }); // never sealed here
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await t.close();
  });

  it('a dry run names the ranges that would move and changes nothing', async () => {
    const r = await archiveLog(tally, { ...loc(), before: horizon, rowsPerFile: 3, dryRun: true });
    expect(r.ranges.map((x) => [x.file, x.rows])).toEqual([
      ['log-000000000000-000000000003.cp000000000008.ndjson.gz', 3],
      ['log-000000000003-000000000006.cp000000000008.ndjson.gz', 3],
      ['log-000000000006-000000000008.cp000000000008.ndjson.gz', 2],
    ]);
    expect(r).toMatchObject({ dryRun: true, rowsDeleted: 0, next: 8, stop: 'horizon' });
    expect(await logRows()).toBe(11);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('moves the sealed rows older than the horizon to gzip NDJSON files with a manifest, then deletes them', async () => {
    const seen: ArchiveProgress[] = [];
    const r = await archiveLog(tally, {
      ...loc(),
      before: horizon,
      rowsPerFile: 3,
      chunk: 2,
      onProgress: (p) => seen.push(p),
    });
    expect(r).toMatchObject({ dryRun: false, rowsDeleted: 8, next: 8, stop: 'horizon' });
    expect(await logRows()).toBe(3);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArchiveManifest;
    expect(manifest.files.map((f) => [f.from, f.to, f.checkpointSize, f.rows])).toEqual([
      [0, 3, 8, 3],
      [3, 6, 8, 3],
      [6, 8, 8, 2],
    ]);
    for (const f of manifest.files) {
      const bytes = readFileSync(join(dir, f.file));
      expect(sha256Hex(bytes)).toBe(f.sha256);
      const lines = gunzipSync(bytes).toString('utf8').trim().split('\n');
      expect(lines.map((l) => JSON.parse(l).position)).toEqual(
        Array.from({ length: f.rows }, (_, i) => f.from + i),
      );
    }
    expect(seen.some((p) => p.phase === 'delete')).toBe(true);
    expect(seen.at(-1)).toMatchObject({ done: 8, total: 10 });
    expect(await count(t.db, 'SELECT 1 FROM tally.log_archives WHERE deleted')).toBe(3);
    // A second run finds nothing more to move before the horizon.
    expect(await archiveLog(tally, { ...loc(), before: horizon })).toMatchObject({ ranges: [], next: 8 });
  });

  it('verification covers the archived ranges; without the archive it cannot', async () => {
    expect(await verifyArchivedLog(tally, ORIGIN, TRUSTED, { dir })).toMatchObject({ ok: true });
    expect(await verifyArchivedLog(tally, ORIGIN, TRUSTED)).toMatchObject({
      ok: false,
      reason: 'ARCHIVE_UNUSABLE',
    });
    expect(await verifySealedLog(tally, ORIGIN, TRUSTED)).toMatchObject({ ok: false });
  });

  it('an edited archive is caught: by its sha256, or by the root when the sha256 was recomputed too', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'tally-archive-edit-'));
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ArchiveManifest;
      const f = manifest.files[1]!;
      for (const name of readdirSync(dir)) writeFileSync(join(copy, name), readFileSync(join(dir, name)));
      const text = gunzipSync(readFileSync(join(dir, f.file))).toString('utf8');
      const edited = gzipSync(Buffer.from(text.replace('"actor":"ops:alice"', '"actor":"ops:mallory"')));
      expect(edited.equals(gzipSync(Buffer.from(text)))).toBe(false);
      writeFileSync(join(copy, f.file), edited);
      expect(await verifyArchivedLog(tally, ORIGIN, TRUSTED, { dir: copy })).toMatchObject({
        ok: false,
        reason: 'ARCHIVE_UNUSABLE',
      });
      // The forger rewrites the manifest and the database's record as well: the leaves no longer hash to
      // the signed root.
      const sha = sha256Hex(edited);
      f.sha256 = sha;
      writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
      let audit: ArchiveAudit | undefined;
      await t.db
        .transaction(async (tx: Executor) => {
          await tx.query({
            text: `UPDATE tally.log_archives SET sha256 = $1 WHERE from_position = $2`,
            values: [sha, f.from],
          });
          audit = await verifyArchivedLog({ config: { ...tally.config, db: tx } }, ORIGIN, TRUSTED, {
            dir: copy,
          });
          throw ROLLBACK;
        })
        .catch((e) => {
          if (e !== ROLLBACK) throw e;
        });
      expect(audit).toMatchObject({ ok: false, reason: 'ROOT_MISMATCH' });
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('history, as-of and proofs read the archive for archived rows', async () => {
    const h7 = await historyWithArchive(tally, resources, 7, loc());
    expect(h7.map((e) => [e.version, e.actor, e.position === null ? 'log' : 'archive'])).toEqual([
      [1, 'svc:points', 'archive'],
      [2, 'ops:bob', 'log'],
    ]);
    expect(await resources.history(7)).toHaveLength(1);
    expect(await stateAtWithArchive(tally, resources, 7, { version: 1 }, loc())).toMatchObject({
      state: 'active',
      amount: 99.5,
    });
    expect(await stateAtWithArchive(tally, resources, 3, { at: horizon }, loc())).toMatchObject({
      state: 'frozen',
      amount: 99.5,
      version: 2,
    });
    const proof = await proveArchivedRow(tally, loc(), {
      entityType: 'resource',
      entityKey: '3',
      version: 2,
    });
    expect(proof.ok).toBe(true);
    if (!proof.ok) return;
    const verdict = verifyProof(JSON.parse(JSON.stringify(proof.proof)), {
      trustedKeys: TRUSTED,
      origin: ORIGIN,
    });
    expect(verdict).toMatchObject({ ok: true, kind: 'inclusion' });
    expect(
      await proveArchivedRow(tally, loc(), { entityType: 'resource', entityKey: '3', version: 9 }),
    ).toMatchObject({
      ok: false,
      reason: 'NOT_IN_LOG',
    });
  });

  it('never moves what a log consumer is still owed, nor what no checkpoint sealed', async () => {
    const lagging = await openConsumer(tally, 'archive_lagging', { source: 'log', start: 'beginning' });
    await lagging.release();
    const later = new Date(Date.now() + 60_000);
    expect(await archiveLog(tally, { ...loc(), before: later })).toMatchObject({
      ranges: [],
      stop: 'owed',
      next: 8,
    });
    await dropConsumer(tally, 'archive_lagging');
    // A run that dies after its first delete statement: the file and record are there, half the rows too.
    const crash = new Error('killed mid-delete');
    const died = await archiveLog(tally, {
      ...loc(),
      before: later,
      chunk: 1,
      onProgress: (p) => {
        if (p.phase === 'delete') throw crash;
      },
    }).catch((e) => e);
    expect(died).toBe(crash);
    const file = 'log-000000000008-000000000010.cp000000000010.ndjson.gz';
    expect(existsSync(join(dir, file))).toBe(true);
    expect(await count(t.db, 'SELECT 1 FROM tally.log_archives WHERE NOT deleted')).toBe(1);
    expect(await logRows()).toBe(2);
    // The next run finishes it first.
    const r = await archiveLog(tally, { ...loc(), before: later });
    expect(r).toMatchObject({ resumed: 1, ranges: [], rowsDeleted: 1, next: 10, stop: 'unsealed' });
    expect(await count(t.db, 'SELECT 1 FROM tally.log_archives WHERE NOT deleted')).toBe(0);
    expect(await logRows()).toBe(1); // resource 9's transition: not sealed, stays
    expect(await verifyArchivedLog(tally, ORIGIN, TRUSTED, { dir })).toMatchObject({ ok: true });
    // Sealing again still works over an archived prefix, and the audit still holds.
    expect(await sealOnce(tally, { key: KEY, origin: ORIGIN })).toMatchObject({ treeSize: 11 });
    expect(await verifyArchivedLog(tally, ORIGIN, TRUSTED, { dir })).toMatchObject({ ok: true });
  });

  it('refuses a log sealed under another origin too: that tree holds the same rows', async () => {
    await sealOnce(tally, { key: KEY, origin: 'tally other', consumer: 'other-sealer' });
    const err = await archiveLog(tally, { ...loc(), before: new Date() }).catch((e) => e);
    expect(isTallyError(err, 'INVALID_CONFIG')).toBe(true);
    expect(String(err.message)).toContain('other origin');
  });
});
