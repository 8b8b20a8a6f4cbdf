import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { proveArchivedRow, proveConsistencyWithArchive } from '../evidence/archive-read.js';
import { readCheckpointFile } from '../evidence/checkpoint-file.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import { readTextFile } from './evidence-options.js';
import type { Io } from './io.js';
import { type databaseOptions, intOption, stringOption } from './options.js';

/**
 * `tally archive --prove`: the proof `tally proof` gives, for a row that may be archived (`--entity NAME
 * --row-key KEY --version N`) or a consistency proof (`--consistency-from FILE`), the archived leaves read
 * from the archive directory. Checked by `tally verify-proof` as usual.
 *
 * @example
 * await proveWithArchive(values, io, opts, origin, '/mnt/archive');
 */
export async function proveWithArchive(
  values: Record<string, unknown>,
  io: Io,
  opts: ReturnType<typeof databaseOptions>,
  origin: string,
  dir: string,
): Promise<number> {
  const entity = stringOption(values, 'entity', 'archive');
  const rowKey = stringOption(values, 'row-key', 'archive');
  const version = intOption(values, 'version', 'archive', 1, Number.MAX_SAFE_INTEGER);
  const from = stringOption(values, 'consistency-from', 'archive');
  const byRow = entity !== undefined && rowKey !== undefined && version !== undefined;
  const anyRow = entity !== undefined || rowKey !== undefined || version !== undefined;
  if (from !== undefined ? anyRow : !byRow) {
    throw new UsageError(
      'tally archive --prove: name the row by --entity NAME --row-key KEY --version N, or give --consistency-from FILE',
    );
  }
  let older: string | undefined;
  if (from !== undefined) {
    older = readCheckpointFile(readTextFile(from, io.cwd, '--consistency-from')).at(-1);
    if (older === undefined)
      throw new CliError('NO_CHECKPOINT', '--consistency-from: the file holds no checkpoint');
  }
  const out = stringOption(values, 'out', 'archive');
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const at = { origin, dir };
    if (older !== undefined) {
      const r = await proveConsistencyWithArchive(tally, at, older);
      if (!r.ok) throw new CliError(r.reason, r.message);
      write(io, out, r.proof, `the checkpoint of ${r.newerSize} rows extends the one of ${r.olderSize}`);
      return EXIT_OK;
    }
    const r = await proveArchivedRow(tally, at, {
      entityType: entity!,
      entityKey: rowKey!,
      version: version!,
    });
    if (!r.ok) {
      throw new CliError(
        r.reason,
        r.reason === 'NOT_IN_LOG'
          ? `${entity} ${rowKey} version ${version} is not in the archive (tally proof finds rows still in the log)`
          : r.message,
      );
    }
    write(
      io,
      out,
      r.proof,
      `${entity} ${rowKey} version ${version} at tree position ${r.position} of the checkpoint of ${r.treeSize} rows`,
    );
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}

function write(io: Io, out: string | undefined, proof: object, what: string): void {
  const json = JSON.stringify(proof, null, 2);
  if (out === undefined) {
    io.out(json);
    return;
  }
  try {
    writeFileSync(resolve(io.cwd, out), `${json}\n`);
  } catch {
    throw new CliError('FILE_UNWRITABLE', '--out: the file cannot be written');
  }
  io.out(`wrote ${out}: ${what}`);
}
