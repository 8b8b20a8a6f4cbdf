import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkpointBody } from '../evidence/checkpoint.js';
import { EMPTY_ROOT, toBase64 } from '../evidence/hash.js';
import { loadSealKey, type SealKey, sealKeyFromPem, type TrustedKey, trustedKeys } from '../evidence/keys.js';
import { CliError, UsageError } from './errors.js';
import { optionCheck, stringOption } from './options.js';

// What `tally seal`, `proof`, `verify` and `verify-proof` share: the log's origin, the seal key, the
// trusted public keys, and reading the files they name.

/** `--origin NAME`, else TALLY_SEAL_ORIGIN, else `tally SCHEMA`: the log's name in its checkpoints. */
export function originOption(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  schema: string,
  command: string,
): string {
  const origin = stringOption(values, 'origin', command) ?? (env.TALLY_SEAL_ORIGIN || `tally ${schema}`);
  // The checkpoint's own check of the origin line, so a bad one is a usage error before anything opens.
  optionCheck(command, () =>
    checkpointBody({
      origin,
      treeSize: 0,
      rootHash: toBase64(EMPTY_ROOT),
      time: new Date(0).toISOString(),
      previousCheckpointHash: null,
    }),
  );
  return origin;
}

/** A file's text, or FILE_UNREADABLE naming which option pointed at it (not its contents). */
export function readTextFile(path: string, cwd: string, what: string): string {
  try {
    return readFileSync(resolve(cwd, path), 'utf8');
  } catch {
    throw new CliError('FILE_UNREADABLE', `${what}: the file cannot be read`);
  }
}

/** `--key-file PATH`, else TALLY_SEAL_KEY / TALLY_SEAL_KEY_FILE: the private key that signs. */
export function sealKeyOption(values: Record<string, unknown>, env: NodeJS.ProcessEnv, cwd: string): SealKey {
  const file = stringOption(values, 'key-file', 'seal');
  if (file !== undefined) {
    if (env.TALLY_SEAL_KEY || env.TALLY_SEAL_KEY_FILE) {
      throw new UsageError('tally seal: --key-file and TALLY_SEAL_KEY(_FILE) both name a key; use one');
    }
    return sealKeyFromPem(readTextFile(file, cwd, '--key-file'));
  }
  const key = loadSealKey(env);
  if (!key) {
    throw new CliError(
      'NO_SEAL_KEY',
      'no seal key: pass --key-file PATH or set TALLY_SEAL_KEY or TALLY_SEAL_KEY_FILE (an Ed25519 PKCS#8 PEM)',
    );
  }
  return key;
}

const PUBLIC_PEM = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g;

/**
 * The trusted public keys: every `--key PEM_FILE` (a file may hold several keys, e.g. across a
 * rotation), else TALLY_SEAL_PUBLIC_KEY (PEM text) or TALLY_SEAL_PUBLIC_KEY_FILE. Never the key being
 * checked's own claim: with none given the command refuses (NO_TRUSTED_KEY).
 */
export function trustedKeysOption(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  cwd: string,
  command: string,
): TrustedKey[] {
  const files = values.key === undefined ? [] : ([] as unknown[]).concat(values.key);
  const texts: string[] = [];
  for (const f of files) {
    if (typeof f !== 'string' || f.trim() === '')
      throw new UsageError(`tally ${command}: --key needs a value`);
    texts.push(readTextFile(f, cwd, '--key'));
  }
  if (texts.length === 0) {
    if (env.TALLY_SEAL_PUBLIC_KEY && env.TALLY_SEAL_PUBLIC_KEY_FILE) {
      throw new CliError(
        'INVALID_CONFIG',
        'set TALLY_SEAL_PUBLIC_KEY or TALLY_SEAL_PUBLIC_KEY_FILE, not both',
      );
    }
    if (env.TALLY_SEAL_PUBLIC_KEY) texts.push(env.TALLY_SEAL_PUBLIC_KEY);
    else if (env.TALLY_SEAL_PUBLIC_KEY_FILE)
      texts.push(readTextFile(env.TALLY_SEAL_PUBLIC_KEY_FILE, cwd, 'TALLY_SEAL_PUBLIC_KEY_FILE'));
  }
  if (texts.length === 0) {
    throw new CliError(
      'NO_TRUSTED_KEY',
      `tally ${command} needs the public key(s) to trust: --key PEM_FILE, or TALLY_SEAL_PUBLIC_KEY(_FILE)`,
    );
  }
  // A text without a PEM block goes to trustedKeys whole, which says it is not a public key.
  return trustedKeys(texts.flatMap((t) => t.match(PUBLIC_PEM) ?? [t]));
}
