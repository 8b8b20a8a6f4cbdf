import { TallyError } from '../errors.js';
import type { SqlQuery } from './types.js';

/**
 * Refuses what is not a `{ text, values? }` statement before it reaches a driver. A bare string used to
 * run as nothing at all (the driver saw `undefined` text and answered no rows): a silent empty answer.
 * The text is never echoed: a hand-written statement may carry literal values.
 *
 * @example
 * checkStatement({ text: 'SELECT 1' }); // passes
 * checkStatement('SELECT 1' as never); // throws INVALID_STATEMENT
 */
export function checkStatement(q: SqlQuery): void {
  if (typeof q === 'string') {
    throw new TallyError(
      'INVALID_STATEMENT',
      "Executor.query takes a statement object, not a string: pass { text: 'SELECT ...', values: [...] }",
    );
  }
  if (q === null || typeof q !== 'object' || typeof q.text !== 'string' || q.text.trim() === '') {
    throw new TallyError('INVALID_STATEMENT', 'a statement is { text, values? } with non-empty text');
  }
  if (q.values !== undefined && !Array.isArray(q.values)) {
    throw new TallyError('INVALID_STATEMENT', 'statement values must be an array');
  }
}
