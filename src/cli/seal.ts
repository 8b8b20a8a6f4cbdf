import { appendFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkpointFileEntry, readCheckpointFile } from '../evidence/checkpoint-file.js';
import { sealOnce } from '../evidence/sealer.js';
import { latestCheckpointSql } from '../evidence/sql.js';
import { plural } from '../plural.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK } from './errors.js';
import { originOption, readTextFile, sealKeyOption } from './evidence-options.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, parseCommand, stringOption } from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  'key-file': { type: 'string' },
  origin: { type: 'string' },
  out: { type: 'string' },
} as const;

/**
 * `tally seal [--key-file PATH] [--origin NAME] [--out FILE]`: seals what is unsealed now and signs one
 * checkpoint; with --out, appends it to an append-only file outside the database.
 *
 * @example
 * await sealCommand(['--key-file', 'seal.pem', '--out', '/mnt/worm/checkpoints.txt'], io);
 */
export async function sealCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('seal', args, OPTIONS);
  const opts = databaseOptions(values, 'seal');
  const origin = originOption(values, io.env, opts.schema, 'seal');
  const out = stringOption(values, 'out', 'seal');
  const key = sealKeyOption(values, io.env, io.cwd);
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const r = await sealOnce(tally, { key, origin });
    if (r.note === null) {
      io.out(`nothing new to seal: the latest checkpoint of ${origin} covers all ${r.treeSize} rows`);
    } else {
      const root = r.note.split('\n')[2];
      io.out(`sealed ${plural(r.appended, 'new row')} of ${origin}: tree size ${r.treeSize}, root ${root}`);
      io.out('checkpoint:');
      io.out(r.note.replace(/\n$/, ''));
    }
    if (out !== undefined) {
      // The latest checkpoint goes to the file unless it is already its last note, so a run whose append
      // failed is made good by the next one, signed or not.
      const [latest] = await conn.db.query<{ note: string }>(latestCheckpointSql(tally.config.s, origin));
      const path = resolve(io.cwd, out);
      const last = existsSync(path)
        ? readCheckpointFile(readTextFile(out, io.cwd, '--out')).at(-1)
        : undefined;
      if (latest && latest.note !== last) {
        try {
          appendFileSync(path, checkpointFileEntry(latest.note));
        } catch {
          throw new CliError(
            'FILE_UNWRITABLE',
            '--out: the file cannot be appended to (the checkpoint is signed and stored; run tally seal --out again to copy it)',
          );
        }
        io.out(`appended the checkpoint of ${plural(Number(latest.note.split('\n')[1]), 'row')} to ${out}`);
      }
    }
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
