import { createHash } from 'node:crypto';
import { TallyError } from '../errors.js';

/**
 * The canonical text of a value: object keys sorted, numbers in one plain decimal spelling (`1`, `1.0`,
 * `1e0` and `1n` are all `1`), dates as ISO strings, `undefined` fields dropped. Strings are never
 * reinterpreted: `"1"` and `1` stay different (when in doubt, a retry is rejected, not accepted).
 *
 * @example
 * canonicalJson({ qty: 1.0, user: 'u1' }) === canonicalJson({ user: 'u1', qty: 1 }); // true
 */
export function canonicalJson(value: unknown): string {
  return canon(value, '$');
}

/**
 * The fingerprint of a command's key parameters: sha256 (hex) of their canonical text.
 *
 * @example
 * fingerprintOf({ user: 'u1', prize: 'p9', qty: 1 }); // '5f0c…'
 */
export function fingerprintOf(params: unknown): { fingerprint: string; canonical: string } {
  const canonical = canonicalJson(params);
  return { fingerprint: createHash('sha256').update(canonical).digest('hex'), canonical };
}

function invalid(path: string, what: string): TallyError {
  return new TallyError('INVALID_COMMAND_INPUT', `key parameter ${path} ${what}`, { details: { path } });
}

function canon(v: unknown, path: string): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw invalid(path, 'must be a finite number');
      return plainDecimal(v);
    case 'bigint':
      return v.toString();
    case 'object': {
      if (v instanceof Date) {
        if (Number.isNaN(v.getTime())) throw invalid(path, 'is an invalid date');
        return JSON.stringify(v.toISOString());
      }
      if (Array.isArray(v)) {
        return `[${v.map((x, i) => (x === undefined ? 'null' : canon(x, `${path}[${i}]`))).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw invalid(path, 'must be plain data (object, array, string, number, boolean, null, date)');
      }
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canon(x, `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw invalid(path, `cannot be a ${typeof v}`);
  }
}

/** A finite number as a plain decimal without exponent; -0 is 0. */
export function plainDecimal(n: number): string {
  if (Object.is(n, -0)) return '0';
  const text = String(n);
  const e = text.indexOf('e');
  if (e < 0) return text;
  const neg = text.startsWith('-');
  const mantissa = text.slice(neg ? 1 : 0, e);
  const exp = Number(text.slice(e + 1));
  const [int, frac = ''] = mantissa.split('.') as [string, string?];
  const digits = int + frac;
  const point = int.length + exp;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return (neg ? '-' : '') + out;
}

const KEY_RE = /^[A-Za-z0-9_.:~+/=-]{1,255}$/;

/** Checks an idempotency key: 1–255 characters from `A-Z a-z 0-9 _ . : ~ + / = -`. */
export function checkIdempotencyKey(key: unknown): string {
  if (typeof key !== 'string' || !KEY_RE.test(key)) {
    throw new TallyError(
      'INVALID_IDEMPOTENCY_KEY',
      'an idempotency key must be 1-255 characters from A-Z a-z 0-9 _ . : ~ + / = -',
      { details: { length: typeof key === 'string' ? key.length : null } },
    );
  }
  return key;
}

/** Checks a principal (who owns the key): 1–200 characters, no control characters. */
export function checkPrincipal(principal: unknown): string {
  const ok =
    typeof principal === 'string' &&
    principal.length >= 1 &&
    principal.length <= 200 &&
    [...principal].every((ch) => {
      const c = ch.codePointAt(0)!;
      return c > 0x1f && c !== 0x7f;
    });
  if (!ok) {
    throw new TallyError(
      'INVALID_PRINCIPAL',
      'a principal must be a string of 1-200 characters without control characters',
    );
  }
  return principal as string;
}

/** A JSON round trip: what the database will give back. Refuses what JSON cannot carry. */
export function asStored<T>(value: T, what: string): T {
  if (value === undefined) return null as T;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new TallyError('INVALID_COMMAND_INPUT', `${what} must be JSON-serializable`, { cause: err });
  }
  if (text === undefined) throw new TallyError('INVALID_COMMAND_INPUT', `${what} must be JSON-serializable`);
  return JSON.parse(text) as T;
}
