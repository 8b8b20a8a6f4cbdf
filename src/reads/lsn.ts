/**
 * PostgreSQL WAL positions ("log sequence numbers", printed as `16/B374D848`) as bigints, so they
 * compare and merge exactly: a position is a 64-bit byte offset, more than a JS number holds.
 */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/**
 * Parses PostgreSQL's `hi/lo` text form; returns null for anything else (never throws: positions also
 * arrive inside tokens from clients, and a bad one must only make a token absent).
 *
 * @example
 * parseLsn('0/16B3748') // 23803720n
 */
export function parseLsn(text: unknown): Lsn | null {
  if (typeof text !== 'string') return null;
  const m = LSN_TEXT.exec(text);
  if (!m) return null;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/**
 * Formats a position the way PostgreSQL prints it.
 *
 * @example
 * formatLsn(23803720n) // '0/16B3748'
 */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The larger of two positions (null counts as "nothing yet"). */
export function maxLsn(a: Lsn | null, b: Lsn | null): Lsn | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}

export const MAX_LSN: Lsn = (1n << 64n) - 1n;
