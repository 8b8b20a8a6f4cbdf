// The simulator's default database: an in-memory PGlite whose statements are prepared once and then
// only bound and executed (decision 0153). A schedule sends the same ~70 statement texts every time;
// PGlite's own query() parses, describes, binds, describes again and executes each one in five calls
// into WebAssembly, which was half of a schedule's CPU. Here a known text costs one call (bind,
// describe, execute, sync) and no parse or analysis. Rows, types and errors are PGlite's own.
import { loadDriver } from '../db/driver.js';
import { type PGliteLike, pglite, pgliteTemplateOptions } from '../db/pglite/index.js';
import type { Executor } from '../db/types.js';

type PGliteModule = typeof import('@electric-sql/pglite');
type PGliteInstance = InstanceType<PGliteModule['PGlite']>;
type Results = { rows: any[] };
type Conn = {
  query(text: string, values?: unknown[]): Promise<Results>;
  exec(text: string): Promise<unknown>;
};

/** Statement texts kept prepared; past this a text runs unnamed (a scenario with data-shaped SQL). */
const MAX_PREPARED = 4_000;

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A PGlite instance behind a PGliteLike whose query() keeps each statement text prepared. One caller at
 * a time, as PGlite itself: a transaction holds the connection until its COMMIT or ROLLBACK.
 */
function preparedPglite(mod: PGliteModule, pg: PGliteInstance): PGliteLike {
  const { serialize } = mod.protocol;
  const prepared = new Map<string, { name: string; types: number[] }>();
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn);
    queue = run.catch(() => {});
    return run;
  };
  const send = (parts: Uint8Array[]) => pg.execProtocol(concat(parts), { syncToFs: false });
  const describe = async (text: string, name: string) => {
    const r = await send([
      serialize.parse({ name, text }),
      serialize.describe({ type: 'S', name }),
      serialize.sync(),
    ]);
    return mod.parse.parseDescribeStatementResults(r.messages);
  };
  const query = async (text: string, params: unknown[] = []): Promise<Results> => {
    let s = prepared.get(text);
    if (!s && prepared.size < MAX_PREPARED) {
      const name = `tally_sim_${prepared.size}`;
      s = { name, types: await describe(text, name) };
      prepared.set(text, s);
    }
    const statement = s ?? { name: '', types: await describe(text, '') };
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const toText = pg.serializers[statement.types[i]!];
      return toText ? toText(v) : String(v);
    });
    const r = await send([
      serialize.bind({ statement: statement.name, values }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]);
    return mod.parse.parseResults(r.messages, pg.parsers)[0] as Results;
  };
  const exec = async (text: string) => {
    await pg.execProtocol(serialize.query(text), { syncToFs: false });
  };
  const conn: Conn = { query, exec };
  return {
    query: (text, values) => exclusive(() => query(text, values)),
    exec: (text) => exclusive(() => exec(text)),
    transaction: <T>(fn: (tx: Conn) => Promise<T>) =>
      exclusive(async () => {
        await exec('BEGIN');
        let out: T;
        try {
          out = await fn(conn);
        } catch (err) {
          await exec('ROLLBACK');
          throw err;
        }
        await exec('COMMIT');
        return out;
      }),
    close: () => pg.close(),
  } as PGliteLike;
}

/**
 * A new in-memory PGlite for the simulator (from TALLY_PGLITE_TEMPLATE's dump when set), its statements
 * prepared once. `close()` closes it.
 *
 * @example
 * const db = await simDatabase();
 * const r = await simulate(pointsRedemption, { db, schedules: 100, seed: 1 });
 * await db.close();
 */
export async function simDatabase(): Promise<Executor> {
  const mod = await loadDriver('@electric-sql/pglite', () => import('@electric-sql/pglite'));
  const pg = await mod.PGlite.create(pgliteTemplateOptions());
  const db = pglite(preparedPglite(mod, pg));
  return { ...db, close: () => pg.close() };
}

/**
 * Makes every table of the simulator's own database UNLOGGED, after the scenario created them: no WAL
 * for their rows (about 5% of a schedule's CPU). Only for a database nobody else reads and that dies
 * with the run — a crash the simulator plays is a life that ends, not the database's.
 */
export async function unlogTables(db: Executor): Promise<void> {
  const rows = await db.query<{ t: string }>({
    text: `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  });
  // A table referenced by a logged one cannot go first: repeat until a pass changes nothing.
  let left = rows.map((r) => r.t);
  for (let changed = true; changed && left.length > 0; ) {
    changed = false;
    const next: string[] = [];
    for (const t of left) {
      try {
        await db.exec(`ALTER TABLE ${t} SET UNLOGGED`);
        changed = true;
      } catch {
        next.push(t);
      }
    }
    left = next;
  }
}
