import { STATUS_CODES } from 'node:http';
import { isTallyError } from '../../errors.js';
import { DEFAULT_PROBLEM_TYPE_BASE, type Problem, problemOf, SERVER_ERROR_DETAIL } from '../problem.js';

/**
 * The console's own refusals (auth, CSRF, query and body checks, actions that no longer apply). They are
 * not TallyErrors: no library call raises them, only the console's server, which maps each to its status
 * here. Messages name parameters, never their values (decision 0009).
 */
export const CONSOLE_STATUS: Readonly<Record<string, number>> = Object.freeze({
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  FORBIDDEN_HOST: 403,
  CSRF_REFUSED: 403,
  ROUTE_NOT_FOUND: 404,
  ENTITY_NOT_FOUND: 404,
  ENTITY_NOT_DECLARED: 422,
  DOWNSTREAM_NOT_CONFIGURED: 422,
  RATE_LIMITED: 429,
  METHOD_NOT_ALLOWED: 405,
  INVALID_QUERY: 400,
  MALFORMED_BODY: 400,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ACTION_NOT_APPLICABLE: 409,
  ACTION_NOT_AVAILABLE: 501,
});

export type ConsoleCode = keyof typeof CONSOLE_STATUS & string;

/** A refusal of the console's server, answered as problem+json with its stable code. */
export class ConsoleError extends Error {
  override readonly name = 'ConsoleError';
  constructor(
    readonly code: ConsoleCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

// Library codes whose library status would hide what an operator can act on: a schema not migrated is
// the server's state, not a bug (503 keeps its message; a 500 would not).
const OVERRIDES: Readonly<Record<string, number>> = { SCHEMA_NOT_MIGRATED: 503, SCHEMA_TOO_NEW: 503 };

/**
 * The problem document for anything a route threw: a ConsoleError or TallyError keeps its code and message
 * (5xx: the code only); anything else is INTERNAL_ERROR with no detail of it at all. No `instance`: the
 * path may carry what the caller typed, and nothing of the request is echoed.
 *
 * @example
 * const p = problemFor(new ConsoleError('UNAUTHORIZED', 'a token is required'));
 */
export function problemFor(err: unknown): Problem {
  if (err instanceof ConsoleError) {
    const status = CONSOLE_STATUS[err.code] ?? 500;
    const p: Problem = {
      type: `${DEFAULT_PROBLEM_TYPE_BASE}${err.code}`,
      title: STATUS_CODES[status] ?? 'Error',
      status,
      detail: err.message,
      code: err.code,
    };
    if (err.details !== undefined) p.details = err.details;
    return p;
  }
  if (isTallyError(err)) {
    const status = OVERRIDES[err.code];
    return problemOf(err, status === undefined ? {} : { status });
  }
  return {
    type: `${DEFAULT_PROBLEM_TYPE_BASE}INTERNAL_ERROR`,
    title: STATUS_CODES[500]!,
    status: 500,
    detail: SERVER_ERROR_DETAIL,
    code: 'INTERNAL_ERROR',
  };
}

/**
 * What the server's log says about an unexpected error: its class and SQLSTATE or code, never its message
 * (a driver's message can quote a parameter value).
 */
export function logLine(err: unknown): string {
  if (err instanceof ConsoleError || isTallyError(err)) return err.code;
  const e = err as { name?: unknown; code?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : typeof err;
  return typeof e?.code === 'string' ? `${name} ${e.code}` : name;
}
