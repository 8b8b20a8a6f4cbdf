/**
 * A deliberately small SQL lexer for routing: it only needs to find words and parentheses outside
 * string literals, quoted identifiers and comments, so that `WHERE note = 'delete me'` never looks like
 * a write and `/* FOR UPDATE *\/` never looks like a lock.
 */
export type TokenKind = 'word' | 'qident' | 'punct' | 'other';

export interface SqlToken {
  readonly kind: TokenKind;
  /** Lowercased for words; the character for punctuation; empty for the rest. */
  readonly text: string;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

/**
 * Whose SQL the text is. MySQL/MariaDB: backslash escapes in '…' and "…" strings (both are strings),
 * `backtick` identifiers, `#` and `-- ` comments (the dashes need a space after them), block comments that
 * do not nest, no dollar quoting — and executable comments (`/*! … *\/`, `/*M! … *\/`), whose contents
 * the server runs, make the text unclassifiable.
 */
export type LexFlavour = 'postgres' | 'mysql';

/** Splits SQL text into tokens; returns null when a literal or comment is not closed (unclassifiable). */
export function lexSql(sql: string, flavour: LexFlavour = 'postgres'): SqlToken[] | null {
  if (flavour === 'mysql') return lexMysql(sql);
  const out: SqlToken[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++;
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) return null;
    } else if (c === "'" || ((c === 'E' || c === 'e') && next === "'")) {
      const escapes = c !== "'";
      i += escapes ? 2 : 1;
      let closed = false;
      while (i < n) {
        const d = sql[i]!;
        if (escapes && d === '\\') i += 2;
        else if (d === "'" && sql[i + 1] === "'") i += 2;
        else if (d === "'") {
          i++;
          closed = true;
          break;
        } else i++;
      }
      if (!closed) return null;
      out.push({ kind: 'other', text: '' });
    } else if (c === '"') {
      const end = sql.indexOf('"', i + 1);
      if (end < 0) return null;
      i = end + 1;
      while (sql[i] === '"') {
        const more = sql.indexOf('"', i + 1);
        if (more < 0) return null;
        i = more + 1;
      }
      out.push({ kind: 'qident', text: '' });
    } else if (c === '$') {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 66));
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        if (end < 0) return null;
        i = end + tag[0].length;
        out.push({ kind: 'other', text: '' });
      } else {
        i++; // a parameter: $1
        while (i < n && /[0-9]/.test(sql[i]!)) i++;
        out.push({ kind: 'other', text: '' });
      }
    } else {
      i = lexPlain(sql, i, out);
    }
  }
  return out;
}

// What both flavours lex alike at `i`: a word, a punctuation mark, or one character of anything else.
// Pushes its token and returns the index after it.
function lexPlain(sql: string, i: number, out: SqlToken[]): number {
  const c = sql[i]!;
  if (WORD_START.test(c)) {
    const start = i;
    while (i < sql.length && WORD_PART.test(sql[i]!)) i++;
    out.push({ kind: 'word', text: sql.slice(start, i).toLowerCase() });
    return i;
  }
  if (c === '(' || c === ')' || c === ';' || c === '.' || c === ',') out.push({ kind: 'punct', text: c });
  else out.push({ kind: 'other', text: '' });
  return i + 1;
}

// MySQL starts a `--` comment only before a space or a control character (`1--1` is arithmetic).
const dashCommentAt = (sql: string, i: number) => i >= sql.length || sql.charCodeAt(i) <= 32;

// One MySQL-quoted run from `i` (the opening quote): the index after its close, or -1 when unclosed.
function skipQuoted(sql: string, i: number, quote: string, backslash: boolean): number {
  let j = i + 1;
  while (j < sql.length) {
    const d = sql[j]!;
    if (backslash && d === '\\') j += 2;
    else if (d === quote && sql[j + 1] === quote) j += 2;
    else if (d === quote) return j + 1;
    else j++;
  }
  return -1;
}

function lexMysql(sql: string): SqlToken[] | null {
  const out: SqlToken[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++;
    } else if (c === '#' || (c === '-' && next === '-' && dashCommentAt(sql, i + 2))) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      // The server runs what an executable comment holds (`/*!50000 FOR UPDATE */`): refuse to guess.
      if (sql[i + 2] === '!' || (sql[i + 2] === 'M' && sql[i + 3] === '!')) return null;
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) return null;
      i = end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      const end = skipQuoted(sql, i, c, c !== '`');
      if (end < 0) return null;
      i = end;
      out.push({ kind: c === '`' ? 'qident' : 'other', text: '' });
    } else {
      i = lexPlain(sql, i, out);
    }
  }
  return out;
}
