import { sqlStateOf } from './errors.js';

// Socket-level failures: the server could not be reached or the connection died under us.
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

// What `pg` says when a connection ends or never comes up (it throws plain Errors without a code).
const NET_MESSAGES = [
  /^Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /connection timeout/i,
  /Client has encountered a connection error and is not queryable/i,
  /Client was closed and is not queryable/i,
  /^Query read timeout/i,
];

/**
 * True when `err` says the database could not be reached (refused, reset, timed out, connection lost,
 * server shutting down or not accepting connections yet) — the only errors that send new commands to a
 * secondary store. Anything the server answered (a constraint, a syntax error, a serialization failure)
 * is not: the server is there, and failing over would only hide the bug.
 *
 * @example
 * isUnreachable(new Error('Connection terminated unexpectedly')); // true
 * isUnreachable(uniqueViolation); // false (SQLSTATE 23505)
 */
export function isUnreachable(err: unknown, depth = 0): boolean {
  if (depth > 5 || err === null || typeof err !== 'object') return false;
  const state = sqlStateOf(err);
  if (state !== undefined && /^[0-9A-Z]{5}$/.test(state)) {
    // Class 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now.
    return state.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03';
  }
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NET_CODES.has(code)) return true;
  if (err instanceof AggregateError && err.errors.some((e) => isUnreachable(e, depth + 1))) return true;
  const message = err instanceof Error ? err.message : '';
  if (NET_MESSAGES.some((re) => re.test(message))) return true;
  return isUnreachable((err as { cause?: unknown }).cause, depth + 1);
}
