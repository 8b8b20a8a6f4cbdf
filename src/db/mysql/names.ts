import { quoteIdent } from '../ident.js';

/**
 * One of Tally's tables on MySQL/MariaDB: `<schema>_<table>` in the connection's own database
 * (decision 0131). A MySQL schema is a database, which needs its own grants and which every test
 * database would share; a prefix keeps Tally's tables beside the app's, in its transactions and grants.
 *
 * @example
 * tallyTable('tally', 'log'); // `tally_log`
 */
export function tallyTable(schemaName: string, table: string): string {
  const name = `${schemaName}_${table}`;
  quoteIdent(name, 'options.schema'); // the same strict pattern as every identifier
  return `\`${name}\``;
}

/**
 * A name already checked and double-quoted (`"app"."resources"`, as entity definitions hold it) in
 * MySQL's backticks. Safe because the strict identifier pattern admits no quote of either kind.
 *
 * @example
 * backticked('"app"."resources"'); // `app`.`resources`
 */
export function backticked(quoted: string): string {
  return quoted.replace(/"/g, '`');
}
