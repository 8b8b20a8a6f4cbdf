import type { Row } from '../db/types.js';
import type { HasTallyConfig } from '../feed/consumer.js';
import {
  type ConsistencyProofBundle,
  consistencyBundle,
  type InclusionProofBundle,
  inclusionBundle,
} from './bundle.js';
import { parseCheckpointBody } from './checkpoint.js';
import type { LogRowLeaf } from './leaf.js';
import { sealedLeafHashes } from './sealer.js';
import { latestCheckpointSql, leafRowsByIdSql, positionOfSql } from './sql.js';

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
 * row itself: the file `verifyProof` (and `tally verify-proof`) checks offline. Reads the leaf hashes of
 * the whole sealed tree (O(n), decision 0060).
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
  const leaves = await sealedLeafHashes(db, s, origin, size);
  const proof = inclusionBundle(leaves, note, position, { row });
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
