import { createHash } from 'node:crypto';
import { TallyError } from '../errors.js';

/** What may be a shard key: a string, a safe integer or a bigint. 42, 42n and '42' are the same key. */
export type ShardKey = string | number | bigint;

/**
 * The canonical text of a shard key. Integers are written in decimal so a key read back from JSON,
 * from a bigint column or from a URL lands in the same bucket.
 *
 * @example
 * canonicalKey(42n) // '42', the same as canonicalKey(42) and canonicalKey('42')
 */
export function canonicalKey(key: unknown): string {
  if (typeof key === 'string') {
    if (key.length === 0 || key.length > 1024) {
      throw new TallyError('INVALID_SHARD_KEY', 'a string shard key must have 1 to 1024 characters');
    }
    return key;
  }
  if (typeof key === 'number') {
    if (!Number.isSafeInteger(key))
      throw new TallyError('INVALID_SHARD_KEY', 'a numeric shard key must be a safe integer');
    return String(key);
  }
  if (typeof key === 'bigint') return key.toString(10);
  throw new TallyError('INVALID_SHARD_KEY', 'a shard key must be a string, a safe integer or a bigint');
}

/**
 * The stable hash behind bucket routing: the first 4 bytes (big-endian) of SHA-256 over the UTF-8
 * canonical key. Chosen because every language and database has SHA-256 and it never changes with a
 * library version; a key's bucket is `stableHash(key) % buckets`, forever.
 *
 * @example
 * stableHash('user-42') // the same number on every machine and every Tally version
 */
export function stableHash(key: ShardKey): number {
  return createHash('sha256').update(canonicalKey(key), 'utf8').digest().readUInt32BE(0);
}
