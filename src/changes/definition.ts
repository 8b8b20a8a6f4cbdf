import { quoteIdent, quoteQualified } from '../db/ident.js';
import { TallyError } from '../errors.js';

/**
 * How an entity maps onto the user's own table, and its state machine.
 * `states` lists, for every state, the states it may move to.
 */
export interface EntityOptions {
  /** The table: `resources` or `app.resources`. */
  table: string;
  /** Primary key column (integer, text or uuid). Default `id`. */
  key?: string;
  /** State column. Default `state`. */
  state?: string;
  /** Integer version column Tally increments on every change. Default `version`. */
  version?: string;
  /** Allowed transitions: `{ active: ['frozen'], frozen: ['active'] }`. */
  states: Record<string, readonly string[]>;
}

const ENTITY_NAME = /^[a-z][a-z0-9_]{0,62}$/;
const STATE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface EntityDefinition {
  readonly name: string;
  readonly table: { readonly schema: string | null; readonly name: string; readonly sql: string };
  readonly key: { readonly name: string; readonly sql: string };
  readonly state: { readonly name: string; readonly sql: string };
  readonly version: { readonly name: string; readonly sql: string };
  readonly states: ReadonlySet<string>;
  /** For each target state, the states a row may come from. */
  readonly sourcesOf: ReadonlyMap<string, readonly string[]>;
}

/** Validates a declaration; hostile identifiers and inconsistent machines are refused here. */
export function defineEntity(name: unknown, options: EntityOptions): EntityDefinition {
  if (typeof name !== 'string' || !ENTITY_NAME.test(name)) {
    throw new TallyError('INVALID_ENTITY', `entity name must match ${ENTITY_NAME.source}`);
  }
  if (!options || typeof options !== 'object') {
    throw new TallyError('INVALID_ENTITY', `entity ${name}: options are required`);
  }
  const table = quoteQualified(options.table, `entity ${name}: table`);
  const col = (value: string | undefined, fallback: string, what: string) => {
    const n = value ?? fallback;
    return { name: n, sql: quoteIdent(n, `entity ${name}: ${what} column`) };
  };
  const key = col(options.key, 'id', 'key');
  const state = col(options.state, 'state', 'state');
  const version = col(options.version, 'version', 'version');
  if (new Set([key.name, state.name, version.name]).size !== 3) {
    throw new TallyError(
      'INVALID_ENTITY',
      `entity ${name}: key, state and version must be different columns`,
    );
  }

  const machine = options.states;
  if (!machine || typeof machine !== 'object' || Object.keys(machine).length === 0) {
    throw new TallyError(
      'INVALID_ENTITY',
      `entity ${name}: states must map each state to its allowed targets`,
    );
  }
  const states = new Set(Object.keys(machine));
  const sourcesOf = new Map<string, string[]>();
  for (const s of states) {
    if (!STATE_NAME.test(s)) throw new TallyError('INVALID_ENTITY', `entity ${name}: invalid state name`);
    sourcesOf.set(s, []);
  }
  for (const [from, targets] of Object.entries(machine)) {
    if (!Array.isArray(targets)) {
      throw new TallyError('INVALID_ENTITY', `entity ${name}: states.${from} must be an array of states`);
    }
    for (const to of targets) {
      if (!states.has(to)) {
        throw new TallyError(
          'INVALID_ENTITY',
          `entity ${name}: states.${from} names undeclared state ${JSON.stringify(to)}`,
        );
      }
      if (to !== from) sourcesOf.get(to)!.push(from);
    }
  }
  return Object.freeze({ name, table, key, state, version, states, sourcesOf });
}
