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

/** The largest WAL page header (the "long" one at the start of a segment): no record lives inside it. */
const MAX_PAGE_HEADER = 40n;

/**
 * True once a replica that has replayed up to `replay` has applied everything before `target`.
 * The primary's insert position right after a page fills points past the next page's header, while a
 * replica's replay position stops at the page boundary; the bytes between are a header, never a record.
 * Without this an idle primary could leave a replica "behind" forever (and every token read on the primary).
 */
export function replayedPast(replay: Lsn | null, target: Lsn, walBlockSize: bigint): boolean {
  if (replay === null) return false;
  if (replay >= target) return true;
  return replay % walBlockSize === 0n && target - replay <= MAX_PAGE_HEADER;
}
