import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Command } from '../../commands/command.js';
import { errorAnswer, type HttpAnswer, notFoundAnswer, pathOf, problemContext } from '../core/answer.js';
import { DEFAULT_BODY_LIMIT } from '../core/body.js';
import { type IdempotentOptions, idempotentCore } from '../core/idempotent.js';
import { nodeJsonBody } from '../core/node-body.js';

export {
  type JsonSendOptions,
  jsonSend,
  type OutboundAnswer,
  type OutboundClient,
  type OutboundRequest,
} from '../outbound.js';
export { commandResponse } from '../respond.js';

/** Where a 5xx's error goes (it never reaches the client). Default: `console.error`. */
export type ServerLog = (err: unknown, request: Request) => void;

export interface ExpressIdempotentOptions<In, R> extends IdempotentOptions<Request, In, R> {
  /** Bytes of body read when no `express.json()` parsed it (default 1 MiB, as Fastify). */
  bodyLimit?: number;
  log?: ServerLog;
}

const defaultLog: ServerLog = (err) => console.error('tally: an idempotent route failed', err);

/**
 * An Express 5 handler that runs a Tally command once per Idempotency-Key (the core's behaviour, as
 * `tally/fastify`): 400 missing/malformed key, 401 no principal, 422 key reused with other parameters,
 * 409 in flight, the recorded answer replayed with `Idempotent-Replayed: true`, problem+json errors.
 * The body is `req.body` when a parser (`express.json()`) filled it, else it is read and parsed here.
 *
 * @example
 * import express from 'express';
 * import { idempotent, tallyErrors } from 'tally/express';
 * const app = express();
 * app.use(express.json({ limit: '1mb' }));
 * app.post('/orders', idempotent(order, { principal: (req) => req.get('x-user') }));
 * app.use(tallyErrors()); // body-parser's refusals → problem+json
 */
export function idempotent<I, R, In = I>(
  command: Command<I, R, In>,
  options: ExpressIdempotentOptions<In, R>,
): RequestHandler {
  const handle = idempotentCore(command, options);
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const log = options.log ?? defaultLog;
  return async function tallyIdempotent(req: Request, res: Response): Promise<void> {
    const answer = await handle({
      request: req,
      path: pathOf(req.originalUrl),
      idempotencyKey: req.headers['idempotency-key'],
      body: () => nodeJsonBody(req, limit),
    });
    if (answer.failure !== undefined) log(answer.failure, req);
    writeAnswer(res, answer);
  };
}

export interface TallyErrorsOptions {
  /** Prefix of the problem `type` URI. Default `urn:tally:error:`. */
  problemTypeBase?: string;
  log?: ServerLog;
}

/**
 * Express error middleware (register it last): every error that reaches it is answered as problem+json
 * with a stable code — a TallyError with its own; body-parser's refusals as the Fastify plugin's
 * (`entity.parse.failed` → 400 MALFORMED_BODY, `entity.too.large` → 413 BODY_TOO_LARGE, unsupported
 * charset/encoding → 415); anything else 500 INTERNAL_ERROR without its message.
 *
 * @example
 * app.use(tallyErrors());
 */
export function tallyErrors(options: TallyErrorsOptions = {}): ErrorRequestHandler {
  const log = options.log ?? defaultLog;
  return function tallyErrorHandler(err: unknown, req: Request, res: Response, next: (e?: unknown) => void) {
    if (res.headersSent) return next(err);
    const answer = errorAnswer(err, problemContext(pathOf(req.originalUrl), options.problemTypeBase));
    if (answer.failure !== undefined) log(answer.failure, req);
    writeAnswer(res, answer);
  };
}

/**
 * 404 `ROUTE_NOT_FOUND` as problem+json for requests no route took (register it after the routes).
 *
 * @example
 * app.use(tallyNotFound());
 */
export function tallyNotFound(options: { problemTypeBase?: string } = {}): RequestHandler {
  return (req, res) =>
    writeAnswer(res, notFoundAnswer(problemContext(pathOf(req.originalUrl), options.problemTypeBase)));
}

/** Node's own setHeader/end: Express's `res.send` would add an ETag and rewrite the Content-Type. */
function writeAnswer(res: Response, answer: HttpAnswer): void {
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.setHeader('content-length', Buffer.byteLength(answer.body));
  res.end(answer.body);
}
