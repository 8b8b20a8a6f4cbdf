import { TallyError } from '../errors.js';
import { leafHash, toBase64 } from './hash.js';
import { encodeLogRow, type LogRowLeaf } from './leaf.js';
import { consistencyProof, inclusionProof, type LeafHashes } from './merkle.js';

/**
 * The proof files a verifier checks with nothing but trusted public keys (docs/evidence.md has the
 * format). Hashes and bytes are standard base64; checkpoints are their full signed-note text.
 */
export interface InclusionProofBundle {
  type: 'tally.inclusion-proof.v1';
  /** The signed checkpoint the row is proven against; its size and root are the tree's. */
  checkpoint: string;
  /** The row's 0-based position in the tree (the log's commit order). */
  index: number;
  /** Exactly one of: the log row itself (encoded with `encodeLogRow`), its leaf bytes, or its leaf hash. */
  row?: LogRowLeaf;
  leaf?: string;
  leafHash?: string;
  /** The audit path, leaf to root (RFC 9162 §2.1.3). */
  path: string[];
}

export interface ConsistencyProofBundle {
  type: 'tally.consistency-proof.v1';
  /** The earlier signed checkpoint (the smaller or equal tree). */
  older: string;
  /** The later signed checkpoint. */
  newer: string;
  /** The consistency path (RFC 9162 §2.1.4); empty when the sizes are equal or the older tree is empty. */
  path: string[];
}

export type ProofBundle = InclusionProofBundle | ConsistencyProofBundle;

/** What the row of an inclusion proof is given as. */
export type ProvenLeaf = { row: LogRowLeaf } | { leaf: Uint8Array } | { leafHash: Uint8Array };

function sizeOf(note: string): number {
  // The prover's own checkpoint: its signatures are the verifier's business; only the size is read here.
  const body = note.slice(0, note.indexOf('\n\n') + 1);
  const size = Number(body.split('\n')[1]);
  if (!Number.isSafeInteger(size))
    throw new TallyError('INVALID_EVIDENCE', 'proof: the checkpoint has no tree size');
  return size;
}

/**
 * An inclusion proof of leaf `index` against a signed checkpoint, from the leaf hashes of (at least) the
 * checkpoint's tree.
 *
 * @example
 * const proof = inclusionBundle(leafHashes, note, 41, { row });
 * writeFileSync('proof.json', JSON.stringify(proof, null, 2));
 */
export function inclusionBundle(
  leaves: LeafHashes,
  checkpoint: string,
  index: number,
  leaf: ProvenLeaf,
): InclusionProofBundle {
  const path = inclusionProof(leaves, index, sizeOf(checkpoint)).map(toBase64);
  const given =
    'row' in leaf
      ? { row: leaf.row }
      : 'leaf' in leaf
        ? { leaf: toBase64(leaf.leaf) }
        : { leafHash: toBase64(leaf.leafHash) };
  const hash =
    'row' in leaf ? leafHash(encodeLogRow(leaf.row)) : 'leaf' in leaf ? leafHash(leaf.leaf) : leaf.leafHash;
  if (toBase64(hash) !== toBase64(leaves[index]!)) {
    throw new TallyError('INVALID_EVIDENCE', 'proof: the leaf given is not the leaf at that index');
  }
  return { type: 'tally.inclusion-proof.v1', checkpoint, index, ...given, path };
}

/**
 * A consistency proof between two signed checkpoints, from the leaf hashes of (at least) the newer tree.
 *
 * @example
 * const proof = consistencyBundle(leafHashes, yesterdayNote, todayNote);
 */
export function consistencyBundle(leaves: LeafHashes, older: string, newer: string): ConsistencyProofBundle {
  const path = consistencyProof(leaves, sizeOf(older), sizeOf(newer)).map(toBase64);
  return { type: 'tally.consistency-proof.v1', older, newer, path };
}
