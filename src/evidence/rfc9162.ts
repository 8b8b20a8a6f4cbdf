import { HASH_SIZE, nodeHash, sameBytes } from './hash.js';

/**
 * The two proof verifiers of RFC 9162, step by step as §2.1.3.2 and §2.1.4.2 write them, so a reader can
 * hold them side by side. They return 'ok' or why the proof fails; they never throw on a bad proof.
 *
 * Sizes and indexes are plain numbers (safe integers, < 2^53); halving is `Math.floor(x / 2)` because
 * JavaScript's `>>` works on 32 bits.
 */
export type ProofCheck =
  /** The proof leads from the leaf (or the older root) to the root(s). */
  | 'ok'
  /** The leaf index is not below the tree size, or the sizes are out of order. */
  | 'OUT_OF_RANGE'
  /** The path has too many or too few hashes for this index and size, or a hash of the wrong length. */
  | 'PATH_LENGTH'
  /** The path has the right shape but does not lead to the root. */
  | 'ROOT_MISMATCH';

const half = (x: number): number => Math.floor(x / 2);
const odd = (x: number): boolean => x % 2 === 1;

/**
 * RFC 9162 §2.1.3.2: is `leaf` (a leaf hash) at `index` in the tree of `size` leaves whose root is `root`?
 *
 * @example
 * verifyInclusion(0, 1, leafHash(data), [], leafHash(data)); // 'ok': a one-leaf tree's root is its leaf
 */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  path: readonly Uint8Array[],
  root: Uint8Array,
): ProofCheck {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0) return 'OUT_OF_RANGE';
  // 1. leaf_index must be below tree_size.
  if (index >= size) return 'OUT_OF_RANGE';
  if (!path.every((p) => p.length === HASH_SIZE)) return 'PATH_LENGTH';
  // 2.-3.
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  // 4.
  for (const p of path) {
    // a. a path longer than the tree is tall
    if (sn === 0) return 'PATH_LENGTH';
    // b.
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // "If LSB(fn) is not set, right-shift both fn and sn equally until either LSB(fn) is set or fn is 0."
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    // c.
    fn = half(fn);
    sn = half(sn);
  }
  // 5. sn is 0 exactly when the path reached the root.
  if (sn !== 0) return 'PATH_LENGTH';
  return sameBytes(r, root) ? 'ok' : 'ROOT_MISMATCH';
}

/**
 * RFC 9162 §2.1.4.2: is the tree of `newer` leaves with root `newerRoot` an append-only extension of the
 * tree of `older` leaves with root `olderRoot`?
 *
 * RFC 9162 verifies 0 < older < newer. The two edges are settled before it, with an empty path only:
 * equal sizes hold when the roots are equal, and every tree extends the empty tree.
 *
 * @example
 * verifyConsistency(4, 4, [], root4, root4); // 'ok'
 */
export function verifyConsistency(
  older: number,
  newer: number,
  path: readonly Uint8Array[],
  olderRoot: Uint8Array,
  newerRoot: Uint8Array,
): ProofCheck {
  if (!Number.isSafeInteger(older) || !Number.isSafeInteger(newer) || older < 0 || older > newer) {
    return 'OUT_OF_RANGE';
  }
  if (!path.every((p) => p.length === HASH_SIZE)) return 'PATH_LENGTH';
  if (older === 0 || older === newer) {
    if (path.length !== 0) return 'PATH_LENGTH';
    if (older === 0) return 'ok';
    return sameBytes(olderRoot, newerRoot) ? 'ok' : 'ROOT_MISMATCH';
  }
  // 1. an empty path proves nothing between two different sizes.
  if (path.length === 0) return 'PATH_LENGTH';
  // 2. a perfect older tree is a subtree of the newer one: the path starts at its root.
  const p = isPowerOfTwo(older) ? [olderRoot, ...path] : path;
  // 3.
  let fn = older - 1;
  let sn = newer - 1;
  // 4.
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // 5.
  let fr = p[0]!;
  let sr = p[0]!;
  // 6.
  for (const c of p.slice(1)) {
    // a.
    if (sn === 0) return 'PATH_LENGTH';
    // b.
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      // "If LSB(fn) is not set, right-shift both fn and sn equally until either LSB(fn) is set or fn is 0."
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    // c.
    fn = half(fn);
    sn = half(sn);
  }
  // 7.
  if (sn !== 0) return 'PATH_LENGTH';
  return sameBytes(fr, olderRoot) && sameBytes(sr, newerRoot) ? 'ok' : 'ROOT_MISMATCH';
}

function isPowerOfTwo(n: number): boolean {
  let x = n;
  while (x > 1 && x % 2 === 0) x /= 2;
  return x === 1;
}
