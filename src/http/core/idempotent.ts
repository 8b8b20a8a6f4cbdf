import type { Command } from '../../commands/command.js';
import type { CommandResult } from '../../commands/result.js';
import { isTallyError, TallyError } from '../../errors.js';
import { idempotencyKeyOf } from '../header.js';
import { type CommandResponse, commandResponse } from '../respond.js';
import { frameworkErrorAnswer, type HttpAnswer, JSON_CONTENT_TYPE, problemAnswer } from './answer.js';

type Maybe<T> = T | Promise<T>;

/** The options every adapter's `idempotent(command, options)` takes; `Req` is the framework's request. */
export interface IdempotentOptions<Req, In, R> {
  /** Who sends the request (the authenticated user or client): keys are scoped by it. Empty → 401. */
  principal(request: Req): Maybe<string | undefined | null>;
  /** The command input from the request (default: the parsed JSON body). Its key parameters are fingerprinted. */
  input?(request: Req): Maybe<In>;
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

/** What the adapter reads off the framework's request for the core. */
export interface RequestFacts<Req> {
  request: Req;
  /** The path without the query string (the problem's `instance`). */
  path: string;
  /** The Idempotency-Key header as the framework hands it over (several lines: an array or a comma list). */
  idempotencyKey: string | string[] | undefined | null;
  /** The parsed body, used when `options.input` is not given; may throw a TallyError (MALFORMED_BODY, ...). */
  body(): Maybe<unknown>;
}

/** The framework-free handler: request facts in, a plain answer out. It never throws. */
export type IdempotentHandler<Req> = (facts: RequestFacts<Req>) => Promise<HttpAnswer>;

/**
 * The Idempotency-Key behaviour of every adapter (IETF httpapi draft), with no framework: missing or
 * malformed key → 400; no principal → 401; same key with other key parameters → 422; in flight → 409 with
 * Retry-After; finished → the recorded answer again with `Idempotent-Replayed: true`; accepted but not
 * finished → 202 with Retry-After. Every error is problem+json with a stable code; anything that is not a
 * TallyError (a throwing `principal`, `input` or `respond`) is 500 `INTERNAL_ERROR` with no internals.
 *
 * @example
 * const handle = idempotentCore(redeem, { principal: (r: { user: string }) => r.user });
 * const a = await handle({ request: { user: 'u1' }, path: '/r', idempotencyKey: 'k1', body: () => input });
 */
export function idempotentCore<I, R, In, Req>(
  command: Command<I, R, In>,
  options: IdempotentOptions<Req, In, R>,
): IdempotentHandler<Req> {
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
  const typeBase = options.problemTypeBase;

  return async function handle(facts: RequestFacts<Req>): Promise<HttpAnswer> {
    const ctx = { path: facts.path, typeBase, retryAfterSeconds: retryAfter };
    try {
      const principal = await options.principal(facts.request);
      if (typeof principal !== 'string' || principal === '') {
        throw new TallyError('INVALID_PRINCIPAL', 'the request does not say who sends it');
      }
      const key = idempotencyKeyOf(facts.idempotencyKey ?? undefined);
      // With an input schema, whatever the body holds is checked by it (400 with the failing paths).
      const input = options.input ? await options.input(facts.request) : ((await facts.body()) as In);
      const result = await command.submit({ key, principal, input });
      const { status, body } = respond(result);
      const headers: Record<string, string> = { 'content-type': JSON_CONTENT_TYPE };
      if (result.replayed) headers['idempotent-replayed'] = 'true';
      if (status === 202) headers['retry-after'] = String(retryAfterOf(result, retryAfter));
      return { status, headers, body: JSON.stringify(body) };
    } catch (err) {
      // Not a TallyError: the route's own code (principal, input, respond) or something below it failed.
      // 500 with a fixed message; the error is the answer's `failure`, for the server's log only.
      return isTallyError(err) ? problemAnswer(err, ctx) : frameworkErrorAnswer(err, ctx);
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
