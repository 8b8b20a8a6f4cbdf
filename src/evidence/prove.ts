import type { Executor, Row } from '../db/types.js';
import type { HasTallyConfig } from '../feed/consumer.js';
import {
  type ConsistencyProofBundle,
  consistencyBundle,
  type InclusionProofBundle,
  inclusionBundle,
} from './bundle.js';
import { parseCheckpointBody } from './checkpoint.js';
import { CHUNK, chunkedInclusionPath, rootOfLeaves } from './chunks.js';
import { fromBase64, HASH_SIZE, leafHash, toBase64 } from './hash.js';
import { encodeLogRow, type LogRowLeaf } from './leaf.js';
import { verifyInclusion } from './rfc9162.js';
import { sealedLeafHashes, sealedLeafHashesBetween } from './sealer.js';
import { chunkRootsSql, latestCheckpointSql, leafRowsByIdSql, positionOfSql } from './sql.js';

/** Why no proof of a log row could be made. */
export type ProveFailure =
  /** No log row with that id. */
  | 'NOT_IN_LOG'
  /** The log has no signed checkpoint yet. */
  | 'NO_CHECKPOINT'
  /** The row is after the latest checkpoint (or not appended to the tree yet): seal first. */
  | 'NOT_SEALED'
  /** The older checkpoint of a consistency proof is not a checkpoint note. */
  | 'BAD_CHECKPOINT'
  /** The older checkpoint is larger than the latest in the database: its checkpoints were deleted. */
  | 'CHECKPOINTS_MISSING';

export type ProveResult =
  | { ok: true; proof: InclusionProofBundle; position: number; treeSize: number }
  | { ok: false; reason: ProveFailure; message: string };

/**
 * An inclusion proof of one log row (by its id) against the latest checkpoint of `origin`, carrying the
 * row itself: the file `verifyProof` (and `tally verify-proof`) checks offline. Reads the row's chunk of
 * at most 1024 leaves and the chunk roots (migration 12); where a chunk root is missing (a log sealed
 * before it), the leaf hashes of the whole sealed tree (O(n), decision 0060).
 *
 * @example
 * const r = await proveLogRow(tally, 'tally example.com/orders', '1234');
 * if (r.ok) writeFileSync('proof.json', JSON.stringify(r.proof, null, 2));
 */
export async function proveLogRow(
  tally: HasTallyConfig,
  origin: string,
  logId: string,
): Promise<ProveResult> {
  const { db, s } = tally.config;
  const [row] = await db.query<Row & LogRowLeaf & { id: string }>(leafRowsByIdSql(s, [logId]));
  if (!row) return { ok: false, reason: 'NOT_IN_LOG', message: 'no log row with that id' };
  const [latest] = await db.query<{ tree_size: string; note: string }>(latestCheckpointSql(s, origin));
  if (!latest) {
    return { ok: false, reason: 'NO_CHECKPOINT', message: 'the log has no checkpoint yet: seal it first' };
  }
  const note = latest.note;
  const size = parseCheckpointBody(note.slice(0, note.indexOf('\n\n') + 1)).treeSize;
  const [at] = await db.query<{ position: string }>(positionOfSql(s, origin, logId));
  const position = at ? Number(at.position) : -1;
  if (position < 0 || position >= size) {
    return {
      ok: false,
      reason: 'NOT_SEALED',
      message: 'the row is not in the latest checkpoint yet: seal again, then ask for its proof',
    };
  }
  const proof =
    (await chunkedProof(db, s, origin, note, position, row)) ??
    inclusionBundle(await sealedLeafHashes(db, s, origin, size), note, position, { row });
  return { ok: true, proof, position, treeSize: size };
}

export type ConsistencyResult =
  | { ok: true; proof: ConsistencyProofBundle; olderSize: number; newerSize: number }
  | { ok: false; reason: ProveFailure; message: string };

/**
 * A consistency proof from an earlier checkpoint (one kept outside, say) to the latest of `origin`: that
 * the latest signed tree begins with exactly the rows the earlier one sealed. The older note's signature
 * is the verifier's to check; only its size is read here.
 *
 * @example
 * const r = await proveConsistency(tally, 'tally example.com/orders', yesterdaysNote);
 */
export async function proveConsistency(
  tally: HasTallyConfig,
  origin: string,
  olderNote: string,
): Promise<ConsistencyResult> {
  const { db, s } = tally.config;
  let olderSize: number;
  try {
    olderSize = parseCheckpointBody(olderNote.slice(0, olderNote.indexOf('\n\n') + 1)).treeSize;
  } catch (err) {
    return {
      ok: false,
      reason: 'BAD_CHECKPOINT',
      message: `the older checkpoint: ${(err as Error).message}`,
    };
  }
  const [latest] = await db.query<{ tree_size: string; note: string }>(latestCheckpointSql(s, origin));
  if (!latest) {
    return { ok: false, reason: 'NO_CHECKPOINT', message: 'the log has no checkpoint yet: seal it first' };
  }
  const newerSize = Number(latest.tree_size);
  if (olderSize > newerSize) {
    return {
      ok: false,
      reason: 'CHECKPOINTS_MISSING',
      message: 'the older checkpoint is larger than the latest one in the database: checkpoints were deleted',
    };
  }
  const leaves = await sealedLeafHashes(db, s, origin, newerSize);
  return {
    ok: true,
    proof: consistencyBundle(leaves, olderNote, latest.note),
    olderSize,
    newerSize,
  };
}

/**
 * The inclusion proof from the row's chunk and the stored chunk roots, checked against the signed root
 * before it is returned; null when a chunk root is missing or the result does not verify (then the
 * caller takes the long way, which is always right).
 */
async function chunkedProof(
  db: Executor,
  s: string,
  origin: string,
  note: string,
  position: number,
  row: LogRowLeaf,
): Promise<InclusionProofBundle | null> {
  const cp = parseCheckpointBody(note.slice(0, note.indexOf('\n\n') + 1));
  const size = cp.treeSize;
  const complete = Math.floor(size / CHUNK);
  if (complete === 0) return null; // one partial chunk: the long way reads as few rows
  const stored = await db.query<{ root: string }>(chunkRootsSql(s, origin, complete));
  if (stored.length !== complete) return null;
  const roots = stored.map((r) => fromBase64(r.root, HASH_SIZE));
  if (roots.some((r) => r === undefined)) return null;
  const tops = roots as Uint8Array[];
  const c = Math.floor(position / CHUNK);
  const own = await sealedLeafHashesBetween(db, s, origin, c * CHUNK, Math.min(size, (c + 1) * CHUNK));
  if (size % CHUNK !== 0) {
    const last = c === complete ? own : await sealedLeafHashesBetween(db, s, origin, complete * CHUNK, size);
    tops.push(rootOfLeaves(last));
  }
  const hash = leafHash(encodeLogRow(row));
  if (toBase64(hash) !== toBase64(own[position - c * CHUNK] ?? new Uint8Array(32))) return null;
  let path: Uint8Array[];
  try {
    path = chunkedInclusionPath(own, tops, position, size);
  } catch {
    return null;
  }
  if (verifyInclusion(position, size, hash, path, fromBase64(cp.rootHash)!) !== 'ok') return null;
  return {
    type: 'tally.inclusion-proof.v1',
    checkpoint: note,
    index: position,
    row,
    path: path.map(toBase64),
  };
}
