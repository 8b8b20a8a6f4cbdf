import { TallyError } from '../errors.js';
import { EMPTY_ROOT, fromBase64, HASH_SIZE, leafHash, nodeHash, toBase64 } from './hash.js';

/**
 * The right edge of a growing Merkle tree: the roots of the perfect subtrees that the binary form of its
 * size splits it into, largest (leftmost) first — one per 1-bit, so at most 53 hashes. That is all a
 * sealer needs to append leaves and compute the root (RFC 9162's MTH) without reading earlier leaves:
 * appending costs O(1) amortized hashes, the root O(log n).
 */
export interface FrontierState {
  /** Leaves appended so far (the tree size). */
  size: number;
  /** Base64 subtree roots, largest first; as many as `size` has 1-bits. */
  hashes: string[];
}

export class MerkleFrontier {
  #size = 0;
  #hashes: Uint8Array[] = [];

  /**
   * A frontier from a stored state (`toState()`), or an empty tree.
   *
   * @example
   * const f = MerkleFrontier.from(JSON.parse(stored));
   * f.appendLeaf(encodeLogRow(row));
   * save(JSON.stringify(f.toState()));
   */
  static from(state?: FrontierState): MerkleFrontier {
    const f = new MerkleFrontier();
    if (state === undefined) return f;
    const size = state?.size;
    if (!Number.isSafeInteger(size) || size < 0 || !Array.isArray(state.hashes)) {
      throw new TallyError(
        'INVALID_EVIDENCE',
        'tree state: size must be a non-negative integer, hashes a list',
      );
    }
    if (state.hashes.length !== bitCount(size)) {
      throw new TallyError('INVALID_EVIDENCE', 'tree state: the number of hashes does not fit the size');
    }
    f.#hashes = state.hashes.map((h) => {
      const bytes = fromBase64(h, HASH_SIZE);
      if (!bytes) throw new TallyError('INVALID_EVIDENCE', 'tree state: a hash is not 32 bytes of base64');
      return bytes;
    });
    f.#size = size;
    return f;
  }

  get size(): number {
    return this.#size;
  }

  /** Appends one leaf (its bytes; hashed with the 0x00 prefix here). */
  appendLeaf(leaf: Uint8Array): void {
    this.appendLeafHash(leafHash(leaf));
  }

  /** Appends one leaf by its leaf hash. */
  appendLeafHash(hash: Uint8Array): void {
    if (hash.length !== HASH_SIZE) throw new TallyError('INVALID_EVIDENCE', 'a leaf hash is 32 bytes');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new TallyError('INVALID_EVIDENCE', 'the tree is full');
    // Every trailing 1-bit of the size is a perfect subtree the same height as the one being carried up:
    // merge them, as binary addition carries.
    let h = hash;
    for (let n = this.#size; n % 2 === 1; n = Math.floor(n / 2)) h = nodeHash(this.#hashes.pop()!, h);
    this.#hashes.push(h);
    this.#size++;
  }

  /** The Merkle Tree Hash of the leaves so far: the subtree roots folded from the right. */
  root(): Uint8Array {
    if (this.#hashes.length === 0) return EMPTY_ROOT;
    let r = this.#hashes[this.#hashes.length - 1]!;
    for (let i = this.#hashes.length - 2; i >= 0; i--) r = nodeHash(this.#hashes[i]!, r);
    return r;
  }

  /** What to store to resume appending later (plain JSON). */
  toState(): FrontierState {
    return { size: this.#size, hashes: this.#hashes.map(toBase64) };
  }
}

function bitCount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}
