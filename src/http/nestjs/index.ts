import type {
  ArgumentsHost,
  CallHandler,
  ExceptionFilter,
  ExecutionContext,
  NestInterceptor,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import type { Command } from '../../commands/command.js';
import { errorAnswer, type HttpAnswer, pathOf, problemContext } from '../core/answer.js';
import { DEFAULT_BODY_LIMIT, refusePoisonedBody } from '../core/body.js';
import { type IdempotentOptions, idempotentCore } from '../core/idempotent.js';
import { type NodeRequestLike, nodeJsonBody } from '../core/node-body.js';

export {
  type JsonSendOptions,
  jsonSend,
  type OutboundAnswer,
  type OutboundClient,
  type OutboundRequest,
} from '../outbound.js';
export { commandResponse } from '../respond.js';

/** The request as both Nest platforms hand it over (an Express `Request` or a `FastifyRequest`). */
export interface NestHttpRequest {
  headers: Record<string, string | string[] | undefined>;
  url: string;
  originalUrl?: string;
  body?: unknown;
}

/** Where a 5xx's error goes (it never reaches the client). Default: `console.error`. */
export type ServerLog = (err: unknown, request: NestHttpRequest) => void;

export interface NestIdempotentOptions<In, R, Req extends NestHttpRequest = NestHttpRequest>
  extends IdempotentOptions<Req, In, R> {
  /** Bytes of body read when the platform did not parse it (Express platform, a non-JSON type). Default 1 MiB. */
  bodyLimit?: number;
  log?: ServerLog;
}

/** The reply of either platform: Express's `Response` or Fastify's `FastifyReply`. */
interface PlatformReply {
  status?(code: number): unknown;
  code?(code: number): unknown;
  header?(name: string, value: string): unknown;
  setHeader?(name: string, value: string): unknown;
}

const defaultLog: ServerLog = (err) => console.error('tally: an idempotent route failed', err);

/**
 * A NestJS interceptor that answers its route with a Tally command run once per Idempotency-Key (the
 * core's behaviour, as `tally/fastify`), on the Express and the Fastify platform alike. The route's own
 * method is not called: the command is the handler (an empty method is enough). No decorator syntax is
 * needed: `UseInterceptors(idempotentInterceptor(...))` is a plain function call too.
 *
 * @example
 * @Controller('orders')
 * class Orders {
 *   @Post()
 *   @UseInterceptors(idempotentInterceptor(order, { principal: (req) => req.headers['x-user'] as string }))
 *   create() {}
 * }
 */
export function idempotentInterceptor<I, R, In = I, Req extends NestHttpRequest = NestHttpRequest>(
  command: Command<I, R, In>,
  options: NestIdempotentOptions<In, R, Req>,
): NestInterceptor {
  const handle = idempotentCore(command, options);
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const log = options.log ?? defaultLog;
  return {
    async intercept(context: ExecutionContext, _next: CallHandler): Promise<Observable<string>> {
      const http = context.switchToHttp();
      const req = http.getRequest<Req>();
      const answer = await handle({
        request: req,
        path: pathOf(req.originalUrl ?? req.url),
        idempotencyKey: req.headers['idempotency-key'],
        body: () => bodyOf(req, limit),
      });
      if (answer.failure !== undefined) log(answer.failure, req);
      return sendThroughNest(http.getResponse<PlatformReply>(), answer);
    },
  };
}

/**
 * A Nest exception filter (`app.useGlobalFilters(tallyExceptionFilter())`): every error a route throws
 * (a TallyError with its code, an `HttpException` with its 4xx, anything else 500 INTERNAL_ERROR without
 * its message) is answered as problem+json.
 *
 * @example
 * app.useGlobalFilters(tallyExceptionFilter());
 */
export function tallyExceptionFilter(
  options: { problemTypeBase?: string; log?: ServerLog } = {},
): ExceptionFilter {
  const log = options.log ?? defaultLog;
  return {
    catch(exception: unknown, host: ArgumentsHost) {
      const http = host.switchToHttp();
      const req = http.getRequest<NestHttpRequest>();
      const path = pathOf(req.originalUrl ?? req.url);
      const answer = errorAnswer(exception, problemContext(path, options.problemTypeBase));
      if (answer.failure !== undefined) log(answer.failure, req);
      const reply = http.getResponse<
        PlatformReply & { send?(b: string): unknown; end?(b: string): unknown }
      >();
      setStatusAndHeaders(reply, answer);
      // Express: end (send would add an ETag); Fastify: send.
      if (typeof reply.code === 'function') reply.send?.(answer.body);
      else reply.end?.(answer.body);
    },
  };
}

/** The platform's body, or (Express platform, a type no parser took) the request read and parsed here. */
async function bodyOf(req: NestHttpRequest, limit: number): Promise<unknown> {
  if (req.body !== undefined) return refusePoisonedBody(req.body);
  const stream = req as Partial<NodeRequestLike>;
  if (typeof stream[Symbol.asyncIterator] !== 'function') return undefined;
  return nodeJsonBody(stream as NodeRequestLike, limit);
}

function setStatusAndHeaders(reply: PlatformReply, answer: HttpAnswer): void {
  if (typeof reply.code === 'function') reply.code(answer.status);
  else reply.status?.(answer.status);
  for (const [name, value] of Object.entries(answer.headers)) {
    if (typeof reply.header === 'function' && typeof reply.code === 'function') reply.header(name, value);
    else reply.setHeader?.(name, value);
  }
}

/**
 * Nest sends what the interceptor's Observable emits, with the status and headers already on the reply
 * (it sets the route's default status before the interceptors run, not after). The body is the answer's
 * exact JSON text. An array is what Nest's interceptor chain (rxjs `mergeAll`) accepts as an observable
 * input without this module importing rxjs at run time.
 */
function sendThroughNest(reply: PlatformReply, answer: HttpAnswer): Observable<string> {
  setStatusAndHeaders(reply, answer);
  return [answer.body] as unknown as Observable<string>;
}
