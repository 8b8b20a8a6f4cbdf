import type { Executor, Row } from '../db/types.js';
import { TallyError } from '../errors.js';
import { type HasTallyConfig, openPositionsConsumer } from '../feed/consumer.js';
import { auditLog, type LogAudit } from './audit.js';
import { type Checkpoint, checkpointHash, parseCheckpointBody, signCheckpoint } from './checkpoint.js';
import { ChunkTracker } from './chunks.js';
import { type FrontierState, MerkleFrontier } from './frontier.js';
import { toBase64 } from './hash.js';
import type { SealKey, TrustedKey } from './keys.js';
import { type LogRowLeaf, logRowLeafHash } from './leaf.js';
import {
  checkpointsSql,
  insertCheckpointSql,
  insertChunksSql,
  insertLeavesSql,
  latestCheckpointSql,
  leafRowsByIdSql,
  leavesInTreeOrderSql,
  lockStateSql,
  saveStateSql,
  sealedCountSql,
  stateSizeSql,
  unappendedCountSql,
} from './sql.js';

/**
 * A first sealer (decision 0060): a feed consumer of the log, so rows become leaves in commit order,
 * gap-free, each exactly once — the frontier and the leaf positions are written in the transaction that
 * moves the consumer's checkpoint. When it has caught up it signs one checkpoint over everything sealed.
 * Its tables are migration 9; `tally seal` runs it once, a worker with the `seal` option on a schedule.
 */
export interface SealOptions {
  key: SealKey;
  /** The log's name in its checkpoints. */
  origin: string;
  /** Feed consumer name (default `tally-sealer`). */
  consumer?: string;
  batchSize?: number;
}

export interface SealResult {
  /** Rows appended to the tree by this call. */
  appended: number;
  treeSize: number;
  /** The checkpoint signed by this call; null when nothing new was sealed. */
  note: string | null;
}

/**
 * Appends every committed log row not yet in the tree, then signs a checkpoint if the tree grew.
 *
 * @example
 * const { note } = await sealOnce(tally, { key: loadSealKey()!, origin: 'tally example.com/orders' });
 */
export async function sealOnce(tally: HasTallyConfig, options: SealOptions): Promise<SealResult> {
  const { db, s, clock } = tally.config;
  const { key, origin } = options;
  // Positions only: the sealer reads the leaf columns itself (decision 0068).
  const consumer = await openPositionsConsumer(tally, options.consumer ?? 'tally-sealer', {
    source: 'log',
    batchSize: options.batchSize ?? 5_000,
  });
  let appended = 0;
  try {
    for (;;) {
      const n = await consumer.onceInTransaction(async ({ entries }, tx) => {
        const ids = entries.flatMap((e) => (e.source === 'log' ? [e.id] : []));
        if (ids.length === 0) return;
        const tree = await lockedTree(tx, s, origin);
        const rows = new Map(
          (await tx.query<Row & LogRowLeaf & { id: string }>(leafRowsByIdSql(s, ids))).map((r) => [r.id, r]),
        );
        const first = tree.size;
        const chunks = ChunkTracker.after(tree);
        for (const id of ids) {
          const row = rows.get(id);
          if (!row)
            throw new TallyError('DB_ERROR', 'sealer: a log row the feed delivered is not in the log');
          const h = logRowLeafHash(row);
          tree.appendLeafHash(h);
          chunks.append(h);
        }
        await tx.query(insertLeavesSql(s, origin, first, ids));
        if (chunks.completed.length > 0) {
          const done = chunks.completed.map((c) => ({ chunk: c.chunk, root: toBase64(c.root) }));
          await tx.query(insertChunksSql(s, origin, done));
        }
        await tx.query(saveStateSql(s, origin, tree.size, tree.toState()));
        appended += ids.length;
      });
      if (n === 0) break;
    }
  } finally {
    // One call, one pass: the next call (or a standby) takes over at once rather than when the lease expires.
    await consumer.release();
  }
  const note = await db.transaction(async (tx) => {
    const tree = await lockedTree(tx, s, origin);
    const [latest] = await tx.query<{ tree_size: string; note: string }>(latestCheckpointSql(s, origin));
    if (latest && Number(latest.tree_size) >= tree.size) return null;
    const prev = latest ? checkpointHash(bodyOf(latest.note)) : null;
    const at = clock();
    const cp: Checkpoint = {
      origin,
      treeSize: tree.size,
      rootHash: toBase64(tree.root()),
      time: at.toISOString(),
      previousCheckpointHash: prev,
    };
    const signed = signCheckpoint(cp, key);
    await tx.query(insertCheckpointSql(s, origin, cp.treeSize, cp.rootHash, at, signed));
    return signed;
  });
  const [state] = await db.query<{ tree_size: string }>(stateSizeSql(s, origin));
  return { appended, treeSize: Number(state?.tree_size ?? 0), note };
}

async function lockedTree(tx: Executor, s: string, origin: string): Promise<MerkleFrontier> {
  const [row] = await tx.query<{ tree_size: string; frontier: FrontierState }>(lockStateSql(s, origin));
  return MerkleFrontier.from(row ? row.frontier : undefined);
}

function bodyOf(note: string): Checkpoint {
  return parseCheckpointBody(note.slice(0, note.indexOf('\n\n') + 1));
}

/** The leaf hashes of positions [0, size) in tree order; a position whose row is gone hashes as zeros. */
export async function sealedLeafHashes(
  db: Executor,
  s: string,
  origin: string,
  size: number,
): Promise<Uint8Array[]> {
  return sealedLeafHashesBetween(db, s, origin, 0, size);
}

/** The leaf hashes of positions [from, to) in tree order; a position whose row is gone hashes as zeros. */
export async function sealedLeafHashesBetween(
  db: Executor,
  s: string,
  origin: string,
  from: number,
  to: number,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const page = 10_000;
  for (let at = from; at < to; at += page) {
    const rows = await db.query<Row & LogRowLeaf & { position: string; entity_type: string | null }>(
      leavesInTreeOrderSql(s, origin, at, Math.min(to, at + page)),
    );
    for (const r of rows) {
      // A missing position (its mapping deleted) or a missing row (deleted from the log) is a leaf that
      // cannot match: the audit then says where.
      while (from + out.length < Number(r.position)) out.push(new Uint8Array(32));
      out.push(r.entity_type === null ? new Uint8Array(32) : logRowLeafHash(r));
    }
  }
  return out;
}

/** What `auditSealedLog` found: the stored checkpoints' audit, the external one's, and rows not in the tree. */
export interface SealedLogReport {
  /** The log against every checkpoint stored in the database. */
  stored: LogAudit;
  /** The log against the external checkpoint, when one was given and the stored audit passed. */
  external: LogAudit | null;
  /** Log rows the sealer has not appended to the tree yet (counted only when asked for). */
  unappended: number | null;
}

/**
 * Audits the database's log against its stored checkpoints and, when given, `external` (the latest
 * checkpoint kept outside the database), reading the rows once: the core of `tally verify`. With
 * `countUnappended` it also counts the log rows the sealer has not reached (one more pass over the log).
 *
 * @example
 * const r = await auditSealedLog(tally, 'tally example.com/orders', trustedKeys([pub]), latestExternalNote);
 * if (!r.stored.ok || (r.external && !r.external.ok)) process.exitCode = 1;
 */
export async function auditSealedLog(
  tally: HasTallyConfig,
  origin: string,
  trusted: readonly TrustedKey[],
  external?: string,
  options: {
    countUnappended?: boolean;
    /** The leaf hashes of positions [0, size) (default: from the log; `leafHashesWithArchive` adds archived ranges). */
    leafHashes?: (size: number) => Promise<Uint8Array[]>;
  } = {},
): Promise<SealedLogReport> {
  const { db, s } = tally.config;
  const notes = (await db.query<{ note: string }>(checkpointsSql(s, origin))).map((r) => r.note);
  const sizes = notes.map((n) => bodyOf(n).treeSize);
  let externalSize = 0;
  if (external !== undefined) {
    try {
      externalSize = bodyOf(external).treeSize;
    } catch {
      externalSize = 0; // auditLog reports the malformed note
    }
  }
  const [count] = await db.query<{ n: string }>(sealedCountSql(s, origin));
  const size = Math.max(Number(count?.n ?? 0), ...sizes, 0);
  const total = Math.max(size, externalSize);
  const leaves = await (options.leafHashes?.(total) ?? sealedLeafHashes(db, s, origin, total));
  const stored = auditLog(leaves, notes, trusted);
  const ext =
    stored.ok && external !== undefined
      ? // The stored checkpoints below the external one's size come too: they narrow where a difference is.
        auditLog(leaves, [...notes.filter((_, i) => sizes[i]! < externalSize), external], trusted, {
          consecutive: false,
        })
      : null;
  let unappended: number | null = null;
  if (options.countUnappended) {
    const [u] = await db.query<{ n: string }>(unappendedCountSql(s, origin));
    unappended = Number(u?.n ?? 0);
  }
  return { stored, external: ext, unappended };
}

/**
 * Audits the database's log against its stored checkpoints, and against `external` (the latest
 * checkpoint kept outside the database) when given: the first failure, or the external audit.
 *
 * @example
 * const audit = await verifySealedLog(tally, 'tally example.com/orders', trustedKeys([pub]), latestExternalNote);
 */
export async function verifySealedLog(
  tally: HasTallyConfig,
  origin: string,
  trusted: readonly TrustedKey[],
  external?: string,
): Promise<LogAudit> {
  const r = await auditSealedLog(tally, origin, trusted, external);
  return r.external ?? r.stored;
}
