import type { Executor } from '../../db/types.js';

/** What the downstream has recorded under one of Tally's downstream keys. */
export interface DownstreamRecord {
  key: string;
  outcome: 'success' | 'failure' | 'not_found';
  value?: unknown;
}

/**
 * A query adapter the user supplies: given downstream keys (`<command id>.<step>`), return what the
 * downstream has. Keys it does not return are taken as "not found".
 */
export type DownstreamLookup = (keys: readonly string[]) => Promise<Iterable<DownstreamRecord>>;

/** The downstream's records as a table in another database. */
export interface DownstreamTable {
  db: Executor | string;
  /** `table` or `schema.table`. */
  table: string;
  /** The text column holding Tally's downstream key. */
  key: string;
  /** A status column and the values that mean success; any other value is a failure. Without it, a row means success. */
  status?: { column: string; success: readonly string[] };
}

export type DownstreamSource = { lookup: DownstreamLookup } | DownstreamTable;

export type UpstreamView = 'success' | 'failure' | 'unknown';
export type DownstreamView = 'success' | 'failure' | 'missing';

export const MISMATCH_KINDS = [
  'upstream_failed_downstream_succeeded',
  'upstream_unknown_downstream_succeeded',
  'upstream_succeeded_downstream_missing',
  'upstream_succeeded_downstream_failed',
  'upstream_unknown_downstream_failed',
  'upstream_unknown_downstream_missing',
] as const;
export type MismatchKind = (typeof MISMATCH_KINDS)[number];

/** One call whose upstream and downstream records disagree. */
export interface CommandDifference {
  commandId: string;
  type: string;
  key: string;
  principal: string;
  step: string;
  downstreamKey: string;
  /** The command's status when it was read. */
  status: string;
  upstream: UpstreamView;
  downstream: DownstreamView;
  kind: MismatchKind;
  /**
   * `pending`: the worker gets the first chance (the command is not terminal or its call has no
   * definite outcome, and it is younger than the grace period). `mismatch`: what remains; alarmed.
   */
  state: 'pending' | 'mismatch';
  /**
   * For mismatches: `new` when this run raised the alert, `open` when an open alert already said so,
   * `resolved` when a person resolved it while the command was in the status it is in now (not raised).
   */
  alert?: 'new' | 'open' | 'resolved';
  createdAt: string;
}

export interface ReconcileCommandsOptions {
  /** Tally's database (the upstream records). */
  db: Executor;
  /** Schema of Tally's tables. Default `tally`. */
  schema?: string;
  /** The command type to check. */
  type: string;
  /** Only this call step. Default: every call step of the type. */
  step?: string;
  /** Commands created at or after this time. */
  since?: Date;
  /** Commands created before this time. */
  until?: Date;
  /** Only these commands (real-time checks of a few). */
  ids?: readonly string[];
  /**
   * `open` (default): only calls no round has settled yet. A call is settled once a round found its
   * command finished (succeeded or failed, which never change again) and the downstream agreeing; a
   * round then costs what is still open, not the whole history. `all`: every call in range, settled or
   * not, an audit that also sees a downstream that lost or changed a record after it agreed.
   */
  scope?: 'open' | 'all';
  downstream: DownstreamSource;
  /** How long the worker has to resolve a difference before it is alarmed. Default 15 minutes. */
  graceMs?: number;
  /** Make commands with a pending difference due now (the worker takes them next round). Default false. */
  nudge?: boolean;
  /** Raise an alert for each mismatch (once while it is open). Default true. */
  alarm?: boolean;
  /**
   * Mark finished calls that agree as settled (`open` rounds then skip them). Default true. With `false`,
   * `alarm: false` and no `nudge` the check writes nothing at all (the console's dry run, decision 0149).
   */
  settle?: boolean;
  /** Calls read and looked up per batch. Default 1,000. */
  batchSize?: number;
  clock?: () => Date;
  onProgress?: (p: { checked: number; differences: number }) => void;
}

export interface CommandsReport {
  type: string;
  /** Calls compared. */
  checked: number;
  agree: number;
  /** Calls this run marked settled (finished and agreeing: `open` rounds no longer read them). */
  settled: number;
  pending: CommandDifference[];
  mismatches: CommandDifference[];
  /** Alerts this run raised (a rerun raises none for mismatches already alarmed). */
  alarmed: number;
  /** Commands made due now. */
  nudged: number;
  startedAt: string;
  finishedAt: string;
}
