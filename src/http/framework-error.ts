import { type ErrorCode, TallyError } from '../errors.js';
import { SERVER_ERROR_DETAIL } from './problem.js';

/**
 * What the framework refused before a route ran (a body that is not JSON, too large, of a type no parser
 * takes, a schema's verdict), or what a route or hook threw that is not a TallyError, as a TallyError with
 * a stable code and the status to answer with.
 *
 * The framework's own messages are never passed on: Node's JSON.parse quotes the body it failed on, the
 * 415 message repeats the Content-Type, and an unexpected error may carry SQL, a stack or a parameter. Each
 * code has one fixed message instead; the original error is for the server's log only.
 */
export interface FrameworkProblem {
  error: TallyError;
  /** The status the framework (or the route's error) chose when it is a 4xx; 500 otherwise. */
  status: number;
}

/** Fastify's error codes for a request it refused itself, with Tally's code and fixed message. */
const KNOWN: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: [
    'MALFORMED_BODY',
    'the request body is not valid JSON, or it has a __proto__ or constructor.prototype key',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['MALFORMED_BODY', 'the request body is empty but its Content-Type says JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [
    'MALFORMED_BODY',
    'the request body does not have the length its Content-Length says',
  ],
  FST_ERR_CTP_BODY_TOO_LARGE: ['BODY_TOO_LARGE', 'the request body is larger than this server accepts'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    'UNSUPPORTED_MEDIA_TYPE',
    'the request body has a Content-Type this route does not read',
  ],
  FST_ERR_VALIDATION: ['INVALID_REQUEST', "the request does not match the route's schema"],
  FST_ERR_NOT_FOUND: ['ROUTE_NOT_FOUND', 'there is no route for this method and path'],
};

/**
 * The `type` of body-parser's errors (Express's `express.json()`, NestJS on Express): the same refusals
 * under other names.
 */
const BY_TYPE: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  'entity.parse.failed': KNOWN.FST_ERR_CTP_INVALID_JSON_BODY!,
  'entity.too.large': KNOWN.FST_ERR_CTP_BODY_TOO_LARGE!,
  'request.size.invalid': KNOWN.FST_ERR_CTP_INVALID_CONTENT_LENGTH!,
  'encoding.unsupported': KNOWN.FST_ERR_CTP_INVALID_MEDIA_TYPE!,
  'charset.unsupported': KNOWN.FST_ERR_CTP_INVALID_MEDIA_TYPE!,
};

/** By status, for a 4xx error the table above does not name (a custom parser's, a route's own). */
const BY_STATUS: Readonly<Record<number, readonly [ErrorCode, string]>> = {
  413: KNOWN.FST_ERR_CTP_BODY_TOO_LARGE!,
  415: KNOWN.FST_ERR_CTP_INVALID_MEDIA_TYPE!,
};

const MAX_ISSUES = 20;
const MAX_PATH = 200;

/**
 * The problem for an error that is not a TallyError.
 *
 * @example
 * const { error, status } = frameworkProblem(err); // FST_ERR_CTP_BODY_TOO_LARGE → BODY_TOO_LARGE, 413
 */
export function frameworkProblem(err: unknown): FrameworkProblem {
  const e = (err ?? {}) as { code?: unknown; type?: unknown; statusCode?: unknown; status?: unknown };
  const chosen = Number(e.statusCode ?? e.status);
  const status = Number.isInteger(chosen) && chosen >= 400 && chosen < 500 ? chosen : 500;
  const known =
    (typeof e.code === 'string' ? KNOWN[e.code] : undefined) ??
    (typeof e.type === 'string' ? BY_TYPE[e.type] : undefined);
  if (status === 500) {
    // Whatever it was (a bug, a lost connection, a driver's error): nothing of it reaches the client.
    return {
      status,
      error: new TallyError('INTERNAL_ERROR', SERVER_ERROR_DETAIL, { cause: err }),
    };
  }
  const [code, message] = known ?? BY_STATUS[status] ?? ['INVALID_REQUEST', 'the request was refused'];
  const details = code === 'INVALID_REQUEST' ? validationDetails(err) : undefined;
  return {
    status,
    error: new TallyError(code, message, { cause: err, ...(details ? { details } : {}) }),
  };
}

interface AjvIssue {
  instancePath?: unknown;
  keyword?: unknown;
  params?: { missingProperty?: unknown } | undefined;
  message?: unknown;
}

/**
 * Which parts of the request a route's schema refused: where (`body`, `querystring`, `params`,
 * `headers`) and the paths with the schema's message (e.g. `$.qty` "must be integer"). Values are never
 * included (decision 0009).
 */
function validationDetails(err: unknown): Record<string, unknown> | undefined {
  const e = err as { validation?: unknown; validationContext?: unknown };
  if (!Array.isArray(e.validation)) return undefined;
  const issues = (e.validation as AjvIssue[]).slice(0, MAX_ISSUES).map((v) => ({
    path: pathOf(v),
    message: typeof v.message === 'string' ? v.message.slice(0, MAX_PATH) : 'is invalid',
  }));
  return {
    ...(typeof e.validationContext === 'string' ? { in: e.validationContext } : {}),
    issues,
  };
}

/** An ajv instancePath (`/items/0/qty`) as the `$.items[0].qty` spelling Tally's input issues use. */
function pathOf(v: AjvIssue): string {
  const pointer = typeof v.instancePath === 'string' ? v.instancePath : '';
  let path = '$';
  for (const part of pointer.split('/').slice(1)) {
    const name = part.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(name) ? `[${name}]` : `.${name}`;
  }
  const missing = v.keyword === 'required' ? v.params?.missingProperty : undefined;
  if (typeof missing === 'string') path += `.${missing}`;
  return path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}…` : path;
}
