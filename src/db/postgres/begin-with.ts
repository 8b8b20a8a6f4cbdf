import type { PgConfigQuery } from '../joined.js';
import type { Row, SqlQuery } from '../types.js';
import type { PgClientLike } from './index.js';

/**
 * BEGIN and the transaction's first statement in one round trip (decision 0125): both go out as
 * extended-protocol messages behind a single Sync, so the server answers both at once. The values still
 * travel apart from the text. A command's record opens its first step's transaction this way.
 *
 * node-pg sends one query per round trip and has no public way to send two; a query object may take
 * over its own sending (`submit`, as pg-cursor does), and this one writes BEGIN's Parse/Bind/Execute
 * before the statement's own messages. node-pg then collects the two command results as an array.
 * A client that is not node-pg's (another pool with the same shape) gets the two round trips.
 */
export async function beginWith(client: PgClientLike, begin: string, first: SqlQuery): Promise<Row[]> {
  const Query = (client as { constructor?: { Query?: unknown } }).constructor?.Query;
  const connection = (client as { connection?: { parse?: unknown } }).connection;
  if (typeof Query !== 'function' || typeof connection?.parse !== 'function') {
    await client.query(begin);
    const values = (first.values ?? []) as unknown[];
    const res = first.name
      ? await (client as unknown as PgConfigQuery).query({ name: first.name, text: first.text, values })
      : await client.query(first.text, values);
    return res.rows as Row[];
  }
  const opening = new (openingQuery(Query as QueryClass))(begin, first);
  const results = await new Promise<unknown>((resolve, reject) => {
    opening.callback = (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res));
    (client as unknown as { query(q: unknown): unknown }).query(opening);
  });
  const list = (Array.isArray(results) ? results : [results]) as { rows: Row[] }[];
  return list[list.length - 1]!.rows;
}

type QueryClass = new (config: { text: string; values?: unknown[]; name?: string }) => PgQuery;

interface PgQuery {
  name?: string;
  callback?: (err: Error | null, res: unknown) => void;
  prepare(connection: PgConnection): void;
  handleError(err: Error, connection: PgConnection): void;
}

interface PgConnection {
  stream: { cork?: () => void; uncork?: () => void };
  parsedStatements: Record<string, string>;
  parse(m: { text: string; name: string; types: unknown[] }): void;
  bind(m: { portal: string; statement: string; values: unknown[] }): void;
  execute(m: { portal: string; rows: number }): void;
}

const classes = new WeakMap<QueryClass, new (begin: string, first: SqlQuery) => PgQuery>();

/** node-pg's Query, sending BEGIN's messages before its own (one subclass per driver copy). */
function openingQuery(Query: QueryClass): new (begin: string, first: SqlQuery) => PgQuery {
  let Opening = classes.get(Query);
  if (Opening) return Opening;
  Opening = class extends Query {
    readonly #begin: string;
    constructor(begin: string, first: SqlQuery) {
      super({
        text: first.text,
        values: (first.values ?? []) as unknown[],
        ...(first.name ? { name: first.name } : {}),
      });
      this.#begin = begin;
    }
    submit(connection: PgConnection): null {
      connection.stream.cork?.();
      try {
        connection.parse({ text: this.#begin, name: '', types: [] });
        connection.bind({ portal: '', statement: '', values: [] });
        connection.execute({ portal: '', rows: 0 });
        this.prepare(connection); // the statement's Parse (unless prepared), Bind, Describe, Execute, Sync
      } finally {
        connection.stream.uncork?.();
      }
      return null;
    }
    override handleError(err: Error, connection: PgConnection): void {
      // BEGIN's ParseComplete made node-pg note the statement's name as prepared; if the statement's own
      // Parse failed it is not, and a later use must parse it again.
      if (this.name) delete connection.parsedStatements[this.name];
      super.handleError(err, connection);
    }
  };
  classes.set(Query, Opening);
  return Opening;
}
