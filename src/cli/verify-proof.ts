import { verifyProof } from '../evidence/verify.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import { readTextFile, trustedKeysOption } from './evidence-options.js';
import type { Io } from './io.js';
import { parseWithPositionals, stringOption } from './options.js';

export const OPTIONS = {
  key: { type: 'string', multiple: true },
  origin: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `tally verify-proof FILE [--key PEM_FILE]... [--origin NAME]`: checks a proof file offline (no
 * database). Exit 0 and what it proved, or exit 1 as `error REASON: message` (verifyProof's reasons).
 *
 * @example
 * await verifyProofCommand(['proof.json', '--key', 'seal.pub'], io);
 */
export async function verifyProofCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseWithPositionals('verify-proof', args, OPTIONS, 1);
  const file = positionals[0];
  if (file === undefined) throw new UsageError('tally verify-proof: FILE (the proof file) is required');
  const origin = stringOption(values, 'origin', 'verify-proof');
  const keys = trustedKeysOption(values, io.env, io.cwd, 'verify-proof');
  const text = readTextFile(file, io.cwd, 'FILE');
  const v = verifyProof(text, { trustedKeys: keys, ...(origin === undefined ? {} : { origin }) });
  if (!v.ok) throw new CliError(v.reason, v.message);
  const by = `signed by key ${v.keyIds.join(', ')}`;
  if (v.kind === 'inclusion') {
    const cp = v.checkpoint;
    const what = v.row
      ? `log row ${v.row.id} (${v.row.entity_type} ${v.row.entity_key} version ${v.row.version}, ${v.row.action} by ${v.row.actor} at ${v.row.at})`
      : `leaf ${v.leafHash}`;
    io.out(`ok: ${what} is at tree position ${v.index} of ${cp.origin}`);
    io.out(`in the checkpoint of ${cp.treeSize} rows at ${cp.time}, root ${cp.rootHash}, ${by}`);
  } else {
    io.out(
      `ok: the checkpoint of ${v.newer.treeSize} rows at ${v.newer.time} extends the one of ${v.older.treeSize} rows at ${v.older.time} of ${v.newer.origin}`,
    );
    io.out(`${v.adjacent ? 'adjacent (no checkpoint between them), ' : ''}${by}`);
  }
  return EXIT_OK;
}
