import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import { TallyError } from '../errors.js';
import type { LogRowLeaf } from './leaf.js';

/** One archived log row: the row's columns as stored (decision 0062), and its position in the tree. */
export interface ArchivedRow extends LogRowLeaf {
  position: number;
  id: string;
  version: string;
  before: string | null;
  after: string | null;
  at: string;
  prev_hash: string | null;
  hash: string | null;
}

/** One archive file, as the manifest lists it. */
export interface ArchiveFileEntry {
  file: string;
  /** Tree positions [from, to). */
  from: number;
  to: number;
  /** The checkpoint (tree size) that sealed the range: the smallest one at or above `to`. */
  checkpointSize: number;
  rows: number;
  /** Of the compressed file's bytes, hex. */
  sha256: string;
}

export interface ArchiveManifest {
  type: 'tally.log-archive.v1';
  origin: string;
  files: ArchiveFileEntry[];
}

export const MANIFEST = 'manifest.json';

// Compression runs on libuv's thread pool, and encoding yields every few thousand rows: an archive run
// inside an application process must not stall its event loop (bench/archive.ts measured 345 ms with the
// synchronous calls).
const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);
const YIELD_EVERY = 2000;
const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

const pad = (n: number) => String(n).padStart(12, '0');

/** The file a range is written to: its tree positions and the checkpoint that sealed it. */
export function archiveFileName(from: number, to: number, checkpointSize: number): string {
  return `log-${pad(from)}-${pad(to)}.cp${pad(checkpointSize)}.ndjson.gz`;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes `bytes` to `dir/name` durably: a temporary file, fsync, rename, fsync of the directory. */
export async function writeDurably(dir: string, name: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  const f = await open(tmp, 'w');
  try {
    await f.writeFile(bytes);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, join(dir, name));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch {
    // Some file systems refuse to fsync a directory; the rename is then as durable as they make it.
  } finally {
    await d.close();
  }
}

/** A range's rows as gzip-compressed NDJSON, one row per line in tree order; and the bytes' sha256. */
export async function encodeArchive(
  rows: readonly ArchivedRow[],
): Promise<{ bytes: Uint8Array; sha256: string }> {
  const lines: string[] = [];
  for (let i = 0; i < rows.length; i++) {
    lines.push(JSON.stringify(rows[i]));
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldLoop();
  }
  const bytes = await gzip(Buffer.from(lines.join('\n') + (rows.length ? '\n' : ''), 'utf8'));
  return { bytes, sha256: sha256Hex(bytes) };
}

/**
 * Reads an archive file back, refusing it (INVALID_EVIDENCE) unless its bytes have the expected sha256
 * and it holds exactly the positions [from, to) in order.
 */
export async function readArchiveFile(dir: string, entry: ArchiveFileEntry): Promise<ArchivedRow[]> {
  const path = join(dir, entry.file);
  if (!existsSync(path)) throw new TallyError('INVALID_EVIDENCE', `archive file ${entry.file} is missing`);
  const bytes = await readFile(path);
  if (sha256Hex(bytes) !== entry.sha256) {
    throw new TallyError('INVALID_EVIDENCE', `archive file ${entry.file} does not match its sha256`);
  }
  const rows = (await gunzip(bytes))
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ArchivedRow);
  rows.forEach((r, i) => {
    if (r.position !== entry.from + i) {
      throw new TallyError(
        'INVALID_EVIDENCE',
        `archive file ${entry.file}: position ${entry.from + i} out of order`,
      );
    }
  });
  if (rows.length !== entry.to - entry.from) {
    throw new TallyError(
      'INVALID_EVIDENCE',
      `archive file ${entry.file} holds ${rows.length} rows, not ${entry.to - entry.from}`,
    );
  }
  return rows;
}

/** The directory's manifest, or an empty one for `origin` when there is none yet. */
export function readManifest(dir: string, origin: string): ArchiveManifest {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) return { type: 'tally.log-archive.v1', origin, files: [] };
  const m = JSON.parse(readFileSync(path, 'utf8')) as ArchiveManifest;
  if (m.type !== 'tally.log-archive.v1' || !Array.isArray(m.files)) {
    throw new TallyError('INVALID_EVIDENCE', `${path} is not a Tally log archive manifest`);
  }
  if (m.origin !== origin) {
    throw new TallyError('INVALID_EVIDENCE', `${path} is the archive of another log (${m.origin})`);
  }
  return m;
}

/** Adds or replaces a file's entry (by its first position) and rewrites the manifest durably. */
export async function recordInManifest(dir: string, origin: string, entry: ArchiveFileEntry): Promise<void> {
  const m = readManifest(dir, origin);
  const files = m.files.filter((f) => f.from !== entry.from);
  files.push(entry);
  files.sort((a, b) => a.from - b.from);
  await writeDurably(dir, MANIFEST, `${JSON.stringify({ ...m, files }, null, 2)}\n`);
}
