import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Command } from '../commands/command.js';
import type { TallyError } from '../errors.js';
import { type HttpAnswer, pathOf, problemAnswer } from './core/answer.js';
import { type IdempotentOptions, idempotentCore } from './core/idempotent.js';

export { pathOf } from './core/answer.js';

/** The options of the Fastify route: the core's, with Fastify's request. */
export type IdempotentRouteOptions<I, R> = IdempotentOptions<FastifyRequest, I, R>;

/**
 * A Fastify route handler that runs a Tally command once per Idempotency-Key, as the IETF draft describes:
 * missing key → 400, same key with other key parameters → 422, same key in flight → 409, finished → the
 * recorded outcome again (same status, same body, `Idempotent-Replayed: true`). Errors are
 * `application/problem+json` with the stable Tally `code`. The behaviour is the framework-free core's
 * (src/http/core); this only reads Fastify's request and writes its reply.
 *
 * @example
 * app.post('/redemptions', idempotent(redeem, {
 *   principal: (req) => req.headers['x-user-id'] as string,
 *   input: (req) => req.body as RedeemInput,
 * }));
 */
export function idempotent<I, R, In = I>(command: Command<I, R, In>, options: IdempotentRouteOptions<In, R>) {
  const handle = idempotentCore(command, options);
  return async function idempotentHandler(request: FastifyRequest, reply: FastifyReply) {
    const answer = await handle({
      request,
      path: pathOf(request.url),
      idempotencyKey: request.headers['idempotency-key'],
      body: () => request.body,
    });
    if (answer.failure !== undefined) {
      request.log.error({ err: answer.failure }, 'tally: an idempotent route failed');
    }
    return writeAnswer(reply, answer);
  };
}

/** Writes a core answer on a Fastify reply. */
export function writeAnswer(reply: FastifyReply, answer: HttpAnswer): FastifyReply {
  reply.code(answer.status);
  for (const [name, value] of Object.entries(answer.headers)) {
    if (name === 'content-type') reply.type(value);
    else reply.header(name, value);
  }
  return reply.send(answer.body);
}

/**
 * Answers with the problem document for a TallyError (and Retry-After when trying again may help).
 * `status` overrides the code's status (only for a 4xx the framework chose itself).
 *
 * @example
 * if (isTallyError(err)) return sendProblem(reply, err, request.url);
 */
export function sendProblem(
  reply: FastifyReply,
  err: TallyError,
  instance?: string,
  typeBase?: string,
  retryAfterSeconds = 1,
  status?: number,
): FastifyReply {
  const ctx = {
    retryAfterSeconds,
    ...(instance === undefined ? {} : { path: instance }),
    ...(typeBase === undefined ? {} : { typeBase }),
  };
  return writeAnswer(reply, problemAnswer(err, ctx, status));
}
