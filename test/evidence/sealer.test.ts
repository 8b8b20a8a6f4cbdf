import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Executor } from '../../src/db/types.js';
import {
  consistencyBundle,
  generateSealKey,
  inclusionBundle,
  type LogAudit,
  type LogRowLeaf,
  parseCheckpointBody,
  signCheckpoint,
  trustedKeys,
  verifyProof,
} from '../../src/evidence/index.js';
import { sealedLeafHashes } from '../../src/evidence/sealer.js';
import { leafRowsByIdSql } from '../../src/evidence/sql.js';
// The sealer as applications import it: from the package root.
import { proveLogRow, sealOnce, verifySealedLog } from '../../src/index.js';
import type { Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { resourcesFixture } from '../support/resources.js';

const ORIGIN = 'tally sealer-test';
const KEY = generateSealKey();
const TRUSTED = trustedKeys([KEY]);
const ROLLBACK = new Error('rollback');

describeEachDialect(
  'evidence: the sealer seals the log in commit order, and the audit finds tampering',
  (fresh) => {
    let t: TestDatabase;
    let tally: Tally;
    let first: string;
    let second: string;
    let sealedAtFirst: number;

    /** Runs `tamper` and the audit in one transaction that is rolled back: every case starts clean. */
    async function auditAfter(tamper: string, external?: string): Promise<LogAudit> {
      let result: LogAudit | undefined;
      await t.db
        .transaction(async (tx: Executor) => {
          await tx.exec(tamper);
          result = await verifySealedLog({ config: { ...tally.config, db: tx } }, ORIGIN, TRUSTED, external);
          throw ROLLBACK;
        })
        .catch((err) => {
          if (err !== ROLLBACK) throw err;
        });
      return result!;
    }

    beforeAll(async () => {
      t = await fresh();
      const fx = await resourcesFixture(t.db, 12);
      tally = fx.tally;
      await fx.resources.transition({ keys: [1, 2, 3, 4, 5, 6], to: 'frozen', actor: 'ops:alice' });
      await fx.resources.update({ keys: [3, 7], set: { amount: 99.5 }, actor: 'svc:points' });
      const r1 = await sealOnce(tally, { key: KEY, origin: ORIGIN, batchSize: 3 });
      expect(r1).toMatchObject({ appended: 8, treeSize: 8 });
      first = r1.note!;
      sealedAtFirst = r1.treeSize;
      await fx.resources.transition({ keys: [1, 2, 8], to: 'active', actor: 'ops:bob', reason: 'undo' });
      await fx.resources.transition({ keys: [9, 10, 11, 12], to: 'frozen', actor: 'ops:bob' });
      const r2 = await sealOnce(tally, { key: KEY, origin: ORIGIN });
      expect(r2).toMatchObject({ appended: 6, treeSize: 14 });
      second = r2.note!;
      expect(await sealOnce(tally, { key: KEY, origin: ORIGIN })).toEqual({
        appended: 0,
        treeSize: 14,
        note: null,
      });
    });
    afterAll(() => t?.close());

    it('an untouched log audits clean, and its proofs verify offline', async () => {
      expect(await verifySealedLog(tally, ORIGIN, TRUSTED)).toEqual({
        ok: true,
        sealed: 14,
        unsealed: 0,
        checkpoints: 2,
      });
      const s = tally.config.s;
      const leaves = await sealedLeafHashes(t.db, s, ORIGIN, 14);
      const [pos] = await t.db.query<{ position: string; log_id: string }>({
        text: `SELECT position::text AS position, log_id::text AS log_id FROM ${s}.seal_leaves
              WHERE origin = $1 ORDER BY seal_leaves.position DESC LIMIT 1 OFFSET 4`,
        values: [ORIGIN],
      });
      const [row] = await t.db.query(leafRowsByIdSql(s, [pos!.log_id]));
      const proof = inclusionBundle(leaves, second, Number(pos!.position), {
        row: row as unknown as LogRowLeaf,
      });
      const verdict = verifyProof(JSON.parse(JSON.stringify(proof)), { trustedKeys: [KEY], origin: ORIGIN });
      expect(verdict).toMatchObject({ ok: true, kind: 'inclusion', index: 9 });
      expect(verifyProof(consistencyBundle(leaves, first, second), { trustedKeys: [KEY] })).toMatchObject({
        ok: true,
        adjacent: true,
      });
    });

    it('proveLogRow: a row by its id against the latest checkpoint, as the file verifyProof checks', async () => {
      const s = tally.config.s;
      const [pos] = await t.db.query<{ log_id: string }>({
        text: `SELECT log_id::text AS log_id FROM ${s}.seal_leaves WHERE origin = $1 AND position = 9`,
        values: [ORIGIN],
      });
      const r = await proveLogRow(tally, ORIGIN, pos!.log_id);
      expect(r).toMatchObject({ ok: true, position: 9, treeSize: 14 });
      if (!r.ok) return;
      expect(r.proof.checkpoint).toBe(second);
      const verdict = verifyProof(JSON.parse(JSON.stringify(r.proof)), {
        trustedKeys: [KEY],
        origin: ORIGIN,
      });
      expect(verdict).toMatchObject({ ok: true, kind: 'inclusion', index: 9, row: { id: pos!.log_id } });
      expect(await proveLogRow(tally, ORIGIN, '999999')).toMatchObject({ ok: false, reason: 'NOT_IN_LOG' });
      expect(await proveLogRow(tally, 'tally other', pos!.log_id)).toMatchObject({
        ok: false,
        reason: 'NO_CHECKPOINT',
      });
    });

    it('a rewritten row (any column), a deleted middle row, reordered rows: ROOT_MISMATCH', async () => {
      const log = `${tally.config.s}.log`;
      for (const tamper of [
        `UPDATE ${log} SET actor = 'ops:mallory' WHERE id = (SELECT min(id) FROM ${log})`,
        `UPDATE ${log} SET after = after || '{"amount": 1000}' WHERE id = (SELECT max(id) FROM ${log})`,
        `UPDATE ${log} SET at = at + interval '1 microsecond' WHERE id = 5`,
        `UPDATE ${log} SET reason = 'backdated' WHERE id = 9`,
        `DELETE FROM ${log} WHERE id = 6`,
        // Two rows swap places in the tree (through a free position: the mapping is unique both ways).
        `UPDATE ${tally.config.s}.seal_leaves SET position = 1000 WHERE position = 2;
       UPDATE ${tally.config.s}.seal_leaves SET position = 2 WHERE position = 3;
       UPDATE ${tally.config.s}.seal_leaves SET position = 3 WHERE position = 1000;`,
      ]) {
        expect(await auditAfter(tamper), tamper).toMatchObject({ ok: false, reason: 'ROOT_MISMATCH' });
      }
    });

    it('the newest rows deleted — of one entity, or of the whole log with their tree positions — are found', async () => {
      const s = tally.config.s;
      // Entity 12's newest (and only) row: a sealed leaf whose row is gone.
      expect(await auditAfter(`DELETE FROM ${s}.log WHERE entity_key = '12'`)).toMatchObject({
        ok: false,
        reason: 'ROOT_MISMATCH',
      });
      // The last three rows of the log and every trace of them in the sealer's tables but the checkpoint.
      const cut = `DELETE FROM ${s}.log WHERE id IN (SELECT log_id FROM ${s}.seal_leaves WHERE position >= 11);
                 DELETE FROM ${s}.seal_leaves WHERE position >= 11;`;
      expect(await auditAfter(cut)).toMatchObject({
        ok: false,
        reason: 'ROWS_MISSING',
        range: { from: 11, to: 14 },
      });
    });

    it('a history re-signed without the private key: UNKNOWN_KEY', async () => {
      const body = parseCheckpointBody(second.slice(0, second.indexOf('\n\n') + 1));
      const forged = signCheckpoint(body, generateSealKey()).replace(/'/g, "''");
      expect(
        await auditAfter(`UPDATE ${tally.config.s}.checkpoints SET note = '${forged}' WHERE tree_size = 14`),
      ).toMatchObject({ ok: false, reason: 'UNKNOWN_KEY' });
    });

    it('a rollback of the whole database to an older backup: clean inside, caught by the external checkpoint', async () => {
      const s = tally.config.s;
      const rollback = `DELETE FROM ${s}.log WHERE id IN (SELECT log_id FROM ${s}.seal_leaves WHERE position >= ${sealedAtFirst});
      DELETE FROM ${s}.seal_leaves WHERE position >= ${sealedAtFirst};
      DELETE FROM ${s}.checkpoints WHERE tree_size > ${sealedAtFirst};`;
      expect(await auditAfter(rollback)).toMatchObject({ ok: true, sealed: sealedAtFirst });
      expect(await auditAfter(rollback, second)).toMatchObject({
        ok: false,
        reason: 'ROWS_MISSING',
        range: { from: sealedAtFirst, to: 14 },
      });
    });
  },
);
