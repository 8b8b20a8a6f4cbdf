import { quoteIdent, quoteQualified } from '../../db/ident.js';
import { postgres } from '../../db/postgres/index.js';
import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { downstreamRowsSql } from './sql.js';
import type { DownstreamSource, DownstreamView } from './types.js';

/** A validated downstream: looks up a batch of keys, answers per key; `close` releases what it opened. */
export interface Downstream {
  lookup(keys: readonly string[]): Promise<Map<string, DownstreamView>>;
  close(): Promise<void>;
}

function invalid(message: string): never {
  throw new TallyError('INVALID_DOWNSTREAM', message);
}

/** Checks the downstream source at construction (INVALID_DOWNSTREAM) without touching it. */
export function resolveDownstream(src: DownstreamSource): () => Promise<Downstream> {
  if (!src || typeof src !== 'object') invalid('downstream must be { lookup } or { db, table, key }');
  if ('lookup' in src) {
    if (typeof src.lookup !== 'function') invalid('downstream.lookup must be a function');
    return async () => ({ lookup: (keys) => viaAdapter(src.lookup, keys), close: async () => {} });
  }
  const t = src as Exclude<DownstreamSource, { lookup: unknown }>;
  const db = t.db as Partial<Executor> | string | undefined;
  const ok =
    (typeof db === 'object' && db !== null && typeof db.query === 'function') ||
    (typeof db === 'string' && /^postgres(ql)?:\/\//.test(db));
  if (!ok) invalid('downstream.db must be an executor or a postgres:// connection string');
  const table = quoteQualified(t.table, 'downstream.table').sql;
  const key = quoteIdent(t.key, 'downstream.key');
  let status: string | null = null;
  let success = new Set<string>();
  if (t.status !== undefined) {
    if (!t.status || typeof t.status !== 'object') invalid('downstream.status must be { column, success }');
    status = quoteIdent(t.status.column, 'downstream.status.column');
    if (!Array.isArray(t.status.success) || t.status.success.some((v) => typeof v !== 'string')) {
      invalid('downstream.status.success must be an array of status values');
    }
    success = new Set(t.status.success);
  }
  return async () => {
    const exec = typeof db === 'string' ? await postgres(db) : (db as Executor);
    return {
      async lookup(keys) {
        const rows = await exec.query<{ k: string; s: string | null }>(
          downstreamRowsSql(table, key, status, keys),
        );
        const out = new Map<string, DownstreamView>();
        for (const r of rows)
          out.set(r.k, status === null || (r.s !== null && success.has(r.s)) ? 'success' : 'failure');
        return out;
      },
      close: async () => {
        if (typeof db === 'string') await exec.close();
      },
    };
  };
}

/** Calls the user's adapter and checks what it returns: a misbehaving adapter fails the run (DOWNSTREAM_ERROR). */
async function viaAdapter(
  lookup: (keys: readonly string[]) => Promise<Iterable<unknown>>,
  keys: readonly string[],
): Promise<Map<string, DownstreamView>> {
  let answer: Iterable<unknown>;
  try {
    answer = await lookup(keys);
  } catch (err) {
    throw new TallyError('DOWNSTREAM_ERROR', 'the downstream lookup failed', { cause: err });
  }
  if (!answer || typeof (answer as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new TallyError(
      'DOWNSTREAM_ERROR',
      'the downstream lookup must return an iterable of { key, outcome }',
    );
  }
  const asked = new Set(keys);
  const out = new Map<string, DownstreamView>();
  for (const r of answer) {
    const rec = r as { key?: unknown; outcome?: unknown };
    if (!rec || typeof rec.key !== 'string' || !asked.has(rec.key)) {
      throw new TallyError(
        'DOWNSTREAM_ERROR',
        'the downstream lookup returned a record for a key it was not asked about',
      );
    }
    if (rec.outcome !== 'success' && rec.outcome !== 'failure' && rec.outcome !== 'not_found') {
      throw new TallyError(
        'DOWNSTREAM_ERROR',
        "a downstream record's outcome must be 'success', 'failure' or 'not_found'",
        {
          details: { key: rec.key },
        },
      );
    }
    if (rec.outcome !== 'not_found') out.set(rec.key, rec.outcome);
  }
  return out;
}
