/**
 * The proof test vectors (test/evidence/vectors/proofs.json), built deterministically: a fixed seed key,
 * fixed rows, fixed times. vectors.test.ts checks the committed file equals what this builds, so any
 * change to an encoding shows up as a diff of that file. Rewrite it (only for a deliberate change of
 * format, with a new version tag) with:  npx tsx test/evidence/vectors.ts --write
 */
import { createHash, createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type Checkpoint,
  checkpointHash,
  consistencyBundle,
  encodeLogRow,
  inclusionBundle,
  type LogRowLeaf,
  leafHash,
  logRowLeafHash,
  MerkleFrontier,
  publicKeyPem,
  type SealKey,
  sealKeyFrom,
  signCheckpoint,
  toBase64,
} from '../../src/evidence/index.js';

export const VECTORS_FILE = fileURLToPath(new URL('./vectors/proofs.json', import.meta.url));
export const ORIGIN = 'tally test-vectors';

/** An Ed25519 key from a 32-byte seed (RFC 8410 PKCS#8: a fixed 16-byte prefix, then the seed). */
export function seededKey(label: string): SealKey {
  const seed = createHash('sha256').update(label).digest();
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return sealKeyFrom(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

export const KEY_LABEL = 'tally evidence test vectors, key 1';

export function vectorRows(): LogRowLeaf[] {
  return Array.from({ length: 11 }, (_, i) => ({
    id: i + 1,
    entity_type: i % 3 === 0 ? 'account' : 'resource',
    entity_key: String(100 + (i % 4)),
    version: 1 + Math.floor(i / 4),
    action: i < 4 ? 'create' : 'transition',
    actor: i % 2 === 0 ? 'ops:alice' : 'svc:points',
    source_ip: i % 2 === 0 ? '10.0.0.7' : null,
    reason: i === 5 ? 'customer asked, ticket 1234' : null,
    request_id: `req-${i}`,
    command_id: i % 2 === 1 ? `cmd-${i}` : null,
    before: i < 4 ? null : `{"state": "active", "version": ${Math.floor(i / 4)}}`,
    after: `{"id": ${100 + (i % 4)}, "note": "caf\u00e9 \u20ac", "state": "${i < 4 ? 'active' : 'frozen'}", "version": ${1 + Math.floor(i / 4)}}`,
    before_delta: i >= 4,
    changed: i < 4 ? ['id', 'note', 'state', 'version'] : ['state', 'version'],
    at: `2026-12-07T09:00:${String(i).padStart(2, '0')}.${String(123456 + i)}Z`,
  }));
}

export function buildVectors() {
  const key = seededKey(KEY_LABEL);
  const rows = vectorRows();
  const leaves = rows.map(logRowLeafHash);
  const f = MerkleFrontier.from();
  const checkpoints: string[] = [];
  let prev: Checkpoint | undefined;
  for (const [i, h] of leaves.entries()) {
    f.appendLeafHash(h);
    if (i + 1 === 4 || i + 1 === 11) {
      const cp: Checkpoint = {
        origin: ORIGIN,
        treeSize: f.size,
        rootHash: toBase64(f.root()),
        time: `2026-12-07T09:01:0${checkpoints.length}.000Z`,
        previousCheckpointHash: prev ? checkpointHash(prev) : null,
      };
      checkpoints.push(signCheckpoint(cp, key));
      prev = cp;
    }
  }
  const [small, large] = checkpoints as [string, string];
  return {
    about:
      'Tally evidence test vectors (docs/evidence.md). Built by test/evidence/vectors.ts from an Ed25519 key ' +
      `whose seed is SHA-256("${KEY_LABEL}"). Every bundle verifies with publicKey alone.`,
    origin: ORIGIN,
    publicKey: publicKeyPem(key),
    keyId: key.keyId,
    rows,
    leaves: rows.map((r) => toBase64(encodeLogRow(r))),
    leafHashes: leaves.map(toBase64),
    checkpoints,
    inclusion: [
      inclusionBundle(leaves, large, 6, { row: rows[6]! }),
      inclusionBundle(leaves, small, 2, { leaf: encodeLogRow(rows[2]!) }),
      inclusionBundle(leaves, large, 10, { leafHash: leafHash(encodeLogRow(rows[10]!)) }),
      inclusionBundle(leaves, large, 0, { row: rows[0]! }),
    ],
    consistency: [consistencyBundle(leaves, small, large), consistencyBundle(leaves, large, large)],
  };
}

if (
  process.argv[1] &&
  fileURLToPath(import.meta.url) === process.argv[1] &&
  process.argv.includes('--write')
) {
  writeFileSync(VECTORS_FILE, `${JSON.stringify(buildVectors(), null, 2)}\n`);
  console.log(`wrote ${VECTORS_FILE}`);
}
