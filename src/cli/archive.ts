import { resolve } from 'node:path';
import { type ArchiveResult, archiveLog } from '../evidence/archive.js';
import { verifyArchivedLog } from '../evidence/archive-verify.js';
import { openCheckpoint } from '../evidence/checkpoint.js';
import { readCheckpointFile } from '../evidence/checkpoint-file.js';
import { plural } from '../plural.js';
import { createTally } from '../tally.js';
import { archiveProgress } from './archive-progress.js';
import { proveWithArchive } from './archive-prove.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import { originOption, readTextFile, trustedKeysOption } from './evidence-options.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, intOption, parseCommand, stringOption } from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  dir: { type: 'string' },
  'older-than': { type: 'string' },
  before: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'rows-per-file': { type: 'string' },
  chunk: { type: 'string' },
  'pause-ms': { type: 'string' },
  verify: { type: 'boolean' },
  key: { type: 'string', multiple: true },
  checkpoint: { type: 'string' },
  prove: { type: 'boolean' },
  entity: { type: 'string' },
  'row-key': { type: 'string' },
  version: { type: 'string' },
  'consistency-from': { type: 'string' },
  out: { type: 'string' },
  origin: { type: 'string' },
} as const;

const AGE = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The horizon from --older-than AGE (relative to now) or --before TIME; exactly one. */
function horizonOf(values: Record<string, unknown>, now: Date): Date {
  const age = stringOption(values, 'older-than', 'archive');
  const before = stringOption(values, 'before', 'archive');
  if ((age === undefined) === (before === undefined)) {
    throw new UsageError('tally archive: give exactly one of --older-than AGE and --before TIME');
  }
  if (age !== undefined) {
    const m = /^(\d{1,7})(m|h|d)$/.exec(age);
    if (!m) throw new UsageError("tally archive: --older-than must be like '90d', '12h' or '30m'");
    return new Date(now.getTime() - Number(m[1]) * AGE[m[2] as keyof typeof AGE]);
  }
  const t = new Date(before!);
  if (!/^\d{4}-\d{2}-\d{2}/.test(before!) || Number.isNaN(t.getTime())) {
    throw new UsageError('tally archive: --before must be an ISO 8601 time, e.g. 2026-01-01T00:00:00Z');
  }
  return t;
}

function printRanges(io: Io, r: ArchiveResult): void {
  for (const x of r.ranges) {
    io.out(
      `${r.dryRun ? 'would write' : 'wrote'} ${x.file}: ${plural(x.rows, 'row')}, ${x.firstAt} .. ${x.lastAt}`,
    );
  }
}

const STOPS: Record<ArchiveResult['stop'], string> = {
  horizon: 'the next row is newer than the horizon',
  unsealed: 'everything the latest checkpoint sealed has moved (run tally seal to seal more)',
  owed: 'a log feed consumer has not been handed the next row yet',
  missing: 'the next sealed row is not in the log (run tally verify)',
  limit: 'stopped',
};

/**
 * `tally archive --dir DIR --older-than AGE [--dry-run]`: moves sealed log rows older than the horizon to
 * gzip NDJSON files; `--verify` audits the log with its archive instead.
 *
 * @example
 * await archiveCommand(['--dir', '/mnt/archive', '--older-than', '90d', '--dry-run'], io);
 */
export async function archiveCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('archive', args, OPTIONS);
  const opts = databaseOptions(values, 'archive');
  const origin = originOption(values, io.env, opts.schema, 'archive');
  const dirArg = stringOption(values, 'dir', 'archive');
  if (dirArg === undefined) throw new UsageError('tally archive: --dir DIR is required');
  const dir = resolve(io.cwd, dirArg);
  if (values.verify === true && values.prove === true) {
    throw new UsageError('tally archive: --verify and --prove are two commands; give one');
  }
  if (values.verify === true) return verifyWithArchive(values, io, opts, origin, dir);
  if (values.prove === true) return proveWithArchive(values, io, opts, origin, dir);
  const before = horizonOf(values, new Date());
  const rowsPerFile = intOption(values, 'rows-per-file', 'archive', 1, 1_000_000);
  const chunk = intOption(values, 'chunk', 'archive', 1, 100_000);
  const pauseMs = intOption(values, 'pause-ms', 'archive', 0, 60_000);
  const dryRun = values['dry-run'] === true;
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  const progress = archiveProgress(io);
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const r = await archiveLog(tally, {
      origin,
      dir,
      before,
      dryRun,
      ...(rowsPerFile === undefined ? {} : { rowsPerFile }),
      ...(chunk === undefined ? {} : { chunk }),
      ...(pauseMs === undefined ? {} : { pauseMs }),
      onProgress: progress.update,
    });
    progress.end();
    if (r.resumed > 0) io.out(`finished ${plural(r.resumed, 'interrupted range')}`);
    printRanges(io, r);
    const rows = r.ranges.reduce((n, x) => n + x.rows, 0);
    io.out(
      r.dryRun
        ? `dry run: ${plural(rows, 'row')} in ${plural(r.ranges.length, 'file')} would move; nothing changed`
        : `archived ${plural(rows, 'row')} in ${plural(r.ranges.length, 'file')} to ${dirArg}; ${plural(r.rowsDeleted, 'log row')} deleted`,
    );
    io.out(`tree positions 0 to ${r.next - 1} are archived; ${STOPS[r.stop]}`);
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}

async function verifyWithArchive(
  values: Record<string, unknown>,
  io: Io,
  opts: ReturnType<typeof databaseOptions>,
  origin: string,
  dir: string,
): Promise<number> {
  const keys = trustedKeysOption(values, io.env, io.cwd, 'archive');
  const file = stringOption(values, 'checkpoint', 'archive');
  let external: string | undefined;
  if (file !== undefined) {
    external = readCheckpointFile(readTextFile(file, io.cwd, '--checkpoint')).at(-1);
    if (external === undefined)
      throw new CliError('NO_CHECKPOINT', '--checkpoint: the file holds no checkpoint');
    const opened = openCheckpoint(external, keys);
    if (!opened.ok) throw new CliError(opened.reason, `the external checkpoint: ${opened.message}`);
  }
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const audit = await verifyArchivedLog(tally, origin, keys, { dir, ...(external ? { external } : {}) });
    if (!audit.ok) {
      const where =
        'range' in audit && audit.range
          ? ` (tree positions ${audit.range.from} to ${audit.range.to - 1})`
          : '';
      throw new CliError(audit.reason, `${origin}: ${audit.message}${where}`);
    }
    io.out(
      `ok: ${origin}: ${plural(audit.sealed, 'sealed row')} (archived ones read from the archive) match ${plural(audit.checkpoints, 'checkpoint')}`,
    );
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
