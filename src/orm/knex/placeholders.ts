import { TallyError } from '../../errors.js';

/**
 * Knex's raw statements take `?` placeholders (it numbers them `$1..$n` again for `pg`); Tally's take
 * `$1..$n`, a number used as often as the statement needs. Each `$n` becomes `?` with its value repeated in
 * order, and a literal `?` (a jsonb operator) is escaped as `\?`, which Knex passes through as `?`.
 * Tally's statements carry no `$n` inside string literals or identifiers, which this relies on.
 *
 * @example
 * toQuestionMarks('SELECT $1::int + $1::int, $2', [1, 'a']); // { text: 'SELECT ?::int + ?::int, ?', bindings: [1, 1, 'a'] }
 */
export function toQuestionMarks(
  text: string,
  values: readonly unknown[],
): { text: string; bindings: unknown[] } {
  const bindings: unknown[] = [];
  const out = text.replace(/\?|\$(\d+)/g, (_match, n: string | undefined) => {
    if (n === undefined) return '\\?';
    const i = Number(n) - 1;
    if (i < 0 || i >= values.length) {
      throw new TallyError('INVALID_STATEMENT', `statement refers to $${n} but has ${values.length} values`);
    }
    bindings.push(values[i] ?? null); // pg sends undefined as NULL; Knex refuses an undefined binding
    return '?';
  });
  return { text: out, bindings };
}
