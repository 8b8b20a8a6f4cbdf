import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { verifyProof } from '../../src/evidence/index.js';
import { buildVectors, VECTORS_FILE } from './vectors.js';

const committed = JSON.parse(readFileSync(VECTORS_FILE, 'utf8'));

describe('evidence: the committed proof vectors', () => {
  it('are exactly what the encoders build today (a changed encoding is a changed file)', () => {
    expect(buildVectors()).toEqual(committed);
  });

  it('every proof in the file verifies with the public key alone', () => {
    const trustedKeys = [committed.publicKey as string];
    const proofs = [...committed.inclusion, ...committed.consistency];
    expect(proofs.length).toBeGreaterThanOrEqual(6);
    for (const proof of proofs) {
      const verdict = verifyProof(proof, { trustedKeys, origin: committed.origin });
      expect(verdict, JSON.stringify(verdict)).toMatchObject({ ok: true, keyIds: [committed.keyId] });
    }
    // A proof read from the file as text checks the same.
    expect(verifyProof(JSON.stringify(committed.inclusion[0]), { trustedKeys }).ok).toBe(true);
    const row = verifyProof(committed.inclusion[0], { trustedKeys });
    expect(row).toMatchObject({
      kind: 'inclusion',
      index: 6,
      row: { id: '7', entity_key: '102', version: '2' },
    });
    const step = verifyProof(committed.consistency[0], { trustedKeys });
    expect(step).toMatchObject({
      kind: 'consistency',
      adjacent: true,
      older: { treeSize: 4 },
      newer: { treeSize: 11 },
    });
  });
});
