import type { Row } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { HasTallyConfig } from '../feed/consumer.js';
import { type ArchiveFileEntry, readArchiveFile, readManifest } from './archive-file.js';
import { type ArchiveRecord, archivesSql } from './archive-sql.js';
import { auditLog, type LogAudit } from './audit.js';
import { parseCheckpointBody } from './checkpoint.js';
import type { TrustedKey } from './keys.js';
import { logRowLeafHash } from './leaf.js';
import { sealedLeafHashes } from './sealer.js';
import { checkpointsSql, sealedCountSql } from './sql.js';

/** The archive ranges the database records for `origin`, as manifest entries. */
export async function archiveRanges(tally: HasTallyConfig, origin: string): Promise<ArchiveFileEntry[]> {
  const { db, s } = tally.config;
  return (await db.query<Row & ArchiveRecord>(archivesSql(s, origin))).map((r) => ({
    file: r.file,
    from: Number(r.from_position),
    to: Number(r.to_position),
    checkpointSize: Number(r.checkpoint_size),
    rows: Number(r.rows),
    sha256: r.sha256,
  }));
}

/**
 * The leaf hashes of tree positions [0, size): from the log, and for archived ranges from the archive
 * files in `dir` (each checked against its sha256 in the database's record; INVALID_EVIDENCE when a file
 * is missing, altered, or not the one recorded). Without `dir`, archived ranges are an INVALID_CONFIG:
 * their rows are no longer in the log.
 *
 * @example
 * const leaves = await leafHashesWithArchive(tally, 'tally example.com/orders', 1000, '/mnt/archive');
 */
export async function leafHashesWithArchive(
  tally: HasTallyConfig,
  origin: string,
  size: number,
  dir: string | undefined,
): Promise<Uint8Array[]> {
  const { db, s } = tally.config;
  const leaves = await sealedLeafHashes(db, s, origin, size);
  const ranges = (await archiveRanges(tally, origin)).filter((r) => r.from < size);
  if (ranges.length === 0) return leaves;
  if (dir === undefined) {
    throw new TallyError(
      'INVALID_CONFIG',
      `tree positions ${ranges[0]!.from}..${ranges[ranges.length - 1]!.to - 1} are archived: give the archive directory`,
    );
  }
  const listed = readManifest(dir, origin).files;
  for (const r of ranges) {
    const m = listed.find((f) => f.from === r.from);
    if (!m || m.file !== r.file || m.sha256 !== r.sha256 || m.to !== r.to) {
      throw new TallyError('INVALID_EVIDENCE', `archive file ${r.file} is not in the manifest as recorded`);
    }
    for (const row of await readArchiveFile(dir, r)) {
      if (row.position < size) leaves[row.position] = logRowLeafHash(row);
    }
  }
  return leaves;
}

export type ArchiveAudit = LogAudit | { ok: false; reason: 'ARCHIVE_UNUSABLE'; message: string };

/**
 * `verifySealedLog` for a log with archived ranges: the same audit (every stored checkpoint, and
 * `external` when given), with the archived positions' leaves recomputed from the archive's rows. An
 * archive file that is missing, altered or not the one recorded is `ARCHIVE_UNUSABLE`; a row changed
 * inside a file whose sha256 was recomputed too is the audit's ROOT_MISMATCH.
 *
 * @example
 * const audit = await verifyArchivedLog(tally, origin, trustedKeys([pub]), { dir: '/mnt/archive' });
 */
export async function verifyArchivedLog(
  tally: HasTallyConfig,
  origin: string,
  trusted: readonly TrustedKey[],
  options: { dir?: string; external?: string } = {},
): Promise<ArchiveAudit> {
  const { db, s } = tally.config;
  const notes = (await db.query<{ note: string }>(checkpointsSql(s, origin))).map((r) => r.note);
  const sizeOf = (note: string) => {
    try {
      return parseCheckpointBody(note.slice(0, note.indexOf('\n\n') + 1)).treeSize;
    } catch {
      return 0; // auditLog reports the malformed note
    }
  };
  const [count] = await db.query<{ n: string }>(sealedCountSql(s, origin));
  const size = Math.max(
    Number(count?.n ?? 0),
    ...notes.map(sizeOf),
    options.external === undefined ? 0 : sizeOf(options.external),
  );
  let leaves: Uint8Array[];
  try {
    leaves = await leafHashesWithArchive(tally, origin, size, options.dir);
  } catch (err) {
    if (err instanceof TallyError) return { ok: false, reason: 'ARCHIVE_UNUSABLE', message: err.message };
    throw err;
  }
  const stored = auditLog(leaves, notes, trusted);
  if (!stored.ok || options.external === undefined) return stored;
  return auditLog(leaves, [options.external], trusted, { consecutive: false });
}
