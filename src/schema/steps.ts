/**
 * How a migration applies online on PostgreSQL: an ordered list of steps, each committed on its own, so
 * no lock a writer waits on is held for longer than one short step. `s` is the quoted schema name.
 *
 * - `transaction`: statements in one transaction under a short lock_timeout; a lock that is not granted
 *   in time rolls the step back and it is retried after a backoff, instead of queueing behind a long
 *   transaction (a queued ACCESS EXCLUSIVE request blocks every writer that arrives after it).
 * - `index`: CREATE INDEX CONCURRENTLY, outside any transaction (writers keep writing while it builds).
 *   An invalid index of that name — the leftover of an interrupted build — is dropped and rebuilt.
 * - `batches`: a statement that changes at most one batch of rows and returns `n`, the rows it changed;
 *   run (each batch its own transaction) until a batch changes none. For backfills.
 *
 * A NOT VALID constraint is a `transaction` step (ADD CONSTRAINT … NOT VALID: a moment's lock) followed by
 * another (VALIDATE CONSTRAINT: scans under SHARE UPDATE EXCLUSIVE, which writers do not wait on).
 * Every step must be idempotent: a run interrupted between steps is resumed by running them all again.
 */
export type MigrationStep =
  | { readonly kind: 'transaction'; readonly sql: (s: string) => string }
  | {
      readonly kind: 'index';
      /** The index name (unqualified; it lives in the table's schema). */
      readonly name: string;
      /** What follows `ON`: `table (columns) [INCLUDE (…)] [WHERE …]`, without the schema. */
      readonly on: string;
      readonly unique?: boolean;
    }
  | { readonly kind: 'batches'; readonly sql: (s: string) => string };

/** The index step's statement, built concurrently (online) or plainly (inside a transaction). */
export function createIndexSql(
  step: Extract<MigrationStep, { kind: 'index' }>,
  s: string,
  concurrently: boolean,
): string {
  const unique = step.unique ? 'UNIQUE ' : '';
  const how = concurrently ? 'CONCURRENTLY ' : '';
  return `CREATE ${unique}INDEX ${how}IF NOT EXISTS ${step.name} ON ${s}.${step.on}`;
}
