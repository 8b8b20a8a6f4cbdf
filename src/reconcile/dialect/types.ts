import type { EntityRuntime } from '../../changes/apply.js';
import type { EntityDefinition } from '../../changes/definition.js';
import type { TallyConfig } from '../../config.js';
import type { Executor, SqlQuery } from '../../db/types.js';

/** An entry the chain check fails, with what fails (decision 0065 for the hashes). */
export type FailingEntry = {
  key: string;
  version: string;
  bad_hash: boolean;
  bad_link: boolean;
  bad_image: boolean;
};

/** The row and the log's last entry of one flagged key, as the check's classify reads them. */
export interface KeyDetails {
  key: string;
  row_version: string | number | null;
  row_image: unknown;
  last_version: string | number | null;
  last_after: unknown;
  last_action: string | null;
  entries: string | number;
}

/** What one repair chunk wrote: rows whose version moved, log entries written, and their keys. */
export interface RepairWrite {
  updated: number;
  logged: number;
  keys: string[];
}

/** The values a repair chunk records on each entry, and whether it covers missing log entries. */
export interface RepairParams {
  keys: readonly string[];
  acceptMissingLog: boolean;
  actor: string;
  reason: string;
  at: Date;
  requestId: string | null;
}

/** What the reconciler may not have on a dialect yet, refused by name (`requireReconcileCapability`). */
export type ReconcileCapability = 'realtime' | 'keyChain';

/**
 * What the state <-> log check, the chain check and the repair need from a database (decision 0130's
 * seam; 0137 for MySQL/MariaDB). One object per dialect, picked once per call from the executor
 * (`reconcileDialect`); the check's logic — chunks, counts, classification, the plan, the repair's
 * re-checks — is one core in state-log.ts, chain.ts and repair.ts and never names a dialect.
 * Statements that have the same shape on every server are `SqlQuery` builders; where the shape differs
 * (MySQL: no LATERAL, no arrays, no data-modifying CTEs) the dialect runs the statements itself.
 */
export interface ReconcileDialect {
  readonly name: 'postgres' | 'pglite' | 'mysql';
  readonly can: Readonly<Record<ReconcileCapability, boolean>>;

  // The state <-> log check.
  /** Session settings for one of the check's repeatable-read transactions (PostgreSQL: work_mem …). */
  prepareCheck(tx: Executor, workMem: string): Promise<void>;
  /** Whether the table's rows carry tuple headers that can prove a row untouched (decision 0057). */
  hasHeaders(db: Executor, def: EntityDefinition): Promise<boolean>;
  /** An estimate of the table's rows (`n`). */
  rowEstimate(def: EntityDefinition): SqlQuery;
  /** The last key (`hi`) of the next chunk of `size` rows after `lo`. */
  chunkEnd(def: EntityDefinition, keyType: string, lo: string | null, size: number): SqlQuery;
  /** The chunk's rows the log does not explain, as `k`, `v` (row version), `lv` (log version or null). */
  stateChunk(
    config: TallyConfig,
    def: EntityDefinition,
    keyType: string,
    columns: ReadonlyMap<string, string>,
    lo: string | null,
    hi: string | null,
    headers: boolean,
  ): SqlQuery;
  /** The chunk's rows (`n`) and how many are at version >= 1 (`versioned`). */
  chunkCount(def: EntityDefinition, keyType: string, lo: string | null, hi: string | null): SqlQuery;
  /** Version gaps (`key`, `version`), and a last row (key NULL) counting keys not starting at entry 1. */
  gaps(config: TallyConfig, entityType: string): SqlQuery;
  /** Keys with an entry 1 (`n`) and the entity type's entries (`entries`). */
  firstEntries(config: TallyConfig, entityType: string): SqlQuery;
  /** Keys (`key`) whose log has no row. */
  orphans(config: TallyConfig, def: EntityDefinition, gapKeys: readonly string[]): SqlQuery;
  /** The row and the log's last entry of each key (at most 1,000 keys). */
  details(rt: EntityRuntime, db: Executor, keyType: string, keys: readonly string[]): Promise<KeyDetails[]>;

  // The chain check.
  /** The id range (`lo`, `hi`) and count (`n`) of the entity type's entries. */
  logIdRange(config: TallyConfig, entityType: string): SqlQuery;
  /** The entries with ids in [lo, hi] that fail the chain check. */
  failingEntries(
    db: Executor,
    config: TallyConfig,
    entityType: string,
    lo: number,
    hi: number,
  ): Promise<FailingEntry[]>;

  // The repair.
  /** Planned keys that have no row (at most 100), checked before the first write. */
  missingKeys(
    db: Executor,
    def: EntityDefinition,
    keyType: string,
    keys: readonly string[],
  ): Promise<string[]>;
  /** Locks the rows in key order; the keys (`k`, canonical text) found. */
  lockKeys(def: EntityDefinition, keyType: string, keys: readonly string[]): SqlQuery;
  /**
   * In the transaction holding the rows' locks: re-checks each row against its log's last entry and, for
   * those that still need it, moves the row's version to the log's next and appends a `repair` entry.
   */
  repair(
    tx: Executor,
    rt: EntityRuntime,
    keyType: string,
    columns: ReadonlyMap<string, string>,
    p: RepairParams,
  ): Promise<RepairWrite>;
}
