import type { Executor, Row, SqlQuery } from '../../db/types.js';
import type { RequeueFilter } from '../requeue-sql.js';
import type { CallOutcome, NewCall, SaveExpectation } from '../save-sql.js';
import type { CommandRow, EventIn, RecordedRequest } from '../sql.js';

/**
 * What the commands module needs from a database (decision 0132): one object per dialect, chosen once
 * from the connection (`commandStore(config)`), like the changes' seam (decision 0130). Each method is one
 * logical write or read; how many statements it takes is the dialect's business (one CTE on PostgreSQL;
 * a locking read and an UPDATE in one transaction on MySQL, which has no `UPDATE … RETURNING`). Rows are
 * answered raw: `normalizeRow` / `normalizeCall` read both dialects' shapes.
 */
export interface CommandStore {
  readonly name: 'postgres' | 'mysql';
  /** What this dialect runs so far; the rest is refused by `requireCommandCapability`, in one place. */
  readonly can: Readonly<Record<CommandCapability, boolean>>;
  /** Records key, fingerprint and input (leased to the submitter) with its `submitted` event; undefined when the key exists. */
  insertCommand(db: Executor, c: InsertCommand): Promise<Row | undefined>;
  /**
   * insertCommand as one statement that can open the first step's transaction (decision 0125): it answers
   * the row when inserted, nothing when the key exists. A dialect without it records on its own first.
   */
  recordStatement?(c: InsertCommand): SqlQuery;
  byKey(db: Executor, type: string, principal: string, key: string): Promise<Row | undefined>;
  byId(db: Executor, id: string): Promise<Row | undefined>;
  /** Lock, check, update: the command under its row lock, in the caller's transaction. */
  lock(tx: Executor, id: string): Promise<Row | undefined>;
  /** Takes the lease of an unfinished command nobody holds; with `due`, only when its attempt is due. */
  claim(db: Executor, c: ClaimOne): Promise<Row | undefined>;
  /**
   * The command's mutable fields and its events, alone (`n` 1 when it applied), or with the call write
   * that belongs with it: a new call with its first send (`inserted`), or a call's outcome written only if
   * it has none (`settled`). Atomic, whether or not `db` is in a transaction.
   */
  save(db: Executor, s: SaveArgs): Promise<{ n: number }>;
  saveInsertingCall(db: Executor, s: SaveArgs, c: NewCall): Promise<{ n: number; inserted: number }>;
  saveSettlingCall(db: Executor, s: SaveArgs, o: CallOutcome): Promise<{ n: number; settled: number }>;
  call(db: Executor, id: string, step: string): Promise<Row | undefined>;
  callsOf(db: Executor, id: string): Promise<Row[]>;
  /** Stores an outbound request before its first send (no send counted). */
  insertCall(db: Executor, c: StoredCall): Promise<void>;
  /** Counts a send (before it happens) or a query; answers the new count. */
  markCall(db: Executor, id: string, step: string, what: 'send' | 'query', at: Date): Promise<number>;
  /** Writes a call's outcome if it has none; says whether it did. */
  resolveCall(db: Executor, c: ResolveCall): Promise<boolean>;
  /** The call a downstream key names (an inbound message's address). */
  callByDownstreamKey(db: Executor, downstreamKey: string): Promise<Row | undefined>;
  /**
   * A message that agrees with the outcome already recorded on its call: only a `duplicate` event to add,
   * no lock needed (an outcome is never overwritten). Answers the command when it applied.
   */
  notifyDuplicate(db: Executor, m: DuplicateMessage): Promise<Row | undefined>;
  /** The stranded commands a requeue would take (a dry run): id, type, key, principal, created_at. */
  stranded(db: Executor, f: RequeueFilter): Promise<Row[]>;
  /**
   * Gives stranded commands a new budget (pending, or compensating when a failure was being undone), with a
   * `requeued` event and their open needs_attention alerts resolved, atomically. Answers them, new status in.
   */
  requeue(db: Executor, f: RequeueFilter, by: { actor: string; reason: string; at: Date }): Promise<Row[]>;
  insertAlert(db: Executor, a: AlertRow): Promise<string>;
  alerts(db: Executor, type: string, commandId: string | null, openOnly: boolean): Promise<Row[]>;
  events(db: Executor, id: string): Promise<Row[]>;
}

/** The command features a dialect may not have yet (docs/mysql.md lists them). */
export type CommandCapability = 'change' | 'failover' | 'breaker' | 'retention';

export interface InsertCommand extends RecordedRequest {
  owner: string;
  leaseUntil: Date;
  traceContext?: string | null;
  /** PostgreSQL: the record's commit need not wait for the WAL flush (decision 0036). */
  asyncRecord: boolean;
}

export interface ClaimOne {
  id: string;
  owner: string;
  now: Date;
  until: Date;
  due: boolean;
}

export interface SaveArgs {
  row: CommandRow;
  events: readonly EventIn[];
  at: Date;
  expect: SaveExpectation | null;
}

export interface StoredCall {
  id: string;
  step: string;
  downstreamKey: string;
  /** JSON text. */
  request: string;
  at: Date;
}

export interface ResolveCall {
  id: string;
  step: string;
  outcome: 'success' | 'failure';
  /** JSON text. */
  value: string | null;
  via: string;
  at: Date;
}

export interface DuplicateMessage {
  downstreamKey: string;
  outcome: 'success' | 'failure';
  type: string;
  /** JSON text of what the message said. */
  data: string;
  at: Date;
}

export interface AlertRow {
  id: string | null;
  type: string;
  kind: string;
  message: string;
  data: unknown;
  at: Date;
}
