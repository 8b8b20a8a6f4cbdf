import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TallyError } from '../errors.js';

/**
 * Ed25519 keys for sealing. A checkpoint names its key by a key id derived from the public key, so a
 * verifier holding several trusted public keys (old and new, across a rotation) knows which to try, and
 * a key id can never point at a different key than the one it was made from.
 */
export interface SealKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** `keyIdOf(publicKey)`. */
  readonly keyId: string;
}

/** A public key a verifier accepts signatures from. */
export interface TrustedKey {
  readonly publicKey: KeyObject;
  readonly keyId: string;
  /** The signed-note key hash: SHA-256(keyId || "\n" || 0x01 || raw key), first 4 bytes. */
  readonly keyHash: Uint8Array;
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawPublicKey(publicKey: KeyObject): Uint8Array {
  const x = publicKey.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new TallyError('INVALID_CONFIG', 'seal key: not an Ed25519 public key');
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

/**
 * The key id: the first 8 bytes of SHA-256 of the raw public key, as 16 hex digits.
 *
 * @example
 * keyIdOf(loadSealKey()!.publicKey); // '3f9a0c…' (16 hex digits)
 */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 16);
}

/** The 4-byte key hash a signed-note signature line starts with (C2SP signed-note, Ed25519). */
export function noteKeyHash(keyId: string, publicKey: KeyObject): Uint8Array {
  const h = createHash('sha256')
    .update(`${keyId}\n`)
    .update(Uint8Array.of(0x01))
    .update(rawPublicKey(publicKey));
  return new Uint8Array(h.digest().subarray(0, 4));
}

function ed25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TallyError('INVALID_CONFIG', `${what} is not an Ed25519 key`);
  }
  return key;
}

/**
 * A seal key from a PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519`).
 *
 * @example
 * const key = sealKeyFromPem(readFileSync('/run/secrets/tally-seal.pem', 'utf8'));
 */
export function sealKeyFromPem(pem: string): SealKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    // The cause names no key material, but keep it out of the message all the same.
    throw new TallyError('INVALID_CONFIG', 'seal key: not a PEM private key', { cause });
  }
  return sealKeyFrom(ed25519(privateKey, 'seal key'));
}

/** A seal key from a private KeyObject. */
export function sealKeyFrom(privateKey: KeyObject): SealKey {
  if (privateKey.type !== 'private') throw new TallyError('INVALID_CONFIG', 'seal key: not a private key');
  ed25519(privateKey, 'seal key');
  const publicKey = createPublicKey(privateKey);
  return Object.freeze({ privateKey, publicKey, keyId: keyIdOf(publicKey) });
}

/**
 * A new random seal key (store `sealKeyPem(key)` somewhere only the sealer reads).
 *
 * @example
 * const key = generateSealKey();
 * writeFileSync('seal.pem', sealKeyPem(key), { mode: 0o600 });
 */
export function generateSealKey(): SealKey {
  return sealKeyFrom(generateKeyPairSync('ed25519').privateKey);
}

/** The private key as PKCS#8 PEM. */
export function sealKeyPem(key: SealKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The public key as SPKI PEM: what verifiers are given. */
export function publicKeyPem(key: SealKey | KeyObject): string {
  const pub = 'keyId' in key ? key.publicKey : key;
  return pub.export({ format: 'pem', type: 'spki' }).toString();
}

/**
 * The seal key from the environment: `TALLY_SEAL_KEY` (the PEM text itself) or `TALLY_SEAL_KEY_FILE`
 * (a path to it); `undefined` when neither is set. Both set is a configuration error, not a choice.
 *
 * @example
 * const key = loadSealKey(); // reads process.env
 */
export function loadSealKey(
  env: Readonly<Record<string, string | undefined>> = process.env,
): SealKey | undefined {
  const inline = env.TALLY_SEAL_KEY;
  const file = env.TALLY_SEAL_KEY_FILE;
  if (inline && file) {
    throw new TallyError('INVALID_CONFIG', 'set TALLY_SEAL_KEY or TALLY_SEAL_KEY_FILE, not both');
  }
  if (inline) return sealKeyFromPem(inline);
  if (!file) return undefined;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new TallyError('INVALID_CONFIG', 'TALLY_SEAL_KEY_FILE: the file cannot be read', { cause });
  }
  return sealKeyFromPem(pem);
}

/**
 * The keys a verifier trusts, from SPKI PEM texts or public KeyObjects (a seal key's public half too).
 *
 * @example
 * const trusted = trustedKeys([readFileSync('seal-2026.pub', 'utf8'), readFileSync('seal-2027.pub', 'utf8')]);
 */
export function trustedKeys(keys: readonly (string | KeyObject | SealKey)[]): TrustedKey[] {
  if (!Array.isArray(keys)) throw new TallyError('INVALID_CONFIG', 'trusted keys: expected a list');
  return keys.map((k, i) => {
    let publicKey: KeyObject;
    if (typeof k === 'string') {
      try {
        publicKey = createPublicKey({ key: k, format: 'pem' });
      } catch (cause) {
        throw new TallyError('INVALID_CONFIG', `trusted key ${i + 1}: not a PEM public key`, { cause });
      }
    } else if (k instanceof KeyObject) {
      publicKey = k.type === 'private' ? createPublicKey(k) : k;
    } else if (k && typeof k === 'object' && k.publicKey instanceof KeyObject) {
      publicKey = k.publicKey;
    } else {
      throw new TallyError('INVALID_CONFIG', `trusted key ${i + 1}: expected a PEM text or a KeyObject`);
    }
    ed25519(publicKey, `trusted key ${i + 1}`);
    const keyId = keyIdOf(publicKey);
    return Object.freeze({ publicKey, keyId, keyHash: noteKeyHash(keyId, publicKey) });
  });
}
