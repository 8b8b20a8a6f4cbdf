import { TallyError } from '../errors.js';

// Data exceptions (class 22) quote the offending value in their message: cut it off, values may be
// money amounts or personal data. Identifier messages ("relation "x" does not exist") are kept.
function redact(message: string, sqlState: string | undefined): string {
  if (sqlState?.startsWith('22')) {
    const colon = message.indexOf(':');
    return colon >= 0 ? message.slice(0, colon) : message;
  }
  return message;
}

/** Wraps a driver error into DB_ERROR, keeping SQLSTATE and the original as `cause`. */
export function wrapDbError(err: unknown): unknown {
  if (err instanceof TallyError) return err;
  if (!(err instanceof Error)) return err;
  const sqlState = (err as { code?: unknown }).code;
  const state = typeof sqlState === 'string' ? sqlState : undefined;
  return new TallyError(
    'DB_ERROR',
    `database error${state ? ` ${state}` : ''}: ${redact(err.message, state)}`,
    {
      cause: err,
      details: { sqlState: state },
    },
  );
}

/** The SQLSTATE of a (wrapped) database error, if any. */
export function sqlStateOf(err: unknown): string | undefined {
  if (err instanceof TallyError) {
    const s = err.details?.sqlState;
    return typeof s === 'string' ? s : undefined;
  }
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}
