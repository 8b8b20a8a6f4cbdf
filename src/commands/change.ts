import type { Entity } from '../changes/entity.js';
import { type GuardOp, type IncrementOp, incrementSql, lockOneRowSql } from '../changes/increment-sql.js';
import type { TableShape } from '../changes/introspect.js';
import { canonicalKeys, type EntityKey } from '../changes/keys.js';
import type { Executor } from '../db/types.js';
import { TallyError } from '../errors.js';
import { asStored, plainDecimal } from './canonical.js';
import type { ChangeBatchOptions, ResolvedBatch } from './change-batch.js';
import { hashOf } from './sql.js';
import type { StepContext } from './step-types.js';

/** A value fixed in the declaration, or computed from the command's recorded input. */
export type FromInput<I, T> = T | ((input: I) => T);
export type Amount = number | bigint | string;
export type GuardValue = Amount | boolean;
/** A JSON value for a column, or a function of the input that returns one. */
export type SetValue<I> =
  | ((input: I) => unknown)
  | string
  | number
  | bigint
  | boolean
  | null
  | readonly unknown[]
  | { readonly [k: string]: unknown };
/** `{ gte: 10 }`, `{ eq: 'open' }`; a bare value means eq. */
export type Guard<I> = FromInput<I, GuardValue> | Partial<Record<GuardOp, FromInput<I, GuardValue>>>;

/**
 * A declarative guarded change of one entity row: the command's only step, with no JavaScript
 * between the database's read and write, so submit runs it as ONE statement (decision 0025).
 *
 * @example
 * tally.command('debit', {
 *   fingerprint: (i) => ({ account: i.account }),
 *   change: { entity: accounts, key: (i) => i.account, add: { points: -10 },
 *             guard: { points: { gte: 10 } }, action: 'debit', reason: 'insufficient_points' },
 * });
 */
export interface LocalChange<I = any> {
  /** The entity (declared on the same Tally instance) whose row changes. */
  entity: Entity;
  /** Which row, from the input. */
  key(input: I): EntityKey;
  /** Numeric columns to add to (negative to subtract): `{ points: -10 }` or `{ points: (i) => -i.amount }`. */
  add?: Record<string, FromInput<I, Amount>>;
  /** Columns to set, as `entity.update` sets them: a value, or a function of the input. */
  set?: Record<string, SetValue<I>>;
  /** Conditions on the current row; when one does not hold, the command fails definitely. */
  guard?: Record<string, Guard<I>>;
  /** The log row's action. Default `update` (as `entity.update`). */
  action?: string;
  /** The failure reason when the guard does not hold. Default `guard_failed`. */
  reason?: string;
}

/** A change-command declaration: key parameters and the change, instead of steps. */
export interface ChangeCommandDefinition<I = any> {
  /** The input's schema, as for any command: checked before anything is recorded. */
  input?: import('./input-schema.js').InputSchema<I>;
  fingerprint(input: I): unknown;
  /** As for any command: the input's and the key parameters' depth, and their canonical text's size. */
  limits?: import('./input-limits.js').InputLimitsOptions;
  change: LocalChange<I>;
  /** As for any command (they matter only on the general path: failover, a lost race, the worker). */
  retry?: import('./definition.js').RetryPolicy;
  leaseMs?: number;
  waitMs?: number;
  failover?: import('./failover.js').FailoverOptions;
  /**
   * How concurrent submits share statements (decision 0026): at most `statements` (1-1000) run at once,
   * and submits that arrive meanwhile go together in the next, up to `size` (1-128). `false`: one
   * statement per submit, however many run at once. Either way, submits of this command for one row or
   * one key take turns. Default `{ statements: 2, size: 64 }`.
   */
  batch?: ChangeBatchOptions | false;
}

/** The one step a change command has; its name on the timeline. */
export const CHANGE_STEP = 'change';

const COLUMN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const ACTION = /^[A-Za-z0-9_.:-]{1,64}$/;
const OPS = new Set<GuardOp>(['gte', 'gt', 'lte', 'lt', 'eq', 'ne']);
const NUMERIC = new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8']);
const INTEGER = new Set(['int2', 'int4', 'int8']);
const DECIMAL = /^-?[0-9]{1,30}(\.[0-9]{1,30})?$/;

type Source<I> = { column: string; value: FromInput<I, unknown> };

/** A change command checked and ready: what to evaluate per submit, and the SQL once the table is known. */
export interface CompiledChange<I = any> {
  readonly entity: Entity;
  readonly action: string;
  readonly reason: string;
  readonly key: (input: I) => EntityKey;
  readonly add: readonly Source<I>[];
  readonly set: readonly Source<I>[];
  readonly guard: readonly (Source<I> & { op: GuardOp })[];
  /** How concurrent submits share statements. */
  readonly batch: ResolvedBatch;
  /** The change against the table (columns checked, types known); learned once, on first use. */
  plan(db: Executor): Promise<ChangePlan>;
}

export interface ChangePlan {
  readonly shape: TableShape;
  readonly op: IncrementOp;
  /** The general path's step statement (after the row lock). */
  readonly stepText: string;
  readonly stepName: string;
}

/** The values one command's statement needs, from its recorded input. */
export interface ChangeValues {
  key: string;
  add: string[];
  set: string | null;
  guard: string[];
}

function bad(name: string, what: string): TallyError {
  return new TallyError('INVALID_COMMAND', `command ${name}: change: ${what}`);
}

const isFn = (v: unknown): v is (input: unknown) => unknown => typeof v === 'function';

/** Checks a change declaration once, at `tally.command(...)`: shapes, identifiers, constant values. */
export function compileChange<I>(
  name: string,
  c: LocalChange<I>,
  batchOptions?: ChangeBatchOptions | false,
): CompiledChange<I> {
  if (!c || typeof c !== 'object') throw bad(name, 'must be an object');
  const entity = c.entity as Entity | undefined;
  if (!entity || typeof entity !== 'object' || !entity.runtime?.def) {
    throw bad(name, 'entity must be an entity declared with tally.entity(...)');
  }
  const def = entity.runtime.def;
  if (!isFn(c.key)) throw bad(name, 'key(input) must be a function');
  const action = c.action ?? 'update';
  if (typeof action !== 'string' || !ACTION.test(action)) {
    throw bad(name, 'action must be 1-64 letters, digits or _ . : -');
  }
  const reason = c.reason ?? 'guard_failed';
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 200) {
    throw bad(name, 'reason must be 1-200 characters');
  }
  const entries = (v: unknown, what: string): [string, unknown][] => {
    if (v === undefined) return [];
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(name, `${what} must be an object`);
    return Object.entries(v).map(([col, x]) => {
      if (!COLUMN.test(col)) {
        throw new TallyError('INVALID_COMMAND', `command ${name}: change.${what} names an invalid column`, {
          details: { column: col.slice(0, 64) },
        });
      }
      return [col, x];
    });
  };
  const writes = (what: 'add' | 'set') =>
    entries(c[what], what).map(([column, value]) => {
      if (column === def.key.name || column === def.state.name || column === def.version.name) {
        throw bad(
          name,
          `${what}.${column}: key, state and version cannot be changed here (states move through transition; key and version are Tally's)`,
        );
      }
      if (what === 'add' && !isFn(value)) amountText(value, false, `${name}: change.add.${column}`);
      return { column, value };
    });
  const add = writes('add');
  const set = writes('set').map((s) => ({ ...s, value: isFn(s.value) ? s.value : asStored(s.value, 'set') }));
  if (add.length + set.length === 0) throw bad(name, 'add or set must name at least one column');
  const both = add.find((a) => set.some((s) => s.column === a.column));
  if (both) throw bad(name, `${both.column} is both in add and in set`);
  const guard = entries(c.guard, 'guard').flatMap(([column, g]) => {
    const ops =
      g !== null && typeof g === 'object' && !Array.isArray(g)
        ? Object.entries(g as Record<string, unknown>)
        : [['eq', g] as [string, unknown]];
    if (ops.length === 0) throw bad(name, `guard.${column} names no condition`);
    return ops.map(([op, value]) => {
      if (!OPS.has(op as GuardOp)) throw bad(name, `guard.${column}.${op} is not one of gte gt lte lt eq ne`);
      if (!isFn(value)) guardText(op as GuardOp, value, `${name}: change.guard.${column}.${op}`);
      return { column, op: op as GuardOp, value };
    });
  });

  const batch = resolveBatch(name, batchOptions);
  let planned: Promise<ChangePlan> | null = null;
  const compiled: CompiledChange<I> = {
    entity,
    action,
    reason,
    key: c.key,
    add,
    set,
    guard,
    batch,
    plan(db) {
      // Learned once; a failed look-up (table missing) is retried next time, after the user fixes it.
      planned ??= planChange(name, compiled, db).catch((err) => {
        planned = null;
        throw err;
      });
      return planned;
    },
  };
  return Object.freeze(compiled);
}

const BATCH_DEFAULT: ResolvedBatch = Object.freeze({ statements: 2, size: 64 });
/** `false`: every submit its own statement, as many at once as come (submits for one row or key still take turns). */
const UNBATCHED: ResolvedBatch = Object.freeze({ statements: Number.POSITIVE_INFINITY, size: 1 });

function resolveBatch(name: string, b: ChangeBatchOptions | false | undefined): ResolvedBatch {
  if (b === undefined) return BATCH_DEFAULT;
  if (b === false) return UNBATCHED;
  if (!b || typeof b !== 'object' || Array.isArray(b)) {
    throw new TallyError('INVALID_COMMAND', `command ${name}: batch must be false or { statements?, size? }`);
  }
  const int = (v: unknown, what: string, fallback: number, max: number) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      throw new TallyError(
        'INVALID_COMMAND',
        `command ${name}: batch.${what} must be an integer from 1 to ${max}`,
      );
    }
    return v;
  };
  for (const k of Object.keys(b)) {
    if (k !== 'statements' && k !== 'size') {
      throw new TallyError('INVALID_COMMAND', `command ${name}: batch has no option ${k.slice(0, 40)}`);
    }
  }
  return Object.freeze({
    statements: int(b.statements, 'statements', BATCH_DEFAULT.statements, 1000),
    // Every item is matched to its row in each of the statement's joins: cost grows with the square of
    // the size, and a large statement holds its row locks the longer (64 items ≈ 20 ms, 1000 ≈ 1 s).
    size: int(b.size, 'size', BATCH_DEFAULT.size, 128),
  });
}

/** Checks the declared columns against the table (first use), and builds the step statement. */
async function planChange(name: string, c: CompiledChange, db: Executor): Promise<ChangePlan> {
  const rt = c.entity.runtime;
  // The declared columns: one the cached shape lacks (added since the entity's first use) reads the table again.
  const declared = [
    ...c.add.map((x) => x.column),
    ...c.set.map((x) => x.column),
    ...c.guard.map((x) => x.column),
  ];
  const shape = await rt.shape(db, declared);
  const typeOf = (column: string, what: string) => {
    const t = shape.columns.get(column);
    if (t === undefined) {
      throw new TallyError(
        'COLUMN_NOT_FOUND',
        `command ${name}: change.${what} names a column that does not exist in ${rt.def.table.sql}`,
        { details: { column } },
      );
    }
    return t;
  };
  const add = c.add.map(({ column }) => {
    const type = typeOf(column, 'add');
    if (!NUMERIC.has(type)) {
      throw bad(name, `add.${column}: column ${column} is ${type}, not a number (use set)`);
    }
    return { column, type };
  });
  for (const { column } of c.set) typeOf(column, 'set');
  for (const g of c.guard) {
    const type = typeOf(g.column, 'guard');
    if (g.op !== 'eq' && g.op !== 'ne' && !NUMERIC.has(type)) {
      throw bad(
        name,
        `guard.${g.column}.${g.op}: column ${g.column} is ${type}; only numbers compare by order`,
      );
    }
  }
  const report = [...new Set([...c.add, ...c.set, ...c.guard].map((x) => x.column))];
  const op: IncrementOp = {
    add,
    set: c.set.map((s) => s.column),
    guard: c.guard.map((g) => ({ column: g.column, op: g.op })),
    report,
  };
  const stepText = incrementSql(rt.config.s, rt.def, shape, op);
  return { shape, op, stepText, stepName: `tally_inc_${hashOf(stepText)}` };
}

/** The values of one command, from its recorded input (every path evaluates the same input). */
export function changeValues(
  name: string,
  c: CompiledChange,
  plan: ChangePlan,
  input: unknown,
): ChangeValues {
  const call = <T>(v: FromInput<unknown, T>, what: string): T => {
    if (!isFn(v)) return v;
    try {
      return v(input) as T;
    } catch (err) {
      throw new TallyError('INVALID_COMMAND_INPUT', `command ${name}: change.${what}(input) threw`, {
        cause: err,
      });
    }
  };
  const rawKey = call(c.key as FromInput<unknown, EntityKey>, 'key');
  const [key] = canonicalKeys([rawKey], plan.shape.keyType, c.entity.name);
  const add = c.add.map((a, i) =>
    amountText(
      call(a.value, `add.${a.column}`),
      INTEGER.has(plan.op.add[i]!.type),
      `${name}: change.add.${a.column}`,
    ),
  );
  const set = c.set.length
    ? JSON.stringify(
        Object.fromEntries(
          c.set.map((s) => [s.column, asStored(call(s.value, `set.${s.column}`), `change.set.${s.column}`)]),
        ),
      )
    : null;
  const guard = c.guard.map((g) =>
    guardText(g.op, call(g.value, `guard.${g.column}`), `${name}: change.guard.${g.column}.${g.op}`),
  );
  return { key: key!, add, set, guard };
}

/** The general path's step: lock the row, then the same change (the worker, failover, a lost race). */
export function changeStep(name: string, c: CompiledChange) {
  return {
    name: CHANGE_STEP,
    async run(ctx: StepContext): Promise<unknown> {
      const plan = await c.plan(ctx.tx);
      const v = changeValues(name, c, plan, ctx.input);
      await ctx.tx.query(lockOneRowSql(c.entity.runtime.def, plan.shape, v.key));
      const [r] = await ctx.tx.query<{ st: string; result: unknown; details: unknown }>({
        text: plan.stepText,
        name: plan.stepName,
        values: [
          v.key,
          c.entity.name,
          c.action,
          ctx.principal,
          ctx.key,
          ctx.id,
          ctx.now,
          ...v.add,
          ...(v.set === null ? [] : [v.set]),
          ...v.guard,
        ],
      });
      const json = (x: unknown) => (typeof x === 'string' ? JSON.parse(x) : x);
      if (r!.st === 'not_found') ctx.fail('not_found', json(r!.details));
      if (r!.st === 'guard') ctx.fail(c.reason, json(r!.details));
      if (r!.st === 'race') throw new TallyError('DB_ERROR', `command ${name}: the locked row moved`);
      return json(r!.result);
    },
  };
}

function amountText(v: unknown, integer: boolean, what: string): string {
  let text: string | null = null;
  if (typeof v === 'number' && Number.isFinite(v)) text = plainDecimal(v);
  else if (typeof v === 'bigint') text = v.toString();
  else if (typeof v === 'string' && DECIMAL.test(v)) text = v;
  if (text === null || (integer && text.includes('.'))) {
    throw new TallyError(
      'INVALID_COMMAND_INPUT',
      `command ${what} must be a finite ${integer ? 'integer' : 'number'} (number, bigint or decimal string)`,
    );
  }
  return text;
}

function guardText(op: GuardOp, v: unknown, what: string): string {
  if ((op === 'eq' || op === 'ne') && (typeof v === 'string' || typeof v === 'boolean')) return String(v);
  return amountText(v, false, what);
}
