import { mkdir } from 'node:fs/promises';
import type { Row } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { HasTallyConfig } from '../feed/consumer.js';
import {
  type ArchivedRow,
  archiveFileName,
  encodeArchive,
  readArchiveFile,
  recordInManifest,
  writeDurably,
} from './archive-file.js';
import {
  type ArchiveRecord,
  archivePageSql,
  archivesSql,
  checkpointSizesSql,
  deleteLogRangeSql,
  insertArchiveSql,
  markDeletedSql,
  originsSql,
} from './archive-sql.js';

export interface ArchiveOptions {
  /** The log's name in its checkpoints (as for `tally seal`). */
  origin: string;
  /** Where the files and manifest.json go. */
  dir: string;
  /** Rows written before this time may move. */
  before: Date;
  /** Rows per file (default 50,000). */
  rowsPerFile?: number;
  /** Rows deleted per statement (default 1,000). */
  chunk?: number;
  /** A pause between delete statements, to leave the server to the write path (default 0). */
  pauseMs?: number;
  /** Only say what would move: nothing is written or deleted. */
  dryRun?: boolean;
  /** Stop after this many new files (a round's budget). */
  maxFiles?: number;
  onProgress?: (p: ArchiveProgress) => void;
  signal?: AbortSignal;
}

export interface ArchiveProgress {
  phase: 'scan' | 'write' | 'delete';
  /** Tree positions passed, of `total` sealed and not yet archived when the run began. */
  done: number;
  total: number;
  file: string | null;
}

export interface ArchivedRange {
  file: string;
  from: number;
  to: number;
  checkpointSize: number;
  rows: number;
  firstAt: string;
  lastAt: string;
}

/** Why the run stopped where it did. */
export type ArchiveStop =
  | 'horizon' // the next row was written at or after `before`
  | 'unsealed' // everything up to the latest checkpoint has moved
  | 'owed' // a log feed consumer has not been handed the next row yet
  | 'missing' // the next sealed row is not in the log (deleted outside Tally: `tally verify` says more)
  | 'limit'; // maxFiles or the signal

export interface ArchiveResult {
  dryRun: boolean;
  /** The ranges moved by this run (or that would move, dry). */
  ranges: ArchivedRange[];
  rowsDeleted: number;
  /** Ranges an earlier, interrupted run had written but not finished deleting, finished now. */
  resumed: number;
  /** The first tree position left in the log. */
  next: number;
  stop: ArchiveStop;
}

/**
 * Moves the oldest part of the log to archive files (decision 0062): a prefix of the sealed tree, in
 * tree order, up to the first row that is newer than `before`, not yet sealed by a stored checkpoint, or
 * still owed to a log feed consumer. Each range becomes one gzip NDJSON file named by its tree positions
 * and the checkpoint that sealed it, listed with its sha256 in the directory's manifest.json and in
 * `log_archives`; only then are its rows deleted, in bounded chunks (a crash in between is finished by
 * the next run). History, proofs and verification read the archive for those positions (archive-read.ts,
 * archive-verify.ts).
 *
 * @example
 * const r = await archiveLog(tally, { origin: 'tally example.com/orders', dir: '/mnt/archive', before: new Date(Date.now() - 90 * 86400_000) });
 */
export async function archiveLog(tally: HasTallyConfig, options: ArchiveOptions): Promise<ArchiveResult> {
  const { db, s, clock } = tally.config;
  const o = checkOptions(options);
  // A log sealed under two origins is two trees over the same rows: deleting rows for one would take
  // leaves the other still needs.
  const others = (await db.query<{ origin: string }>(originsSql(s))).filter((r) => r.origin !== o.origin);
  if (others.length > 0) {
    throw new TallyError(
      'INVALID_CONFIG',
      `archive: the log is also sealed under ${others.length} other origin(s); archiving for one would remove rows the others hold`,
    );
  }
  const records = await db.query<Row & ArchiveRecord>(archivesSql(s, o.origin));
  let resumed = 0;
  let rowsDeleted = 0;
  if (!o.dryRun) {
    await mkdir(o.dir, { recursive: true });
    for (const r of records.filter((x) => !x.deleted)) {
      const entry = entryOf(r);
      await readArchiveFile(o.dir, entry); // the file must be whole before its rows go
      await recordInManifest(o.dir, o.origin, entry);
      rowsDeleted += await deleteRange(tally, o, entry.from, entry.to, entry.file, 0, 0);
      await db.query(markDeletedSql(s, o.origin, entry.from));
      resumed++;
    }
  }
  const start = records.length ? Number(records[records.length - 1]!.to_position) : 0;
  const sizes = (await db.query<{ tree_size: string }>(checkpointSizesSql(s, o.origin))).map((r) =>
    Number(r.tree_size),
  );
  const sealed = sizes.length ? sizes[sizes.length - 1]! : 0;
  const total = Math.max(0, sealed - start);
  const progress = (phase: ArchiveProgress['phase'], at: number, file: string | null) =>
    o.onProgress?.({ phase, done: at - start, total, file });
  const ranges: ArchivedRange[] = [];
  let next = start;
  let stop: ArchiveStop = 'unsealed';
  while (next < sealed) {
    if (ranges.length >= o.maxFiles || o.signal?.aborted) {
      stop = 'limit';
      break;
    }
    // One file's rows, read in pages of at most PAGE (a large result parsed at once stalls the event
    // loop of the process that also serves writes), up to the first row that may not move.
    const from = next;
    const fileEnd = Math.min(sealed, from + o.rowsPerFile);
    const rows: ArchivedRow[] = [];
    let blocked = false;
    while (!blocked && from + rows.length < fileEnd) {
      const at = from + rows.length;
      progress('scan', at, null);
      const page = await db.query<Row & ArchivedRow & { old: boolean | null; owed: boolean }>(
        archivePageSql(s, o.origin, at, Math.min(fileEnd, at + PAGE), o.before),
      );
      if (page.length === 0) break;
      for (const r of page) {
        const why: ArchiveStop | null =
          r.entity_type === null ? 'missing' : r.owed ? 'owed' : r.old !== true ? 'horizon' : null;
        if (why) {
          stop = why;
          blocked = true;
          break;
        }
        rows.push(archivedRow(r));
      }
    }
    if (rows.length === 0) break;
    const to = from + rows.length;
    const checkpointSize = sizes.find((n) => n >= to)!;
    const range: ArchivedRange = {
      file: archiveFileName(from, to, checkpointSize),
      from,
      to,
      checkpointSize,
      rows: rows.length,
      firstAt: rows[0]!.at,
      lastAt: rows[rows.length - 1]!.at,
    };
    ranges.push(range);
    if (!o.dryRun) {
      progress('write', from, range.file);
      const { bytes, sha256 } = await encodeArchive(rows);
      await writeDurably(o.dir, range.file, bytes);
      const entry = { file: range.file, from, to, checkpointSize, rows: rows.length, sha256 };
      await recordInManifest(o.dir, o.origin, entry);
      await db.query(insertArchiveSql(s, o.origin, entry, clock()));
      rowsDeleted += await deleteRange(tally, o, from, to, range.file, start, total);
      await db.query(markDeletedSql(s, o.origin, from));
    }
    next = to;
    if (blocked) break;
  }
  if (next >= sealed && stop !== 'limit') stop = 'unsealed';
  progress(o.dryRun ? 'scan' : 'delete', next, null);
  return { dryRun: o.dryRun, ranges, rowsDeleted, resumed, next, stop };
}

/** Rows read per statement while a file's range is scanned. */
const PAGE = 2000;

/**
 * Deletes the log rows of positions [from, to), `chunk` positions per statement (autocommitted each),
 * pausing `pauseMs` between statements when asked (to leave the server to the write path).
 */
async function deleteRange(
  tally: HasTallyConfig,
  o: ResolvedOptions,
  from: number,
  to: number,
  file: string,
  start: number,
  total: number,
): Promise<number> {
  const { db, s } = tally.config;
  let n = 0;
  for (let a = from; a < to; a += o.chunk) {
    const [r] = await db.query<{ n: number }>(deleteLogRangeSql(s, o.origin, a, Math.min(to, a + o.chunk)));
    n += Number(r?.n ?? 0);
    if (total > 0) o.onProgress?.({ phase: 'delete', done: Math.min(to, a + o.chunk) - start, total, file });
    if (o.pauseMs > 0) await new Promise((r) => setTimeout(r, o.pauseMs));
  }
  return n;
}

function archivedRow(r: Row & ArchivedRow): ArchivedRow {
  return {
    position: Number(r.position),
    id: r.id,
    entity_type: r.entity_type,
    entity_key: r.entity_key,
    version: r.version,
    action: r.action,
    actor: r.actor,
    source_ip: r.source_ip ?? null,
    reason: r.reason ?? null,
    request_id: r.request_id ?? null,
    command_id: r.command_id ?? null,
    before: r.before ?? null,
    after: r.after ?? null,
    before_delta: r.before_delta === true,
    changed: [...r.changed],
    at: r.at,
    prev_hash: r.prev_hash ?? null,
    hash: r.hash ?? null,
  };
}

function entryOf(r: ArchiveRecord) {
  return {
    file: r.file,
    from: Number(r.from_position),
    to: Number(r.to_position),
    checkpointSize: Number(r.checkpoint_size),
    rows: Number(r.rows),
    sha256: r.sha256,
  };
}

interface ResolvedOptions {
  origin: string;
  dir: string;
  before: Date;
  rowsPerFile: number;
  chunk: number;
  pauseMs: number;
  dryRun: boolean;
  maxFiles: number;
  onProgress: ((p: ArchiveProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

function checkOptions(o: ArchiveOptions): ResolvedOptions {
  const bad = (what: string) => new TallyError('INVALID_CONFIG', `archive: ${what}`);
  if (!o || typeof o.origin !== 'string' || o.origin === '') throw bad('origin is required');
  if (typeof o.dir !== 'string' || o.dir === '') throw bad('dir is required');
  if (!(o.before instanceof Date) || Number.isNaN(o.before.getTime()))
    throw bad('before must be a valid Date');
  const int = (v: unknown, what: string, fallback: number, max: number) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      throw bad(`${what} must be an integer from 1 to ${max}`);
    }
    return v;
  };
  return {
    origin: o.origin,
    dir: o.dir,
    before: o.before,
    rowsPerFile: int(o.rowsPerFile, 'rowsPerFile', 50_000, 1_000_000),
    chunk: int(o.chunk, 'chunk', 1000, 100_000),
    pauseMs: o.pauseMs === undefined || o.pauseMs === 0 ? 0 : int(o.pauseMs, 'pauseMs', 0, 60_000),
    dryRun: o.dryRun === true,
    maxFiles: int(o.maxFiles, 'maxFiles', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    onProgress: o.onProgress,
    signal: o.signal,
  };
}
