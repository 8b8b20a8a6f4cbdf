import { createHash } from 'node:crypto';
import type { ResolvedContext } from '../../context.js';
import { TallyError } from '../../errors.js';
import type { EntityDefinition } from '../definition.js';
import type { TableShape } from '../introspect.js';
import type { ChangeOp } from '../sql.js';
import { checkedAction, checkedSet } from '../validate.js';

/** The change a job applies, as stored on its record: a resumed job needs nothing from its creator. */
export interface StoredOp {
  v: 1;
  change: { kind: 'transition'; to: string } | { kind: 'update'; set: Record<string, unknown> };
  action: string;
  context: ResolvedContext;
}

/** Validates `to` / `set` against the entity, as `transition` and `update` do, before anything is stored. */
export function changeOf(
  def: EntityDefinition,
  shape: TableShape,
  input: { to?: unknown; set?: unknown },
): StoredOp['change'] {
  if ((input.to === undefined) === (input.set === undefined)) {
    throw new TallyError('INVALID_SELECTION', `entity ${def.name}: a job needs exactly one of to or set`);
  }
  if (input.to !== undefined) {
    if (typeof input.to !== 'string' || !def.states.has(input.to)) {
      throw new TallyError('UNKNOWN_STATE', `entity ${def.name}: target state is not declared`, {
        details: { states: [...def.states] },
      });
    }
    return { kind: 'transition', to: input.to };
  }
  return { kind: 'update', set: checkedSet(def, shape, input.set) };
}

export function actionOf(change: StoredOp['change'], action: unknown): string {
  return checkedAction(action, change.kind);
}

/** The op `applyChange` takes, rebuilt from the stored one with the entity's current state machine. */
export function toChangeOp(def: EntityDefinition, change: StoredOp['change']): ChangeOp {
  if (change.kind === 'update') return { kind: 'update', set: change.set };
  if (!def.states.has(change.to)) {
    throw new TallyError('UNKNOWN_STATE', `entity ${def.name}: the job's target state is no longer declared`);
  }
  return { kind: 'transition', to: change.to, from: def.sourcesOf.get(change.to)! };
}

/** JSON with object keys sorted, so equal values always give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  return JSON.stringify(value ?? null);
}

/**
 * What makes two job requests "the same operation": entity, change, action and selection (the set of
 * keys, order-free, or the filter as given). Who asks and why (the context) is not part of it.
 */
export function fingerprintOf(
  entity: string,
  change: StoredOp['change'],
  action: string,
  selection: { keys: readonly string[] } | { where: Readonly<Record<string, readonly (string | null)[]>> },
): string {
  const h = createHash('sha256');
  h.update(canonical({ v: 1, entity, change, action }));
  if ('keys' in selection) {
    h.update('\nkeys\n');
    for (const k of [...selection.keys].sort()) h.update(`${JSON.stringify(k)}\n`);
  } else {
    const where = Object.fromEntries(
      Object.entries(selection.where).map(([c, v]) => [c, [...new Set(v)].sort()]),
    );
    h.update(`\nwhere\n${canonical(where)}`);
  }
  return h.digest('hex');
}
