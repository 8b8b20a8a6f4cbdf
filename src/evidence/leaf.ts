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
  if (row === null || typeof row !== 'object') fail('the row must be an object');
  const parts: Buffer[] = [Buffer.from(LOG_ROW_TAG, 'latin1')];
  parts.push(int(row.id, 'id', 1n));
  parts.push(text(row.entity_type, 'entity_type'));
  parts.push(text(row.entity_key, 'entity_key'));
  parts.push(int(row.version, 'version', 1n));
  parts.push(text(row.action, 'action'));
  parts.push(text(row.actor, 'actor'));
  for (const k of ['source_ip', 'reason', 'request_id', 'command_id'] as const)
    parts.push(nullableText(row[k], k));
  parts.push(json(row.before, 'before'));
  parts.push(json(row.after, 'after'));
  parts.push(bool(row.before_delta ?? false, 'before_delta'));
  parts.push(texts(row.changed, 'changed'));
  parts.push(int64(microsOf(row.at), 'at'));
  return new Uint8Array(Buffer.concat(parts));
}

/** The Merkle leaf hash of a log row: SHA-256(0x00 || encodeLogRow(row)). */
export function logRowLeafHash(row: LogRowLeaf): Uint8Array {
  return leafHash(encodeLogRow(row));
}

function fail(what: string): never {
  throw new TallyError('INVALID_EVIDENCE', `log row: ${what}`);
}

function utf8(s: string, field: string): Buffer {
  // A lone surrogate has no UTF-8 form (Node writes U+FFFD): two strings would share bytes.
  if (/\p{Cs}/u.test(s)) fail(`${field} is not well-formed Unicode`);
  return Buffer.from(s, 'utf8');
}

function withLength(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

function text(v: unknown, field: string): Buffer {
  if (typeof v !== 'string') fail(`${field} must be text`);
  return withLength(T_TEXT, utf8(v, field));
}

function nullableText(v: unknown, field: string): Buffer {
  return v === null || v === undefined ? Buffer.of(T_NULL) : text(v, field);
}

function json(v: unknown, field: string): Buffer {
  if (v === null || v === undefined) return Buffer.of(T_NULL);
  if (typeof v !== 'string')
    fail(`${field} must be the stored JSON text (select ${field}::text), not a parsed value`);
  return withLength(T_JSON, utf8(v, field));
}

function bool(v: unknown, field: string): Buffer {
  if (typeof v !== 'boolean') fail(`${field} must be a boolean`);
  return Buffer.of(T_BOOL, v ? 1 : 0);
}

function texts(v: unknown, field: string): Buffer {
  if (!Array.isArray(v)) fail(`${field} must be a list of texts`);
  const head = Buffer.alloc(5);
  head[0] = T_TEXTS;
  head.writeUInt32BE(v.length, 1);
  return Buffer.concat([head, ...v.map((s) => text(s, field))]);
}

function int(v: unknown, field: string, min: bigint): Buffer {
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^-?(?:0|[1-9][0-9]*)$/.test(v) && v.length <= 20) n = BigInt(v);
  else fail(`${field} must be an integer`);
  if (n < min) fail(`${field} must be at least ${min}`);
  return int64(n, field);
}

function int64(n: bigint, field: string): Buffer {
  if (n < INT64_MIN || n > INT64_MAX) fail(`${field} is out of the 64-bit range`);
  const b = Buffer.alloc(9);
  b[0] = T_INT;
  b.writeBigInt64BE(n, 1);
  return b;
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?Z$/;

/** Microseconds since the epoch, from a Date or a strict UTC text with up to 6 fraction digits. */
export function microsOf(at: unknown): bigint {
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
  return BigInt(t.getTime()) * 1000n + BigInt((m[7] ?? '').padEnd(6, '0'));
}
