import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Executor } from '../../src/db/types.js';
import { inclusionBundle } from '../../src/evidence/bundle.js';
import { CHUNK } from '../../src/evidence/chunks.js';
import { generateSealKey, type LogRowLeaf, verifyProof } from '../../src/evidence/index.js';
import { proveLogRow } from '../../src/evidence/prove.js';
import { sealedLeafHashes, sealOnce } from '../../src/evidence/sealer.js';
import type { Tally } from '../../src/tally.js';
import { describeEachDialect, type TestDatabase } from '../support/databases.js';
import { resourcesFixture } from '../support/resources.js';

const KEY = generateSealKey();
const ORIGIN = 'tally chunks-test';
const N = 2 * CHUNK + 300; // two complete chunks and a partial one
const ROLLBACK = new Error('rollback');

describeEachDialect(
  'evidence: inclusion proofs from a stored level of chunk roots (migration 12)',
  (fresh) => {
    let t: TestDatabase;
    let tally: Tally;
    const idAt = async (db: Executor, position: number) =>
      (
        await db.query<{ id: string }>({
          text: `SELECT log_id::text AS id FROM tally.seal_leaves WHERE origin = $1 AND position = $2`,
          values: [ORIGIN, position],
        })
      )[0]!.id;

    beforeAll(async () => {
      t = await fresh();
      const fx = await resourcesFixture(t.db, N);
      tally = fx.tally;
      const keys = Array.from({ length: N }, (_, i) => i + 1);
      await fx.resources.transition({ keys: keys.slice(0, 1500), to: 'frozen', actor: 'writer' });
      // Batches of 700 rows: chunks complete in the middle of batches, and across two sealing calls.
      expect((await sealOnce(tally, { key: KEY, origin: ORIGIN, batchSize: 700 })).treeSize).toBe(1500);
      await fx.resources.transition({ keys: keys.slice(1500), to: 'frozen', actor: 'writer' });
      expect((await sealOnce(tally, { key: KEY, origin: ORIGIN, batchSize: 700 })).treeSize).toBe(N);
    }, 60_000);
    afterAll(() => t?.close());

    it('the sealer stores each complete chunk root; proofs at chunk edges and in the partial chunk are the full path', async () => {
      const [n] = await t.db.query<{ n: number }>({
        text: `SELECT count(*)::int AS n FROM tally.seal_chunks WHERE origin = $1`,
        values: [ORIGIN],
      });
      expect(Number(n!.n)).toBe(2);
      const leaves = await sealedLeafHashes(t.db, 'tally', ORIGIN, N);
      for (const position of [0, CHUNK - 1, CHUNK, 2 * CHUNK - 1, 2 * CHUNK, N - 1]) {
        const r = await proveLogRow(tally, ORIGIN, await idAt(t.db, position));
        expect(r).toMatchObject({ ok: true, position, treeSize: N });
        if (!r.ok) return;
        expect(verifyProof(r.proof, { trustedKeys: [KEY], origin: ORIGIN })).toMatchObject({
          ok: true,
          index: position,
        });
        const full = inclusionBundle(leaves, r.proof.checkpoint, position, {
          row: r.proof.row as LogRowLeaf,
        });
        expect(r.proof.path, `position ${position}`).toEqual(full.path);
      }
    });

    it('a proof reads only its own chunk: rows elsewhere are not read (a chunk root missing: the long way)', async () => {
      const target = await idAt(t.db, 2 * CHUNK + 10);
      await t.db
        .transaction(async (tx) => {
          // Chunk 0's rows made unreadable: the long way would hash a gap there, and its path would not verify.
          await tx.exec(
            `DELETE FROM tally.log WHERE id IN (SELECT log_id FROM tally.seal_leaves WHERE origin = '${ORIGIN}' AND position < ${CHUNK})`,
          );
          const scoped = { config: { ...tally.config, db: tx } };
          const r = await proveLogRow(scoped, ORIGIN, target);
          expect(r.ok && verifyProof(r.proof, { trustedKeys: [KEY] }).ok).toBe(true);
          // Without chunk 1's root the proof takes the long way, through the gap: it no longer verifies.
          await tx.exec(`DELETE FROM tally.seal_chunks WHERE origin = '${ORIGIN}' AND chunk = 1`);
          const long = await proveLogRow(scoped, ORIGIN, target);
          expect(long.ok && verifyProof(long.proof, { trustedKeys: [KEY] })).toMatchObject({
            ok: false,
            reason: 'ROOT_MISMATCH',
          });
          throw ROLLBACK;
        })
        .catch((err) => {
          if (err !== ROLLBACK) throw err;
        });
    });
  },
);
