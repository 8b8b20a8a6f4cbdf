import type { Executor, SqlQuery } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { EntityDefinition } from './definition.js';
import { keyKindOf } from './keys.js';

/** What Tally learns of the user's table the first time an entity is used. */
export interface TableShape {
  /** Column name → type name (pg_type.typname), in table order. */
  readonly columns: ReadonlyMap<string, string>;
  readonly keyType: string;
  /**
   * True when an UPDATE changes exactly the columns it sets: no user triggers and no generated columns.
   * Only then may a transition derive its before image from the after image (the fast path).
   */
  readonly plainUpdates: boolean;
}

const columnsOf = (qualified: string): SqlQuery => ({
  text: `SELECT to_regclass($1) IS NOT NULL AS present,
                coalesce((SELECT json_agg(json_build_array(a.attname, t.typname) ORDER BY a.attnum)
                            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                           WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped), '[]') AS cols,
                NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = to_regclass($1) AND NOT g.tgisinternal)
                  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass($1)
                                     AND a.attnum > 0 AND a.attgenerated <> '') AS plain_updates`,
  values: [qualified],
});

const VERSION_TYPES = new Set(['int2', 'int4', 'int8']);

/** Reads the table's columns and checks that the declaration fits them, with exact messages. */
export async function introspect(db: Executor, def: EntityDefinition): Promise<TableShape> {
  const [row] = await db.query<{ present: boolean; cols: unknown; plain_updates: boolean }>(
    columnsOf(def.table.sql),
  );
  if (!row?.present) {
    throw new TallyError('TABLE_NOT_FOUND', `entity ${def.name}: table ${def.table.sql} does not exist`, {
      details: { table: def.table.sql },
    });
  }
  const list = (typeof row.cols === 'string' ? JSON.parse(row.cols) : row.cols) as [string, string][];
  const columns = new Map(list);
  for (const [what, c] of [
    ['key', def.key],
    ['state', def.state],
    ['version', def.version],
  ] as const) {
    if (!columns.has(c.name)) {
      throw new TallyError(
        'COLUMN_NOT_FOUND',
        `entity ${def.name}: ${what} column ${c.sql} does not exist in ${def.table.sql}`,
        { details: { column: c.name, table: def.table.sql } },
      );
    }
  }
  const keyType = columns.get(def.key.name)!;
  if (!keyKindOf(keyType)) {
    throw new TallyError(
      'UNSUPPORTED_KEY_TYPE',
      `entity ${def.name}: key column type ${keyType} is not supported (use an integer, text or uuid key)`,
    );
  }
  if (!VERSION_TYPES.has(columns.get(def.version.name)!)) {
    throw new TallyError(
      'INVALID_ENTITY',
      `entity ${def.name}: version column ${def.version.sql} must be an integer`,
    );
  }
  return { columns, keyType, plainUpdates: row.plain_updates === true };
}

/**
 * The column names a caller's objects name (`where`, `set`, rows to create): what the cached shape must
 * have, or the table is read again (a column added after the entity's first use).
 *
 * @example
 * await rt.shape(db, namedColumns(input.where, input.set));
 */
export function namedColumns(...objects: unknown[]): string[] {
  const names: string[] = [];
  for (const o of objects) {
    if (Array.isArray(o)) for (const row of o) names.push(...namedColumns(row));
    else if (o !== null && typeof o === 'object') names.push(...Object.keys(o));
  }
  return names;
}

/** True when the shape lacks a name that could be a column (a plain identifier): worth reading again. */
export function lacksAny(shape: TableShape, names: readonly string[]): boolean {
  return names.some((n) => IDENT.test(n) && !shape.columns.has(n));
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
