import type { Entity } from '../changes/entity.js';
import type { EntityKey } from '../changes/keys.js';
import type { Row } from '../db/types.js';
import type { HasTallyConfig } from '../feed/consumer.js';
import { type ArchivedRow, readArchiveFile } from './archive-file.js';
import { archiveRanges, leafHashesWithArchive } from './archive-verify.js';
import { consistencyBundle, inclusionBundle } from './bundle.js';
import { parseCheckpointBody } from './checkpoint.js';
import type { ConsistencyResult, ProveResult } from './prove.js';
import { latestCheckpointSql } from './sql.js';

/** Where a log's archive is: the log's origin (as in its checkpoints) and the archive directory. */
export interface ArchiveLocation {
  origin: string;
  dir: string;
}

/** An archived log row read back like a log entry (`txid` is not archived: null). */
export interface ArchivedEntry {
  id: string;
  entity_type: string;
  entity_key: string;
  version: number;
  action: string;
  actor: string;
  source_ip: string | null;
  reason: string | null;
  request_id: string | null;
  command_id: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  changed: string[];
  at: Date;
  txid: string | null;
  prev_hash: string | null;
  hash: string | null;
  /** Its position in the sealed tree; null for an entry read from the log. */
  position: number | null;
}

/** Every archived row of one entity, oldest version first (reads the files the database records). */
export async function archivedRowsOf(
  tally: HasTallyConfig,
  at: ArchiveLocation,
  entityType: string,
  entityKey: string,
): Promise<ArchivedRow[]> {
  const out: ArchivedRow[] = [];
  for (const r of await archiveRanges(tally, at.origin)) {
    for (const row of await readArchiveFile(at.dir, r)) {
      if (row.entity_type === entityType && row.entity_key === entityKey) out.push(row);
    }
  }
  return out.sort((a, b) => Number(a.version) - Number(b.version));
}

function entryOf(r: ArchivedRow): ArchivedEntry {
  const parse = (v: string | null) => (v === null ? null : (JSON.parse(v) as Record<string, unknown>));
  return {
    id: r.id,
    entity_type: r.entity_type,
    entity_key: r.entity_key,
    version: Number(r.version),
    action: r.action,
    actor: r.actor,
    source_ip: r.source_ip ?? null,
    reason: r.reason ?? null,
    request_id: r.request_id ?? null,
    command_id: r.command_id ?? null,
    before: parse(r.before),
    after: parse(r.after),
    changed: [...r.changed],
    at: new Date(r.at),
    txid: null,
    prev_hash: r.prev_hash,
    hash: r.hash,
    position: r.position,
  };
}

/**
 * An entity's whole history: its archived rows, then the rows still in the log, oldest first. The key
 * is matched as the log stores it (its canonical text: `String(key)` for a number or text key).
 *
 * @example
 * for (const e of await historyWithArchive(tally, resources, 42, { origin, dir: '/mnt/archive' })) console.log(e.version);
 */
export async function historyWithArchive(
  tally: HasTallyConfig,
  entity: Pick<Entity, 'name' | 'history'>,
  key: EntityKey,
  at: ArchiveLocation,
): Promise<ArchivedEntry[]> {
  const live = await entity.history(key);
  const text = live[0]?.entity_key ?? String(key);
  const archived = (await archivedRowsOf(tally, at, entity.name, text)).map(entryOf);
  const seen = new Set(archived.map((e) => e.version));
  const rest = live.filter((e) => !seen.has(e.version)).map((e) => ({ ...e, position: null }));
  return [...archived, ...rest];
}

/**
 * The entity's image as of a version or a time, from its whole history (archive and log): the after
 * image of the last entry at or before it; before the first entry, that entry's before image.
 *
 * @example
 * const then = await stateAtWithArchive(tally, resources, 42, { at: new Date('2025-01-01') }, location);
 */
export async function stateAtWithArchive(
  tally: HasTallyConfig,
  entity: Pick<Entity, 'name' | 'history'>,
  key: EntityKey,
  when: { version: number } | { at: Date },
  at: ArchiveLocation,
): Promise<Record<string, unknown> | null> {
  const all = await historyWithArchive(tally, entity, key, at);
  const upTo = all.filter((e) => ('version' in when ? e.version <= when.version : e.at <= when.at));
  const last = upTo[upTo.length - 1];
  if (last) return last.after;
  return all[0] ? all[0].before : null;
}

/**
 * An inclusion proof of an archived row (by entity and version) against the latest checkpoint: the same
 * file `proveLogRow` makes, the leaves of archived positions recomputed from the archive.
 *
 * @example
 * const r = await proveArchivedRow(tally, location, { entityType: 'resource', entityKey: '42', version: 3 });
 */
export async function proveArchivedRow(
  tally: HasTallyConfig,
  at: ArchiveLocation,
  row: { entityType: string; entityKey: string; version: number },
): Promise<ProveResult> {
  const { db, s } = tally.config;
  const found = (await archivedRowsOf(tally, at, row.entityType, row.entityKey)).find(
    (r) => Number(r.version) === row.version,
  );
  if (!found)
    return { ok: false, reason: 'NOT_IN_LOG', message: 'no archived row of that entity and version' };
  const [latest] = await db.query<Row & { note: string }>(latestCheckpointSql(s, at.origin));
  if (!latest) return { ok: false, reason: 'NO_CHECKPOINT', message: 'the log has no checkpoint yet' };
  const size = parseCheckpointBody(latest.note.slice(0, latest.note.indexOf('\n\n') + 1)).treeSize;
  const leaves = await leafHashesWithArchive(tally, at.origin, size, at.dir);
  const { position, prev_hash: _p, hash: _h, ...leafRow } = found;
  const proof = inclusionBundle(leaves, latest.note, position, { row: leafRow });
  return { ok: true, proof, position, treeSize: size };
}

/**
 * A consistency proof from an earlier checkpoint to the latest, as `proveConsistency` makes it, with the
 * leaves of archived positions recomputed from the archive.
 *
 * @example
 * const r = await proveConsistencyWithArchive(tally, location, yesterdaysNote);
 */
export async function proveConsistencyWithArchive(
  tally: HasTallyConfig,
  at: ArchiveLocation,
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
  const [latest] = await db.query<Row & { note: string; tree_size: string }>(
    latestCheckpointSql(s, at.origin),
  );
  if (!latest) return { ok: false, reason: 'NO_CHECKPOINT', message: 'the log has no checkpoint yet' };
  const newerSize = Number(latest.tree_size);
  if (olderSize > newerSize) {
    return {
      ok: false,
      reason: 'CHECKPOINTS_MISSING',
      message: 'the older checkpoint is larger than the latest one in the database: checkpoints were deleted',
    };
  }
  const leaves = await leafHashesWithArchive(tally, at.origin, newerSize, at.dir);
  return { ok: true, proof: consistencyBundle(leaves, olderNote, latest.note), olderSize, newerSize };
}
