import { describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { formatLsn, parseLsn, replayedPast } from '../../src/reads/lsn.js';
import { describeToken, makeToken, mergeTokens, tokenPosition } from '../../src/reads/token.js';
import { createTokenCodec } from '../../src/reads/token-codec.js';

const SECRET = 'a-test-secret-that-is-32-bytes-long!!';

describe('WAL positions', () => {
  it('parse and format round-trip, beyond 2^53', () => {
    for (const text of ['0/0', '0/16B3748', 'FFFFFFFF/FFFFFFFF', '1A/2B']) {
      expect(formatLsn(parseLsn(text)!)).toBe(text);
    }
    expect(parseLsn('FFFFFFFF/FFFFFFFF')).toBe((1n << 64n) - 1n);
    for (const bad of ['', '0', '0/', '/1', 'G/1', '0/1/2', '123456789/0', 42, null])
      expect(parseLsn(bad)).toBeNull();
  });

  it('a replay position at a page boundary has passed a target inside the next page header only', () => {
    const page = 8192n * 1000n;
    expect(replayedPast(page + 8n, page + 8n, 8192n)).toBe(true);
    expect(replayedPast(page, page + 24n, 8192n)).toBe(true); // short page header
    expect(replayedPast(page, page + 40n, 8192n)).toBe(true); // long header at a segment start
    expect(replayedPast(page, page + 48n, 8192n)).toBe(false); // a record could end there
    expect(replayedPast(page + 8n, page + 24n, 8192n)).toBe(false); // not at a boundary: no slack
    expect(replayedPast(null, 1n, 8192n)).toBe(false);
  });
});

describe('causal tokens', () => {
  it('merge keeps the highest position per shard', () => {
    const a = mergeTokens(makeToken('db0', 100n), makeToken('db1', 5n));
    const b = mergeTokens(makeToken('db0', 50n), makeToken('db2', 7n));
    const m = mergeTokens(a, null, undefined, b);
    expect(m!.positions).toEqual({ db0: 100n, db1: 5n, db2: 7n });
    expect(tokenPosition(m, 'db1')).toBe(5n);
    expect(tokenPosition(m, 'nope')).toBeNull();
    expect(mergeTokens(null, undefined)).toBeNull();
    expect(describeToken(m)).toEqual({ db0: '0/64', db1: '0/5', db2: '0/7' });
  });

  it('rejects bad input with stable codes', () => {
    expect(() => makeToken('bad shard!', 1n)).toThrow(
      expect.objectContaining({ code: 'INVALID_ROUTER_OPTIONS' }),
    );
    expect(() => makeToken('db0', -1n)).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
    expect(() => mergeTokens({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_TOKEN' }));
  });

  it('round-trip through a header, a cookie and a JSON job payload', () => {
    const codec = createTokenCodec({ secret: SECRET });
    const token = mergeTokens(makeToken('db0', parseLsn('1/ABCDEF00')!), makeToken('db7', 42n))!;
    const text = codec.encode(token);
    expect(text).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/); // header- and cookie-safe
    expect(encodeURIComponent(text)).toBe(text);
    const viaJob = JSON.parse(JSON.stringify({ job: 'x', token: text })).token;
    const back = codec.decode(viaJob);
    expect(back.status).toBe('ok');
    expect(back.token!.positions).toEqual(token.positions);
  });

  it('tampered, forged, malformed and expired tokens decode as absent, never throw', () => {
    let now = 1_000_000;
    const codec = createTokenCodec({ secret: SECRET, ttlMs: 60_000, clock: () => now });
    const text = codec.encode(makeToken('db0', 1000n));
    const [, body, mac] = text.split('.');
    // Raise the position inside the payload, keep the signature: the MAC no longer matches.
    const forgedBody = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), p: { db0: '0/1' } }),
    ).toString('base64url');
    const other = createTokenCodec({ secret: 'another-secret-another-secret-1234', clock: () => now });
    const cases: [unknown, string][] = [
      [undefined, 'absent'],
      ['', 'absent'],
      [`v1.${forgedBody}.${mac}`, 'tampered'],
      [`${text.slice(0, -2)}AA`, 'tampered'],
      [other.encode(makeToken('db0', 1000n)), 'tampered'],
      ['v1.garbage', 'malformed'],
      ['v2.a.b', 'malformed'],
      [42, 'malformed'],
      [`${text}.extra`, 'malformed'],
      ['x'.repeat(20_000), 'malformed'],
    ];
    for (const [input, status] of cases) {
      expect(() => codec.decode(input)).not.toThrow();
      expect({ input: String(input).slice(0, 40), r: codec.decode(input) }).toEqual({
        input: String(input).slice(0, 40),
        r: { token: null, status },
      });
    }
    expect(codec.decode(text).status).toBe('ok');
    now += 60_001;
    expect(codec.decode(text)).toEqual({ token: null, status: 'expired' });
  });

  it('verifies with old keys during rotation, signs with the first', () => {
    const old = createTokenCodec({ secret: SECRET });
    const rotated = createTokenCodec({ secret: ['the-new-secret-is-also-32-bytes-long', SECRET] });
    const t = old.encode(makeToken('db0', 9n));
    expect(rotated.decode(t).status).toBe('ok');
    expect(old.decode(rotated.encode(makeToken('db0', 9n))).status).toBe('tampered');
  });

  it('refuses weak secrets and bad options with INVALID_CONFIG', () => {
    for (const opts of [
      { secret: 'short' },
      { secret: [] },
      { secret: SECRET, ttlMs: 0 },
      { secret: SECRET, clock: 5 },
    ]) {
      try {
        createTokenCodec(opts as never);
        expect.unreachable();
      } catch (err) {
        expect(isTallyError(err, 'INVALID_CONFIG')).toBe(true);
      }
    }
    expect(() => createTokenCodec({ secret: SECRET }).encode(null as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_TOKEN' }),
    );
  });
});
