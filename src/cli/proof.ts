import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { proveLogRow } from '../evidence/prove.js';
import { logIdOfSql } from '../evidence/sql.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import { originOption } from './evidence-options.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, intOption, parseCommand, stringOption } from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  entity: { type: 'string' },
  key: { type: 'string' },
  version: { type: 'string' },
  id: { type: 'string' },
  origin: { type: 'string' },
  out: { type: 'string' },
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
  const byEntity = entity !== undefined && key !== undefined && version !== undefined;
  const anyEntity = entity !== undefined || key !== undefined || version !== undefined;
  if (id !== undefined ? anyEntity : !byEntity) {
    throw new UsageError(
      'tally proof: name the row by --entity NAME --key KEY --version N, or by --id LOG_ID',
    );
  }
  if (id !== undefined && !/^\d{1,18}$/.test(id))
    throw new UsageError('tally proof: --id must be a log row id');
  const out = stringOption(values, 'out', 'proof');
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    let logId = id;
    if (logId === undefined) {
      const [row] = await conn.db.query<{ id: string }>(logIdOfSql(tally.config.s, entity!, key!, version!));
      if (!row) {
        throw new CliError(
          'NOT_IN_LOG',
          `${entity} ${key} has no log row at version ${version} (the key as Tally stores it: integers in decimal, UUIDs in lower case)`,
        );
      }
      logId = row.id;
    }
    const r = await proveLogRow(tally, origin, logId);
    if (!r.ok) throw new CliError(r.reason, r.message);
    const json = JSON.stringify(r.proof, null, 2);
    if (out === undefined) {
      io.out(json);
    } else {
      try {
        writeFileSync(resolve(io.cwd, out), `${json}\n`);
      } catch {
        throw new CliError('FILE_UNWRITABLE', '--out: the file cannot be written');
      }
      const row = r.proof.row!;
      io.out(
        `wrote ${out}: log row ${row.id} (${row.entity_type} ${row.entity_key} version ${row.version}) at tree position ${r.position} of the checkpoint of ${r.treeSize} rows`,
      );
    }
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
