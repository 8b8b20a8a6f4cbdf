import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Entity } from '../../src/changes/entity.js';
import type { Executor } from '../../src/db/types.js';
import { reconcile } from '../../src/reconcile/index.js';
import type { Finding } from '../../src/reconcile/types.js';
import { chainAsLegacy } from '../changes/legacy-log.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES, resourcesFixture } from '../support/resources.js';

const kinds = (fs: readonly Finding[]) => fs.map((f) => `${f.key}:${f.kind}`).sort();

describeEachDialect('reconcile: every drift kind, each entity named', (fresh) => {
  let t: TestDatabase;
  let db: Executor;
  let resources: Entity;
  beforeAll(async () => {
    t = await fresh();
    db = t.db;
    ({ resources } = await resourcesFixture(db, 40));
    await resources.transition({
      keys: Array.from({ length: 20 }, (_, i) => i + 1),
      to: 'frozen',
      actor: 'seed',
    });
    await resources.transition({ keys: [3, 4, 8], to: 'active', actor: 'seed' });
    await resources.transition({ keys: [4, 8], to: 'frozen', actor: 'seed' });
  });
  afterAll(() => t.close());

  it('a consistent table and log report nothing', async () => {
    const report = await reconcile([resources]);
    expect(report.ok).toBe(true);
    expect(report.findings).toEqual([]);
    expect(report.entities[0]).toMatchObject({ entity: 'resource', rows: 40, logEntries: 25 });
  });

  it('names each kind, and only the drifted entities (a log written with the chain, before migration 10)', async () => {
    await chainAsLegacy(db, 'tally', 'resource');
    const log = (sql: string) => db.exec(sql.replaceAll('LOG', 'tally.log'));
    // 1: a field changed around Tally, version not bumped (the seed bug's shape).
    await db.exec(`UPDATE resources SET owner = 'mallory' WHERE id = 1`);
    // 2: changed around Tally with the version bumped: the log misses an entry.
    await db.exec(`UPDATE resources SET state = 'active', version = version + 1 WHERE id = 2`);
    // 3: the last log row deleted: the row is ahead of its log.
    await log(`DELETE FROM LOG WHERE entity_key = '3' AND version = 2`);
    // 4: a middle log row deleted (v2 of v1..v3): a gap, and v3 links to a hash no longer there.
    await log(`DELETE FROM LOG WHERE entity_key = '4' AND version = 2`);
    // 5: the row rolled back around Tally: the log is ahead of it.
    await db.exec(`UPDATE resources SET state = 'active', version = 0 WHERE id = 5`);
    // 6: the row deleted: its log explains nothing.
    await db.exec(`DELETE FROM resources WHERE id = 6`);
    // 7: a log row edited (a different actor written in): the hash no longer matches.
    await log(`UPDATE LOG SET actor = 'someone-else' WHERE entity_key = '7' AND version = 1`);
    // 8: the first log row deleted (v1 of v1..v3).
    await log(`DELETE FROM LOG WHERE entity_key = '8' AND version = 1`);
    // 30: never logged, yet at version 2.
    await db.exec(`UPDATE resources SET version = 2 WHERE id = 30`);

    const progress: string[] = [];
    const report = await reconcile([resources], {
      chunkSize: 7,
      chainChunkSize: 5,
      onProgress: (p) => progress.push(`${p.phase}:${p.done}/${p.total}`),
    });
    expect(report.ok).toBe(false);
    expect(kinds(report.findings)).toEqual(
      [
        '1:row_changed_outside_log',
        '2:version_ahead_of_log',
        '3:version_ahead_of_log',
        '4:version_gap',
        '4:broken_link',
        '5:log_ahead_of_row',
        '6:log_without_row',
        '7:hash_mismatch',
        '8:version_gap',
        '8:broken_link',
        '30:no_log',
      ].sort(),
    );
    const one = report.findings.find((f) => f.key === '1')!;
    expect(one.details).toMatchObject({
      columns: ['owner'],
      row: { owner: 'mallory' },
      log: { owner: 'owner-1' },
    });
    expect(report.findings.find((f) => f.key === '3')!.details).toMatchObject({
      rowVersion: 2,
      lastVersion: 1,
    });
    expect(report.findings.find((f) => f.key === '4' && f.kind === 'version_gap')!.details).toMatchObject({
      versions: [3],
    });
    expect(report.counts.version_ahead_of_log).toBe(2);
    expect(report.total).toBe(11);
    // 39 rows in chunks of 7: six chunks of state progress, then log and chain phases.
    expect(report.entities[0]!.chunks).toBe(6);
    expect(progress.filter((p) => p.startsWith('state:'))).toHaveLength(6);
    expect(progress.some((p) => p.startsWith('chain:'))).toBe(true);
  });

  // Decision 0065: rows written since migration 10 carry no chain. The same tampering is found by the
  // version sequence, the images and the row; an edit of an unsealed row's metadata only by the sealed tree.
  it('an unchained log: drift found by versions, images and the row', async () => {
    await resourcesFixture(db, 10, 'res_u');
    const { createTally } = await import('../../src/tally.js');
    const tally = await createTally({ db });
    const e = tally.entity('res_u', { table: 'res_u', states: RESOURCE_STATES });
    await e.transition({ keys: [1, 2, 3, 4, 5, 6, 7, 8], to: 'frozen', actor: 'seed' });
    await e.transition({ keys: [3, 4, 7, 8], to: 'active', actor: 'seed' });
    await e.transition({ keys: [4, 7, 8], to: 'frozen', actor: 'seed' });
    const at = (key: number, version: number) =>
      `entity_type = 'res_u' AND entity_key = '${key}' AND version = ${version}`;
    await db.exec(`DELETE FROM tally.log WHERE ${at(3, 2)}`); // last row: the row is ahead
    await db.exec(`DELETE FROM tally.log WHERE ${at(4, 2)}`); // middle row: a gap
    await db.exec(`UPDATE tally.log SET after = after || '{"owner": "x"}' WHERE ${at(7, 2)}`); // an image
    await db.exec(`DELETE FROM tally.log WHERE ${at(8, 1)}`); // first row: a gap
    await db.exec(`UPDATE tally.log SET after = after || '{"amount": 0}' WHERE ${at(5, 1)}`); // the last image
    await db.exec(`UPDATE tally.log SET actor = 'someone-else' WHERE ${at(6, 1)}`); // metadata: the tree's
    const report = await reconcile([e]);
    expect(kinds(report.findings)).toEqual(
      [
        '3:version_ahead_of_log',
        '4:version_gap',
        '5:row_changed_outside_log',
        '7:broken_image',
        '8:version_gap',
      ].sort(),
    );
  });

  it('compares only the columns it is told to', async () => {
    const report = await reconcile([resources], {
      chains: false,
      columns: { resource: { ignore: ['owner'] } },
    });
    expect(kinds(report.findings)).not.toContain('1:row_changed_outside_log');
    await expect(
      reconcile([resources], { columns: { resource: { columns: ['nope'] } } }),
    ).rejects.toMatchObject({
      code: 'COLUMN_NOT_FOUND',
    });
  });

  it('refuses bad options with typed errors', async () => {
    await expect(reconcile([])).rejects.toMatchObject({ code: 'INVALID_RECONCILE_OPTIONS' });
    await expect(reconcile([resources], { chunkSize: 0 })).rejects.toMatchObject({
      code: 'INVALID_RECONCILE_OPTIONS',
    });
    await expect(reconcile([resources], { workMem: "1GB'; DROP TABLE x; --" })).rejects.toMatchObject({
      code: 'INVALID_RECONCILE_OPTIONS',
    });
  });
});

describeEachDialect('reconcile: uuid and text keys', (fresh) => {
  let t: TestDatabase;
  afterAll(() => t?.close());

  it('names drifted entities by their key as the log stores it, and repairs them', async () => {
    t = await fresh();
    const { tally } = await resourcesFixture(t.db, 0);
    await t.db.exec(`CREATE TABLE accounts (id uuid PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, note text);
                     CREATE TABLE tags (name text PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0)`);
    const accounts = tally.entity('account', { table: 'accounts', states: { open: ['closed'], closed: [] } });
    const tags = tally.entity('tag', { table: 'tags', key: 'name', states: { on: ['off'], off: ['on'] } });
    const ids = ['0190C2A4-1111-7000-8000-000000000001', '0190c2a4-1111-7000-8000-000000000002'];
    await accounts.create({ rows: ids.map((id) => ({ id, state: 'open', note: 'n' })), actor: 'seed' });
    await tags.create({ rows: ['b', 'a b', "o'k"].map((name) => ({ name, state: 'on' })), actor: 'seed' });
    await t.db.exec(`UPDATE accounts SET note = 'changed' WHERE id = '${ids[0]}';
                     UPDATE tags SET state = 'off' WHERE name = 'o''k'; DELETE FROM tags WHERE name = 'a b'`);
    const report = await reconcile([accounts, tags]);
    expect(kinds(report.findings)).toEqual(
      [
        '0190c2a4-1111-7000-8000-000000000001:row_changed_outside_log',
        'a b:log_without_row',
        "o'k:row_changed_outside_log",
      ].sort(),
    );
    const { applyRepair, planRepair } = await import('../../src/reconcile/index.js');
    const result = await applyRepair([accounts, tags], planRepair(report), { actor: 'ops', reason: 'test' });
    expect(result.repaired).toBe(2);
    expect(kinds((await reconcile([accounts, tags])).findings)).toEqual(['a b:log_without_row']);
  });
});
