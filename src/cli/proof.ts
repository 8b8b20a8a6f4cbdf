import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { proveArchivedRow, proveConsistencyWithArchive } from '../evidence/archive-read.js';
import { archiveRanges } from '../evidence/archive-verify.js';
import { readCheckpointFile } from '../evidence/checkpoint-file.js';
import { proveConsistency, proveLogRow } from '../evidence/prove.js';
import { logIdOfSql } from '../evidence/sql.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import { originOption, readTextFile } from './evidence-options.js';
import type { Io } from './io.js';
import {
  DATABASE_OPTIONS,
  type DatabaseOptions,
  databaseOptions,
  intOption,
  parseCommand,
  stringOption,
} from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  entity: { type: 'string' },
  key: { type: 'string' },
  version: { type: 'string' },
  id: { type: 'string' },
  'consistency-from': { type: 'string' },
  origin: { type: 'string' },
  out: { type: 'string' },
  archive: { type: 'string' },
} as const;

/**
 * `tally proof --entity NAME --key KEY --version N` (or `--id LOG_ID`): an inclusion proof of one log row
 * against the latest checkpoint, as JSON (the file `tally verify-proof` reads).
 *
 * @example
 * await proofCommand(['--entity', 'resource', '--key', '42', '--version', '3', '--out', 'proof.json'], io);
 */
export async function proofCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('proof', args, OPTIONS);
  const opts = databaseOptions(values, 'proof');
  const origin = originOption(values, io.env, opts.schema, 'proof');
  const entity = stringOption(values, 'entity', 'proof');
  const key = stringOption(values, 'key', 'proof');
  const version = intOption(values, 'version', 'proof', 1, Number.MAX_SAFE_INTEGER);
  const id = stringOption(values, 'id', 'proof');
  const from = stringOption(values, 'consistency-from', 'proof');
  const byEntity = entity !== undefined && key !== undefined && version !== undefined;
  const anyEntity = entity !== undefined || key !== undefined || version !== undefined;
  if (from !== undefined ? anyEntity || id !== undefined : id !== undefined ? anyEntity : !byEntity) {
    throw new UsageError(
      'tally proof: name the row by --entity NAME --key KEY --version N, or by --id LOG_ID; or give --consistency-from FILE alone',
    );
  }
  if (from !== undefined) return consistency(io, opts, origin, from, values);
  if (id !== undefined && !/^\d{1,18}$/.test(id))
    throw new UsageError('tally proof: --id must be a log row id');
  const out = stringOption(values, 'out', 'proof');
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const archive = archiveOption(values, io.cwd);
    const archived = (await archiveRanges(tally, origin)).length > 0;
    let logId = id;
    if (logId === undefined) {
      const [row] = await conn.db.query<{ id: string }>(logIdOfSql(tally.config.s, entity!, key!, version!));
      if (!row && archive !== undefined) {
        // Not in the table: it may be in an archived range (tally archive), proven from the files.
        const at = { origin, dir: archive };
        const a = await proveArchivedRow(tally, at, {
          entityType: entity!,
          entityKey: key!,
          version: version!,
        });
        if (!a.ok) throw new CliError(a.reason, a.message);
        writeProof(
          io,
          out,
          a.proof,
          `archived ${entity} ${key} version ${version} at tree position ${a.position} of the checkpoint of ${a.treeSize} rows`,
        );
        return EXIT_OK;
      }
      if (!row) {
        throw new CliError(
          'NOT_IN_LOG',
          `${entity} ${key} has no log row at version ${version} (the key as Tally stores it: integers in decimal, UUIDs in lower case)${archived ? '; part of the log is archived: pass --archive DIR to look there' : ''}`,
        );
      }
      logId = row.id;
    }
    const r = await proveLogRow(tally, origin, logId);
    if (!r.ok) throw new CliError(r.reason, r.message);
    const row = r.proof.row!;
    writeProof(
      io,
      out,
      r.proof,
      `log row ${row.id} (${row.entity_type} ${row.entity_key} version ${row.version}) at tree position ${r.position} of the checkpoint of ${r.treeSize} rows`,
    );
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}

async function consistency(
  io: Io,
  opts: DatabaseOptions,
  origin: string,
  from: string,
  values: Record<string, unknown>,
): Promise<number> {
  const older = readCheckpointFile(readTextFile(from, io.cwd, '--consistency-from')).at(-1);
  if (older === undefined)
    throw new CliError('NO_CHECKPOINT', '--consistency-from: the file holds no checkpoint');
  const out = stringOption(values, 'out', 'proof');
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const archive = archiveOption(values, io.cwd);
    const r =
      archive === undefined
        ? await proveConsistency(tally, origin, older)
        : await proveConsistencyWithArchive(tally, { origin, dir: archive }, older);
    if (!r.ok) throw new CliError(r.reason, r.message);
    writeProof(io, out, r.proof, `the checkpoint of ${r.newerSize} rows extends the one of ${r.olderSize}`);
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}

function archiveOption(values: Record<string, unknown>, cwd: string): string | undefined {
  const dir = stringOption(values, 'archive', 'proof');
  return dir === undefined ? undefined : resolve(cwd, dir);
}

function writeProof(io: Io, out: string | undefined, proof: object, what: string): void {
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
