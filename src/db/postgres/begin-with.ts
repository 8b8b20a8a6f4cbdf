import type { PgConfigQuery } from '../joined.js';
import type { Row, SqlQuery } from '../types.js';
import type { PgClientLike } from './index.js';

/**
 * BEGIN and the transaction's first statement in one round trip (decision 0125): both go out as
 * extended-protocol messages behind a single Sync, so the server answers both at once. The values still
 * travel apart from the text. A command's record opens its first step's transaction this way.
 */
export function beginWith(client: PgClientLike, begin: string, first: SqlQuery): Promise<Row[]> {
  return pipelined(client, begin, first, null);
}

/**
 * The transaction's last statement and its COMMIT in one round trip (decision 0125). An error in the
 * statement makes the server skip the COMMIT (everything up to the Sync is discarded): the transaction
 * is then still open and failed, and the caller rolls it back as after any error.
 */
export function commitWith(client: PgClientLike, last: SqlQuery): Promise<Row[]> {
  return pipelined(client, null, last, 'COMMIT');
}

/**
 * node-pg sends one query per round trip and has no public way to send two; a query object may take
 * over its own sending (`submit`, as pg-cursor does), and this one writes a parameterless statement's
 * Parse/Bind/Execute before or after the statement's own messages. node-pg then collects the two
 * command results as an array. A client that is not node-pg's (another pool with the same shape) gets
 * two round trips.
 */
async function pipelined(
  client: PgClientLike,
  before: string | null,
  q: SqlQuery,
  after: string | null,
): Promise<Row[]> {
  const Query = (client as { constructor?: { Query?: unknown } }).constructor?.Query;
  const connection = (client as { connection?: { parse?: unknown } }).connection;
  if (typeof Query !== 'function' || typeof connection?.parse !== 'function') {
    if (before) await client.query(before);
    const values = (q.values ?? []) as unknown[];
    const res = q.name
      ? await (client as unknown as PgConfigQuery).query({ name: q.name, text: q.text, values })
      : await client.query(q.text, values);
    if (after) await client.query(after);
    return res.rows as Row[];
  }
  const query = new (pipelinedQuery(Query as QueryClass))(before, q, after);
  const results = await new Promise<unknown>((resolve, reject) => {
    query.callback = (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res));
    (client as unknown as { query(q: unknown): unknown }).query(query);
  });
  const list = (Array.isArray(results) ? results : [results]) as { rows: Row[] }[];
  return list[before ? 1 : 0]!.rows;
}

type QueryClass = new (config: { text: string; values?: unknown[]; name?: string }) => PgQuery;

interface PgQuery {
  name?: string;
  callback?: (err: Error | null, res: unknown) => void;
  prepare(connection: PgConnection): void;
  handleError(err: Error, connection: PgConnection): void;
  _getRows(connection: PgConnection, rows?: number): void;
}

interface PgConnection {
  stream: { cork?: () => void; uncork?: () => void };
  parsedStatements: Record<string, string>;
  parse(m: { text: string; name: string; types: unknown[] }): void;
  bind(m: { portal: string; statement: string; values: unknown[] }): void;
  execute(m: { portal: string; rows: number }): void;
  sync(): void;
}

type Pipelined = new (before: string | null, q: SqlQuery, after: string | null) => PgQuery;

const classes = new WeakMap<QueryClass, Pipelined>();

/** Parse, Bind and Execute of a statement without parameters (unnamed statement and portal, no Sync). */
function plain(connection: PgConnection, text: string): void {
  connection.parse({ text, name: '', types: [] });
  connection.bind({ portal: '', statement: '', values: [] });
  connection.execute({ portal: '', rows: 0 });
}

/** node-pg's Query with a plain statement's messages before or after its own (one subclass per driver copy). */
function pipelinedQuery(Query: QueryClass): Pipelined {
  let Class = classes.get(Query);
  if (Class) return Class;
  Class = class extends Query {
    readonly #before: string | null;
    readonly #after: string | null;
    constructor(before: string | null, q: SqlQuery, after: string | null) {
      super({ text: q.text, values: (q.values ?? []) as unknown[], ...(q.name ? { name: q.name } : {}) });
      this.#before = before;
      this.#after = after;
    }
    submit(connection: PgConnection): null {
      connection.stream.cork?.();
      try {
        if (this.#before) plain(connection, this.#before);
        this.prepare(connection); // the statement's Parse (unless prepared), Bind, Describe, Execute, Sync
      } finally {
        connection.stream.uncork?.();
      }
      return null;
    }
    // prepare() ends with _getRows: Execute, then Sync. The statement after goes between the two.
    override _getRows(connection: PgConnection, rows?: number): void {
      if (!this.#after || rows) {
        super._getRows(connection, rows);
        return;
      }
      connection.execute({ portal: '', rows: 0 });
      plain(connection, this.#after);
      connection.sync();
    }
    override handleError(err: Error, connection: PgConnection): void {
      // A plain statement's ParseComplete made node-pg note the statement's name as prepared; if the
      // statement's own Parse failed it is not, and a later use must parse it again.
      if (this.name) delete connection.parsedStatements[this.name];
      super.handleError(err, connection);
    }
  };
  classes.set(Query, Class);
  return Class;
}
