import { TallyError } from '../errors.js';
import { EMPTY_ROOT, nodeHash } from './hash.js';

/**
 * The Merkle Tree Hash and the proofs of RFC 9162 §2.1 (RFC 6962 §2.1), over a list of leaf hashes
 * (each `leafHash(leaf)`). Any number of leaves, not only powers of two: a tree of n > 1 leaves splits at
 * k, the largest power of two below n, into a perfect left subtree D[0:k] and the rest D[k:n].
 *
 * These build proofs from the leaf hashes of the whole tree (O(n) hashing per proof); a sealer appends
 * with `MerkleFrontier` instead, which never needs them.
 */
export type LeafHashes = readonly Uint8Array[];

/** The largest power of two strictly below n (n > 1). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[from:to]) of RFC 9162 §2.1.1. */
function mth(leaves: LeafHashes, from: number, to: number): Uint8Array {
  const n = to - from;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[from]!;
  const k = splitPoint(n);
  return nodeHash(mth(leaves, from, from + k), mth(leaves, from + k, to));
}

/**
 * The root of the tree of the first `size` leaves (all of them by default).
 *
 * @example
 * rootOf([leafHash(new Uint8Array())]); // 6e340b9c…, RFC 6962's tree of one empty leaf
 */
export function rootOf(leaves: LeafHashes, size = leaves.length): Uint8Array {
  checkSize(leaves, size);
  return mth(leaves, 0, size);
}

/**
 * The inclusion proof (audit path) of leaf `index` in the tree of the first `size` leaves:
 * PATH(m, D[n]) of RFC 9162 §2.1.3.1, the sibling hashes from the leaf up to the root.
 *
 * @example
 * const path = inclusionProof(leaves, 5, 8);
 * verifyInclusion(5, 8, leaves[5], path, rootOf(leaves, 8)); // 'ok'
 */
export function inclusionProof(leaves: LeafHashes, index: number, size = leaves.length): Uint8Array[] {
  checkSize(leaves, size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
    throw new TallyError('INVALID_EVIDENCE', 'inclusion proof: the leaf index must be below the tree size');
  }
  const path: Uint8Array[] = [];
  const walk = (m: number, from: number, to: number): void => {
    const n = to - from;
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, from, from + k);
      path.push(mth(leaves, from + k, to));
    } else {
      walk(m - k, from + k, to);
      path.push(mth(leaves, from, from + k));
    }
  };
  walk(index, 0, size);
  return path;
}

/**
 * The consistency proof between the trees of the first `older` and the first `newer` leaves:
 * PROOF(m, D[n]) of RFC 9162 §2.1.4.1. Empty when the sizes are equal or `older` is 0 (every tree
 * extends the empty one; RFC 9162 defines the proof for 0 < m < n only).
 *
 * @example
 * verifyConsistency(3, 8, consistencyProof(leaves, 3, 8), rootOf(leaves, 3), rootOf(leaves, 8)); // 'ok'
 */
export function consistencyProof(leaves: LeafHashes, older: number, newer = leaves.length): Uint8Array[] {
  checkSize(leaves, newer);
  if (!Number.isSafeInteger(older) || older < 0 || older > newer) {
    throw new TallyError(
      'INVALID_EVIDENCE',
      'consistency proof: the older size must be between 0 and the newer size',
    );
  }
  const path: Uint8Array[] = [];
  if (older === 0 || older === newer) return path;
  // SUBPROOF(m, D[from:to], b): `whole` is b, "D[from:to] is the older tree's own subtree so far".
  const sub = (m: number, from: number, to: number, whole: boolean): void => {
    const n = to - from;
    if (m === n) {
      if (!whole) path.push(mth(leaves, from, to));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, from, from + k, whole);
      path.push(mth(leaves, from + k, to));
    } else {
      sub(m - k, from + k, to, false);
      path.push(mth(leaves, from, from + k));
    }
  };
  sub(older, 0, newer, true);
  return path;
}

function checkSize(leaves: LeafHashes, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > leaves.length) {
    throw new TallyError(
      'INVALID_EVIDENCE',
      'merkle tree: the size must be between 0 and the number of leaves',
    );
  }
}
