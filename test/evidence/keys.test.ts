import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isTallyError, type TallyError } from '../../src/errors.js';
import {
  type Checkpoint,
  checkpointBody,
  checkpointHash,
  EMPTY_ROOT,
  generateSealKey,
  keyIdOf,
  loadSealKey,
  openCheckpoint,
  parseCheckpointBody,
  publicKeyPem,
  sealKeyFromPem,
  sealKeyPem,
  signCheckpoint,
  toBase64,
  trustedKeys,
} from '../../src/evidence/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-seal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(f: () => unknown): TallyError | undefined {
  try {
    f();
  } catch (err) {
    if (isTallyError(err)) return err;
    throw err;
  }
  return undefined;
}

const CP: Checkpoint = {
  origin: 'tally example.com/orders',
  treeSize: 0,
  rootHash: toBase64(EMPTY_ROOT),
  time: '2026-12-07T09:00:00.000Z',
  previousCheckpointHash: null,
};

describe('evidence: seal keys', () => {
  it('load from TALLY_SEAL_KEY or TALLY_SEAL_KEY_FILE, and name themselves by their public key', () => {
    const key = generateSealKey();
    const pem = sealKeyPem(key);
    const file = join(dir, 'seal.pem');
    writeFileSync(file, pem, { mode: 0o600 });
    const inline = loadSealKey({ TALLY_SEAL_KEY: pem });
    const fromFile = loadSealKey({ TALLY_SEAL_KEY_FILE: file });
    expect(inline?.keyId).toBe(key.keyId);
    expect(fromFile?.keyId).toBe(key.keyId);
    expect(loadSealKey({})).toBeUndefined();
    // The key id is the first 8 bytes of SHA-256 of the raw 32-byte public key.
    const raw = key.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    expect(key.keyId).toBe(createHash('sha256').update(raw).digest('hex').slice(0, 16));
    expect(keyIdOf(sealKeyFromPem(pem).publicKey)).toBe(key.keyId);
  });

  it('refuse what is not one Ed25519 private key, with INVALID_CONFIG and no key material in the message', () => {
    const pem = sealKeyPem(generateSealKey());
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    const cases: [string, () => unknown][] = [
      ['both set', () => loadSealKey({ TALLY_SEAL_KEY: pem, TALLY_SEAL_KEY_FILE: '/x' })],
      ['missing file', () => loadSealKey({ TALLY_SEAL_KEY_FILE: join(dir, 'absent.pem') })],
      ['garbage', () => loadSealKey({ TALLY_SEAL_KEY: 'secret-ish garbage' })],
      ['an EC key', () => sealKeyFromPem(ec.toString())],
      ['a public key', () => sealKeyFromPem(publicKeyPem(generateSealKey()))],
      ['a trusted key that is no key', () => trustedKeys(['nope'])],
      ['a trusted EC key', () => trustedKeys([ec.toString()])],
    ];
    for (const [what, f] of cases) {
      const err = errorOf(f);
      expect(err?.code, what).toBe('INVALID_CONFIG');
      expect(err?.message, what).not.toMatch(/garbage|BEGIN|absent/);
    }
  });
});

describe('evidence: checkpoints', () => {
  it('have one canonical text, read back exactly', () => {
    const body = checkpointBody(CP);
    expect(body).toBe(
      'tally example.com/orders\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 2026-12-07T09:00:00.000Z\nprev none\n',
    );
    expect(parseCheckpointBody(body)).toEqual(CP);
    const next = { ...CP, treeSize: 5, previousCheckpointHash: checkpointHash(CP) };
    expect(parseCheckpointBody(checkpointBody(next))).toEqual(next);
    for (const bad of [
      body.replace('\n0\n', '\n00\n'),
      body.replace('\n0\n', '\n-0\n'),
      body.replace('09:00:00.000Z', '09:00:00Z'),
      body.replace('orders\n', 'orders \n'),
      body.replace('prev none', 'prev  none'),
      body.replace('prev none', 'prev AAAA'),
      `${body}extra\n`,
      body.slice(0, -1),
    ]) {
      expect(errorOf(() => parseCheckpointBody(bad))?.code, JSON.stringify(bad)).toBe('INVALID_EVIDENCE');
    }
    for (const bad of [
      { origin: '' },
      { origin: 'two\nlines' },
      { treeSize: -1 },
      { treeSize: 2 ** 53 },
      { rootHash: 'AAAA' },
      { time: '2026-12-07T09:00:00Z' },
      { previousCheckpointHash: 'x' },
    ]) {
      expect(errorOf(() => checkpointBody({ ...CP, ...bad }))?.code, JSON.stringify(bad)).toBe(
        'INVALID_EVIDENCE',
      );
    }
  });

  it('are signed notes: signed by one or several keys, opened with the trusted ones', () => {
    const a = generateSealKey();
    const b = generateSealKey();
    const note = signCheckpoint(CP, [a, b]);
    expect(note.startsWith(`${checkpointBody(CP)}\n\u2014 ${a.keyId} `)).toBe(true);
    expect(note.split('\n').filter((l) => l.startsWith('\u2014 '))).toHaveLength(2);
    expect(openCheckpoint(note, trustedKeys([publicKeyPem(b)]))).toMatchObject({
      ok: true,
      keyIds: [b.keyId],
    });
    expect(openCheckpoint(note, trustedKeys([a, b]))).toMatchObject({ ok: true, keyIds: [a.keyId, b.keyId] });
    expect(openCheckpoint(note, trustedKeys([generateSealKey()]))).toMatchObject({
      ok: false,
      reason: 'UNKNOWN_KEY',
    });
    expect(openCheckpoint(checkpointBody(CP), trustedKeys([a]))).toMatchObject({
      ok: false,
      reason: 'BAD_CHECKPOINT',
    });
    expect(openCheckpoint(42, trustedKeys([a]))).toMatchObject({ ok: false, reason: 'BAD_CHECKPOINT' });
    // Signing again with a new key keeps the checkpoint's hash: prev links survive a rotation.
    expect(checkpointHash(parseCheckpointBody(signCheckpoint(CP, b).split('\n\n')[0]! + '\n'))).toBe(
      checkpointHash(CP),
    );
  });
});
