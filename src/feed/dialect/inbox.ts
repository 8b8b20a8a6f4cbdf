import { utcText } from '../../changes/dialect/mysql/sql.js';
import { tallyTable } from '../../db/mysql/names.js';
import type { DialectName, Row, SqlQuery } from '../../db/types.js';
import { inboxInsertSql, pruneInboxSql } from '../sql.js';
import type { FeedSource } from '../types.js';
import * as my from './mysql/sql.js';

/** The inbox's two statements for the database the caller's executor talks to, and how to read their answer. */
export interface InboxStatements {
  insert(consumer: string, source: FeedSource, entryId: string, now: Date): SqlQuery;
  /** Whether the insert recorded the entry (false: applied before, a redelivery). */
  inserted(rows: Row[]): boolean;
  prune(consumer: string, before: Date): SqlQuery;
  pruned(rows: Row[]): number;
}

/**
 * `schema` is the quoted PostgreSQL schema (`"tally"`); on MySQL the same name prefixes the tables
 * (decision 0131), and INSERT IGNORE / DELETE answer with affectedRows instead of RETURNING.
 */
export function inboxStatements(dialect: DialectName, schema: string): InboxStatements {
  if (dialect === 'mysql') {
    const t = (table: string) => tallyTable(schema.slice(1, -1), table);
    const affected = (rows: Row[]) => Number((rows[0] as { affectedRows?: number })?.affectedRows ?? 0);
    return {
      insert: (c, source, id, now) => my.inboxInsertSql(t, c, source, id, utcText(now)),
      inserted: (rows) => affected(rows) === 1,
      prune: (c, before) => my.pruneInboxSql(t, c, utcText(before)),
      pruned: affected,
    };
  }
  return {
    insert: (c, source, id, now) => inboxInsertSql(schema, c, source, id, now),
    inserted: (rows) => rows.length > 0,
    prune: (c, before) => pruneInboxSql(schema, c, before),
    pruned: (rows) => Number(rows[0]?.n),
  };
}
