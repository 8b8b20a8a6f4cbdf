import { resolve } from 'node:path';
import { isTallyError } from '../errors.js';
import { leafHashesWithArchive } from '../evidence/archive-verify.js';
import { openCheckpoint } from '../evidence/checkpoint.js';
import { readCheckpointFile } from '../evidence/checkpoint-file.js';
import { auditSealedLog } from '../evidence/sealer.js';
import { plural } from '../plural.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import { originOption, readTextFile, trustedKeysOption } from './evidence-options.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, parseCommand, stringOption } from './options.js';
import { sinkFromSpec } from './seal-sinks.js';
import { suspectRowsSql } from './verify-sql.js';

type Suspect = {
  position: string;
  log_id: string;
  entity_type: string | null;
  entity_key: string | null;
  version: string | null;
};

function describe(r: Suspect): string {
  return r.entity_type === null
    ? `position ${r.position}: log row ${r.log_id} is gone`
    : `position ${r.position}: log row ${r.log_id} (${r.entity_type} ${r.entity_key} version ${r.version}) no longer fits its hash, version or images`;
}

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  key: { type: 'string', multiple: true },
  checkpoint: { type: 'string' },
  sink: { type: 'string' },
  nats: { type: 'string' },
  origin: { type: 'string' },
  archive: { type: 'string' },
} as const;

/**
 * `tally verify [--key PEM_FILE]... [--checkpoint FILE | --sink SPEC]`: audits the database's log against
 * its signed checkpoints and the latest external one (a checkpoint file, or the newest checkpoint a sink
 * holds: `file:PATH`, `nats:SUBJECT`). Exit 1 as `error REASON: message` when they disagree.
 *
 * @example
 * await verifyCommand(['--key', 'seal.pub', '--checkpoint', '/mnt/worm/checkpoints.txt'], io);
 */
export async function verifyCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('verify', args, OPTIONS);
  const opts = databaseOptions(values, 'verify');
  const origin = originOption(values, io.env, opts.schema, 'verify');
  const keys = trustedKeysOption(values, io.env, io.cwd, 'verify');
  const file = stringOption(values, 'checkpoint', 'verify');
  const spec = stringOption(values, 'sink', 'verify');
  if (file !== undefined && spec !== undefined) {
    throw new UsageError('tally verify: give --checkpoint FILE or --sink SPEC, not both');
  }
  let external: string | undefined;
  if (file !== undefined) {
    external = readCheckpointFile(readTextFile(file, io.cwd, '--checkpoint')).at(-1);
    if (external === undefined)
      throw new CliError('NO_CHECKPOINT', '--checkpoint: the file holds no checkpoint');
  } else if (spec !== undefined) {
    const servers = stringOption(values, 'nats', 'verify') ?? io.env.NATS_URL ?? '127.0.0.1:4222';
    const sink = await sinkFromSpec(spec, { cwd: io.cwd, servers, command: 'verify' });
    try {
      external = (await sink.latest()) ?? undefined;
    } finally {
      await sink.close?.();
    }
    if (external === undefined)
      throw new CliError('NO_CHECKPOINT', `--sink: ${sink.name} holds no checkpoint`);
  }
  if (external !== undefined) {
    const opened = openCheckpoint(external, keys);
    if (!opened.ok) throw new CliError(opened.reason, `the external checkpoint: ${opened.message}`);
    if (opened.checkpoint.origin !== origin) {
      throw new CliError('ORIGIN_MISMATCH', 'the external checkpoint is of another log than --origin names');
    }
  }
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    // One read of the rows: the stored checkpoints' audit, the external one's, and the rows not in the tree.
    const archiveArg = stringOption(values, 'archive', 'verify');
    const archive = archiveArg === undefined ? undefined : resolve(io.cwd, archiveArg);
    // Archived ranges (tally archive) are read back from their files: verified, not skipped.
    const report = await auditSealedLog(tally, origin, keys, external, {
      countUnappended: true,
      leafHashes: (size) => leafHashesWithArchive(tally, origin, size, archive),
    }).catch((err: unknown) => {
      throw archiveError(err);
    });
    const stored = report.stored;
    const audit = report.external ?? stored;
    if (!audit.ok) {
      let where = '';
      if (audit.range) {
        where = ` (tree positions ${audit.range.from} to ${audit.range.to - 1})`;
        if (audit.reason === 'ROOT_MISMATCH') {
          const { from, to } = audit.range;
          const rows = await conn.db.query<Suspect>(suspectRowsSql(tally.config.s, origin, from, to, 11));
          where += rows.length
            ? `; ${rows.slice(0, 10).map(describe).join('; ')}${rows.length > 10 ? '; ...' : ''}`
            : '; no row there is out of place by hash, version or images: a row was changed in place (its metadata, or its hash recomputed)';
        }
      }
      if (report.external !== null && audit.reason !== 'ROWS_MISSING') {
        // The database agrees with itself and not with the copy it cannot rewrite: a fork.
        where += `; the database's own checkpoints match its rows, the external one does not: it was rolled back and went on, or its history was rewritten and sealed again`;
      }
      throw new CliError(audit.reason, `${origin}: ${audit.message}${where}`);
    }
    if (!stored.ok) return EXIT_OK; // not reached: a failed audit threw above
    const externalSize = external === undefined ? 0 : Number(external.split('\n')[1]);
    if (externalSize > stored.sealed) {
      // tally seal stores a checkpoint before it copies it out: a copy newer than every stored one means
      // stored checkpoints were deleted (the rows they sealed still match the copy).
      throw new CliError(
        'CHECKPOINTS_MISSING',
        `${origin}: the external checkpoint sealed ${externalSize} rows, the database's checkpoints only ${stored.sealed}: checkpoints were deleted from the database`,
      );
    }
    // Rows no checkpoint covers are not vouched for: say how many rather than pass over them in silence.
    const unsealed = stored.unsealed + (report.unappended ?? 0);
    const waiting = `${plural(unsealed, 'log row')} not sealed yet (after the latest checkpoint; run tally seal)`;
    if (stored.checkpoints === 0 && external === undefined) {
      io.out(`${origin}: no checkpoints yet (run tally seal); nothing to check`);
      if (unsealed > 0) io.out(waiting);
      return EXIT_OK;
    }
    io.out(
      `ok: ${origin}: ${plural(stored.sealed, 'sealed row')} match ${plural(stored.checkpoints, 'checkpoint')} (signatures, chain, roots)`,
    );
    if (external !== undefined) io.out(`the external checkpoint of ${externalSize} rows matches too`);
    if (unsealed > 0) io.out(waiting);
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}

/** An archive the audit needs and cannot use, as the CLI says it: what to pass, or what is wrong. */
export function archiveError(err: unknown): unknown {
  if (isTallyError(err, 'INVALID_CONFIG') && /archived/.test(err.message)) {
    return new CliError('ARCHIVED', `${err.message}: pass --archive DIR (where tally archive wrote them)`);
  }
  if (isTallyError(err, 'INVALID_EVIDENCE')) return new CliError('ARCHIVE_UNUSABLE', err.message);
  return err;
}
