import type { Executor } from '../../db/types.js';

/** One side of a cross-database compare: a database (executor or connection string) and a table in it. */
export interface CompareSide {
  /** An executor (`postgres(pool)`) or a PostgreSQL connection string (a pool is opened and closed). */
  db: Executor | string;
  /** `table` or `schema.table`; each side may name it differently. */
  table: string;
}

/** What a compare is doing right now (for progress bars and logs). */
export interface CompareProgress {
  phase: 'bounds' | 'checksum' | 'bisect' | 'fetch' | 'detail' | 'done';
  /** 0 for the first full pass, 1.. for each bisection level. */
  level: number;
  /** Chunks checksummed (or fetched) in this phase. */
  chunks: number;
  /** Chunks whose checksums differed in this phase. */
  differing: number;
  elapsedMs: number;
}

export interface CompareOptions {
  left: CompareSide;
  right: CompareSide;
  /** The key column: an integer or text column with a unique index on both sides. */
  key: string;
  /** The columns to compare (same names on both sides); the key is always part of the checksum. */
  columns: readonly string[];
  /** Target rows per chunk in the first full pass. Default 64. */
  chunkRows?: number;
  /** Most chunks in the first full pass (bounds the checksums sent back). Default 65,536. */
  maxChunks?: number;
  /** Sub-chunks a differing chunk is split into per bisection level. Default 16. */
  factor?: number;
  /** A differing chunk with at most this many rows on each side is fetched (keys and row hashes). Default 16. */
  leafRows?: number;
  /** Changed rows whose differing columns are looked up for the report. Default 1,000. */
  detailLimit?: number;
  /** Allow columns whose types differ in kind between the sides (compared by their text form). */
  allowTypeMismatch?: boolean;
  onProgress?: (p: CompareProgress) => void;
}

/** A key present on both sides whose row differs. */
export interface ChangedRow {
  key: string;
  /** The compared columns whose values differ (empty when beyond `detailLimit`). */
  columns: string[];
}

/** The JSON-able result of a compare. Keys are strings (integer keys in decimal). */
export interface CompareReport {
  equal: boolean;
  left: { table: string; rows: number };
  right: { table: string; rows: number };
  key: string;
  keyKind: 'integer' | 'text';
  columns: string[];
  /** Keys only the right side has. */
  missingLeft: string[];
  /** Keys only the left side has. */
  missingRight: string[];
  changed: ChangedRow[];
  stats: {
    /** Chunks in the first full pass. */
    chunks: number;
    /** Bisection levels run after the first pass. */
    levels: number;
    /** Sub-chunks checksummed during bisection. */
    subChunks: number;
    /** Rows whose key and hash were fetched (both sides). */
    rowsFetched: number;
    ms: number;
    /** Rows compared per second (the larger side's rows / elapsed). */
    rowsPerSecond: number;
  };
  startedAt: string;
  finishedAt: string;
}
