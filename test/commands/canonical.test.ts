import { describe, expect, it } from 'vitest';
import { canonicalJson, fingerprintOf, plainDecimal } from '../../src/commands/canonical.js';
import { backoffMs, defineCommand, durationMs } from '../../src/commands/definition.js';
import { isTallyError } from '../../src/errors.js';

describe('canonical key parameters', () => {
  it('do not depend on key order or number formatting', () => {
    const a = fingerprintOf({ user: 'u1', qty: 1, price: 10.5, tags: ['x', { b: 2, a: 1 }] });
    const b = fingerprintOf({ tags: ['x', { a: 1.0, b: 2 }], price: 10.5, qty: 1.0, user: 'u1' });
    expect(a).toEqual(b);
    expect(canonicalJson({ n: 10n, m: 1e21, s: 1e-7, z: -0 })).toBe(
      '{"m":1000000000000000000000,"n":10,"s":0.0000001,"z":0}',
    );
    expect(fingerprintOf({ n: 10n }).fingerprint).toBe(fingerprintOf({ n: 10 }).fingerprint);
  });

  it('tell different values apart, and strings from numbers', () => {
    const base = fingerprintOf({ qty: 1 }).fingerprint;
    expect(fingerprintOf({ qty: 2 }).fingerprint).not.toBe(base);
    expect(fingerprintOf({ qty: '1' }).fingerprint).not.toBe(base);
    expect(fingerprintOf({ qty: 1, extra: null }).fingerprint).not.toBe(base);
    expect(fingerprintOf({ qty: 1, gone: undefined }).fingerprint).toBe(base);
    expect(canonicalJson({ at: new Date('2026-01-02T03:04:05Z') })).toBe('{"at":"2026-01-02T03:04:05.000Z"}');
  });

  it('refuse what has no stable form', () => {
    for (const bad of [
      { x: Number.NaN },
      { x: Number.POSITIVE_INFINITY },
      { x: new Map() },
      { x: () => 1 },
    ]) {
      let err: unknown;
      try {
        canonicalJson(bad);
      } catch (e) {
        err = e;
      }
      expect(isTallyError(err, 'INVALID_COMMAND_INPUT')).toBe(true);
    }
  });

  it('plain decimals', () => {
    expect([0.1, 123, -4.5e-10, 2.5e25, 1.5e21].map(plainDecimal)).toEqual([
      '0.1',
      '123',
      '-0.00000000045',
      '25000000000000000000000000',
      '1500000000000000000000',
    ]);
  });
});

describe('command declarations', () => {
  const step = { name: 'a', run: () => 1 };
  it('are validated with exact messages', () => {
    const cases: [unknown, unknown][] = [
      ['Bad Name', { fingerprint: () => 1, steps: [step] }],
      ['ok', { steps: [step] }],
      ['ok', { fingerprint: () => 1, steps: [] }],
      ['ok', { fingerprint: () => 1, steps: [step, step] }],
      ['ok', { fingerprint: () => 1, steps: [{ name: 'c', call: { send: async () => 1 } }] }],
      ['ok', { fingerprint: () => 1, steps: [step], retry: { maxAttempts: 0 } }],
      [
        'ok',
        {
          fingerprint: () => 1,
          steps: [{ name: 'c', call: { request: () => 1, send: async () => 1, queryAfter: '5 s' } }],
        },
      ],
    ];
    for (const [name, def] of cases) {
      let err: unknown;
      try {
        defineCommand(name, def as never);
      } catch (e) {
        err = e;
      }
      expect(isTallyError(err, 'INVALID_COMMAND'), JSON.stringify(name)).toBe(true);
    }
  });

  it('durations and backoff', () => {
    expect([
      durationMs('250ms', 'x'),
      durationMs('5s', 'x'),
      durationMs('2m', 'x'),
      durationMs(7, 'x'),
    ]).toEqual([250, 5000, 120_000, 7]);
    let r = 0;
    const spec = defineCommand('b', {
      fingerprint: () => 1,
      steps: [step],
      retry: { baseMs: 100, maxMs: 1000, random: () => r },
    });
    expect([1, 2, 3, 4, 5, 10].map((a) => backoffMs(spec, a))).toEqual([50, 100, 200, 400, 500, 500]);
    r = 0.999999;
    expect(backoffMs(spec, 1)).toBe(100);
  });
});
