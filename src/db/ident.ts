import { TallyError } from '../errors.js';

// Plain SQL identifiers only: no quotes, spaces, dots or semicolons can ever reach the SQL text.
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Validates one identifier and returns it double-quoted. */
export function quoteIdent(name: unknown, what: string): string {
  if (typeof name !== 'string' || !IDENT.test(name)) {
    throw new TallyError(
      'INVALID_IDENTIFIER',
      `${what} must match ${IDENT.source} (letters, digits, underscore; at most 63 characters)`,
      { details: { what } },
    );
  }
  return `"${name}"`;
}

/** Splits `schema.table` or `table`, validates each part and returns the quoted qualified name. */
export function quoteQualified(
  name: unknown,
  what: string,
): { schema: string | null; name: string; sql: string } {
  if (typeof name !== 'string') return { schema: null, name: '', sql: quoteIdent(name, what) };
  const parts = name.split('.');
  if (parts.length === 1) return { schema: null, name, sql: quoteIdent(name, what) };
  if (parts.length === 2) {
    const [schema, table] = parts as [string, string];
    return { schema, name: table, sql: `${quoteIdent(schema, `${what} schema`)}.${quoteIdent(table, what)}` };
  }
  return { schema: null, name, sql: quoteIdent(name, what) };
}
