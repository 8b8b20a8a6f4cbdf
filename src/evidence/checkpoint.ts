import { createHash, sign, verify } from 'node:crypto';
import { TallyError } from '../errors.js';
import { fromBase64, HASH_SIZE } from './hash.js';
import { noteKeyHash, type SealKey, type TrustedKey } from './keys.js';

/**
 * A checkpoint: what the log held at one moment, signed. Its text is a C2SP signed note whose body is a
 * tlog-checkpoint (origin, size, root) with two extension lines Tally adds (decision 0060):
 *
 *     <origin>
 *     <tree size, decimal>
 *     <root hash, base64>
 *     time <ISO 8601 UTC, milliseconds>
 *     prev <base64 SHA-256 of the previous checkpoint's body, or "none" for the first>
 *
 *     — <key id> <base64 of key hash (4 bytes) || Ed25519 signature of the body (64 bytes)>
 *
 * `prev` chains checkpoints: a forked or rewritten sequence of checkpoints cannot keep every later one.
 */
export interface Checkpoint {
  /** Names the log (e.g. `tally example.com/orders`); a verifier can insist on it. */
  origin: string;
  treeSize: number;
  /** Base64 Merkle Tree Hash of the first `treeSize` leaves. */
  rootHash: string;
  /** ISO 8601 UTC, milliseconds: `2026-12-07T09:00:00.000Z`. */
  time: string;
  /** Base64 `checkpointHash` of the previous checkpoint; null for the first. */
  previousCheckpointHash: string | null;
}

const ORIGIN = /^[!-~]+(?: [!-~]+)*$/;
const SIZE = /^(?:0|[1-9][0-9]{0,15})$/;
const SIG_LINE = /^\u2014 ([!-*,-~]+) ([A-Za-z0-9+/=]+)$/;

function bad(what: string): never {
  throw new TallyError('INVALID_EVIDENCE', `checkpoint: ${what}`);
}

/**
 * The signed text of a checkpoint (the note's body), refusing fields that would not read back the same.
 *
 * @example
 * checkpointBody({ origin: 'tally demo', treeSize: 0, rootHash: toBase64(EMPTY_ROOT),
 *   time: '2026-12-07T09:00:00.000Z', previousCheckpointHash: null });
 */
export function checkpointBody(cp: Checkpoint): string {
  if (typeof cp?.origin !== 'string' || !ORIGIN.test(cp.origin)) {
    bad('the origin must be printable ASCII without leading, trailing or double spaces');
  }
  if (!Number.isSafeInteger(cp.treeSize) || cp.treeSize < 0)
    bad('the tree size must be a non-negative integer');
  if (!fromBase64(cp.rootHash, HASH_SIZE)) bad('the root hash must be 32 bytes of base64');
  if (typeof cp.time !== 'string' || !isIsoTime(cp.time))
    bad(`the time must be ISO 8601 UTC with milliseconds`);
  const prev = cp.previousCheckpointHash;
  if (prev !== null && !fromBase64(prev, HASH_SIZE))
    bad('the previous checkpoint hash must be 32 bytes of base64');
  return `${cp.origin}\n${cp.treeSize}\n${cp.rootHash}\ntime ${cp.time}\nprev ${prev ?? 'none'}\n`;
}

function isIsoTime(s: string): boolean {
  const d = new Date(s);
  return Number.isFinite(d.getTime()) && d.toISOString() === s;
}

/** The checkpoint a body text holds, or INVALID_EVIDENCE unless the text is exactly `checkpointBody` of it. */
export function parseCheckpointBody(body: string): Checkpoint {
  const lines = body.split('\n');
  if (lines.length !== 6 || lines[5] !== '') bad('the body must be five lines');
  const [origin, size, rootHash, time, prev] = lines as [string, string, string, string, string];
  if (!SIZE.test(size)) bad('the tree size must be decimal digits');
  if (!time.startsWith('time ') || !prev.startsWith('prev ')) bad(`lines 4 and 5 must be 'time' and 'prev'`);
  const prevHash = prev.slice(5);
  const cp: Checkpoint = {
    origin,
    treeSize: Number(size),
    rootHash,
    time: time.slice(5),
    previousCheckpointHash: prevHash === 'none' ? null : prevHash,
  };
  if (checkpointBody(cp) !== body) bad('the body is not in its canonical form');
  return cp;
}

/**
 * The hash the next checkpoint's `prev` names: base64 SHA-256 of the body (signatures excluded, so a
 * checkpoint signed again by a new key keeps its hash).
 */
export function checkpointHash(cp: Checkpoint): string {
  return createHash('sha256').update(checkpointBody(cp), 'utf8').digest('base64');
}

/**
 * The signed note of a checkpoint, with one signature line per key (two while a rotation overlaps).
 *
 * @example
 * const note = signCheckpoint(cp, loadSealKey()!);
 */
export function signCheckpoint(cp: Checkpoint, keys: SealKey | readonly SealKey[]): string {
  const body = checkpointBody(cp);
  const list = Array.isArray(keys) ? keys : [keys as SealKey];
  if (list.length === 0) bad('at least one key must sign');
  const lines = list.map((k) => {
    const sig = sign(null, Buffer.from(body, 'utf8'), k.privateKey);
    const blob = Buffer.concat([noteKeyHash(k.keyId, k.publicKey), sig]);
    return `\u2014 ${k.keyId} ${blob.toString('base64')}\n`;
  });
  return `${body}\n${lines.join('')}`;
}

/** Why a checkpoint note was not accepted. */
export type CheckpointFailure =
  /** Not a signed note with a checkpoint body in canonical form. */
  | 'BAD_CHECKPOINT'
  /** No signature by a trusted key: signed by an unknown key, or not signed. */
  | 'UNKNOWN_KEY'
  /** A signature line of a trusted key that does not verify: the text was changed after signing. */
  | 'BAD_SIGNATURE';

export type OpenedCheckpoint =
  | { ok: true; checkpoint: Checkpoint; body: string; keyIds: string[] }
  | { ok: false; reason: CheckpointFailure; message: string };

/**
 * Reads a checkpoint note and checks its signatures against the trusted keys: accepted when at least one
 * trusted key signed it and no trusted key's signature fails. Lines of keys not trusted are ignored, as
 * signed-note verifiers do. Never throws on a bad note.
 *
 * @example
 * const opened = openCheckpoint(note, trustedKeys([publicPem]));
 * if (!opened.ok) console.error(opened.reason, opened.message);
 */
export function openCheckpoint(note: unknown, trusted: readonly TrustedKey[]): OpenedCheckpoint {
  const no = (reason: CheckpointFailure, message: string): OpenedCheckpoint => ({
    ok: false,
    reason,
    message,
  });
  if (typeof note !== 'string' || !note.endsWith('\n'))
    return no('BAD_CHECKPOINT', 'the note must be text ending in a newline');
  const split = note.indexOf('\n\n');
  if (split < 0) return no('BAD_CHECKPOINT', 'the note has no blank line before its signatures');
  const body = note.slice(0, split + 1);
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpointBody(body);
  } catch (err) {
    return no('BAD_CHECKPOINT', (err as Error).message);
  }
  const sigLines = note.slice(split + 2, -1).split('\n');
  if (sigLines.length > 16) return no('BAD_CHECKPOINT', 'the note has more than 16 signatures');
  const keyIds: string[] = [];
  for (const line of sigLines) {
    const m = SIG_LINE.exec(line);
    const blob = m ? fromBase64(m[2]!) : undefined;
    if (!m || !blob || blob.length !== 68) return no('BAD_CHECKPOINT', 'a signature line is malformed');
    const key = trusted.find((k) => k.keyId === m[1] && Buffer.from(k.keyHash).equals(blob.subarray(0, 4)));
    if (!key) continue;
    if (!verify(null, Buffer.from(body, 'utf8'), key.publicKey, blob.subarray(4))) {
      return no('BAD_SIGNATURE', `the signature of key ${key.keyId} does not match the checkpoint`);
    }
    keyIds.push(key.keyId);
  }
  if (keyIds.length === 0) return no('UNKNOWN_KEY', 'no trusted key signed the checkpoint');
  return { ok: true, checkpoint, body, keyIds };
}
