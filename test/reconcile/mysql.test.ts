import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Entity } from '../../src/changes/entity.js';
import type { Executor } from '../../src/db/types.js';
import {
  applyRepair,
  checkEntries,
  checkKeyChain,
  formatPlan,
  planRepair,
  reconcile,
} from '../../src/reconcile/index.js';
import type { Finding } from '../../src/reconcile/types.js';
import { createTally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { RESOURCE_STATES } from '../support/resources.js';

/**
 * The state <-> log reconcile on every dialect (decision 0137): drift made around Tally by raw SQL is
 * found with the same findings on PGlite, PostgreSQL and MariaDB; the dry run writes nothing; the repair
 * writes marked entries with who and why; the re-check is clean. The only per-dialect text is the DDL,
 * the log's table name and the JSON function of one tampering statement.
 */
describeEachDialect(
  'reconcile state <-> log on every dialect',
  (fresh) => {
    let t: TestDatabase;
    let db: Executor;
    let log: string;
    let drift: Entity;
    let fix: Entity;

    async function table(name: string, n: number): Promise<Entity> {
      const [text, int, num] =
        t.dialect === 'mariadb'
          ? ['VARCHAR(64)', 'BIGINT', 'DECIMAL(12,2)']
          : ['text', 'bigint', 'numeric(12,2)'];
      await db.exec(`CREATE TABLE ${name} (id ${int} PRIMARY KEY, state ${text} NOT NULL,
        version int NOT NULL DEFAULT 0, owner ${text}, amount ${num} NOT NULL DEFAULT 0)`);
      const tally = await createTally({ db });
      const e = tally.entity(name, { table: name, states: RESOURCE_STATES });
      const rows = Array.from({ length: n }, (_, i) => ({
        id: i + 1,
        state: 'active',
        owner: `owner-${i + 1}`,
        amount: `${i + 1}.50`,
      }));
      await e.create({ rows, actor: 'seed' });
      const keys = rows.map((r) => r.id);
      await e.transition({ keys, to: 'frozen', actor: 'seed' });
      await e.transition({ keys, to: 'active', actor: 'seed' }); // every row at v3: create, 2 transitions
      return e;
    }

    const rowsOf = (name: string) =>
      db.query<Record<string, unknown>>({
        text: `SELECT id, state, version, owner FROM ${name} ORDER BY id`,
      });
    const entriesOf = async (type: string) =>
      Number(
        (
          await db.query<{ n: number }>({
            text: `SELECT count(*) AS n FROM ${log} WHERE entity_type = '${type}'`,
          })
        )[0]!.n,
      );
    const strip = (fs: readonly Finding[]) =>
      [...fs]
        .map((f) => ({ key: f.key, kind: f.kind, details: f.details }))
        .sort((a, b) => `${a.key}:${a.kind}`.localeCompare(`${b.key}:${b.kind}`));

    beforeAll(async () => {
      t = await fresh();
      db = t.db;
      log = t.dialect === 'mariadb' ? 'tally_log' : 'tally.log';
      await (await createTally({ db })).migrate();
      drift = await table('r_drift', 8);
      fix = await table('r_fix', 6);
      // r_drift: one of each kind the check names, made by raw SQL around Tally.
      await db.exec(`UPDATE r_drift SET owner = 'mallory' WHERE id = 2`); // state changed without log
      await db.exec(`DELETE FROM ${log} WHERE entity_type = 'r_drift' AND entity_key = '3' AND version = 3`); // last log row missing
      await db.exec(`DELETE FROM ${log} WHERE entity_type = 'r_drift' AND entity_key = '4'`); // no log at all
      await db.exec(`DELETE FROM r_drift WHERE id = 5`); // state row deleted
      await db.exec(`DELETE FROM ${log} WHERE entity_type = 'r_drift' AND entity_key = '6' AND version = 2`); // middle row
      await db.exec(`UPDATE r_drift SET version = 2 WHERE id = 7`); // row rolled back: log ahead of it
      await db.exec(
        t.dialect === 'mariadb'
          ? `UPDATE ${log} SET \`before\` = JSON_SET(\`before\`, '$.owner', 'eve') WHERE entity_type = 'r_drift' AND entity_key = '8' AND version = 3`
          : `UPDATE ${log} SET before = jsonb_set(before, '{owner}', '"eve"') WHERE entity_type = 'r_drift' AND entity_key = '8' AND version = 3`,
      ); // an entry edited
      // r_fix: only what a repair can explain.
      await db.exec(`UPDATE r_fix SET owner = 'mallory', amount = 99.99 WHERE id = 2`);
      await db.exec(`DELETE FROM ${log} WHERE entity_type = 'r_fix' AND entity_key = '3' AND version = 3`);
      await db.exec(`DELETE FROM ${log} WHERE entity_type = 'r_fix' AND entity_key = '4'`);
    });
    afterAll(() => t.close());

    it('finds the same drift, with the same details, on every dialect', async () => {
      const report = await reconcile([drift]);
      expect(report.ok).toBe(false);
      expect(report.entities[0]).toMatchObject({ entity: 'r_drift', rows: 7, logEntries: 19 });
      expect(strip(report.findings)).toEqual([
        {
          key: '2',
          kind: 'row_changed_outside_log',
          details: {
            version: 3,
            columns: ['owner'],
            row: { owner: 'mallory' },
            log: { owner: 'owner-2' },
            message: 'owner changed without a log entry (version 3 not bumped)',
          },
        },
        {
          key: '3',
          kind: 'version_ahead_of_log',
          details: {
            rowVersion: 3,
            lastVersion: 2,
            missing: 1,
            message: 'the row is at version 3 but the log ends at version 2',
          },
        },
        {
          key: '4',
          kind: 'no_log',
          details: { rowVersion: 3, message: 'the row is at version 3 but the log has no entry' },
        },
        {
          key: '5',
          kind: 'log_without_row',
          details: {
            entries: 3,
            lastVersion: 3,
            lastAction: 'transition',
            message: 'the row is missing but the log has 3 entries (last v3, transition)',
          },
        },
        {
          key: '6',
          kind: 'version_gap',
          details: { versions: [3], message: 'entries v3 follow a missing entry' },
        },
        {
          key: '7',
          kind: 'log_ahead_of_row',
          details: {
            rowVersion: 2,
            lastVersion: 3,
            message: 'the log ends at version 3 but the row is at version 2',
          },
        },
        {
          key: '8',
          kind: 'broken_image',
          details: {
            versions: [3],
            message: "v3: before image differs from the previous entry's after image",
          },
        },
      ]);
      // Chunked by key range, the same findings.
      const chunked = await reconcile([drift], { chunkSize: 2, chainChunkSize: 3 });
      expect(strip(chunked.findings)).toEqual(strip(report.findings));
      expect(chunked.entities[0]!.chunks).toBe(4);
    });

    it('the dry run plans the repairs and writes nothing', async () => {
      const rows = await rowsOf('r_fix');
      const entries = await entriesOf('r_fix');
      const report = await reconcile([fix]);
      expect(report.findings.map((f) => `${f.key}:${f.kind}`).sort()).toEqual([
        '2:row_changed_outside_log',
        '3:version_ahead_of_log',
        '4:no_log',
      ]);
      const plan = planRepair(report);
      expect(plan.manual).toEqual([]);
      expect(formatPlan(plan)).toContain(
        "repair r_fix 4 (no_log): row v3 -> v1, entry 'repair' at v1; log v1..v3 missing",
      );
      expect(await rowsOf('r_fix')).toEqual(rows);
      expect(await entriesOf('r_fix')).toBe(entries);
    });

    it('the repair writes marked entries with actor and reason; the re-check is clean; a second apply writes nothing', async () => {
      const plan = planRepair(await reconcile([fix]));
      const entries = await entriesOf('r_fix');
      const held = await applyRepair([fix], plan, { actor: 'ops:alice', reason: 'INC-17: raw SQL' });
      expect(held).toMatchObject({ repaired: 1, skipped: 0, keys: { r_fix: ['2'] } });
      expect(held.withheld.map((r) => r.key).sort()).toEqual(['3', '4']);
      const result = await applyRepair([fix], plan, {
        actor: 'ops:alice',
        reason: 'INC-17: checked, never written',
        acceptMissingLog: true,
      });
      expect(result).toMatchObject({ repaired: 2, skipped: 1, keys: { r_fix: ['3', '4'] } });
      expect(await entriesOf('r_fix')).toBe(entries + 3);

      const h2 = await fix.history(2);
      expect(h2.map((x) => [x.version, x.action])).toEqual([
        [1, 'create'],
        [2, 'transition'],
        [3, 'transition'],
        [4, 'repair'],
      ]);
      const r2 = h2[3]!;
      expect(r2).toMatchObject({ actor: 'ops:alice', reason: 'INC-17: raw SQL' });
      expect(r2.before).toEqual(h2[2]!.after);
      expect(r2.after).toMatchObject({ id: 2, state: 'active', version: 4, owner: 'mallory' });
      expect(Number(r2.after!.amount)).toBe(99.99);
      expect(r2.changed).toEqual(['amount', 'owner', 'version']);
      const h3 = await fix.history(3);
      expect(h3.map((x) => [x.version, x.action, x.actor, x.reason])).toEqual([
        [1, 'create', 'seed', null],
        [2, 'transition', 'seed', null],
        [3, 'repair', 'ops:alice', 'INC-17: checked, never written'],
      ]);
      expect(h3[2]!.before).toEqual(h3[1]!.after);
      const h4 = await fix.history(4);
      expect(h4.map((x) => [x.version, x.action])).toEqual([[1, 'repair']]);
      expect(h4[0]!.before).toBeNull();
      expect(h4[0]!.changed).toEqual(['amount', 'id', 'owner', 'state', 'version']);
      expect((await rowsOf('r_fix')).map((r) => Number(r.version))).toEqual([3, 4, 3, 1, 3, 3]);

      const again = await reconcile([fix]);
      expect(again.findings).toEqual([]);
      expect(again.ok).toBe(true);
      const second = await applyRepair([fix], plan, {
        actor: 'ops:alice',
        reason: 'again',
        acceptMissingLog: true,
      });
      expect(second).toMatchObject({ repaired: 0, skipped: 3 });
      expect(await entriesOf('r_fix')).toBe(entries + 3);
    });

    it('text keys (on MariaDB in a case-insensitive collation): found, repaired, clean', async () => {
      await db.exec(
        t.dialect === 'mariadb'
          ? `CREATE TABLE r_text (code VARCHAR(32) COLLATE utf8mb4_general_ci PRIMARY KEY, state VARCHAR(16) NOT NULL,
               version INT NOT NULL DEFAULT 0, note VARCHAR(64))`
          : 'CREATE TABLE r_text (code text PRIMARY KEY, state text NOT NULL, version int NOT NULL DEFAULT 0, note text)',
      );
      const tally = await createTally({ db });
      const e = tally.entity('r_text', { table: 'r_text', key: 'code', states: RESOURCE_STATES });
      const codes = ['a-1', 'B"2', "c'3", 'D-4'];
      await e.create({ rows: codes.map((code) => ({ code, state: 'active', note: 'n' })), actor: 'seed' });
      await e.transition({ keys: codes, to: 'frozen', actor: 'seed' });
      await db.exec(`UPDATE r_text SET note = 'x' WHERE code = 'B"2'`);
      await db.exec(`DELETE FROM r_text WHERE code = 'D-4'`);
      const report = await reconcile([e], { chunkSize: 1 });
      expect(report.findings.map((f) => `${f.key}:${f.kind}`).sort()).toEqual([
        'B"2:row_changed_outside_log',
        'D-4:log_without_row',
      ]);
      const result = await applyRepair([e], planRepair(report), { actor: 'ops:bob', reason: 'INC-18' });
      expect(result).toMatchObject({ repaired: 1, keys: { r_text: ['B"2'] } });
      expect((await e.history('B"2')).at(-1)).toMatchObject({
        version: 3,
        action: 'repair',
        actor: 'ops:bob',
      });
      const again = await reconcile([e]);
      expect(again.findings.map((f) => `${f.key}:${f.kind}`)).toEqual(['D-4:log_without_row']);
    });

    it('what is not ported to MySQL yet is refused by name', async () => {
      if (t.dialect !== 'mariadb') return;
      const refused = { code: 'INVALID_CONFIG' };
      await expect(checkKeyChain(db, '"tally"', 'r_fix', '1')).rejects.toMatchObject({
        ...refused,
        details: { dialect: 'mysql', capability: 'keyChain' },
      });
      await expect(
        checkEntries([fix], [{ entity_type: 'r_fix', entity_key: '1', version: 1 }]),
      ).rejects.toMatchObject({ ...refused, details: { dialect: 'mysql', capability: 'realtime' } });
    });
  },
  { mysql: true },
);
