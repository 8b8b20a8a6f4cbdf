import { createHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { CHUNK, ChunkTracker, chunkedInclusionPath, rootOfLeaves } from '../../src/evidence/chunks.js';
import { MerkleFrontier } from '../../src/evidence/frontier.js';
import { toBase64 } from '../../src/evidence/hash.js';
import { inclusionProof } from '../../src/evidence/merkle.js';

const leaf = (i: number) => createHash('sha256').update(`leaf ${i}`).digest();
const LEAVES = Array.from({ length: 5 * CHUNK + 77 }, (_, i) => new Uint8Array(leaf(i)));
const b64 = (hs: Uint8Array[]) => hs.map(toBase64);

it('a chunked inclusion path is exactly the RFC 9162 path, at every kind of size and position', () => {
  for (const size of [
    1,
    7,
    CHUNK - 1,
    CHUNK,
    CHUNK + 1,
    2 * CHUNK,
    3 * CHUNK + 5,
    4 * CHUNK,
    5 * CHUNK + 77,
  ]) {
    const roots: Uint8Array[] = [];
    for (let c = 0; c * CHUNK < size; c++)
      roots.push(rootOfLeaves(LEAVES.slice(c * CHUNK, Math.min(size, (c + 1) * CHUNK))));
    for (const index of [0, 1, CHUNK - 1, CHUNK, CHUNK + 3, 2 * CHUNK + 100, size - 2, size - 1]) {
      if (index < 0 || index >= size) continue;
      const c = Math.floor(index / CHUNK);
      const own = LEAVES.slice(c * CHUNK, Math.min(size, (c + 1) * CHUNK));
      expect(b64(chunkedInclusionPath(own, roots, index, size)), `size ${size} index ${index}`).toEqual(
        b64(inclusionProof(LEAVES, index, size)),
      );
    }
  }
  expect(() => chunkedInclusionPath(LEAVES.slice(0, 5), [leaf(0)], 0, CHUNK)).toThrow(/do not fit/);
});

it('the tracker yields each chunk root as its last leaf arrives, resuming from a stored frontier mid-chunk', () => {
  let state = MerkleFrontier.from().toState();
  const seen: { chunk: number; root: string }[] = [];
  // Batches of awkward sizes, each resumed from the stored state as the sealer does.
  for (let from = 0, step = 333; from < LEAVES.length; from += step, step = ((step * 7) % 1500) + 1) {
    const tree = MerkleFrontier.from(state);
    const chunks = ChunkTracker.after(tree);
    for (const h of LEAVES.slice(from, from + step)) {
      tree.appendLeafHash(h);
      chunks.append(h);
    }
    seen.push(...chunks.completed.map((c) => ({ chunk: c.chunk, root: toBase64(c.root) })));
    state = tree.toState();
  }
  expect(seen).toEqual(
    Array.from({ length: 5 }, (_, c) => ({
      chunk: c,
      root: toBase64(rootOfLeaves(LEAVES.slice(c * CHUNK, (c + 1) * CHUNK))),
    })),
  );
});
