import { type Checkpoint, type CheckpointFailure, checkpointHash, openCheckpoint } from './checkpoint.js';
import { MerkleFrontier } from './frontier.js';
import { toBase64 } from './hash.js';
import type { TrustedKey } from './keys.js';
import type { LeafHashes } from './merkle.js';

/** Why a log does not match its checkpoints. */
export type AuditFailure =
  | CheckpointFailure
  /** The log has fewer rows than a checkpoint sealed: rows were deleted, or the database rolled back. */
  | 'ROWS_MISSING'
  /** The rows up to a checkpoint's size hash to another root: a sealed row was changed, removed or moved. */
  | 'ROOT_MISMATCH'
  /** A checkpoint's `prev` does not name the one before it, or two are of different logs. */
  | 'CHAIN_BROKEN';

export type LogAudit =
  | {
      ok: true;
      /** Rows covered by the latest checkpoint. */
      sealed: number;
      /** Rows after it, not sealed yet. */
      unsealed: number;
      checkpoints: number;
    }
  | {
      ok: false;
      reason: AuditFailure;
      message: string;
      /**
       * Where the difference is: rows with tree positions in [from, to) — between the last checkpoint
       * that still matched and the first that did not (for ROWS_MISSING, the rows that are gone).
       */
      range?: { from: number; to: number };
    };

/**
 * Checks a log against its signed checkpoints: every checkpoint's signature, their `prev` chain, and that
 * the log's rows (as leaf hashes, in tree order) hash to each checkpoint's root at its size. One pass over
 * the rows, O(n) hashing. The first checkpoint that no longer matches bounds where the log was changed.
 * Checkpoints are given oldest first; a gap in the list is allowed (then their `prev` links are not
 * checked across it) when `consecutive` is false.
 *
 * @example
 * const audit = auditLog(leafHashesInTreeOrder, notes, trustedKeys([publicPem]));
 * if (!audit.ok) console.error(audit.reason, audit.message, audit.range);
 */
export function auditLog(
  leaves: LeafHashes,
  notes: readonly string[],
  trusted: readonly TrustedKey[],
  options: { consecutive?: boolean } = {},
): LogAudit {
  const consecutive = options.consecutive ?? true;
  const cps: Checkpoint[] = [];
  for (const [i, note] of notes.entries()) {
    const o = openCheckpoint(note, trusted);
    if (!o.ok) return { ok: false, reason: o.reason, message: `checkpoint ${i + 1}: ${o.message}` };
    const prev = cps[cps.length - 1];
    if (prev) {
      if (o.checkpoint.origin !== prev.origin) {
        return { ok: false, reason: 'CHAIN_BROKEN', message: `checkpoint ${i + 1} is of another log` };
      }
      if (o.checkpoint.treeSize < prev.treeSize) {
        return {
          ok: false,
          reason: 'CHAIN_BROKEN',
          message: `checkpoint ${i + 1} is smaller than the one before`,
        };
      }
      if (consecutive && o.checkpoint.previousCheckpointHash !== checkpointHash(prev)) {
        return {
          ok: false,
          reason: 'CHAIN_BROKEN',
          message: `checkpoint ${i + 1} does not name checkpoint ${i} as its previous one`,
        };
      }
    }
    cps.push(o.checkpoint);
  }
  const tree = MerkleFrontier.from();
  let matched = 0;
  for (const cp of cps) {
    if (leaves.length < cp.treeSize) {
      return {
        ok: false,
        reason: 'ROWS_MISSING',
        message: `a checkpoint sealed ${cp.treeSize} rows; the log has ${leaves.length}`,
        range: { from: leaves.length, to: cp.treeSize },
      };
    }
    while (tree.size < cp.treeSize) tree.appendLeafHash(leaves[tree.size]!);
    if (toBase64(tree.root()) !== cp.rootHash) {
      return {
        ok: false,
        reason: 'ROOT_MISMATCH',
        message: `the first ${cp.treeSize} rows are not the rows the checkpoint of that size sealed; the change is at a position from ${matched} up to ${cp.treeSize}`,
        range: { from: matched, to: cp.treeSize },
      };
    }
    matched = cp.treeSize;
  }
  return { ok: true, sealed: matched, unsealed: leaves.length - matched, checkpoints: cps.length };
}
