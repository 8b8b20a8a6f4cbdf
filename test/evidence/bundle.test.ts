import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Checkpoint,
  type ConsistencyProofBundle,
  consistencyBundle,
  fromBase64,
  generateSealKey,
  type InclusionProofBundle,
  logRowLeafHash,
  MerkleFrontier,
  parseCheckpointBody,
  rootOf,
  signCheckpoint,
  toBase64,
  verifyProof,
} from '../../src/evidence/index.js';
import { buildVectors, KEY_LABEL, ORIGIN, seededKey, vectorRows } from './vectors.js';

const V = buildVectors();
const KEY = seededKey(KEY_LABEL);
const trustedKeys = [V.publicKey];
const rowProof = V.inclusion[0] as InclusionProofBundle; // index 6 of 11, the row itself
const leafProof = V.inclusion[1] as InclusionProofBundle; // index 2 of 4, leaf bytes
const hashProof = V.inclusion[2] as InclusionProofBundle; // index 10 of 11, leaf hash
const step = V.consistency[0] as ConsistencyProofBundle; // 4 → 11

const verdict = (proof: unknown, opts: { origin?: string; keys?: unknown[] } = {}) =>
  verifyProof(proof, { trustedKeys: (opts.keys ?? trustedKeys) as string[], origin: opts.origin });
const reason = (proof: unknown, opts?: { origin?: string; keys?: unknown[] }) => {
  const v = verdict(proof, opts);
  return v.ok ? 'ok' : v.reason;
};

const flipBase64 = (b64: string, at: number): string => {
  const bytes = fromBase64(b64)!;
  bytes[at % bytes.length]! ^= 0x01;
  return toBase64(bytes);
};

/** The note with its body edited (the signature lines kept as they were). */
const editBody = (note: string, edit: (lines: string[]) => void): string => {
  const split = note.indexOf('\n\n');
  const lines = note.slice(0, split).split('\n');
  edit(lines);
  return `${lines.join('\n')}${note.slice(split)}`;
};

/** The note with byte `at` of its signature blob (4-byte key hash, then the signature) flipped. */
const flipSignature = (note: string, at: number): string => {
  const line = note.slice(note.indexOf('\n\n') + 2, -1);
  const [dash, id, blob] = line.split(' ') as [string, string, string];
  return `${note.slice(0, note.indexOf('\n\n') + 2)}${dash} ${id} ${flipBase64(blob, at)}\n`;
};

describe('evidence: a proof file is refused, with its reason, whenever any part of it was changed', () => {
  it('a changed row, leaf or leaf hash: ROOT_MISMATCH (or MALFORMED when the bytes are no row)', () => {
    const row = rowProof.row!;
    const edits: Record<string, unknown>[] = [
      { actor: 'ops:mallory' },
      { after: row.after!.replace('frozen', 'active') },
      { version: 3 },
      { id: 8 },
      { at: '2026-12-07T09:00:06.123463Z' },
      { reason: '' },
      { before_delta: false },
      { changed: ['state'] },
    ];
    for (const edit of edits) {
      expect(reason({ ...rowProof, row: { ...row, ...edit } }), JSON.stringify(edit)).toBe('ROOT_MISMATCH');
    }
    const leafBytes = fromBase64(leafProof.leaf!)!;
    for (let at = 0; at < leafBytes.length; at += 5) {
      const r = reason({ ...leafProof, leaf: flipBase64(leafProof.leaf!, at) });
      expect(['ROOT_MISMATCH', 'MALFORMED'], `leaf byte ${at}`).toContain(r);
    }
    for (let at = 0; at < 32; at++) {
      expect(reason({ ...hashProof, leafHash: flipBase64(hashProof.leafHash!, at) })).toBe('ROOT_MISMATCH');
    }
    // Another row of the same tree at this position is not this row.
    expect(reason({ ...rowProof, row: vectorRows()[5] })).toBe('ROOT_MISMATCH');
  });

  it('a changed path or index: ROOT_MISMATCH, PATH_LENGTH or OUT_OF_RANGE', () => {
    for (const proof of [rowProof, hashProof]) {
      for (let p = 0; p < proof.path.length; p++) {
        for (const at of [0, 13, 31]) {
          const path = proof.path.map((h, i) => (i === p ? flipBase64(h, at) : h));
          expect(reason({ ...proof, path })).toBe('ROOT_MISMATCH');
        }
      }
      expect(reason({ ...proof, path: proof.path.slice(1) })).toBe('PATH_LENGTH');
      expect(reason({ ...proof, path: [...proof.path, proof.path[0]] })).toBe('PATH_LENGTH');
      expect(reason({ ...proof, path: [...proof.path].reverse() })).toBe('ROOT_MISMATCH');
    }
    expect(reason({ ...rowProof, index: 7 })).toBe('ROOT_MISMATCH');
    expect(reason({ ...rowProof, index: 5 })).toBe('ROOT_MISMATCH');
    expect(reason({ ...rowProof, index: 11 })).toBe('OUT_OF_RANGE');
    expect(reason({ ...rowProof, index: -1 })).toBe('MALFORMED');
  });

  it('a changed checkpoint — root, size, time, prev, origin — fails its signature: BAD_SIGNATURE', () => {
    const note = rowProof.checkpoint;
    const edits: [string, (l: string[]) => void][] = [
      ['root', (l) => (l[2] = flipBase64(l[2]!, 5))],
      ['size down', (l) => (l[1] = '10')],
      ['size up', (l) => (l[1] = '12')],
      ['time', (l) => (l[3] = 'time 2026-12-07T09:01:02.000Z')],
      ['prev', (l) => (l[4] = 'prev none')],
      ['origin', (l) => (l[0] = 'tally test-vectorz')],
    ];
    for (const [what, edit] of edits) {
      expect(reason({ ...rowProof, checkpoint: editBody(note, edit) }), what).toBe('BAD_SIGNATURE');
    }
    const sigLength = fromBase64(note.slice(note.indexOf('\n\n') + 2, -1).split(' ')[2]!)!.length;
    expect(sigLength).toBe(68);
    for (let at = 0; at < sigLength; at++) {
      // The first 4 bytes name the key: changed, no trusted key is named any more.
      expect(reason({ ...rowProof, checkpoint: flipSignature(note, at) }), `byte ${at}`).toBe(
        at < 4 ? 'UNKNOWN_KEY' : 'BAD_SIGNATURE',
      );
    }
    // Not a canonical checkpoint at all.
    expect(reason({ ...rowProof, checkpoint: note.replace('\n11\n', '\n011\n') })).toBe('BAD_CHECKPOINT');
    expect(reason({ ...rowProof, checkpoint: note.replace('\n\n', '\n') })).toBe('BAD_CHECKPOINT');
    expect(reason({ ...rowProof, checkpoint: note.slice(0, -1) })).toBe('BAD_CHECKPOINT');
  });

  it('a history forged and re-signed without the private key: UNKNOWN_KEY', () => {
    const forger = generateSealKey();
    const cp = parseCheckpointBody(rowProof.checkpoint.slice(0, rowProof.checkpoint.indexOf('\n\n') + 1));
    // The forger rewrites row 6, rebuilds the tree and signs with their own key under our key id.
    const rows = vectorRows();
    rows[6] = { ...rows[6]!, actor: 'ops:mallory' };
    const leaves = rows.map(logRowLeafHash);
    const forged = signCheckpoint({ ...cp, rootHash: toBase64(rootOf(leaves)) }, forger);
    const underOurId = forged.replace(forger.keyId, KEY.keyId);
    const path = consistencyBundle(leaves, forged, forged).path;
    expect(path).toEqual([]);
    for (const checkpoint of [forged, underOurId]) {
      const proof = { ...rowProof, checkpoint, row: rows[6] };
      expect(reason(proof)).toBe('UNKNOWN_KEY');
    }
  });

  it('keys rotate: a verifier trusting the old and the new key accepts both; one trusting only the new refuses the old', () => {
    const next = generateSealKey();
    const cp = parseCheckpointBody(rowProof.checkpoint.slice(0, rowProof.checkpoint.indexOf('\n\n') + 1));
    const byNew = signCheckpoint(cp, next);
    const byBoth = signCheckpoint(cp, [KEY, next]);
    expect(reason({ ...rowProof, checkpoint: byNew }, { keys: [V.publicKey, next] })).toBe('ok');
    expect(reason({ ...rowProof, checkpoint: byBoth }, { keys: [next] })).toBe('ok');
    expect(verdict({ ...rowProof, checkpoint: byBoth }, { keys: [V.publicKey, next] })).toMatchObject({
      keyIds: [KEY.keyId, next.keyId],
    });
    expect(reason(rowProof, { keys: [next] })).toBe('UNKNOWN_KEY');
    // One trusted signature that fails is a refusal even when another one holds.
    const tampered = byBoth.replace(
      /(\u2014 \S+ )(\S+)\n$/,
      (_, head, blob) => `${head}${flipBase64(blob, 20)}\n`,
    );
    expect(reason({ ...rowProof, checkpoint: tampered }, { keys: [V.publicKey, next] })).toBe(
      'BAD_SIGNATURE',
    );
  });

  it('the wrong log: ORIGIN_MISMATCH', () => {
    expect(reason(rowProof, { origin: 'tally elsewhere' })).toBe('ORIGIN_MISMATCH');
    expect(reason(rowProof, { origin: ORIGIN })).toBe('ok');
  });

  it('consistency: a changed path, swapped checkpoints, rewritten history or a fork is refused', () => {
    expect(reason(step)).toBe('ok');
    for (let p = 0; p < step.path.length; p++) {
      const path = step.path.map((h, i) => (i === p ? flipBase64(h, 7) : h));
      expect(reason({ ...step, path })).toBe('ROOT_MISMATCH');
    }
    expect(reason({ ...step, path: step.path.slice(1) })).not.toBe('ok');
    expect(reason({ ...step, path: [] })).toBe('PATH_LENGTH');
    expect(reason({ ...step, older: step.newer, newer: step.older })).toBe('OUT_OF_RANGE');
    expect(reason({ ...step, newer: flipSignature(step.newer, 30) })).toBe('BAD_SIGNATURE');

    // An insider with the key rewrites row 2 (sealed at size 4) and seals size 11 again: no path can
    // join the honest older checkpoint to the rewritten newer one.
    const rows = vectorRows();
    rows[2] = { ...rows[2]!, after: rows[2]!.after!.replace('active', 'frozen') };
    const leaves = rows.map(logRowLeafHash);
    const older = parseCheckpointBody(step.older.slice(0, step.older.indexOf('\n\n') + 1));
    const newer = parseCheckpointBody(step.newer.slice(0, step.newer.indexOf('\n\n') + 1));
    const rewritten = signCheckpoint({ ...newer, rootHash: toBase64(rootOf(leaves)) }, KEY);
    const honestPath = consistencyBundle(leaves, step.older, rewritten);
    expect(reason(honestPath)).toBe('ROOT_MISMATCH');
    // Two signed checkpoints of one size with different roots: the log forked.
    const fork = signCheckpoint({ ...older, rootHash: toBase64(rootOf(leaves, 4)) } as Checkpoint, KEY);
    const forked = verdict({ ...step, newer: fork, path: [] });
    expect(forked).toMatchObject({ ok: false, reason: 'ROOT_MISMATCH' });
    expect(forked.ok ? '' : forked.message).toMatch(/forked/);
  });

  it('never throws on a malformed proof; says MALFORMED', () => {
    expect(reason('{not json')).toBe('MALFORMED');
    expect(reason(null)).toBe('MALFORMED');
    expect(reason({ ...rowProof, type: 'tally.inclusion-proof.v2' })).toBe('MALFORMED');
    expect(reason({ ...rowProof, leafHash: hashProof.leafHash })).toBe('MALFORMED');
    const { row: _, ...none } = rowProof;
    expect(reason(none)).toBe('MALFORMED');
    expect(reason({ ...rowProof, path: 'abc' })).toBe('MALFORMED');
    expect(reason({ ...rowProof, path: [...rowProof.path.slice(1), 'AAAA'] })).toBe('MALFORMED');
    expect(reason({ ...rowProof, row: { ...rowProof.row, before: { state: 'active' } } })).toBe('MALFORMED');
    const anything = fc.oneof(fc.jsonValue(), fc.string(), fc.integer());
    fc.assert(
      fc.property(
        fc.constantFrom<Record<string, unknown>>({ ...rowProof }, { ...leafProof }, { ...step }),
        fc.string(),
        anything,
        (p, k, v) => {
          const field = Object.keys(p)[k.length % Object.keys(p).length]!;
          const r = verdict({ ...p, [field]: v });
          expect(typeof r.ok).toBe('boolean');
        },
      ),
      { numRuns: 100, seed: 9162 },
    );
  });

  it('a sealer resuming from a stored frontier signs the same checkpoint as one that never stopped', () => {
    const rows = vectorRows();
    const f = MerkleFrontier.from();
    for (const r of rows.slice(0, 4)) f.appendLeafHash(logRowLeafHash(r));
    const resumed = MerkleFrontier.from(JSON.parse(JSON.stringify(f.toState())));
    for (const r of rows.slice(4)) resumed.appendLeafHash(logRowLeafHash(r));
    const newer = parseCheckpointBody(step.newer.slice(0, step.newer.indexOf('\n\n') + 1));
    expect(toBase64(resumed.root())).toBe(newer.rootHash);
  });
});
