import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTallyError, TallyError } from '../errors.js';
import { frameworkProblem } from './framework-error.js';
import { pathOf, sendProblem } from './route.js';
import { httpStatusOf } from './status.js';

export interface TallyFastifyOptions {
  /** Prefix of the problem `type` URI. Default `urn:tally:error:`. */
  problemTypeBase?: string;
  /**
   * Also answer requests for which no route exists (404 `ROUTE_NOT_FOUND`) as problem+json. Default
   * false: Fastify has one not-found handler per prefix, and an app that sets its own would fail to start.
   */
  notFound?: boolean;
}

/**
 * A Fastify plugin: every error answer of the instance it is registered on is `application/problem+json`
 * with a stable code. A TallyError (ILLEGAL_TRANSITION, NOT_FOUND, ...) keeps its code and the status from
 * Tally's one mapping table. What Fastify refuses before a route runs gets its own code and Fastify's
 * status: a body that is not JSON, is empty, or has `__proto__` / `constructor.prototype` keys →
 * 400 `MALFORMED_BODY`; over the body limit → 413 `BODY_TOO_LARGE`; a Content-Type no parser takes →
 * 415 `UNSUPPORTED_MEDIA_TYPE`; a route schema's verdict → 400 `INVALID_REQUEST` with the failing paths.
 * Anything else a route or hook throws → 500 `INTERNAL_ERROR` with a fixed message: the error itself goes
 * to the request's log, never to the client.
 *
 * @example
 * import Fastify from 'fastify';
 * import { idempotent, tallyFastify } from 'tally/fastify';
 * const app = Fastify();
 * await app.register(tallyFastify, { notFound: true });
 * app.post('/redemptions', idempotent(redeem, { principal: (req) => userOf(req) }));
 */
export async function tallyFastify(app: FastifyInstance, options: TallyFastifyOptions = {}): Promise<void> {
  const base = options.problemTypeBase;
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const path = pathOf(request.url);
    if (isTallyError(error)) {
      // A 500's message is not sent (problem.ts): the log is where it can be read.
      if (httpStatusOf(error.code) >= 500) request.log.error({ err: error }, 'tally: a route failed');
      return sendProblem(reply, error, path, base);
    }
    const { error: problem, status } = frameworkProblem(error);
    // As Fastify's own handler does: a server error is logged as an error, a refused request as info.
    if (status >= 500) request.log.error({ err: error }, 'tally: a route failed');
    else request.log.info({ err: error }, 'tally: request refused');
    return sendProblem(reply, problem, path, base, 1, status);
  });
  if (options.notFound) {
    app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
      sendProblem(
        reply,
        new TallyError('ROUTE_NOT_FOUND', 'there is no route for this method and path'),
        pathOf(request.url),
        base,
      ),
    );
  }
}

// Like fastify-plugin: not encapsulated, so the error handler covers the routes of the instance it is
// registered on.
Object.assign(tallyFastify, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'tally',
});
