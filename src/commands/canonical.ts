import { createHash } from 'node:crypto';
import { TallyError } from '../errors.js';

/**
 * How far a command's key parameters (and its input) may reach before they are refused with
 * INVALID_COMMAND_INPUT: `depth` levels of nested objects and arrays (a scalar is depth 0, `{}` depth 1),
 * `size` UTF-8 bytes of canonical text. Per command type as `limits` (docs/decisions/0029).
 */
export interface InputLimits {
  readonly depth: number;
  readonly size: number;
}

/** 64 levels, 64 KiB: far beyond any real key parameters, small enough that refusing costs nothing. */
export const DEFAULT_INPUT_LIMITS: InputLimits = Object.freeze({ depth: 64, size: 64 * 1024 });

/**
 * The canonical text of a value: object keys sorted, numbers in one plain decimal spelling (`1`, `1.0`,
 * `1e0` and `1n` are all `1`), dates as ISO strings, `undefined` fields dropped. Strings are never
 * reinterpreted: `"1"` and `1` stay different (when in doubt, a retry is rejected, not accepted).
 * Deeper than `limits.depth` or longer than `limits.size`: INVALID_COMMAND_INPUT (`details.limit` says
 * which). The walk is iterative and stops at the first limit, so hostile nesting costs no stack.
 *
 * @example
 * canonicalJson({ qty: 1.0, user: 'u1' }) === canonicalJson({ user: 'u1', qty: 1 }); // true
 */
export function canonicalJson(value: unknown, limits: InputLimits = DEFAULT_INPUT_LIMITS): string {
  return new Canon(limits).run(value);
}

/**
 * The fingerprint of a command's key parameters: sha256 (hex) of their canonical text.
 *
 * @example
 * fingerprintOf({ user: 'u1', prize: 'p9', qty: 1 }).fingerprint; // '42d67784…' (sha256 of {"prize":"p9","qty":1,"user":"u1"})
 */
export function fingerprintOf(
  params: unknown,
  limits: InputLimits = DEFAULT_INPUT_LIMITS,
): { fingerprint: string; canonical: string } {
  const canonical = canonicalJson(params, limits);
  return { fingerprint: createHash('sha256').update(canonical).digest('hex'), canonical };
}

/** An open array or object: its children (entries already sorted), the next one to write, its text so far. */
type Frame = { readonly parts: string[]; i: number } & (
  | { readonly items: readonly unknown[]; readonly entries: null }
  | { readonly items: null; readonly entries: readonly [string, unknown][] }
);

/**
 * One canonicalisation. The path of the value being written is kept as the stack of open frames, and
 * its text is made only when an error is thrown: writing stays linear in the size of the value.
 */
class Canon {
  readonly #stack: Frame[] = [];
  /** The text of a top-level scalar, or of the top-level array or object once it closes. */
  #done = '';
  /** Characters written so far, in every frame. */
  #length = 0;

  constructor(readonly limits: InputLimits) {}

  run(value: unknown): string {
    this.#open(value);
    const stack = this.#stack;
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      if (f.items !== null ? f.i >= f.items.length : f.i >= f.entries.length) {
        this.#emit(f.items !== null ? ']' : '}');
        stack.pop();
        this.#put(joined(f.parts));
        continue;
      }
      if (f.i > 0) this.#emit(',');
      if (f.items !== null) {
        const x = f.items[f.i++];
        if (x === undefined) this.#emit('null');
        else this.#open(x);
      } else {
        const [k, x] = f.entries[f.i++]!;
        this.#emit(`${JSON.stringify(k)}:`);
        this.#open(x);
      }
    }
    const text = this.#done;
    // The running count is UTF-16 units, never more than the UTF-8 bytes: the exact check is at the end.
    if (Buffer.byteLength(text) > this.limits.size) throw this.#tooLarge();
    return text;
  }

  /** Writes a scalar whole, or the opening of an array or object (its children follow from the stack). */
  #open(v: unknown): void {
    if (v !== null && typeof v === 'object' && !(v instanceof Date)) this.#push(v);
    else this.#emit(this.#scalar(v));
  }

  #scalar(v: unknown): string {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        if (v.length > this.limits.size) throw this.#tooLarge();
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        if (!Number.isFinite(v)) throw this.#invalid('must be a finite number');
        return plainDecimal(v);
      case 'bigint':
        return v.toString();
      case 'object':
        if (Number.isNaN((v as Date).getTime())) throw this.#invalid('is an invalid date');
        return JSON.stringify((v as Date).toISOString());
      default:
        throw this.#invalid(`cannot be a ${typeof v}`);
    }
  }

  /** Opens an array or a plain object: one level deeper, its children (sorted entries) on the stack. */
  #push(v: object): void {
    if (this.#stack.length >= this.limits.depth) throw this.#tooDeep();
    if (Array.isArray(v)) {
      // Each item takes at least one character and each comma one more: refuse before walking them.
      if (this.#length + 2 * v.length > this.limits.size + 1) throw this.#tooLarge();
      this.#stack.push({ items: v, entries: null, i: 0, parts: [] });
      this.#emit('[');
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw this.#invalid('must be plain data (object, array, string, number, boolean, null, date)');
    }
    // Each property is read once (as Object.entries would). `"":0` is the shortest entry, plus its comma:
    // a huge object is refused as soon as its entries so far cannot fit, before any of it is sorted.
    const o = v as Record<string, unknown>;
    const entries: [string, unknown][] = [];
    for (const k of Object.keys(o)) {
      const x = o[k];
      if (x === undefined) continue;
      entries.push([k, x]);
      if (this.#length + 5 * entries.length > this.limits.size + 2) throw this.#tooLarge();
    }
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.#stack.push({ items: null, entries, i: 0, parts: [] });
    this.#emit('{');
  }

  #emit(text: string): void {
    this.#length += text.length;
    if (this.#length > this.limits.size) throw this.#tooLarge();
    this.#put(text);
  }

  /** Adds text already counted to the innermost open frame (or, with none open, makes it the result). */
  #put(text: string): void {
    const top = this.#stack[this.#stack.length - 1];
    if (top) top.parts.push(text);
    else this.#done = text;
  }

  /** `$`, `$.qty`, `$.items[0]`: where the value being written sits (clipped to 200 characters). */
  #path(): string {
    let text = '$';
    for (const f of this.#stack) {
      text += f.items !== null ? `[${f.i - 1}]` : `.${f.entries[f.i - 1]![0]}`;
      if (text.length > 200) return `${text.slice(0, 199)}…`;
    }
    return text;
  }

  #invalid(what: string): TallyError {
    const path = this.#path();
    return new TallyError('INVALID_COMMAND_INPUT', `key parameter ${path} ${what}`, { details: { path } });
  }

  #tooDeep(): TallyError {
    const max = this.limits.depth;
    return new TallyError(
      'INVALID_COMMAND_INPUT',
      `the key parameters nest deeper than ${max} levels (the command's limits.depth)`,
      { details: { limit: 'depth', max, path: this.#path() } },
    );
  }

  #tooLarge(): TallyError {
    const max = this.limits.size;
    return new TallyError(
      'INVALID_COMMAND_INPUT',
      `the key parameters' canonical text is longer than ${max} bytes (the command's limits.size)`,
      { details: { limit: 'size', max } },
    );
  }
}

/**
 * A closed frame's text. Short pieces are copied together (a wide array's many small items stay cheap
 * to collect); a long piece — a nested value's whole text — is linked, not copied (V8 keeps the result as a
 * rope, flattened once at the end), so deep nesting does not copy the inner text once per level.
 */
function joined(parts: readonly string[]): string {
  let out = '';
  let run: string[] = [];
  for (const p of parts) {
    if (p.length < 256) {
      run.push(p);
      continue;
    }
    out += run.join('') + p;
    run = [];
  }
  return out + run.join('');
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

/** The longest idempotency key, in characters (all ASCII, so also bytes). The HTTP header path uses it too. */
export const MAX_KEY_LENGTH = 255;
const KEY_RE = /^[A-Za-z0-9_.:~+/=-]+$/;

/**
 * Checks an idempotency key: 1–255 characters from `A-Z a-z 0-9 _ . : ~ + / = -`. Keys are case-sensitive
 * and compared exactly: `ABC` and `abc` are two keys. `details.reason` says which rule failed.
 */
export function checkIdempotencyKey(key: unknown): string {
  const length = typeof key === 'string' ? key.length : null;
  const reason =
    length === null
      ? 'not_a_string'
      : length === 0
        ? 'empty'
        : length > MAX_KEY_LENGTH
          ? 'too_long'
          : KEY_RE.test(key as string)
            ? null
            : 'characters';
  if (reason !== null) {
    throw new TallyError(
      'INVALID_IDEMPOTENCY_KEY',
      `an idempotency key must be 1-${MAX_KEY_LENGTH} characters from A-Z a-z 0-9 _ . : ~ + / = -`,
      { details: { length, reason } },
    );
  }
  return key as string;
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

/**
 * A JSON round trip: what the database will give back — values as JSON carries them, and object keys in
 * the order a jsonb column returns them (shorter keys first, then by their UTF-8 bytes). So a value is the
 * same on the first run as on every replay read back from the database: a call's first send and its
 * re-sends hand `send` one request, and `JSON.stringify` of it is the same text each time (decision 0039).
 * Refuses what JSON cannot carry.
 */
export function asStored<T>(value: T, what: string): T {
  if (value === undefined) return null as T;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new TallyError('INVALID_COMMAND_INPUT', `${what} must be JSON-serializable`, { cause: err });
  }
  if (text === undefined) throw new TallyError('INVALID_COMMAND_INPUT', `${what} must be JSON-serializable`);
  return inJsonbOrder(JSON.parse(text)) as T;
}

function jsonbKeyOrder(a: string, b: string): number {
  const la = Buffer.byteLength(a);
  const lb = Buffer.byteLength(b);
  return la !== lb ? la - lb : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

// Parsed JSON only (plain objects, arrays, scalars). An object already in order is kept as it is.
function inJsonbOrder(v: unknown): unknown {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = inJsonbOrder(v[i]);
    return v;
  }
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  for (const k of keys) o[k] = inJsonbOrder(o[k]);
  const sorted = [...keys].sort(jsonbKeyOrder);
  if (sorted.every((k, i) => k === keys[i])) return o;
  const out: Record<string, unknown> = {};
  for (const k of sorted) out[k] = o[k];
  return out;
}
