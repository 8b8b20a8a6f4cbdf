import type { Executor, SqlQuery } from '../../../db/types.js';
import { TallyError } from '../../../errors.js';
import type { EntityDefinition } from '../../definition.js';
import type { TableShape } from '../../introspect.js';
import { keyKindOf } from '../../keys.js';

/**
 * MySQL type names → the PostgreSQL type names the rest of the changes module checks keys and filters
 * against (keys.ts): one table here instead of a second set of type rules there.
 */
const TYPE_NAMES: Readonly<Record<string, string>> = {
  tinyint: 'int2',
  smallint: 'int2',
  mediumint: 'int4',
  int: 'int4',
  integer: 'int4',
  bigint: 'int8',
  varchar: 'varchar',
  char: 'bpchar',
  text: 'text',
  tinytext: 'text',
  mediumtext: 'text',
  longtext: 'text',
};

const columnsOf = (def: EntityDefinition): SqlQuery => ({
  text: `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, EXTRA AS extra
           FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = coalesce(?, DATABASE()) AND TABLE_NAME = ?
          ORDER BY ORDINAL_POSITION`,
  values: [def.table.schema, def.table.name],
});

const triggersOf = (def: EntityDefinition): SqlQuery => ({
  text: `SELECT count(*) AS n FROM information_schema.TRIGGERS
          WHERE EVENT_OBJECT_SCHEMA = coalesce(?, DATABASE()) AND EVENT_OBJECT_TABLE = ?`,
  values: [def.table.schema, def.table.name],
});

/**
 * Reads the table's columns from information_schema and checks the declaration against them, with the
 * messages PostgreSQL's introspection gives. `plainUpdates`: no triggers, no generated columns and no
 * `ON UPDATE` defaults — then an UPDATE changes exactly what it sets.
 *
 * @example
 * const shape = await introspectMysql(db, def); // shape.keyType 'int8' for a BIGINT key
 */
export async function introspectMysql(db: Executor, def: EntityDefinition): Promise<TableShape> {
  const rows = await db.query<{ name: string; type: string; extra: string }>(columnsOf(def));
  if (rows.length === 0) {
    throw new TallyError('TABLE_NOT_FOUND', `entity ${def.name}: table ${def.table.sql} does not exist`, {
      details: { table: def.table.sql },
    });
  }
  const columns = new Map(rows.map((r) => [String(r.name), TYPE_NAMES[String(r.type)] ?? String(r.type)]));
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
      `entity ${def.name}: key column type ${keyType} is not supported (use an integer or text key)`,
    );
  }
  if (!['int2', 'int4', 'int8'].includes(columns.get(def.version.name)!)) {
    throw new TallyError(
      'INVALID_ENTITY',
      `entity ${def.name}: version column ${def.version.sql} must be an integer`,
    );
  }
  const [trig] = await db.query<{ n: number }>(triggersOf(def));
  const derived = rows.some((r) => /generated|on update/i.test(String(r.extra ?? '')));
  return { columns, keyType, plainUpdates: Number(trig?.n) === 0 && !derived };
}
