import * as crypto from 'node:crypto';
import { TallyError } from '../errors.js';
import { leafHash } from './hash.js';

/**
 * The bytes a log row contributes to the Merkle tree: a canonical, versioned encoding of the row's
 * columns (decision 0060, docs/evidence.md). Pure: the caller selects the row; nothing here reads a
 * database. The JSON images are the database's own text of the stored value (`before::text`), not a
 * parsed object: jsonb's text is canonical and keeps numbers exactly, which a JavaScript number cannot.
 * A timestamp goes in as microseconds, PostgreSQL's precision: select it as text (`'YYYY-MM-DDTHH:MM:SS.
 * ffffffZ'`) to keep them; a `Date` carries milliseconds only.
 */
export interface LogRowLeaf {
  id: bigint | number | string;
  entity_type: string;
  entity_key: string;
  version: bigint | number | string;
  action: string;
  actor: string;
  source_ip?: string | null;
  reason?: string | null;
  request_id?: string | null;
  command_id?: string | null;
  /** The stored JSON text (`before::text`), or null. */
  before?: string | null;
  /** The stored JSON text (`after::text`), or null. */
  after?: string | null;
  /** The before image holds the changed fields only (decision 0007); absent means false. */
  before_delta?: boolean;
  changed: readonly string[];
  at: Date | string;
}

/** The first bytes of every encoded row: a new encoding gets a new tag, so two versions never collide. */
export const LOG_ROW_TAG = 'tally.log-row.v1\n';

const T_NULL = 0x00;
const T_TEXT = 0x01;
const T_INT = 0x02;
const T_BOOL = 0x03;
const T_TEXTS = 0x04;
const T_JSON = 0x05;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The canonical bytes of one log row:
 *
 *     "tally.log-row.v1\n" id entity_type entity_key version action actor source_ip reason request_id
 *     command_id before after before_delta changed at
 *
 * each field one of: 0x00 (NULL) | 0x01 u32 UTF-8 (text) | 0x02 i64 (integer) | 0x03 u8 (boolean) |
 * 0x04 u32 (text)* (text array) | 0x05 u32 UTF-8 (JSON text) — integers big-endian, u32 a byte length or
 * an element count; `at` is microseconds since 1970-01-01 UTC. Every field says its own length, so the
 * bytes decode back to one row only (`decodeLogRow`).
 *
 * @example
 * const leaf = encodeLogRow({ id: 1, entity_type: 'resource', entity_key: '42', version: 1,
 *   action: 'create', actor: 'ops:alice', after: '{"id": 42}', changed: ['id'],
 *   at: '2026-12-07T09:00:00.000000Z' });
 */
export function encodeLogRow(row: LogRowLeaf): Uint8Array {
  return write(row, new Writer()).done();
}

function write(row: LogRowLeaf, w: Writer): Writer {
  if (row === null || typeof row !== 'object') fail('the row must be an object');
  w.tag();
  w.int(row.id, 'id', 1n);
  w.text(row.entity_type, 'entity_type');
  w.text(row.entity_key, 'entity_key');
  w.int(row.version, 'version', 1n);
  w.text(row.action, 'action');
  w.text(row.actor, 'actor');
  w.nullableText(row.source_ip, 'source_ip');
  w.nullableText(row.reason, 'reason');
  w.nullableText(row.request_id, 'request_id');
  w.nullableText(row.command_id, 'command_id');
  w.json(row.before, 'before');
  w.json(row.after, 'after');
  w.bool(row.before_delta ?? false, 'before_delta');
  w.texts(row.changed, 'changed');
  w.int64(microsOf(row.at), 'at');
  return w;
}

/**
 * The Merkle leaf hash of a log row: SHA-256(0x00 || encodeLogRow(row)), written into one buffer after
 * the prefix byte and hashed in place (the sealer's per-row cost).
 */
export function logRowLeafHash(row: LogRowLeaf): Uint8Array {
  const w = new Writer();
  w.byte(0x00);
  return oneShotHash ? oneShotHash('sha256', write(row, w).view(), 'buffer') : leafHash(encodeLogRow(row));
}

const oneShotHash = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

function fail(what: string): never {
  throw new TallyError('INVALID_EVIDENCE', `log row: ${what}`);
}

const TAG = Buffer.from(LOG_ROW_TAG, 'latin1');
type WellFormed = { isWellFormed?: () => boolean };

/** One growing buffer, written in one pass (a sealer encodes every row of the log). */
class Writer {
  #buf = Buffer.allocUnsafe(512);
  #at = 0;

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n));
    this.#buf.copy(next, 0, 0, this.#at);
    this.#buf = next;
  }

  tag(): void {
    this.#room(TAG.length);
    this.#at += TAG.copy(this.#buf, this.#at);
  }

  #string(type: number, s: string, field: string): void {
    // A lone surrogate has no UTF-8 form (Node writes U+FFFD): two strings would share bytes.
    const wf = (s as WellFormed).isWellFormed;
    if (wf ? !wf.call(s) : /\p{Cs}/u.test(s)) fail(`${field} is not well-formed Unicode`);
    this.#room(5 + s.length * 3); // UTF-8 needs at most 3 bytes per UTF-16 unit
    this.#buf[this.#at] = type;
    const n = this.#buf.write(s, this.#at + 5, 'utf8');
    this.#buf.writeUInt32BE(n, this.#at + 1);
    this.#at += 5 + n;
  }

  byte(b: number): void {
    this.#room(1);
    this.#buf[this.#at++] = b;
  }

  text(v: unknown, field: string): void {
    if (typeof v !== 'string') fail(`${field} must be text`);
    this.#string(T_TEXT, v, field);
  }

  nullableText(v: unknown, field: string): void {
    if (v === null || v === undefined) this.byte(T_NULL);
    else this.text(v, field);
  }

  json(v: unknown, field: string): void {
    if (v === null || v === undefined) {
      this.byte(T_NULL);
      return;
    }
    if (typeof v !== 'string') {
      fail(`${field} must be the stored JSON text (select ${field}::text), not a parsed value`);
    }
    this.#string(T_JSON, v, field);
  }

  bool(v: unknown, field: string): void {
    if (typeof v !== 'boolean') fail(`${field} must be a boolean`);
    this.byte(T_BOOL);
    this.byte(v ? 1 : 0);
  }

  texts(v: unknown, field: string): void {
    if (!Array.isArray(v)) fail(`${field} must be a list of texts`);
    this.#room(5);
    this.#buf[this.#at] = T_TEXTS;
    this.#buf.writeUInt32BE(v.length, this.#at + 1);
    this.#at += 5;
    for (const s of v) this.text(s, field);
  }

  int(v: unknown, field: string, min: bigint): void {
    let n: bigint;
    if (typeof v === 'bigint') n = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
    else if (typeof v === 'string' && /^-?(?:0|[1-9][0-9]*)$/.test(v) && v.length <= 20) n = BigInt(v);
    else fail(`${field} must be an integer`);
    if (n < min) fail(`${field} must be at least ${min}`);
    this.int64(n, field);
  }

  int64(n: bigint, field: string): void {
    if (n < INT64_MIN || n > INT64_MAX) fail(`${field} is out of the 64-bit range`);
    this.#room(9);
    this.#buf[this.#at] = T_INT;
    this.#buf.writeBigInt64BE(n, this.#at + 1);
    this.#at += 9;
  }

  /** What was written, without copying (valid until the next write). */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#at);
  }

  done(): Uint8Array {
    // A copy: the buffer may be a slice of Node's shared pool, and its tail is uninitialized.
    return new Uint8Array(this.#buf.subarray(0, this.#at));
  }
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$/;

/** Microseconds since the epoch, from a Date or a strict UTC text with up to 6 fraction digits. */
export function microsOf(at: unknown): bigint {
  // The rows of one change statement share their time: the last text's value is kept.
  if (typeof at === 'string' && at === lastTime.text) return lastTime.micros;
  if (at instanceof Date) {
    const ms = at.getTime();
    const year = at.getUTCFullYear();
    if (!Number.isFinite(ms) || year < 1 || year > 9999)
      fail('at is not a time between the years 1 and 9999');
    return BigInt(ms) * 1000n;
  }
  const m = typeof at === 'string' ? TIME.exec(at) : null;
  if (!m) fail(`at must be a Date or a UTC time 'YYYY-MM-DDTHH:MM:SS.ffffffZ'`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0-99 as 1900-1999.
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  // A day or an hour out of range rolls over (2026-02-30 is March 2nd); a real time reads back the same.
  if (t.toISOString().slice(0, 19) !== m[0].slice(0, 19) || y < 1) fail('at is not a valid time');
  const micros = BigInt(t.getTime()) * 1000n + BigInt((m[7] ?? '').padEnd(6, '0'));
  lastTime = { text: m[0], micros };
  return micros;
}

let lastTime: { text: string; micros: bigint } = { text: '', micros: 0n };
