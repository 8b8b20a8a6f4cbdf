import * as crypto from 'node:crypto';

const { createHash } = crypto;

/**
 * The hashing of RFC 9162 §2.1.1 (the same as RFC 6962): SHA-256, with one prefix byte that separates a
 * leaf from an interior node, so no leaf can be passed off as a node (a second-preimage of the tree).
 */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** SHA-256(0x00 || leaf). */
export function leafHash(leaf: Uint8Array): Uint8Array {
  return createHash('sha256').update(LEAF_PREFIX).update(leaf).digest();
}

// crypto.hash (Node >= 20.12) hashes a short input in one call, without a Hash object: a node hash is
// 65 bytes, and a sealer computes one per leaf on average.
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (!oneShot || left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
  }
  const input = Buffer.allocUnsafe(1 + 2 * HASH_SIZE);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + HASH_SIZE);
  return oneShot('sha256', input, 'buffer');
}

/** The Merkle Tree Hash of no leaves: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = createHash('sha256').digest();

/** Byte-wise equality; hashes are public, so no constant-time compare is needed. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Standard base64 with padding, the form hashes take in checkpoints and proof files. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

/**
 * Strict base64 decoding: `undefined` unless `text` is the canonical encoding of some bytes (Node's own
 * decoder skips characters it does not know, which would let two texts name one hash).
 */
export function fromBase64(text: string, length?: number): Uint8Array | undefined {
  if (
    typeof text !== 'string' ||
    !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)
  ) {
    return undefined;
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) return undefined;
  if (length !== undefined && bytes.length !== length) return undefined;
  return new Uint8Array(bytes);
}
