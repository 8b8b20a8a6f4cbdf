import { isTallyError, TallyError } from '../errors.js';
import type { EntityDefinition } from './definition.js';
import type { TableShape } from './introspect.js';
import { canonicalKeys, keyKindOf } from './keys.js';

// Column names from callers reach SQL text; they must be plain identifiers AND real columns.
const COLUMN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const ACTION = /^[A-Za-z0-9_.:-]{1,64}$/;
const FILTER_VALUE_TYPES = new Set(['string', 'number', 'bigint', 'boolean']);

function columnOf(def: EntityDefinition, shape: TableShape, col: string, what: string): string {
  if (!COLUMN.test(col) || !shape.columns.has(col)) throw columnNotFound(def, col, what);
  return `"${col}"`;
}

/**
 * COLUMN_NOT_FOUND for a name the caller used: what was looked for and where. A plain identifier is named
 * (the table was read again just before, so the column is really not there); anything else is not echoed.
 */
export function columnNotFound(def: EntityDefinition, col: string, what: string): TallyError {
  const named = COLUMN.test(col)
    ? `column "${col}", which ${def.table.sql} does not have (its columns were read again to check)`
    : `a column name that is not a plain identifier; ${def.table.sql} has no such column`;
  return new TallyError('COLUMN_NOT_FOUND', `entity ${def.name}: ${what} names ${named}`, {
    details: { column: col.slice(0, 64), table: def.table.sql },
  });
}

/** Checks an equality filter and returns it as quoted column → text values (compared as text). */
export function checkedWhere(
  def: EntityDefinition,
  shape: TableShape,
  where: unknown,
): [column: string, values: string[]][] {
  if (!where || typeof where !== 'object' || Array.isArray(where) || Object.keys(where).length === 0) {
    throw new TallyError('INVALID_SELECTION', `entity ${def.name}: where must name at least one column`);
  }
  return Object.entries(where).map(([col, v]) => {
    const quoted = columnOf(def, shape, col, 'where');
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || list.some((x) => !FILTER_VALUE_TYPES.has(typeof x))) {
      throw new TallyError(
        'INVALID_SELECTION',
        `entity ${def.name}: where.${col} must be a string, number, boolean or a non-empty array of them`,
      );
    }
    return [quoted, filterTexts(def, col, shape.columns.get(col)!, list)];
  });
}

/**
 * The filter's values as the text its column compares as (`col::text`), checked against the column's type
 * as a key is: a text value for an integer key is INVALID_KEY here too, never a filter that quietly
 * matches nothing. Other integer, uuid and boolean columns refuse what they could never equal.
 */
function filterTexts(def: EntityDefinition, col: string, type: string, list: unknown[]): string[] {
  if (col === def.key.name) return canonicalKeys(list, type, def.name);
  const kind = keyKindOf(type);
  if (kind === 'int' || kind === 'uuid') {
    try {
      return canonicalKeys(list, type, def.name);
    } catch (err) {
      if (!isTallyError(err, 'INVALID_KEY')) throw err;
      throw wrongType(def, col, type, list[Number(err.details?.position)]);
    }
  }
  if (type === 'bool') {
    return list.map((x) => {
      if (x === true || x === 'true') return 'true';
      if (x === false || x === 'false') return 'false';
      throw wrongType(def, col, type, x);
    });
  }
  return list.map((x) => String(x));
}

function wrongType(def: EntityDefinition, col: string, type: string, value: unknown): TallyError {
  return new TallyError(
    'INVALID_SELECTION',
    `entity ${def.name}: where.${col} takes ${type} values (got a ${typeof value} that is not one)`,
    { details: { column: col, expected: type } },
  );
}

/** Checks the columns of an update: real columns, and never key, state or version. */
export function checkedSet(def: EntityDefinition, shape: TableShape, set: unknown): Record<string, unknown> {
  if (!set || typeof set !== 'object' || Array.isArray(set) || Object.keys(set).length === 0) {
    throw new TallyError('INVALID_UPDATE', `entity ${def.name}: set must name at least one column`);
  }
  for (const col of Object.keys(set)) {
    columnOf(def, shape, col, 'set');
    if (col === def.key.name || col === def.state.name || col === def.version.name) {
      throw new TallyError(
        'INVALID_UPDATE',
        `entity ${def.name}: ${col} cannot be set directly (states change through transition; key and version are Tally's)`,
      );
    }
  }
  return { ...(set as Record<string, unknown>) };
}

/** The log action name: given, or the kind of change. */
export function checkedAction(action: unknown, fallback: string): string {
  const a = action ?? fallback;
  if (typeof a !== 'string' || !ACTION.test(a)) {
    throw new TallyError('INVALID_SELECTION', 'action must be 1-64 letters, digits or _ . : -');
  }
  return a;
}
