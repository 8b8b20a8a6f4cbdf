import { quoteIdent, quoteQualified } from '../../db/ident.js';
import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import type { CompareOptions, CompareProgress } from './types.js';

export interface ResolvedCompare {
  left: { db: Executor | string; table: string; sql: string };
  right: { db: Executor | string; table: string; sql: string };
  key: string;
  keySql: string;
  columns: string[];
  columnsSql: string[];
  chunkRows: number;
  maxChunks: number;
  factor: number;
  leafRows: number;
  detailLimit: number;
  allowTypeMismatch: boolean;
  onProgress: (p: CompareProgress) => void;
}

function bad(message: string): never {
  throw new TallyError('INVALID_COMPARE_OPTIONS', message);
}

function int(v: unknown, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(`${name} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function side(v: unknown, name: 'left' | 'right') {
  if (!v || typeof v !== 'object') bad(`${name} must be { db, table }`);
  const s = v as { db?: unknown; table?: unknown };
  const db = s.db as Partial<Executor> | string | undefined;
  const isExecutor =
    typeof db === 'object' &&
    db !== null &&
    typeof db.query === 'function' &&
    typeof db.transaction === 'function';
  if (!isExecutor && !(typeof db === 'string' && /^postgres(ql)?:\/\//.test(db))) {
    bad(`${name}.db must be an executor (postgres(pool)) or a postgres:// connection string`);
  }
  if (typeof s.table !== 'string' || s.table.length === 0) bad(`${name}.table must be a table name`);
  const q = quoteQualified(s.table, `${name}.table`);
  return { db: db as Executor | string, table: s.table, sql: q.sql };
}

/** Validates a compare's options once, before anything is read: bad input never reaches a database. */
export function resolveCompare(o: CompareOptions): ResolvedCompare {
  if (!o || typeof o !== 'object') bad('compareTables needs options');
  const left = side(o.left, 'left');
  const right = side(o.right, 'right');
  const keySql = quoteIdent(o.key, 'key');
  if (!Array.isArray(o.columns)) bad('columns must be an array of column names');
  const columnsSql = o.columns.map((c, i) => quoteIdent(c, `columns[${i}]`));
  const seen = new Set<string>();
  for (const c of o.columns) {
    if (c === o.key) bad(`columns must not repeat the key ${c}: the key is always compared`);
    if (seen.has(c)) bad(`column ${c} is listed twice`);
    seen.add(c);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') bad('onProgress must be a function');
  if (o.allowTypeMismatch !== undefined && typeof o.allowTypeMismatch !== 'boolean') {
    bad('allowTypeMismatch must be a boolean');
  }
  return {
    left,
    right,
    key: o.key,
    keySql: `t.${keySql}`,
    columns: [...o.columns],
    columnsSql,
    chunkRows: int(o.chunkRows, 'chunkRows', 64, 1, 10_000_000),
    maxChunks: int(o.maxChunks, 'maxChunks', 65_536, 1, 1_000_000),
    factor: int(o.factor, 'factor', 16, 2, 1024),
    leafRows: int(o.leafRows, 'leafRows', 16, 1, 1_000_000),
    detailLimit: int(o.detailLimit, 'detailLimit', 1000, 0, 1_000_000),
    allowTypeMismatch: o.allowTypeMismatch ?? false,
    onProgress: o.onProgress ?? (() => {}),
  };
}
