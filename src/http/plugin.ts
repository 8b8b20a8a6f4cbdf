import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTallyError } from '../errors.js';
import { sendProblem } from './route.js';

export interface TallyFastifyOptions {
  /** Prefix of the problem `type` URI. Default `urn:tally:error:`. */
  problemTypeBase?: string;
}

/**
 * A Fastify plugin: every TallyError a route throws (ILLEGAL_TRANSITION, NOT_FOUND, ...) answers as
 * `application/problem+json` with its stable code and the status from Tally's one mapping table; other
 * errors go on to Fastify's own handler. It applies to the whole instance it is registered on.
 *
 * @example
 * import Fastify from 'fastify';
 * import { idempotent, tallyFastify } from 'tally/fastify';
 * const app = Fastify();
 * await app.register(tallyFastify);
 * app.post('/redemptions', idempotent(redeem, { principal: (req) => userOf(req) }));
 */
export async function tallyFastify(app: FastifyInstance, options: TallyFastifyOptions = {}): Promise<void> {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (isTallyError(error)) return sendProblem(reply, error, request.url, options.problemTypeBase);
    throw error;
  });
}

// Like fastify-plugin: not encapsulated, so the error handler covers the routes of the instance it is
// registered on.
Object.assign(tallyFastify, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'tally',
});
