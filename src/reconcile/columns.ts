import type { EntityRuntime } from '../changes/apply.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';

/** Which of an entity's columns the reconciler compares with the log's after images. */
export interface ColumnChoice {
  /** Compare only these columns (default: every column of the table). */
  columns?: readonly string[];
  /** Never compare these (e.g. an `updated_at` a trigger maintains). */
  ignore?: readonly string[];
}

/**
 * The tracked columns (name -> type) of an entity: the table's columns, or the chosen ones, minus the key
 * (the join matches it) and the version (the join compares it). Unknown names are refused, so a typo does
 * not silently compare nothing.
 */
export async function trackedColumns(
  rt: EntityRuntime,
  db: Executor,
  choice: ColumnChoice = {},
): Promise<{ keyType: string; columns: Map<string, string> }> {
  // Names the table did not have at the entity's first use make it read the table again (a new column).
  const named = [choice.columns, choice.ignore].flatMap((l) => (Array.isArray(l) ? l : []));
  const shape = await rt.shape(
    db,
    named.filter((c): c is string => typeof c === 'string'),
  );
  const { def } = rt;
  for (const list of [choice.columns, choice.ignore]) {
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      throw new TallyError(
        'INVALID_RECONCILE_OPTIONS',
        `entity ${def.name}: columns and ignore must be arrays`,
      );
    }
    for (const c of list) {
      if (typeof c !== 'string' || !shape.columns.has(c)) {
        throw new TallyError(
          'COLUMN_NOT_FOUND',
          `entity ${def.name}: reconcile column does not exist in ${def.table.sql}`,
          { details: { column: String(c).slice(0, 64) } },
        );
      }
    }
  }
  const chosen = choice.columns ? new Set(choice.columns) : null;
  const ignored = new Set(choice.ignore ?? []);
  const columns = new Map<string, string>();
  for (const [name, type] of shape.columns) {
    if (name === def.key.name || name === def.version.name) continue;
    if (chosen && !chosen.has(name)) continue;
    if (ignored.has(name)) continue;
    columns.set(name, type);
  }
  return { keyType: shape.keyType, columns };
}

/** The tracked columns whose values differ between a row image and an after image (both as JSON). */
export function differingColumns(
  columns: ReadonlyMap<string, string>,
  row: Record<string, unknown>,
  after: Record<string, unknown> | null,
): string[] {
  const out: string[] = [];
  for (const [c, type] of columns) {
    const a = row[c] ?? null;
    const b = after?.[c] ?? null;
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    // A timestamptz is rendered in the writing session's TimeZone: the same instant may read differently.
    if (type === 'timestamptz' && typeof a === 'string' && typeof b === 'string' && sameInstant(a, b))
      continue;
    out.push(c);
  }
  return out;
}

// Microseconds count: compare the fraction as text after normalizing the offset to UTC milliseconds.
function sameInstant(a: string, b: string): boolean {
  const frac = (x: string) => /\.(\d+)/.exec(x)?.[1]?.padEnd(6, '0') ?? '000000';
  return Date.parse(a) === Date.parse(b) && frac(a) === frac(b);
}

/** jsonb arrives parsed from pg and PGlite, as text from some drivers. */
export function parseJson<T>(v: unknown): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}
