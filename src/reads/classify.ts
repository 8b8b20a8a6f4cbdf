import { type LexFlavour, lexSql, type SqlToken } from './lex.js';

/**
 * Why a statement may or may not go to a replica. Anything not provably a plain read goes to the
 * primary (DESIGN principle 5: when in doubt, the primary).
 */
export type StatementClass =
  | 'READ'
  | 'WRITE'
  | 'LOCKING_READ'
  | 'WRITE_CTE'
  | 'SELECT_INTO'
  | 'FUNCTION_CALL'
  | 'MULTI_STATEMENT'
  | 'UNCLASSIFIED';

export interface Classification {
  readonly replicaSafe: boolean;
  readonly reason: StatementClass;
}

const READ_STARTS = new Set(['select', 'with', 'values', 'table']);
const WRITE_WORDS = new Set(['insert', 'update', 'delete', 'merge', 'truncate']);
const WRITE_STARTS = new Set([
  ...WRITE_WORDS,
  ...['create', 'alter', 'drop', 'grant', 'revoke', 'copy', 'call', 'do', 'lock', 'vacuum', 'analyze'],
  ...['cluster', 'reindex', 'refresh', 'comment', 'notify', 'listen', 'unlisten', 'set', 'reset'],
  ...['begin', 'start', 'commit', 'end', 'rollback', 'savepoint', 'release', 'prepare', 'execute'],
  ...['deallocate', 'discard', 'security', 'import', 'checkpoint', 'load', 'reassign', 'abort'],
]);

// Words that are followed by "(" without being a function call.
const PAREN_KEYWORDS = new Set([
  ...['in', 'exists', 'any', 'all', 'some', 'values', 'as', 'from', 'join', 'on', 'using', 'over'],
  ...['filter', 'within', 'group', 'array', 'row', 'cast', 'not', 'and', 'or', 'where', 'select', 'case'],
  ...['when', 'then', 'else', 'lateral', 'by', 'having', 'union', 'intersect', 'except', 'is', 'distinct'],
  ...['between', 'like', 'ilike', 'tablesample', 'rollup', 'cube', 'grouping', 'sets', 'materialized'],
  ...['numeric', 'decimal', 'varchar', 'char', 'character', 'varying', 'timestamp', 'time', 'bit'],
  ...['interval', 'float', 'precision', 'limit', 'offset', 'fetch', 'order', 'partition', 'window', 'with'],
  ...['recursive', 'null', 'true', 'false', 'similar', 'escape', 'at', 'zone', 'returning', 'only'],
  // MySQL/MariaDB: index hints (`USE INDEX (i)`, `FORCE KEY (k)`) and full-text `MATCH (a) AGAINST (…)`.
  ...['index', 'key', 'against'],
]);

/**
 * Built-in functions that never write, so a SELECT calling them may run on a replica. Any other call
 * (nextval, pg_advisory_lock, set_config, a user function that inserts...) sends the statement to the
 * primary. Extend with `safeFunctions` in the router options for your own read-only functions.
 */
export const DEFAULT_SAFE_FUNCTIONS: ReadonlySet<string> = new Set([
  ...['count', 'sum', 'avg', 'min', 'max', 'bool_and', 'bool_or', 'every', 'array_agg', 'string_agg'],
  ...['json_agg', 'jsonb_agg', 'json_object_agg', 'jsonb_object_agg', 'coalesce', 'nullif', 'greatest'],
  ...['least', 'lower', 'upper', 'length', 'char_length', 'octet_length', 'substr', 'substring', 'trim'],
  ...['btrim', 'ltrim', 'rtrim', 'replace', 'concat', 'concat_ws', 'left', 'right', 'position', 'strpos'],
  ...['split_part', 'format', 'abs', 'ceil', 'ceiling', 'floor', 'round', 'trunc', 'mod', 'power', 'sqrt'],
  ...['sign', 'now', 'date_trunc', 'date_part', 'extract', 'to_char', 'to_date', 'to_timestamp', 'age'],
  ...['to_number', 'make_date', 'make_interval', 'json_build_object', 'jsonb_build_object', 'to_json'],
  ...['json_build_array', 'jsonb_build_array', 'to_jsonb', 'jsonb_array_length', 'json_array_length'],
  ...['jsonb_typeof', 'json_typeof', 'array_length', 'array_position', 'cardinality', 'unnest', 'md5'],
  ...['generate_series', 'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag'],
  ...['lead', 'first_value', 'last_value', 'nth_value', 'encode', 'decode', 'random', 'gen_random_uuid'],
  ...['pg_last_wal_replay_lsn', 'pg_is_in_recovery', 'current_setting'],
]);

const verdict = (reason: StatementClass): Classification => ({ replicaSafe: reason === 'READ', reason });

/**
 * Decides whether one SQL statement may run on a replica. Only SELECT / WITH / VALUES / TABLE
 * statements without locking clauses, data-modifying CTEs, SELECT INTO or calls of functions outside
 * `safeFunctions` are replica-safe; everything else, and everything the lexer cannot read, is not.
 *
 * @example
 * classifyStatement('SELECT * FROM users WHERE id = $1')           // { replicaSafe: true,  reason: 'READ' }
 * classifyStatement('SELECT * FROM users WHERE id = $1 FOR UPDATE') // { replicaSafe: false, reason: 'LOCKING_READ' }
 * classifyStatement('WITH d AS (DELETE FROM s RETURNING *) SELECT * FROM d') // reason 'WRITE_CTE'
 */
export function classifyStatement(
  sql: string,
  safeFunctions: ReadonlySet<string> = DEFAULT_SAFE_FUNCTIONS,
  flavour: LexFlavour = 'postgres',
): Classification {
  const tokens = lexSql(sql, flavour);
  if (!tokens || tokens.length === 0) return verdict('UNCLASSIFIED');
  const semi = tokens.findIndex((t) => t.kind === 'punct' && t.text === ';');
  if (semi >= 0 && semi < tokens.length - 1) return verdict('MULTI_STATEMENT');
  const first = tokens[0]!;
  if (first.kind !== 'word') return verdict('UNCLASSIFIED');
  if (!READ_STARTS.has(first.text)) return verdict(WRITE_STARTS.has(first.text) ? 'WRITE' : 'UNCLASSIFIED');
  return verdict(scanRead(tokens, first.text === 'with', safeFunctions));
}

function scanRead(tokens: SqlToken[], isWith: boolean, safe: ReadonlySet<string>): StatementClass {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    const callsNext = next?.kind === 'punct' && next.text === '(';
    if (t.kind === 'qident' && callsNext) return 'FUNCTION_CALL';
    if (t.kind !== 'word') continue;
    if (t.text === 'for' && next?.kind === 'word' && ['update', 'share', 'no', 'key'].includes(next.text)) {
      return 'LOCKING_READ';
    }
    // MySQL/MariaDB's older spelling of FOR SHARE.
    if (t.text === 'lock' && next?.kind === 'word' && next.text === 'in') return 'LOCKING_READ';
    if (WRITE_WORDS.has(t.text)) return isWith ? 'WRITE_CTE' : 'UNCLASSIFIED';
    if (t.text === 'into') return 'SELECT_INTO';
    if (callsNext && !PAREN_KEYWORDS.has(t.text)) {
      const prev = tokens[i - 1];
      const qualified = prev?.kind === 'punct' && prev.text === '.';
      if (qualified || !safe.has(t.text)) return 'FUNCTION_CALL';
    }
  }
  return 'READ';
}
