import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Entity } from '../../src/changes/entity.js';
import type { Executor } from '../../src/db/types.js';
import {
  applyRepair,
  formatPlan,
  formatRepair,
  planRepair,
  type RepairProgress,
  reconcile,
} from '../../src/reconcile/index.js';
import type { Finding } from '../../src/reconcile/types.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { count, resourcesFixture } from '../support/resources.js';

const kinds = (fs: readonly Finding[]) => fs.map((f) => `${f.key}:${f.kind}`).sort();
const logOf = (db: Executor, key: number) =>
  count(db, `SELECT 1 FROM tally.log WHERE entity_type = 'resource' AND entity_key = '${key}'`);

// Log entries deleted from the end of an entity's history leave the row ahead of its log. A repair
// entry there would make the history look whole again, so it is applied only when asked for.
describeEachDialect('repair: missing log entries are applied only with acceptMissingLog', (fresh) => {
  let t: TestDatabase;
  let db: Executor;
  let resources: Entity;
  beforeAll(async () => {
    t = await fresh();
    db = t.db;
    ({ resources } = await resourcesFixture(db, 30));
    await resources.transition({
      keys: Array.from({ length: 30 }, (_, i) => i + 1),
      to: 'frozen',
      actor: 'seed',
    });
    await resources.transition({ keys: [3, 4], to: 'active', actor: 'seed' });
    // 1, 11..14: a field changed around Tally, the log intact: repairable as before.
    await db.exec(`UPDATE resources SET owner = 'mallory' WHERE id IN (1, 11, 12, 13, 14)`);
    // 3: its last log entry (v2) deleted: the row is ahead of its log.
    await db.exec(`DELETE FROM tally.log WHERE entity_key = '3' AND version = 2`);
    // 4: both entries deleted: the row is at v2 with no log at all.
    await db.exec(`DELETE FROM tally.log WHERE entity_key = '4'`);
    // 5: changed around Tally with the version bumped: indistinguishable from a deletion.
    await db.exec(`UPDATE resources SET state = 'active', version = version + 1 WHERE id = 5`);
  });
  afterAll(() => t.close());

  it('the plan marks them and says they may be a deletion', async () => {
    const report = await reconcile([resources], { chains: false });
    expect(kinds(report.findings)).toEqual(
      [
        '1:row_changed_outside_log',
        '11:row_changed_outside_log',
        '12:row_changed_outside_log',
        '13:row_changed_outside_log',
        '14:row_changed_outside_log',
        '3:version_ahead_of_log',
        '4:no_log',
        '5:version_ahead_of_log',
      ].sort(),
    );
    const plan = planRepair(report);
    const byKey = Object.fromEntries(plan.repairs.map((r) => [r.key, r]));
    expect(byKey['1']).toMatchObject({ missingLog: false, fromVersion: 1, toVersion: 2 });
    expect(byKey['3']).toMatchObject({ missingLog: true, fromVersion: 2, toVersion: 2 });
    expect(byKey['4']).toMatchObject({ missingLog: true, fromVersion: 2, toVersion: 1 });
    const text = formatPlan(plan);
    expect(text).toContain(
      "repair resource 3 (version_ahead_of_log): row v2 -> v2, entry 'repair' at v2; log v2 missing (never written, or deleted)",
    );
    expect(text).toContain(
      "repair resource 4 (no_log): row v2 -> v1, entry 'repair' at v1; log v1..v2 missing",
    );
    expect(text).toContain('warning: 3 repairs cover missing log entries. They may have been deleted');
    expect(text).toContain('applied only with acceptMissingLog: true; without it they are withheld.');
    expect(formatPlan(plan, { acceptWith: '--accept-missing-log' })).toContain(
      'applied only with --accept-missing-log',
    );
  });

  it('without it, apply withholds them (and says so), repairs the rest, and the drift stays reported', async () => {
    const plan = planRepair(await reconcile([resources], { chains: false }));
    const progress: RepairProgress[] = [];
    const before = { 3: await logOf(db, 3), 4: await logOf(db, 4), 5: await logOf(db, 5) };
    const result = await applyRepair([resources], plan, {
      actor: 'ops:alice',
      reason: 'INC-9',
      chunkSize: 2,
      onProgress: (p) => progress.push(p),
    });
    expect(result.repaired).toBe(5);
    expect(result.skipped).toBe(0);
    expect(result.withheld.map((r) => r.key).sort()).toEqual(['3', '4', '5']);
    expect(formatRepair(result)).toContain(
      'withheld 3 repairs over missing log entries (they may have been deleted): check, then pass acceptMissingLog: true',
    );
    // One progress report per chunk (five rows in chunks of two).
    expect(progress.map((p) => `${p.done}/${p.total}:${p.repaired}`)).toEqual(['2/5:2', '4/5:4', '5/5:5']);
    expect({ 3: await logOf(db, 3), 4: await logOf(db, 4), 5: await logOf(db, 5) }).toEqual(before);
    const after = await reconcile([resources], { chains: false });
    expect(kinds(after.findings)).toEqual(['3:version_ahead_of_log', '4:no_log', '5:version_ahead_of_log']);
  });

  it('a row whose log went missing after the plan is left alone without it', async () => {
    await db.exec(`UPDATE resources SET owner = 'eve' WHERE id = 20`);
    const plan = planRepair(await reconcile([resources], { chains: false }));
    expect(plan.repairs.find((r) => r.key === '20')).toMatchObject({ missingLog: false });
    await db.exec(`DELETE FROM tally.log WHERE entity_key = '20' AND version = 1`);
    const result = await applyRepair([resources], plan, { actor: 'ops:alice', reason: 'INC-9' });
    expect(result).toMatchObject({ repaired: 0, skipped: 1 });
    expect(await logOf(db, 20)).toBe(0);
    await expect(
      applyRepair([resources], plan, { actor: 'a', reason: 'r', acceptMissingLog: 'yes' as never }),
    ).rejects.toMatchObject({ code: 'INVALID_RECONCILE_OPTIONS' });
  });

  it('with acceptMissingLog: true they are repaired and the check is clean', async () => {
    const plan = planRepair(await reconcile([resources], { chains: false }));
    const result = await applyRepair([resources], plan, {
      actor: 'ops:alice',
      reason: 'INC-9: checked, the entries were never written',
      acceptMissingLog: true,
    });
    expect(result).toMatchObject({ repaired: 4, skipped: 0, withheld: [] });
    const [entry] = await db.query<{ version: number; action: string }>({
      text: `SELECT version::int AS version, action FROM tally.log WHERE entity_key = '3' ORDER BY version DESC LIMIT 1`,
      values: [],
    });
    expect(entry).toMatchObject({ version: 2, action: 'repair' });
    expect((await reconcile([resources])).ok).toBe(true);
  });
});
