/**
 * What the reconciler reports. A finding names one entity (type and key as the log stores it), a stable
 * `kind` that tools may switch on, and details for the person reading it.
 */
export type FindingKind =
  /** The row's fields differ from its latest log entry's after image, at the same version. */
  | 'row_changed_outside_log'
  /** The row's version is ahead of the log's last entry: log rows are missing (never written, or deleted last rows). */
  | 'version_ahead_of_log'
  /** The row is at version >= 1 but the log has no entry for it at all. */
  | 'no_log'
  /** The log has entries beyond the row's version (the row was rolled back or restored around Tally). */
  | 'log_ahead_of_row'
  /** A log entry whose predecessor (version - 1) is missing: a deleted middle row, or a deleted first row. */
  | 'version_gap'
  /** Log entries for a row that does not exist (and the last entry is not a delete). */
  | 'log_without_row'
  /**
   * A log entry whose stored hash does not match its content: the entry was edited. Also an entry
   * written while the chain was kept (up to `log_chain.last_chained_id`) whose hash was removed; entries
   * written since migration 10 carry none (decision 0065).
   */
  | 'hash_mismatch'
  /** A chained (pre-migration-10) log entry whose prev_hash is not the previous entry's hash. */
  | 'broken_link'
  /** A log entry whose before image is not the previous entry's after image. */
  | 'broken_image';

export const FINDING_KINDS: readonly FindingKind[] = [
  'row_changed_outside_log',
  'version_ahead_of_log',
  'no_log',
  'log_ahead_of_row',
  'version_gap',
  'log_without_row',
  'hash_mismatch',
  'broken_link',
  'broken_image',
];

/** The kinds a `repair` log entry can explain: the row is right, the log is missing what happened. */
export const REPAIRABLE_KINDS: ReadonlySet<FindingKind> = new Set([
  'row_changed_outside_log',
  'version_ahead_of_log',
  'no_log',
]);

export interface Finding {
  readonly entity: string;
  /** The key as the log stores it (integers in decimal, UUIDs in lower case). */
  readonly key: string;
  readonly kind: FindingKind;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Progress of one entity's check, reported after each chunk. */
export interface ReconcileProgress {
  readonly entity: string;
  readonly phase: 'state' | 'log' | 'chain';
  /** Rows (state phase) or log entries (chain phase) done so far. */
  readonly done: number;
  /** An estimate for the whole table or log (planner statistics, or a count when there are none). */
  readonly total: number;
  readonly findings: number;
}

export interface EntitySummary {
  readonly entity: string;
  readonly table: string;
  readonly rows: number;
  readonly logEntries: number;
  readonly chunks: number;
  readonly findings: number;
  readonly ms: { readonly state: number; readonly chain: number | null };
}

/** One reconcile run: every finding (up to `maxFindings`) and exact counts per kind. */
export interface ReconcileReport {
  readonly ok: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly entities: readonly EntitySummary[];
  readonly counts: Readonly<Partial<Record<FindingKind, number>>>;
  readonly total: number;
  readonly findings: readonly Finding[];
  /** True when more findings were found than `maxFindings` kept. */
  readonly truncated: boolean;
  /** Whether each entity type's result was recorded in reconcile_runs (the console's Overview). */
  readonly recorded?: boolean;
}
