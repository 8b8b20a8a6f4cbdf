import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { columnsSql } from './sql.js';

/** How a column enters the row hash: a family both sides must share, and the SQL that canonicalizes it. */
export interface ColumnForm {
  family: string;
  /** SQL over `t.<col>` giving the value in the family's canonical type. */
  expr: string;
  /** SQL of the value's 64-bit hash under `seed` (NULL for NULL). */
  hash: (seed: number) => string;
}

// Each family's built-in extended hash (the ones hash partitioning relies on). timestamptz goes through
// ::timestamp, exact because the compare's transaction fixes TimeZone to UTC; bytea through its hex text.
const HASHES: Record<string, (e: string, s: number) => string> = {
  int8: (e, s) => `hashint8extended(${e}, ${s})`,
  float8: (e, s) => `hashfloat8extended(${e}, ${s})`,
  numeric: (e, s) => `hash_numeric_extended(${e}, ${s})`,
  text: (e, s) => `hashtextextended((${e}) COLLATE "C", ${s})`,
  jsonb: (e, s) => `jsonb_hash_extended(${e}, ${s})`,
  bool: (e, s) => `hashint4extended((${e})::int, ${s})`,
  uuid: (e, s) => `uuid_hash_extended(${e}, ${s})`,
  date: (e, s) => `timestamp_hash_extended((${e})::timestamp, ${s})`,
  timestamp: (e, s) => `timestamp_hash_extended(${e}, ${s})`,
  timestamptz: (e, s) => `timestamp_hash_extended((${e})::timestamp, ${s})`,
  time: (e, s) => `time_hash_extended(${e}, ${s})`,
  interval: (e, s) => `interval_hash_extended(${e}, ${s})`,
  bytea: (e, s) => `hashtextextended(encode(${e}, 'hex'), ${s})`,
};

/** The text form of a value, hashed: for enums and every type without a portable hash. */
export function textForm(col: string, type: string): ColumnForm {
  const expr = `${col}::text`;
  return { family: `text form of ${type}`, expr, hash: (seed) => HASHES.text!(expr, seed) };
}

type ColumnInfo = {
  name: string;
  type: string;
  typtype: string;
  coll_provider: string | null;
  collation: string | null;
  is_unique: boolean;
};

// Types whose built-in 64-bit hash depends only on the value (not on settings, OIDs or the server):
// compared through that hash, cast to one canonical type per family so int4 and int8 hash alike.
const FAMILIES: Record<string, [family: string, cast: string]> = {
  smallint: ['integer', 'int8'],
  integer: ['integer', 'int8'],
  bigint: ['integer', 'int8'],
  real: ['float', 'float8'],
  'double precision': ['float', 'float8'],
  numeric: ['numeric', 'numeric'],
  text: ['text', 'text'],
  'character varying': ['text', 'text'],
  character: ['text', 'text'],
  name: ['text', 'text'],
  json: ['json', 'jsonb'],
  jsonb: ['json', 'jsonb'],
  boolean: ['boolean', 'bool'],
  uuid: ['uuid', 'uuid'],
  date: ['date', 'date'],
  'timestamp without time zone': ['timestamp', 'timestamp'],
  'timestamp with time zone': ['timestamptz', 'timestamptz'],
  'time without time zone': ['time', 'time'],
  interval: ['interval', 'interval'],
  bytea: ['bytea', 'bytea'],
};

/**
 * A column's canonical form. Enums hash by OID and other types may have no portable hash, so they are
 * compared by their text form (the session fixes every setting that changes it).
 */
export function formOf(col: string, type: string, typtype: string): ColumnForm {
  const f = typtype === 'e' ? undefined : FAMILIES[type];
  if (!f) return textForm(col, type);
  const expr = `${col}::${f[1]}`;
  return { family: f[0], expr, hash: (seed) => HASHES[f[1]]!(expr, seed) };
}

export interface TableShape {
  keyType: string;
  /** True when the key's collation orders text by bytes (libc or builtin C, POSIX, C.UTF-8). */
  keyByteOrder: boolean;
  keyUnique: boolean;
  columns: Map<string, { type: string; typtype: string }>;
}

/** Reads one side's table: TABLE_NOT_FOUND, COLUMN_NOT_FOUND for what is not there. */
export async function readShape(
  db: Pick<Executor, 'query'>,
  side: 'left' | 'right',
  qualified: string,
  key: string,
  columns: readonly string[],
): Promise<TableShape> {
  const rows = await db.query<ColumnInfo>(columnsSql(qualified));
  if (rows.length === 0) {
    throw new TallyError('TABLE_NOT_FOUND', `${side} table ${qualified} does not exist`, {
      details: { side, table: qualified },
    });
  }
  const byName = new Map(rows.map((r) => [r.name, r]));
  for (const c of [key, ...columns]) {
    if (!byName.has(c)) {
      throw new TallyError('COLUMN_NOT_FOUND', `${side} table ${qualified} has no column ${c}`, {
        details: { side, table: qualified, column: c },
      });
    }
  }
  const k = byName.get(key)!;
  return {
    keyType: k.type,
    keyByteOrder:
      (k.coll_provider === 'c' || k.coll_provider === 'b') &&
      k.collation !== null &&
      /^(C|POSIX|C\.utf-?8)$/i.test(k.collation),
    keyUnique: k.is_unique,
    columns: new Map(rows.map((r) => [r.name, { type: r.type, typtype: r.typtype }])),
  };
}

const INTEGER_KEYS = new Set(['smallint', 'integer', 'bigint']);
const TEXT_KEYS = new Set(['text', 'character varying']);

/** The key's kind on both sides: integer or text, the same on both, unique on both. */
export function keyKindOf(
  key: string,
  left: TableShape,
  right: TableShape,
): { kind: 'integer' | 'text'; collate: string } {
  const kindOf = (t: string) => (INTEGER_KEYS.has(t) ? 'integer' : TEXT_KEYS.has(t) ? 'text' : null);
  const l = kindOf(left.keyType);
  const r = kindOf(right.keyType);
  if (!l || !r) {
    const bad = l ? right.keyType : left.keyType;
    throw new TallyError('UNSUPPORTED_KEY_TYPE', `key ${key} must be an integer or text column, not ${bad}`, {
      details: { key, left: left.keyType, right: right.keyType },
    });
  }
  if (l !== r) {
    throw new TallyError(
      'COMPARE_TYPE_MISMATCH',
      `key ${key} is ${left.keyType} on the left and ${right.keyType} on the right`,
      { details: { key, left: left.keyType, right: right.keyType } },
    );
  }
  for (const [side, s] of [['left', left] as const, ['right', right] as const]) {
    if (!s.keyUnique) {
      throw new TallyError(
        'COMPARE_KEY_NOT_UNIQUE',
        `key ${key} has no unique index on the ${side} side (a primary key or UNIQUE constraint on it alone)`,
        { details: { key, side } },
      );
    }
  }
  // Chunk bounds must order keys the same way on both sides: byte order. A column already collated that
  // way keeps its index usable; any other collation is overridden with "C" (index it with COLLATE "C").
  const collate = l === 'text' && !(left.keyByteOrder && right.keyByteOrder) ? ' COLLATE "C"' : '';
  return { kind: l, collate };
}

/** The compared columns' canonical forms; COMPARE_TYPE_MISMATCH when the sides disagree in kind. */
export function columnForms(
  columns: readonly string[],
  quoted: readonly string[],
  left: TableShape,
  right: TableShape,
  allowMismatch: boolean,
): ColumnForm[] {
  return columns.map((c, i) => {
    const lc = left.columns.get(c)!;
    const rc = right.columns.get(c)!;
    const lf = formOf(`t.${quoted[i]}`, lc.type, lc.typtype);
    const rf = formOf(`t.${quoted[i]}`, rc.type, rc.typtype);
    if (lf.family === rf.family) return lf;
    if (!allowMismatch) {
      throw new TallyError(
        'COMPARE_TYPE_MISMATCH',
        `column ${c} is ${lc.type} on the left and ${rc.type} on the right; pass allowTypeMismatch to compare their text forms`,
        { details: { column: c, left: lc.type, right: rc.type } },
      );
    }
    return textForm(`t.${quoted[i]}`, `${lc.type} / ${rc.type}`);
  });
}
