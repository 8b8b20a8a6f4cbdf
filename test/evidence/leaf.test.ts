import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { leafHash } from '../../src/evidence/hash.js';
import { encodeLogRow, type LogRowLeaf, logRowLeafHash } from '../../src/evidence/leaf.js';
import { decodeLogRow } from '../../src/evidence/leaf-decode.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const ROW: LogRowLeaf = {
  id: 7,
  entity_type: 'resource',
  entity_key: '42',
  version: 3,
  action: 'transition',
  actor: 'ops:alice',
  source_ip: '10.0.0.1',
  reason: null,
  request_id: 'req-1',
  command_id: null,
  before: '{"state": "active", "version": 2}',
  after: '{"id": 42, "state": "frozen", "version": 3}',
  before_delta: true,
  changed: ['state', 'version'],
  at: '2026-12-07T09:00:00.123456Z',
};

function refused(f: () => unknown): boolean {
  try {
    f();
  } catch (err) {
    return isTallyError(err, 'INVALID_EVIDENCE');
  }
  return false;
}

describe('evidence: the leaf bytes of a log row', () => {
  it('are pinned: the encoding of a fixed row never changes (a change needs a new tag)', () => {
    expect(hex(encodeLogRow(ROW))).toBe(
      '74616c6c792e6c6f672d726f772e76310a' + // "tally.log-row.v1\n"
        '020000000000000007' + // id
        '01000000087265736f75726365' + // "resource"
        '01000000023432' + // "42"
        '020000000000000003' + // version
        '010000000a7472616e736974696f6e' + // "transition"
        '01000000096f70733a616c696365' + // "ops:alice"
        '010000000831302e302e302e31' + // "10.0.0.1"
        '00' + // reason NULL
        '01000000057265712d31' + // "req-1"
        '00' + // command_id NULL
        `05${(33).toString(16).padStart(8, '0')}${Buffer.from(ROW.before!).toString('hex')}` +
        `05${(43).toString(16).padStart(8, '0')}${Buffer.from(ROW.after!).toString('hex')}` +
        '0301' + // before_delta
        '0400000002' +
        '01000000057374617465' +
        '010000000776657273696f6e' + // ["state", "version"]
        `02${1796634000123456n.toString(16).padStart(16, '0')}`, // µs since the epoch
    );
    expect(hex(logRowLeafHash(ROW))).toBe(hex(leafHash(encodeLogRow(ROW))));
  });

  it('decode back to the row they encode: one byte string, one row', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 12 });
    const maybe = fc.option(text, { nil: null });
    const row = fc.record({
      id: fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }),
      entity_type: text,
      entity_key: text,
      version: fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }),
      action: text,
      actor: text,
      source_ip: maybe,
      reason: maybe,
      request_id: maybe,
      command_id: maybe,
      before: fc.option(fc.json(), { nil: null }),
      after: fc.option(fc.json(), { nil: null }),
      before_delta: fc.boolean(),
      changed: fc.array(text, { maxLength: 4 }),
      at: fc.date({
        min: new Date('0001-01-01T00:00:00Z'),
        max: new Date('9999-12-31T23:59:59Z'),
        noInvalidDate: true,
      }),
      micros: fc.integer({ min: 0, max: 999 }),
    });
    fc.assert(
      fc.property(row, fc.nat(), ({ micros, ...r }, flip) => {
        const at = `${r.at.toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
        const input = { ...r, at };
        const bytes = encodeLogRow(input);
        const back = decodeLogRow(bytes);
        expect(back).toEqual({ ...input, id: String(r.id), version: String(r.version) });
        expect(hex(encodeLogRow(back))).toBe(hex(bytes));
        // Any flipped bit: either not a row any more, or a different row.
        const bad = Uint8Array.from(bytes);
        bad[flip % bad.length]! ^= 1 << (flip % 8);
        let other: unknown;
        try {
          other = decodeLogRow(bad);
        } catch (err) {
          expect(isTallyError(err, 'INVALID_EVIDENCE')).toBe(true);
          return;
        }
        expect(other).not.toEqual(back);
      }),
      { numRuns: 120, seed: 60 },
    );
  });

  it('tell apart what a looser encoding would merge', () => {
    const b = (r: Partial<LogRowLeaf>): string => hex(encodeLogRow({ ...ROW, ...r }));
    const base = b({});
    const variants = [
      b({ reason: '' }), // NULL vs empty text
      b({ reason: 'NULL' }),
      b({ changed: ['state,version'] }), // one field vs two
      b({ changed: ['state', 'version', ''] }),
      b({ before: ROW.after, after: ROW.before }),
      b({ before_delta: false }),
      b({ entity_type: 'resource4', entity_key: '2' }), // a boundary moved
      b({ at: '2026-12-07T09:00:00.123457Z' }), // one microsecond
      b({ id: 8 }),
      b({ version: 4 }),
    ];
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
    // The same instant, as a Date or as text, is the same leaf; integers as number, bigint or text too.
    const ms = { ...ROW, at: '2026-12-07T09:00:00.123Z' };
    expect(hex(encodeLogRow({ ...ms, at: new Date('2026-12-07T09:00:00.123Z') }))).toBe(
      hex(encodeLogRow(ms)),
    );
    expect(hex(encodeLogRow({ ...ms, at: '2026-12-07T09:00:00.123000Z' }))).toBe(hex(encodeLogRow(ms)));
    expect(hex(encodeLogRow({ ...ms, id: '7', version: 3n }))).toBe(hex(encodeLogRow(ms)));
    // Absent optional fields are their defaults.
    const { before_delta: _, reason: __, ...lean } = { ...ROW, before_delta: false };
    expect(hex(encodeLogRow(lean))).toBe(b({ before_delta: false, reason: null }));
  });

  it('refuses a row it cannot encode faithfully, with INVALID_EVIDENCE', () => {
    const bad: Record<string, unknown>[] = [
      { before: { state: 'active' } }, // a parsed image: its numbers may already have lost digits
      { actor: null },
      { entity_key: 42 },
      { actor: 'a\uD800b' }, // a lone surrogate has no UTF-8
      { version: 0 },
      { id: 1.5 },
      { id: '007' },
      { version: '99999999999999999999' },
      { at: '2026-02-30T00:00:00Z' },
      { at: '2026-12-07 09:00:00Z' },
      { at: '2026-12-07T09:00:00.1234567Z' },
      { at: new Date(Number.NaN) },
      { changed: 'state' },
      { before_delta: 'yes' },
    ];
    for (const change of bad) {
      expect(
        refused(() => encodeLogRow({ ...ROW, ...change } as LogRowLeaf)),
        JSON.stringify(change),
      ).toBe(true);
    }
    const bytes = encodeLogRow(ROW);
    expect(refused(() => decodeLogRow(bytes.subarray(0, bytes.length - 1)))).toBe(true);
    expect(refused(() => decodeLogRow(Uint8Array.from([...bytes, 0])))).toBe(true);
    expect(refused(() => decodeLogRow(new Uint8Array()))).toBe(true);
  });
});
