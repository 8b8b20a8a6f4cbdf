import { TallyError } from '../errors.js';

/** A key as callers pass it. Integer keys may come as numbers, bigints or digit strings. */
export type EntityKey = string | number | bigint;

export type KeyKind = 'int' | 'text' | 'uuid';

const INT_TYPES = new Set(['int2', 'int4', 'int8']);
const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar']);
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const INT_RE = /^-?[0-9]{1,19}$/;
const INT_RANGE: Record<string, [bigint, bigint]> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n],
};

export function keyKindOf(udt: string): KeyKind | null {
  if (INT_TYPES.has(udt)) return 'int';
  if (TEXT_TYPES.has(udt)) return 'text';
  if (udt === 'uuid') return 'uuid';
  return null;
}

/**
 * Turns caller keys into the canonical text Tally stores in the log (and sends as a typed array),
 * refusing keys of the wrong type before anything reaches the database.
 */
export function canonicalKeys(keys: readonly unknown[], udt: string, entity: string): string[] {
  const kind = keyKindOf(udt);
  const out: string[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    let text: string | null = null;
    if (kind === 'int') {
      if (typeof k === 'number' && Number.isSafeInteger(k)) text = String(k);
      else if (typeof k === 'bigint') text = k.toString();
      else if (typeof k === 'string' && INT_RE.test(k)) text = BigInt(k).toString();
      if (text !== null) {
        const [lo, hi] = INT_RANGE[udt]!;
        const b = BigInt(text);
        if (b < lo || b > hi) text = null;
      }
    } else if (kind === 'uuid') {
      if (typeof k === 'string' && UUID_RE.test(k)) text = k.toLowerCase();
    } else if (typeof k === 'string' && k.length > 0 && k.length <= 1000 && !k.includes('\u0000')) {
      text = k;
    }
    if (text === null) {
      throw new TallyError(
        'INVALID_KEY',
        `entity ${entity}: key at position ${i} is not a valid ${udt} (got ${typeof k})`,
        { details: { position: i, expected: udt } },
      );
    }
    out[i] = text;
  }
  return out;
}

/** Turns a key's canonical text back into the natural JS value for results of filter selections. */
export function keyFromText(text: string, udt: string): EntityKey {
  if (keyKindOf(udt) === 'int') {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : text;
  }
  return text;
}
