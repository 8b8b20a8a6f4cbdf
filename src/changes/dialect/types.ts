import type { ChangeContext } from '../../context.js';
import type { MysqlConnectionLike } from '../../db/mysql/join.js';
import type { Executor, QueryableLike } from '../../db/types.js';
import type { ApplyOptions, EntityRuntime, Selection } from '../apply.js';
import type { EntityDefinition } from '../definition.js';
import type { LogEntry } from '../history.js';
import type { TableShape } from '../introspect.js';
import type { EntityKey } from '../keys.js';
import type { ChangeResult } from '../result.js';
import type { ChangeOp } from '../sql.js';

/**
 * What the changes module needs from a dialect (decision 0130): one object per dialect, chosen once from
 * `db.dialect` when an entity is declared. Logic asks its adapter; it never names a dialect. What a
 * dialect cannot do yet is a flag in `can`, checked in one place (`requireCapability`), so a gap is a
 * clear error instead of a PostgreSQL statement failing on MySQL.
 */
export interface ChangeDialect {
  readonly name: 'postgres' | 'mysql';
  readonly can: Readonly<Record<Capability, boolean>>;
  /** The caller's own transaction (a driver connection, or a Tally executor) as an executor. */
  join(tx: Executor | QueryableLike | MysqlConnectionLike): Executor;
  /** Reads the table's columns and checks the declaration against them. */
  introspect(db: Executor, def: EntityDefinition): Promise<TableShape>;
  /** Transitions (and, where `can.update`, updates) 1..N rows with one log row each, in one transaction. */
  apply(
    rt: EntityRuntime,
    db: Executor,
    selection: Selection,
    op: ChangeOp,
    context: ChangeContext | undefined,
    options: ApplyOptions,
  ): Promise<ChangeResult>;
  create(
    rt: EntityRuntime,
    db: Executor,
    rows: readonly Record<string, unknown>[],
    context: ChangeContext | undefined,
  ): Promise<{ created: EntityKey[] }>;
  history(rt: EntityRuntime, db: Executor, key: EntityKey, limit?: number): Promise<LogEntry[]>;
  stateAt(
    rt: EntityRuntime,
    db: Executor,
    key: EntityKey,
    at: { version: number } | { at: Date },
  ): Promise<Record<string, unknown> | null>;
}

/** The entity operations a dialect may not have yet. */
export type Capability = 'update' | 'jobs' | 'adopt' | 'verify';
