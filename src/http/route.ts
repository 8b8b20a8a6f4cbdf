import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Command } from '../commands/command.js';
import type { CommandResult } from '../commands/result.js';
import { isTallyError, TallyError } from '../errors.js';
import { frameworkProblem } from './framework-error.js';
import { idempotencyKeyOf } from './header.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from './problem.js';
import { type CommandResponse, commandResponse } from './respond.js';
import { httpStatusOf } from './status.js';

export interface IdempotentRouteOptions<I, R> {
  /** Who sends the request (the authenticated user or client): keys are scoped by it. Empty → 401. */
  principal(request: FastifyRequest): string | undefined | null | Promise<string | undefined | null>;
  /** The command input from the request (default: the parsed body). Its key parameters are fingerprinted. */
  input?(request: FastifyRequest): I | Promise<I>;
  /**
   * The answer for the recorded command. Must depend on the recorded state only (it is recomputed on every
   * replay, so a pure function keeps replays verbatim). Default: `commandResponse`.
   */
  respond?(result: CommandResult<R>): CommandResponse;
  /**
   * Retry-After (seconds) on 409 answers and on 202 answers with no scheduled attempt (a command waiting
   * for a person). A 202 for a command with a next attempt says the seconds until it instead. Default 1.
   */
  retryAfterSeconds?: number;
  /** Prefix of the problem `type` URI. Default `urn:tally:error:`. */
  problemTypeBase?: string;
}

/**
 * A Fastify route handler that runs a Tally command once per Idempotency-Key, as the IETF draft describes:
 * missing key → 400, same key with other key parameters → 422, same key in flight → 409, finished → the
 * recorded outcome again (same status, same body, `Idempotent-Replayed: true`). Errors are
 * `application/problem+json` with the stable Tally `code`.
 *
 * @example
 * app.post('/redemptions', idempotent(redeem, {
 *   principal: (req) => req.headers['x-user-id'] as string,
 *   input: (req) => req.body as RedeemInput,
 * }));
 */
export function idempotent<I, R, In = I>(command: Command<I, R, In>, options: IdempotentRouteOptions<In, R>) {
  if (!command || typeof command.submit !== 'function') {
    throw new TallyError('INVALID_CONFIG', 'idempotent(command, options): command must be a Tally command');
  }
  if (!options || typeof options.principal !== 'function') {
    throw new TallyError(
      'INVALID_CONFIG',
      'idempotent(command, options): options.principal must be a function',
    );
  }
  const retryAfter = options.retryAfterSeconds ?? 1;
  if (!Number.isInteger(retryAfter) || retryAfter < 0) {
    throw new TallyError('INVALID_CONFIG', 'idempotent: retryAfterSeconds must be a non-negative integer');
  }
  const respond = options.respond ?? (commandResponse as (r: CommandResult<R>) => CommandResponse);
  // With an input schema, whatever the body holds is checked by it (400 with the failing paths).
  const readInput = options.input ?? ((request: FastifyRequest) => request.body as In);

  return async function idempotentHandler(request: FastifyRequest, reply: FastifyReply) {
    try {
      const principal = await options.principal(request);
      if (typeof principal !== 'string' || principal === '') {
        throw new TallyError('INVALID_PRINCIPAL', 'the request does not say who sends it');
      }
      const key = idempotencyKeyOf(request.headers['idempotency-key']);
      const result = await command.submit({ key, principal, input: await readInput(request) });
      const { status, body } = respond(result);
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      if (status === 202) reply.header('retry-after', String(retryAfterOf(result, retryAfter)));
      return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
    } catch (err) {
      // Not a TallyError: the route's own code (principal, input, respond) or something below it failed.
      // 500 with a fixed message; the error goes to the server's log, never to the client.
      if (!isTallyError(err)) {
        const { error, status } = frameworkProblem(err);
        if (status >= 500) request.log.error({ err }, 'tally: an idempotent route failed');
        return sendProblem(reply, error, pathOf(request.url), options.problemTypeBase, retryAfter, status);
      }
      if (httpStatusOf(err.code) >= 500) request.log.error({ err }, 'tally: an idempotent route failed');
      return sendProblem(reply, err, pathOf(request.url), options.problemTypeBase, retryAfter);
    }
  };
}

/**
 * Retry-After for an open command: the seconds until its next scheduled attempt (at least 1), so a
 * client that follows it knocks when something can have changed; the route's default otherwise.
 */
function retryAfterOf(result: CommandResult, fallback: number): number {
  const ms = result.retryAfterMs;
  return ms === undefined ? fallback : Math.max(1, Math.ceil(ms / 1000));
}

/** The request's path without its query string: a problem's `instance` never repeats parameters. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
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
  const problem = problemOf(err, {
    ...(instance === undefined ? {} : { instance }),
    ...(typeBase === undefined ? {} : { typeBase }),
    ...(status === undefined ? {} : { status }),
  });
  if (problem.status === 409 || problem.status === 503)
    reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}
