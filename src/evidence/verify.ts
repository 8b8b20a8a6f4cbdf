import type { KeyObject } from 'node:crypto';
import { type Checkpoint, type CheckpointFailure, checkpointHash, openCheckpoint } from './checkpoint.js';
import { fromBase64, HASH_SIZE, leafHash, toBase64 } from './hash.js';
import { type SealKey, type TrustedKey, trustedKeys } from './keys.js';
import { encodeLogRow, type LogRowLeaf } from './leaf.js';
import { type DecodedLogRow, decodeLogRow } from './leaf-decode.js';
import { type ProofCheck, verifyConsistency, verifyInclusion } from './rfc9162.js';

export interface VerifyProofOptions {
  /** The public keys whose signatures count: SPKI PEM texts, KeyObjects, or `trustedKeys(...)`. */
  trustedKeys: readonly (string | KeyObject | SealKey | TrustedKey)[];
  /** When set, checkpoints of any other origin are refused. */
  origin?: string;
}

/** Why a proof was refused. */
export type ProofFailure =
  | CheckpointFailure
  /** Not a proof file of a known type, or a field of the wrong form. */
  | 'MALFORMED'
  /** A checkpoint of another log than the one asked for, or two checkpoints of different logs. */
  | 'ORIGIN_MISMATCH'
  /** The index is not below the tree size, or the older checkpoint is the larger tree. */
  | 'OUT_OF_RANGE'
  /** The path has too many or too few hashes for the index and size(s). */
  | 'PATH_LENGTH'
  /** The proof does not lead to the signed root(s). */
  | 'ROOT_MISMATCH';

export type ProofVerdict =
  | {
      ok: true;
      kind: 'inclusion';
      checkpoint: Checkpoint;
      index: number;
      /** Base64 leaf hash proven. */
      leafHash: string;
      /** The row, when the proof carried it or its leaf bytes. */
      row?: DecodedLogRow;
      keyIds: string[];
    }
  | {
      ok: true;
      kind: 'consistency';
      older: Checkpoint;
      newer: Checkpoint;
      /** The newer checkpoint's `prev` names the older one: no checkpoint between them. */
      adjacent: boolean;
      keyIds: string[];
    }
  | { ok: false; reason: ProofFailure; message: string };

type Failure = Extract<ProofVerdict, { ok: false }>;
const no = (reason: ProofFailure, message: string): Failure => ({ ok: false, reason, message });

/**
 * Checks a proof file offline: its checkpoint signatures against the trusted public keys, then the
 * Merkle proof against the signed root(s). Needs no database. Returns why a proof fails rather than
 * throwing; only unusable trusted keys throw (INVALID_CONFIG).
 *
 * @example
 * import { verifyProof } from 'tally/evidence';
 * const verdict = verifyProof(JSON.parse(readFileSync('proof.json', 'utf8')), {
 *   trustedKeys: [readFileSync('seal.pub', 'utf8')],
 * });
 * if (!verdict.ok) throw new Error(`${verdict.reason}: ${verdict.message}`);
 */
export function verifyProof(bundle: unknown, options: VerifyProofOptions): ProofVerdict {
  const keys = (options?.trustedKeys ?? []).map((k) =>
    typeof k === 'object' && k !== null && 'keyHash' in k ? k : trustedKeys([k])[0]!,
  );
  let b: unknown = bundle;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      return no('MALFORMED', 'the proof is not JSON');
    }
  }
  if (typeof b !== 'object' || b === null) return no('MALFORMED', 'the proof must be an object');
  const type = (b as { type?: unknown }).type;
  if (type === 'tally.inclusion-proof.v1')
    return inclusion(b as Record<string, unknown>, keys, options.origin);
  if (type === 'tally.consistency-proof.v1')
    return consistency(b as Record<string, unknown>, keys, options.origin);
  return no(
    'MALFORMED',
    `unknown proof type; expected 'tally.inclusion-proof.v1' or 'tally.consistency-proof.v1'`,
  );
}

function hashes(path: unknown): Uint8Array[] | undefined {
  if (!Array.isArray(path) || path.length > 64) return undefined;
  const out: Uint8Array[] = [];
  for (const p of path) {
    const h = typeof p === 'string' ? fromBase64(p, HASH_SIZE) : undefined;
    if (!h) return undefined;
    out.push(h);
  }
  return out;
}

function opened(note: unknown, keys: readonly TrustedKey[], origin: string | undefined, which: string) {
  const o = openCheckpoint(note, keys);
  if (!o.ok) return no(o.reason, `${which}: ${o.message}`);
  if (origin !== undefined && o.checkpoint.origin !== origin) {
    return no('ORIGIN_MISMATCH', `${which} is of another log than the one asked for`);
  }
  return o;
}

function inclusion(
  b: Record<string, unknown>,
  keys: readonly TrustedKey[],
  origin: string | undefined,
): ProofVerdict {
  const cp = opened(b.checkpoint, keys, origin, 'the checkpoint');
  if (!cp.ok) return cp;
  const index = b.index;
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
    return no('MALFORMED', 'index must be a non-negative integer');
  }
  const path = hashes(b.path);
  if (!path) return no('MALFORMED', 'path must be a list of base64 32-byte hashes');
  const given = ['row', 'leaf', 'leafHash'].filter((k) => b[k] !== undefined);
  if (given.length !== 1) return no('MALFORMED', 'give exactly one of row, leaf and leafHash');
  let hash: Uint8Array | undefined;
  let row: DecodedLogRow | undefined;
  try {
    if (b.row !== undefined) {
      const bytes = encodeLogRow(b.row as LogRowLeaf);
      row = decodeLogRow(bytes);
      hash = leafHash(bytes);
    } else if (b.leaf !== undefined) {
      const bytes = typeof b.leaf === 'string' ? fromBase64(b.leaf) : undefined;
      if (!bytes) return no('MALFORMED', 'leaf must be base64');
      row = decodeLogRow(bytes);
      hash = leafHash(bytes);
    } else {
      hash = typeof b.leafHash === 'string' ? fromBase64(b.leafHash, HASH_SIZE) : undefined;
      if (!hash) return no('MALFORMED', 'leafHash must be a base64 32-byte hash');
    }
  } catch (err) {
    return no('MALFORMED', (err as Error).message);
  }
  const { treeSize, rootHash } = cp.checkpoint;
  const check = verifyInclusion(index, treeSize, hash, path, fromBase64(rootHash)!);
  if (check !== 'ok') return no(check, inclusionMessage(check));
  return {
    ok: true,
    kind: 'inclusion',
    checkpoint: cp.checkpoint,
    index,
    leafHash: toBase64(hash),
    ...(row ? { row } : {}),
    keyIds: cp.keyIds,
  };
}

function inclusionMessage(check: Exclude<ProofCheck, 'ok'>): string {
  switch (check) {
    case 'OUT_OF_RANGE':
      return 'the index is not below the checkpoint tree size';
    case 'PATH_LENGTH':
      return 'the path does not have the number of hashes this index and tree size need';
    case 'ROOT_MISMATCH':
      return 'the leaf and path do not lead to the signed root: the row, its position or the path differs from what was sealed';
  }
}

function consistency(
  b: Record<string, unknown>,
  keys: readonly TrustedKey[],
  origin: string | undefined,
): ProofVerdict {
  const older = opened(b.older, keys, origin, 'the older checkpoint');
  if (!older.ok) return older;
  const newer = opened(b.newer, keys, origin, 'the newer checkpoint');
  if (!newer.ok) return newer;
  const path = hashes(b.path);
  if (!path) return no('MALFORMED', 'path must be a list of base64 32-byte hashes');
  const [o, n] = [older.checkpoint, newer.checkpoint];
  if (o.origin !== n.origin) return no('ORIGIN_MISMATCH', 'the two checkpoints are of different logs');
  const check = verifyConsistency(
    o.treeSize,
    n.treeSize,
    path,
    fromBase64(o.rootHash)!,
    fromBase64(n.rootHash)!,
  );
  if (check !== 'ok') {
    const message = {
      OUT_OF_RANGE: 'the older checkpoint is the larger tree',
      PATH_LENGTH: 'the path does not have the number of hashes these two sizes need',
      ROOT_MISMATCH:
        o.treeSize === n.treeSize
          ? 'two signed checkpoints of the same size with different roots: the log forked'
          : 'the newer tree does not extend the older one: the sealed history was changed, or the path is wrong',
    }[check];
    return no(check, message);
  }
  return {
    ok: true,
    kind: 'consistency',
    older: o,
    newer: n,
    adjacent: n.previousCheckpointHash === checkpointHash(o),
    keyIds: [...new Set([...older.keyIds, ...newer.keyIds])],
  };
}
