import type { ErrorCode } from '../errors.js';

/**
 * The one place where Tally's error codes become HTTP statuses. 4xx: the request is wrong and retrying it
 * unchanged will not help; 409 and 503: try again later; 500: the server's own declarations or data are wrong.
 * Every code has its status: the table's type makes a new code a compile error until it is mapped here.
 */
export const HTTP_STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze({
  // The request itself
  INVALID_IDEMPOTENCY_KEY: 400,
  INVALID_COMMAND_INPUT: 400,
  INVALID_KEY: 400,
  EMPTY_KEYS: 400,
  INVALID_SELECTION: 400,
  UNKNOWN_STATE: 400,
  INVALID_UPDATE: 400,
  MISSING_ACTOR: 400,
  INVALID_CONTEXT: 400,
  BATCH_TOO_LARGE: 400,
  INVALID_TOKEN: 400,
  INVALID_SHARD_KEY: 400,
  INVALID_CACHE_KEY: 400,
  INVALID_FEED_POSITION: 400,
  INVALID_CONSUMER_NAME: 400,
  INVALID_RECONCILE_OPTIONS: 400,
  INVALID_COMPARE_OPTIONS: 400,
  MISSING_REASON: 400,
  INVALID_EVIDENCE: 400, // a malformed log row, tree size or index, checkpoint field or stored tree state
  // The HTTP request as the framework read it (src/http/framework-error.ts)
  MALFORMED_BODY: 400,
  INVALID_REQUEST: 400, // a route's schema refused it; also any other 4xx the framework chose (kept)
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  ROUTE_NOT_FOUND: 404,
  INVALID_PRINCIPAL: 401,
  NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  COMMAND_NOT_FOUND: 404,
  ALERT_NOT_FOUND: 404,
  CONSUMER_NOT_FOUND: 404,
  // The request against the current state
  COMMAND_IN_FLIGHT: 409,
  ACTION_NOT_APPLICABLE: 409, // an operator action the current state no longer allows
  INVALID_REQUEUE_OPTIONS: 400,
  ILLEGAL_TRANSITION: 409,
  BATCH_REJECTED: 409,
  JOB_BUSY: 409,
  JOB_LEASE_LOST: 409,
  CONSUMER_BUSY: 409,
  FEED_LEASE_LOST: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  JOB_KEY_REUSED: 422,
  // Transient: try again later, with the same key
  COMMAND_OUTCOME_UNKNOWN: 503, // the key may live on an unreachable primary: never re-run on the secondary
  STORES_UNAVAILABLE: 503,
  ROUTER_CLOSED: 503,
  CACHE_ERROR: 503,
  NATS_UNREACHABLE: 503,
  NATS_PUBLISH_FAILED: 503,
  SINK_TARGET_UNAVAILABLE: 503,
  DATA_DIR_LOCKED: 503, // the embedded database is held by another process
  // A downstream service Tally called answered with an error
  DOWNSTREAM_ERROR: 502,
  // The server's own configuration, declarations or data
  INTERNAL_ERROR: 500, // a route or hook threw something that is not a TallyError: no details sent
  INVALID_CONFIG: 500,
  INVALID_IDENTIFIER: 500,
  INVALID_ENTITY: 500,
  UNKNOWN_ENTITY: 500,
  DUPLICATE_ENTITY: 500,
  TABLE_NOT_FOUND: 500,
  COLUMN_NOT_FOUND: 500,
  UNSUPPORTED_KEY_TYPE: 500,
  SCHEMA_NOT_MIGRATED: 500,
  SCHEMA_TOO_NEW: 500,
  DB_ERROR: 500,
  INVALID_COMMAND: 500,
  DUPLICATE_COMMAND: 500,
  UNKNOWN_COMMAND: 500,
  INVALID_WORKER_OPTIONS: 500,
  INVALID_ROUTER_OPTIONS: 500,
  INVALID_STATEMENT: 500,
  DRIVER_MISSING: 500,
  INVALID_SHARD_LAYOUT: 500,
  INVALID_BUCKET_MOVE: 500,
  INVALID_CACHE_OPTIONS: 500,
  INVALID_CACHE_VERSION: 500,
  INVALID_NATS_NAME: 500,
  NATS_STREAM_CONFLICT: 500,
  INVALID_RELAY_OPTIONS: 500,
  INVALID_SINK_OPTIONS: 500,
  INVALID_FEED_OPTIONS: 500,
  FEED_TX_REQUIRED: 500,
  COMPARE_KEY_NOT_UNIQUE: 500,
  COMPARE_TYPE_MISMATCH: 500,
  INVALID_DOWNSTREAM: 500,
});

/**
 * The HTTP status for a Tally error code (500 for a string that is not one).
 *
 * @example
 * httpStatusOf('IDEMPOTENCY_KEY_REUSED'); // 422
 */
export function httpStatusOf(code: ErrorCode | string): number {
  return (HTTP_STATUS_BY_CODE as Record<string, number | undefined>)[code] ?? 500;
}
