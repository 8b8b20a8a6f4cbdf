import { STATUS_CODES } from 'node:http';
import type { TallyError } from '../errors.js';
import { httpStatusOf } from './status.js';

/** An RFC 9457 problem document carrying Tally's stable error code. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The stable Tally error code (`IDEMPOTENCY_KEY_REUSED`, ...): what clients branch on. */
  code: string;
  instance?: string;
  details?: Readonly<Record<string, unknown>>;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const DEFAULT_PROBLEM_TYPE_BASE = 'urn:tally:error:';

/** The IETF Idempotency-Key draft's titles for its three error cases. */
const TITLES: Readonly<Record<string, string>> = {
  INVALID_IDEMPOTENCY_KEY: 'Idempotency-Key is missing or invalid',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency-Key is already used',
  COMMAND_IN_FLIGHT: 'A request is outstanding for this Idempotency-Key',
};

/**
 * The detail of every 500: the message of a server-side error names tables, constraints, settings or
 * SQLSTATEs — internals a client cannot act on. The code stays; the message goes to the server's log.
 */
export const SERVER_ERROR_DETAIL = 'the server failed to answer this request; see its log';

/**
 * The problem document for a TallyError. Server-side errors (5xx) keep their code but not their details;
 * a 500 not its message either (502 and 503 keep it: "retry later" is for the client).
 *
 * @example
 * const p = problemOf(err, { instance: request.url });
 * reply.code(p.status).type(PROBLEM_CONTENT_TYPE).send(p);
 */
export function problemOf(
  err: TallyError,
  options: { instance?: string; typeBase?: string; status?: number } = {},
): Problem {
  // `status` is for a request the framework refused with a 4xx of its own choosing (framework-error.ts).
  const status = options.status ?? httpStatusOf(err.code);
  const problem: Problem = {
    type: `${options.typeBase ?? DEFAULT_PROBLEM_TYPE_BASE}${err.code}`,
    title: TITLES[err.code] ?? STATUS_CODES[status] ?? 'Error',
    status,
    detail: status === 500 ? SERVER_ERROR_DETAIL : err.message,
    code: err.code,
  };
  if (options.instance !== undefined) problem.instance = options.instance;
  if (status < 500 && err.details !== undefined) problem.details = err.details;
  return problem;
}
