import { TallyError } from '../errors.js';
import { MerkleFrontier } from './frontier.js';
import { inclusionProof } from './merkle.js';

/**
 * A stored level of subtree roots (decision 0060 left room for it): the root of every complete, aligned
 * run of CHUNK leaves. In RFC 9162's tree every such run is a node (a tree of n > CHUNK leaves splits at
 * multiples of CHUNK), and so is the last, partial run; so an inclusion proof is the path inside the row's
 * chunk (from its ≤ CHUNK leaves) followed by the path among the chunk roots — without reading the log.
 */
export const CHUNK_BITS = 10;
export const CHUNK = 2 ** CHUNK_BITS;

/**
 * Follows a sealer's appends and yields each chunk's root when its last leaf arrives. Starts from the
 * main frontier's state: the leaves of a partial chunk are its smallest subtrees (the size's low bits).
 *
 * @example
 * const chunks = ChunkTracker.after(tree);
 * for (const h of hashes) { tree.appendLeafHash(h); chunks.append(h); }
 * save(chunks.completed);
 */
export class ChunkTracker {
  readonly completed: { chunk: number; root: Uint8Array }[] = [];
  #partial: MerkleFrontier;
  #next: number;

  private constructor(partial: MerkleFrontier, next: number) {
    this.#partial = partial;
    this.#next = next;
  }

  static after(tree: MerkleFrontier): ChunkTracker {
    const state = tree.toState();
    const r = state.size % CHUNK;
    let bits = 0;
    for (let x = r; x > 0; x = Math.floor(x / 2)) bits += x % 2;
    const partial = MerkleFrontier.from({ size: r, hashes: state.hashes.slice(state.hashes.length - bits) });
    return new ChunkTracker(partial, Math.floor(state.size / CHUNK));
  }

  append(leafHash: Uint8Array): void {
    this.#partial.appendLeafHash(leafHash);
    if (this.#partial.size === CHUNK) {
      this.completed.push({ chunk: this.#next++, root: this.#partial.root() });
      this.#partial = MerkleFrontier.from();
    }
  }
}

/**
 * The audit path of leaf `index` in a tree of `size` leaves, from the leaves of its chunk and the roots of
 * the tree's chunks (the complete ones, then the partial last one's if `size` is not a multiple of CHUNK).
 *
 * @example
 * const path = chunkedInclusionPath(leavesOfChunk, chunkRoots, 2500, 3000);
 */
export function chunkedInclusionPath(
  chunkLeaves: readonly Uint8Array[],
  roots: readonly Uint8Array[],
  index: number,
  size: number,
): Uint8Array[] {
  const c = Math.floor(index / CHUNK);
  const expected = Math.min(CHUNK, size - c * CHUNK);
  if (roots.length !== Math.ceil(size / CHUNK) || chunkLeaves.length !== expected) {
    throw new TallyError('INVALID_EVIDENCE', 'chunked proof: the chunk roots or leaves do not fit the size');
  }
  return [...inclusionProof(chunkLeaves, index - c * CHUNK), ...inclusionProof(roots, c)];
}

/** The root of a run of leaf hashes (the partial last chunk's). */
export function rootOfLeaves(leaves: readonly Uint8Array[]): Uint8Array {
  const f = MerkleFrontier.from();
  for (const h of leaves) f.appendLeafHash(h);
  return f.root();
}
