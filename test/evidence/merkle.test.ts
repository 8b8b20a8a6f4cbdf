import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { MerkleFrontier } from '../../src/evidence/frontier.js';
import { EMPTY_ROOT, leafHash } from '../../src/evidence/hash.js';
import { consistencyProof, inclusionProof, rootOf } from '../../src/evidence/merkle.js';
import { verifyConsistency, verifyInclusion } from '../../src/evidence/rfc9162.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

// The Certificate Transparency reference tree (RFC 6962's reference implementation's tests): eight
// leaves, the roots of each prefix, and the classic proofs (leaf numbers there are 1-based).
const CT_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((h) => leafHash(unhex(h)));
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION: [number, number, string[]][] = [
  [
    0,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    5,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    1,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];
const CT_CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [
    2,
    5,
    [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];

/**
 * An independent MTH, written straight from RFC 6962 §2.1 on raw leaf data with its own hashing, that
 * shares no code with src/evidence: the cross-check for trees beyond the reference's eight leaves.
 */
function naiveRoot(data: readonly Uint8Array[]): string {
  const sha = (...parts: Uint8Array[]): Buffer => {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const go = (d: readonly Uint8Array[]): Buffer => {
    if (d.length === 0) return sha();
    if (d.length === 1) return sha(Uint8Array.of(0), d[0]!);
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return sha(Uint8Array.of(1), go(d.slice(0, k)), go(d.slice(k)));
  };
  return go(data).toString('hex');
}

const flipped = (b: Uint8Array, at: number): Uint8Array => {
  const c = Uint8Array.from(b);
  c[at % c.length]! ^= 1 << (at % 8);
  return c;
};

describe('evidence: the Merkle tree of RFC 9162 / RFC 6962', () => {
  it('matches the reference roots for every size 0..8, built whole and by appending', () => {
    expect(hex(EMPTY_ROOT)).toBe(CT_ROOTS[0]);
    const f = MerkleFrontier.from();
    expect(hex(f.root())).toBe(CT_ROOTS[0]);
    for (let n = 1; n <= 8; n++) {
      expect(hex(rootOf(CT_LEAVES, n)), `size ${n}`).toBe(CT_ROOTS[n]);
      f.appendLeafHash(CT_LEAVES[n - 1]!);
      expect(hex(f.root()), `appended to ${n}`).toBe(CT_ROOTS[n]);
    }
  });

  it('builds and verifies the reference inclusion proofs', () => {
    for (const [index, size, want] of CT_INCLUSION) {
      const path = inclusionProof(CT_LEAVES, index, size);
      expect(path.map(hex), `leaf ${index} of ${size}`).toEqual(want);
      expect(verifyInclusion(index, size, CT_LEAVES[index]!, path, unhex(CT_ROOTS[size]!))).toBe('ok');
    }
  });

  it('builds and verifies the reference consistency proofs', () => {
    for (const [m, n, want] of CT_CONSISTENCY) {
      const path = consistencyProof(CT_LEAVES, m, n);
      expect(path.map(hex), `${m} → ${n}`).toEqual(want);
      expect(verifyConsistency(m, n, path, unhex(CT_ROOTS[m]!), unhex(CT_ROOTS[n]!))).toBe('ok');
    }
  });

  it('agrees with a naive MTH for every size up to 40, built whole and by appending', () => {
    const data = Array.from({ length: 40 }, (_, i) => Uint8Array.of(i, i * 3, 7));
    const leaves = data.map(leafHash);
    const f = MerkleFrontier.from();
    for (let n = 0; n <= data.length; n++) {
      if (n > 0) f.appendLeaf(data[n - 1]!);
      expect(hex(rootOf(leaves, n)), `size ${n}`).toBe(naiveRoot(data.slice(0, n)));
      expect(hex(f.root()), `appended to ${n}`).toBe(naiveRoot(data.slice(0, n)));
    }
  });

  it('every proof of every leaf and size pair up to 24 verifies, and one flipped bit fails it', () => {
    const leaves = Array.from({ length: 24 }, (_, i) => leafHash(Uint8Array.of(i)));
    for (let n = 1; n <= leaves.length; n++) {
      const root = rootOf(leaves, n);
      for (let i = 0; i < n; i++) {
        const path = inclusionProof(leaves, i, n);
        expect(verifyInclusion(i, n, leaves[i]!, path, root)).toBe('ok');
        expect(verifyInclusion(i, n, flipped(leaves[i]!, i), path, root)).toBe('ROOT_MISMATCH');
        if (i + 1 < n) expect(verifyInclusion(i + 1, n, leaves[i]!, path, root)).not.toBe('ok');
      }
      for (let m = 0; m <= n; m++) {
        const path = consistencyProof(leaves, m, n);
        const older = rootOf(leaves, m);
        expect(verifyConsistency(m, n, path, older, root), `${m} → ${n}`).toBe('ok');
        if (m > 0) expect(verifyConsistency(m, n, path, flipped(older, n), root)).not.toBe('ok');
        if (m > 0 && m < n) expect(verifyConsistency(m, n, path, older, flipped(root, m))).not.toBe('ok');
      }
    }
  });

  it('property: proofs verify, and any flipped byte of leaf, path or root, or a hash too many or few, fails', () => {
    const tree = fc.array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 200 }).chain((data) =>
      fc.record({
        data: fc.constant(data),
        n: fc.integer({ min: 1, max: data.length }),
        i: fc.nat(),
        m: fc.nat(),
        flip: fc.nat(),
      }),
    );
    fc.assert(
      fc.property(tree, ({ data, n, i: i0, m: m0, flip }) => {
        const leaves = data.map(leafHash);
        const i = i0 % n;
        const m = 1 + (m0 % n);
        const root = rootOf(leaves, n);
        const path = inclusionProof(leaves, i, n);
        expect(verifyInclusion(i, n, leaves[i]!, path, root)).toBe('ok');
        expect(verifyInclusion(i, n, flipped(leaves[i]!, flip), path, root)).not.toBe('ok');
        expect(verifyInclusion(i, n, leaves[i]!, path, flipped(root, flip))).not.toBe('ok');
        // (A path alone does not pin the size: leaf 0 of 3 and of 4 hash the same way. The signed
        // checkpoint pins it; test/evidence/bundle.test.ts tampers with it there.)
        if (path.length > 0) {
          const at = flip % path.length;
          const bad = path.map((p, k) => (k === at ? flipped(p, flip) : p));
          expect(verifyInclusion(i, n, leaves[i]!, bad, root)).not.toBe('ok');
          expect(verifyInclusion(i, n, leaves[i]!, path.slice(1), root)).not.toBe('ok');
        }

        const cpath = consistencyProof(leaves, m, n);
        const older = rootOf(leaves, m);
        expect(verifyConsistency(m, n, cpath, older, root)).toBe('ok');
        if (m < n) {
          expect(verifyConsistency(m, n, cpath, flipped(older, flip), root)).not.toBe('ok');
          expect(verifyConsistency(m, n, cpath, older, flipped(root, flip))).not.toBe('ok');
          const at = flip % cpath.length;
          const bad = cpath.map((p, k) => (k === at ? flipped(p, flip) : p));
          expect(verifyConsistency(m, n, bad, older, root)).not.toBe('ok');
          expect(verifyConsistency(m, n, [...cpath, root], older, root)).not.toBe('ok');
        }
      }),
      { numRuns: 150, seed: 16 },
    );
  });

  it('refuses sizes out of order and paths of the wrong shape without throwing', () => {
    const root = unhex(CT_ROOTS[8]!);
    expect(verifyInclusion(8, 8, CT_LEAVES[0]!, [], root)).toBe('OUT_OF_RANGE');
    expect(verifyInclusion(-1, 8, CT_LEAVES[0]!, [], root)).toBe('OUT_OF_RANGE');
    expect(verifyInclusion(0, 8, CT_LEAVES[0]!, [Uint8Array.of(1)], root)).toBe('PATH_LENGTH');
    expect(verifyConsistency(5, 4, [], root, root)).toBe('OUT_OF_RANGE');
    expect(verifyConsistency(4, 8, [], unhex(CT_ROOTS[4]!), root)).toBe('PATH_LENGTH');
    expect(verifyConsistency(8, 8, [root], root, root)).toBe('PATH_LENGTH');
    expect(verifyConsistency(0, 8, [], EMPTY_ROOT, root)).toBe('ok');
  });

  it('the frontier resumes from its stored state and refuses a state that cannot be one', () => {
    const whole = MerkleFrontier.from();
    let state = MerkleFrontier.from().toState();
    for (let i = 0; i < 45; i++) {
      whole.appendLeaf(Uint8Array.of(i));
      const next = MerkleFrontier.from(JSON.parse(JSON.stringify(state)));
      next.appendLeaf(Uint8Array.of(i));
      state = next.toState();
      expect(hex(next.root())).toBe(hex(whole.root()));
      expect(next.toState()).toEqual(whole.toState());
    }
    const bad = (s: unknown) => () => MerkleFrontier.from(s as never);
    for (const state of [
      { size: 3, hashes: [] },
      { size: -1, hashes: [] },
      { size: 1, hashes: ['not base64'] },
      { size: 1, hashes: [Buffer.alloc(31).toString('base64')] },
      { size: 1.5, hashes: [] },
    ]) {
      let err: unknown;
      try {
        bad(state)();
      } catch (e) {
        err = e;
      }
      expect(isTallyError(err, 'INVALID_EVIDENCE'), JSON.stringify(state)).toBe(true);
    }
  });
});
