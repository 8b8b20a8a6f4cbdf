import { TallyError } from '../errors.js';
import { LOG_ROW_TAG } from './leaf.js';

/** A log row read back from its leaf bytes: integers as decimal text, `at` as UTC text to the µs. */
export interface DecodedLogRow {
  id: string;
  entity_type: string;
  entity_key: string;
  version: string;
  action: string;
  actor: string;
  source_ip: string | null;
  reason: string | null;
  request_id: string | null;
  command_id: string | null;
  before: string | null;
  after: string | null;
  before_delta: boolean;
  changed: string[];
  at: string;
}

/**
 * The inverse of `encodeLogRow`: the row a leaf encodes, or INVALID_EVIDENCE when the bytes are not
 * exactly one encoded row. What a proof's verifier shows for a leaf given as bytes; its existence is
 * the argument that the encoding is unambiguous (one byte string, one row).
 *
 * @example
 * decodeLogRow(encodeLogRow(row)).entity_key; // row.entity_key
 */
export function decodeLogRow(bytes: Uint8Array): DecodedLogRow {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 0;
  const fail = (): never => {
    throw new TallyError('INVALID_EVIDENCE', 'leaf: the bytes are not one encoded log row');
  };
  const need = (n: number): void => {
    if (at + n > buf.length) fail();
  };
  const tag = Buffer.from(LOG_ROW_TAG, 'latin1');
  need(tag.length);
  if (!buf.subarray(0, tag.length).equals(tag)) fail();
  at = tag.length;
  const type = (): number => {
    need(1);
    return buf[at++]!;
  };
  const body = (): string => {
    need(4);
    const n = buf.readUInt32BE(at);
    at += 4;
    need(n);
    const s = buf.subarray(at, at + n);
    at += n;
    const t = s.toString('utf8');
    if (!Buffer.from(t, 'utf8').equals(s)) fail(); // not valid UTF-8
    return t;
  };
  const text = (): string => (type() === 0x01 ? body() : fail());
  const nullable = (want: number): string | null => {
    const t = type();
    if (t === 0x00) return null;
    return t === want ? body() : fail();
  };
  const int = (): bigint => {
    if (type() !== 0x02) fail();
    need(8);
    const n = buf.readBigInt64BE(at);
    at += 8;
    return n;
  };
  const id = int();
  const entity_type = text();
  const entity_key = text();
  const version = int();
  const action = text();
  const actor = text();
  const source_ip = nullable(0x01);
  const reason = nullable(0x01);
  const request_id = nullable(0x01);
  const command_id = nullable(0x01);
  const before = nullable(0x05);
  const after = nullable(0x05);
  if (type() !== 0x03) fail();
  need(1);
  const flag = buf[at++]!;
  if (flag > 1) fail();
  if (type() !== 0x04) fail();
  need(4);
  const count = buf.readUInt32BE(at);
  at += 4;
  const changed: string[] = [];
  for (let i = 0; i < count; i++) changed.push(text());
  const micros = int();
  if (at !== buf.length || id < 1n || version < 1n) fail();
  return {
    id: String(id),
    entity_type,
    entity_key,
    version: String(version),
    action,
    actor,
    source_ip,
    reason,
    request_id,
    command_id,
    before,
    after,
    before_delta: flag === 1,
    changed,
    at: utcText(micros),
  };
}

/** 'YYYY-MM-DDTHH:MM:SS.ffffffZ' for microseconds since the epoch. */
function utcText(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const frac = micros - ms * 1000n;
  const d = new Date(Number(ms));
  const year = d.getUTCFullYear();
  if (!Number.isFinite(d.getTime()) || year < 1 || year > 9999) {
    throw new TallyError('INVALID_EVIDENCE', 'leaf: the time is out of range');
  }
  return `${d.toISOString().slice(0, 23)}${String(frac).padStart(3, '0')}Z`;
}
