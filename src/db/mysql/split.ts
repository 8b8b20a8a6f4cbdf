/**
 * Splits a script into statements at semicolons outside quotes and comments. mysql2 runs several
 * statements in one call only when the connection was opened with `multipleStatements` (off by default,
 * and a caller's pool is not Tally's to reconfigure), so `exec` runs them one at a time.
 *
 * @example
 * splitStatements('CREATE TABLE a (x int); CREATE TABLE b (y int);'); // two statements
 */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < script.length; i++) {
    const c = script[i]!;
    if (quote) {
      cur += c;
      if (c === '\\' && quote !== '`') {
        cur += script[++i] ?? '';
      } else if (c === quote) {
        quote = null;
      }
      continue;
    }
    if (c === '-' && script[i + 1] === '-') {
      const end = script.indexOf('\n', i);
      i = end < 0 ? script.length : end;
      cur += '\n';
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    if (c === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
