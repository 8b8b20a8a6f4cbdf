import type { Context, ErrorHandler, Handler, NotFoundHandler } from 'hono';
import type { Command } from '../../commands/command.js';
import { errorAnswer, type HttpAnswer, notFoundAnswer, problemContext } from '../core/answer.js';
import { DEFAULT_BODY_LIMIT, parseJsonBody, readWebBody } from '../core/body.js';
import { type IdempotentOptions, idempotentCore } from '../core/idempotent.js';

export {
  type JsonSendOptions,
  jsonSend,
  type OutboundAnswer,
  type OutboundClient,
  type OutboundRequest,
} from '../outbound.js';
export { commandResponse } from '../respond.js';

/** Where a 5xx's error goes (it never reaches the client). Default: `console.error`. */
export type ServerLog = (err: unknown, c: Context) => void;

export interface HonoIdempotentOptions<In, R> extends IdempotentOptions<Context, In, R> {
  /** Bytes of body read (default 1 MiB, as Fastify); more → 413 without reading the rest. */
  bodyLimit?: number;
  log?: ServerLog;
}

const defaultLog: ServerLog = (err) => console.error('tally: an idempotent route failed', err);

/**
 * A Hono 4 handler that runs a Tally command once per Idempotency-Key (the core's behaviour, as
 * `tally/fastify`). It reads the body itself from the fetch `Request` (any runtime: Node through
 * `@hono/node-server`, or `app.fetch` wherever it runs), so a body that is not JSON, too large or cut short
 * is problem+json like any other refusal.
 *
 * @example
 * import { Hono } from 'hono';
 * import { idempotent, tallyOnError } from 'tally/hono';
 * const app = new Hono();
 * app.post('/orders', idempotent(order, { principal: (c) => c.req.header('x-user') }));
 * app.onError(tallyOnError());
 */
export function idempotent<I, R, In = I>(
  command: Command<I, R, In>,
  options: HonoIdempotentOptions<In, R>,
): Handler {
  const handle = idempotentCore(command, options);
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const log = options.log ?? defaultLog;
  return async function tallyIdempotent(c: Context): Promise<Response> {
    const answer = await handle({
      request: c,
      path: c.req.path,
      idempotencyKey: c.req.header('idempotency-key'),
      body: async () => parseJsonBody(c.req.header('content-type'), await readWebBody(c.req.raw.body, limit)),
    });
    if (answer.failure !== undefined) log(answer.failure, c);
    return toResponse(answer);
  };
}

/**
 * For `app.onError`: every error a route or middleware throws is problem+json with a stable code (Hono's
 * `HTTPException` keeps its 4xx status; anything else is 500 INTERNAL_ERROR without its message).
 *
 * @example
 * app.onError(tallyOnError());
 */
export function tallyOnError(options: { problemTypeBase?: string; log?: ServerLog } = {}): ErrorHandler {
  const log = options.log ?? defaultLog;
  return (err, c) => {
    const answer = errorAnswer(err, problemContext(c.req.path, options.problemTypeBase));
    if (answer.failure !== undefined) log(answer.failure, c);
    return toResponse(answer);
  };
}

/**
 * For `app.notFound`: 404 `ROUTE_NOT_FOUND` as problem+json.
 *
 * @example
 * app.notFound(tallyNotFound());
 */
export function tallyNotFound(options: { problemTypeBase?: string } = {}): NotFoundHandler {
  return (c) => toResponse(notFoundAnswer(problemContext(c.req.path, options.problemTypeBase)));
}

function toResponse(answer: HttpAnswer): Response {
  // A 413 leaves the rest of the body unread (the reader is cancelled; @hono/node-server then closes the
  // socket): the client must not send its next request on this connection.
  const headers = answer.status === 413 ? { ...answer.headers, connection: 'close' } : answer.headers;
  return new Response(answer.body, { status: answer.status, headers });
}
