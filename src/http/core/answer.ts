import { isTallyError, TallyError } from '../../errors.js';
import { frameworkProblem } from '../framework-error.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from '../problem.js';

/** What an adapter writes back: a status, header lines (lower-case names) and the body's exact text. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /**
   * Set on a 5xx answer: the error behind it, for the server's log (it never reaches the client). The
   * adapter logs it; the core has no logger of its own.
   */
  failure?: unknown;
}

/** Where a problem answer is written: the path (`instance`), the `type` prefix, the 409/503 Retry-After. */
export interface ProblemContext {
  path?: string;
  typeBase?: string;
  retryAfterSeconds?: number;
}

/** The JSON content type every success answer has (the body is the response's exact JSON text). */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * The problem+json answer for a TallyError; `status` overrides the code's status (only for a 4xx the
 * framework chose itself). Retry-After on 409 and 503: trying again later may help.
 *
 * @example
 * const a = problemAnswer(new TallyError('COMMAND_IN_FLIGHT', 'busy'), { path: '/orders' });
 * // a.status === 409, a.headers['retry-after'] === '1'
 */
export function problemAnswer(err: TallyError, ctx: ProblemContext = {}, status?: number): HttpAnswer {
  const problem = problemOf(err, {
    ...(ctx.path === undefined ? {} : { instance: ctx.path }),
    ...(ctx.typeBase === undefined ? {} : { typeBase: ctx.typeBase }),
    ...(status === undefined ? {} : { status }),
  });
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE };
  if (problem.status === 409 || problem.status === 503)
    headers['retry-after'] = String(ctx.retryAfterSeconds ?? 1);
  const answer: HttpAnswer = { status: problem.status, headers, body: JSON.stringify(problem) };
  if (problem.status >= 500) answer.failure = err;
  return answer;
}

/**
 * The problem+json answer for anything a framework or a route threw that is not a TallyError: its 4xx
 * (body not JSON, too large, unsupported type, ...) with Tally's code and a fixed message, or 500
 * `INTERNAL_ERROR` whose detail says nothing about it (the error is `failure`, for the log).
 *
 * @example
 * const a = frameworkErrorAnswer(new SyntaxError('Unexpected token'), { path: '/orders' }); // 500
 */
export function frameworkErrorAnswer(err: unknown, ctx: ProblemContext = {}): HttpAnswer {
  const { error, status } = frameworkProblem(err);
  const answer = problemAnswer(error, ctx, status);
  if (status >= 500) answer.failure = err;
  return answer;
}

/**
 * Whatever a route, a middleware or the framework threw, as problem+json: a TallyError with its own code,
 * anything else as `frameworkErrorAnswer` does. The one error path of the Express, Hono and NestJS adapters.
 *
 * @example
 * const a = errorAnswer(err, { path: pathOf(req.url) });
 */
export function errorAnswer(err: unknown, ctx: ProblemContext = {}): HttpAnswer {
  return isTallyError(err) ? problemAnswer(err, ctx) : frameworkErrorAnswer(err, ctx);
}

/**
 * 404 `ROUTE_NOT_FOUND` as problem+json; the detail never repeats the path.
 *
 * @example
 * const a = notFoundAnswer({ path: '/nowhere' }); // a.status === 404
 */
export function notFoundAnswer(ctx: ProblemContext = {}): HttpAnswer {
  return problemAnswer(new TallyError('ROUTE_NOT_FOUND', 'there is no route for this method and path'), ctx);
}

/** Where a problem is written, from an adapter's options: the path and, when set, the `type` prefix. */
export function problemContext(path: string, typeBase: string | undefined): ProblemContext {
  return typeBase === undefined ? { path } : { path, typeBase };
}

/** The request's path without its query string: a problem's `instance` never repeats parameters. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
