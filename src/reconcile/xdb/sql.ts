import type { SqlQuery } from '../../db/types.js';

/**
 * SQL of the cross-database compare. Every statement runs on both sides with the same text, so both
 * compute the same row hash. Table and column names arrive validated and quoted; values are parameters.
 */

/** One chunk row as sent to the database: `lo <= key < hi`, or `lo <= key <= hi` for the last chunk. */
export interface ChunkArrays {
  ids: number[];
  los: string[];
  his: string[];
  lasts: boolean[];
}

/**
 * The column's type, its base type (domains), kind, its collation's provider and locale (the database's
 * for the default collation; read through to_jsonb because the column names differ across releases),
 * and whether a unique single-column index covers it.
 */
export const columnsSql = (qualified: string): SqlQuery => ({
  text: `SELECT a.attname AS name,
                format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, NULL) AS type,
                t.typtype AS typtype,
                CASE WHEN c.collname = 'default' THEN coalesce(db.dj ->> 'datlocprovider', 'c') ELSE c.collprovider::text END
                  AS coll_provider,
                CASE WHEN c.collname = 'default'
                     THEN coalesce(db.dj ->> 'datlocale', db.dj ->> 'daticulocale', db.dj ->> 'datcollate')
                     ELSE coalesce(to_jsonb(c) ->> 'colllocale', to_jsonb(c) ->> 'colliculocale', c.collcollate) END
                  AS collation,
                EXISTS (SELECT 1 FROM pg_index i
                         WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indnkeyatts = 1
                           AND i.indkey[0] = a.attnum AND i.indpred IS NULL AND i.indexprs IS NULL) AS is_unique
           FROM pg_attribute a
           JOIN pg_type t ON t.oid = a.atttypid
           LEFT JOIN pg_collation c ON c.oid = a.attcollation
           CROSS JOIN (SELECT to_jsonb(d) AS dj FROM pg_database d WHERE d.datname = current_database()) db
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
  values: [qualified],
});

/**
 * Fixes every setting that changes a value's text form, for the columns compared by text (enums, arrays,
 * other types without a portable hash). Only for this transaction.
 */
export const SESSION_SETTINGS = `SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL TimeZone = 'UTC';
SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'; SET LOCAL lc_monetary = 'C'`;

/** First statement of a transaction the compare opens itself: it only reads. */
export const READ_ONLY = 'SET TRANSACTION READ ONLY';

/**
 * Row hash: the key's and each column's 64-bit hash under its position as seed (so equal values in two
 * columns do not cancel), a per-position constant for NULL, XOR-ed and passed through a non-linear
 * finalizer (so values swapped between two rows of a chunk cannot cancel out in the chunk's XOR).
 * ~25% less server CPU than hash_record_extended(ROW(...)), which builds and takes apart a tuple per row.
 */
export function rowHash(key: string, columns: readonly ((seed: number) => string)[]): string {
  const parts = columns.map((h, i) => `coalesce(${h(i + 1)}, ${nullHash(i + 1)})`);
  return `hashint8extended(${[key, ...parts].join(' # ')}, 7)`;
}

/** A fixed 64-bit constant per position standing for NULL (golden-ratio multiples, as signed int8). */
function nullHash(position: number): string {
  const u = (BigInt(position) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  return BigInt.asIntN(64, u).toString();
}

export const boundsSql = (table: string, key: string, collate: string): SqlQuery => ({
  text: `SELECT min(${key}${collate})::text AS lo, max(${key}${collate})::text AS hi,
                (SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = to_regclass($1)) AS est
           FROM ${table} t`,
  values: [table],
});

/** First pass over an integer key: equal-width buckets by arithmetic, one scan, parallel-safe. */
export const integerPassSql = (
  table: string,
  key: string,
  hash: string,
  lo: bigint,
  width: bigint,
  wide: boolean,
): SqlQuery => ({
  text: wide
    ? `SELECT div(${key}::numeric - $1::numeric, $2::numeric)::int AS c, count(*)::int AS n, bit_xor(${hash})::text AS x
         FROM ${table} t GROUP BY 1`
    : `SELECT ((${key} - $1::int8) / $2::int8)::int AS c, count(*)::int AS n, bit_xor(${hash})::text AS x
         FROM ${table} t GROUP BY 1`,
  values: [lo.toString(), width.toString()],
});

const chunkJoin = (table: string, key: string, keyType: string, collate: string) =>
  `unnest($1::int[], $2::${keyType}[], $3::${keyType}[], $4::bool[]) AS c(id, lo, hi, last)
   JOIN ${table} t ON ${key}${collate} >= c.lo AND ${key}${collate} <= c.hi AND (c.last OR ${key}${collate} < c.hi)`;

const chunkValues = (c: ChunkArrays) => [c.ids, c.los, c.his, c.lasts];

/** Count and XOR of row hashes per chunk (index range scans). */
export const chunkSumsSql = (
  table: string,
  key: string,
  keyType: string,
  collate: string,
  hash: string,
  c: ChunkArrays,
): SqlQuery => ({
  text: `SELECT c.id AS c, count(*)::int AS n, bit_xor(${hash})::text AS x
           FROM ${chunkJoin(table, key, keyType, collate)} GROUP BY c.id`,
  values: chunkValues(c),
});

/**
 * Bisection of integer chunks in one index range scan per parent chunk: the sub-chunk is arithmetic,
 * `(key - lo) / width`, numbered `parent * factor + sub` (fewer index descents than one per sub-chunk).
 */
export const integerSubSumsSql = (
  table: string,
  key: string,
  hash: string,
  c: ChunkArrays,
  widths: string[],
  factor: number,
): SqlQuery => ({
  text: `SELECT c.id * $6 + ((${key} - c.lo) / c.w)::int AS c, count(*)::int AS n, bit_xor(${hash})::text AS x
           FROM unnest($1::int[], $2::int8[], $3::int8[], $4::bool[], $5::int8[]) AS c(id, lo, hi, last, w)
           JOIN ${table} t ON ${key} >= c.lo AND ${key} <= c.hi AND (c.last OR ${key} < c.hi)
          GROUP BY 1`,
  values: [...chunkValues(c), widths, factor],
});

/** Keys and row hashes of small chunks: what the two sides finally diff row by row. */
export const chunkRowsSql = (
  table: string,
  key: string,
  keyType: string,
  collate: string,
  hash: string,
  c: ChunkArrays,
): SqlQuery => ({
  text: `SELECT ${key}::text AS k, ${hash}::text AS x FROM ${chunkJoin(table, key, keyType, collate)}`,
  values: chunkValues(c),
});

/**
 * Split points of text-keyed chunks: every `step`-th key of each chunk (by the byte order both sides
 * share), from the side with more rows in it.
 */
export const splitPointsSql = (
  table: string,
  key: string,
  collate: string,
  c: ChunkArrays,
  factor: number,
): SqlQuery => ({
  text: `SELECT id AS c, k FROM (
           SELECT c.id, ${key}::text AS k,
                  row_number() OVER (PARTITION BY c.id ORDER BY ${key}${collate}) AS rn,
                  count(*) OVER (PARTITION BY c.id) AS n
             FROM ${chunkJoin(table, key, 'text', collate)}) s
          WHERE rn > 1 AND (rn - 1) % greatest(1, ceil(n::numeric / $5))::int = 0
          ORDER BY id, rn`,
  values: [...chunkValues(c), factor],
});

/** First-pass split points of a text key: every `step`-th key of the whole table. */
export const textPassPointsSql = (table: string, key: string, collate: string, step: number): SqlQuery => ({
  text: `SELECT k FROM (SELECT ${key}::text AS k, row_number() OVER (ORDER BY ${key}${collate}) AS rn FROM ${table} t) s
          WHERE rn > 1 AND (rn - 1) % $1 = 0 ORDER BY rn`,
  values: [step],
});

/** The compared columns' values by key, in their canonical text form (for naming what differs). */
export const rowsByKeySql = (
  table: string,
  key: string,
  keyType: string,
  exprs: readonly string[],
  keys: readonly string[],
): SqlQuery => ({
  text: `SELECT ${key}::text AS k, ${exprs.map((e, i) => `(${e})::text AS v${i}`).join(', ')}
           FROM ${table} t WHERE ${key} = ANY($1::${keyType}[])`,
  values: [keys],
});

/**
 * Hash partitioning, for text keys whose collation does not order by bytes on both sides (a range
 * predicate with COLLATE "C" could not use their index): a chunk is the rows whose key hash has given
 * low bits. Each level is one scan; only rows of differing parent chunks are hashed in full.
 */
export const keyBits = (key: string): string => `hashtextextended(${key}::text COLLATE "C", 1234567)`;

export const hashPassSql = (
  table: string,
  key: string,
  hash: string,
  mask: bigint,
  parents: { mask: bigint; values: string[] } | null,
): SqlQuery => ({
  text: `SELECT (${keyBits(key)} & $1::int8)::text AS c, count(*)::int AS n, bit_xor(${hash})::text AS x
           FROM ${table} t
          WHERE $2::int8[] IS NULL OR (${keyBits(key)} & $3::int8) = ANY($2::int8[])
          GROUP BY 1`,
  values: [mask.toString(), parents?.values ?? null, (parents?.mask ?? 0n).toString()],
});

export const hashRowsSql = (
  table: string,
  key: string,
  hash: string,
  mask: bigint,
  values: string[],
): SqlQuery => ({
  text: `SELECT ${key}::text AS k, ${hash}::text AS x FROM ${table} t WHERE (${keyBits(key)} & $1::int8) = ANY($2::int8[])`,
  values: [mask.toString(), values],
});
