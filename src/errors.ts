/**
 * Every error Tally raises on purpose is a `TallyError` with a stable string `code`.
 * Messages never contain SQL parameter values: they may be money amounts or personal data.
 */
export const ErrorCodes = {
  INVALID_CONFIG: 'INVALID_CONFIG',
  INVALID_IDENTIFIER: 'INVALID_IDENTIFIER',
  INVALID_ENTITY: 'INVALID_ENTITY',
  UNKNOWN_ENTITY: 'UNKNOWN_ENTITY',
  DUPLICATE_ENTITY: 'DUPLICATE_ENTITY',
  TABLE_NOT_FOUND: 'TABLE_NOT_FOUND',
  COLUMN_NOT_FOUND: 'COLUMN_NOT_FOUND',
  UNSUPPORTED_KEY_TYPE: 'UNSUPPORTED_KEY_TYPE',
  INVALID_KEY: 'INVALID_KEY',
  EMPTY_KEYS: 'EMPTY_KEYS',
  INVALID_SELECTION: 'INVALID_SELECTION',
  UNKNOWN_STATE: 'UNKNOWN_STATE',
  INVALID_UPDATE: 'INVALID_UPDATE',
  MISSING_ACTOR: 'MISSING_ACTOR',
  INVALID_CONTEXT: 'INVALID_CONTEXT',
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  BATCH_REJECTED: 'BATCH_REJECTED',
  ILLEGAL_TRANSITION: 'ILLEGAL_TRANSITION',
  NOT_FOUND: 'NOT_FOUND',
  JOB_NOT_FOUND: 'JOB_NOT_FOUND',
  JOB_KEY_REUSED: 'JOB_KEY_REUSED',
  JOB_LEASE_LOST: 'JOB_LEASE_LOST',
  JOB_BUSY: 'JOB_BUSY',
  SCHEMA_NOT_MIGRATED: 'SCHEMA_NOT_MIGRATED',
  SCHEMA_TOO_NEW: 'SCHEMA_TOO_NEW',
  DB_ERROR: 'DB_ERROR',
  INVALID_COMMAND: 'INVALID_COMMAND',
  DUPLICATE_COMMAND: 'DUPLICATE_COMMAND',
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  COMMAND_NOT_FOUND: 'COMMAND_NOT_FOUND',
  INVALID_IDEMPOTENCY_KEY: 'INVALID_IDEMPOTENCY_KEY',
  INVALID_PRINCIPAL: 'INVALID_PRINCIPAL',
  INVALID_COMMAND_INPUT: 'INVALID_COMMAND_INPUT',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  COMMAND_IN_FLIGHT: 'COMMAND_IN_FLIGHT',
  COMMAND_OUTCOME_UNKNOWN: 'COMMAND_OUTCOME_UNKNOWN',
  STORES_UNAVAILABLE: 'STORES_UNAVAILABLE',
  INVALID_WORKER_OPTIONS: 'INVALID_WORKER_OPTIONS',
  INVALID_ROUTER_OPTIONS: 'INVALID_ROUTER_OPTIONS',
  INVALID_STATEMENT: 'INVALID_STATEMENT',
  INVALID_TOKEN: 'INVALID_TOKEN',
  ROUTER_CLOSED: 'ROUTER_CLOSED',
  INVALID_SHARD_KEY: 'INVALID_SHARD_KEY',
  INVALID_SHARD_LAYOUT: 'INVALID_SHARD_LAYOUT',
  INVALID_BUCKET_MOVE: 'INVALID_BUCKET_MOVE',
  INVALID_CACHE_OPTIONS: 'INVALID_CACHE_OPTIONS',
  INVALID_CACHE_KEY: 'INVALID_CACHE_KEY',
  INVALID_CACHE_VERSION: 'INVALID_CACHE_VERSION',
  CACHE_ERROR: 'CACHE_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class TallyError extends Error {
  override readonly name = 'TallyError';
  readonly code: ErrorCode;
  /** Structured, parameter-free details (per-key results, column names, ...). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` is a TallyError, optionally with the given code. */
export function isTallyError(err: unknown, code?: ErrorCode): err is TallyError {
  return err instanceof TallyError && (code === undefined || err.code === code);
}
