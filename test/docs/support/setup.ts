// The values a block that runs may assume (its fence says which: ```ts given=tally,resources): a Tally on
// PGlite in memory with the README's tables, made once per program. Fragments may assume more, as types
// only (givens.ts); a name a running block asks for must be one of these.
import { createTally, type Entity, type Executor, pglite, type Tally } from '../../../src/index.js';

export interface RunGivens {
  /** A migrated Tally on PGlite in memory, and its executor. */
  tally: Tally;
  db: Executor;
  /** The README's entity: resources (id int, owner, region, state, version), ids 1–8, all active;
   * owner team-a for 1–4, team-b for 5–8; region eu for odd ids, us for even ones. */
  resources: Entity;
  /** account (id int, points int, last_debit int, state, version): id 7 with 1000 points, open. */
  accounts: Entity;
  /** A fresh idempotency key and a principal. */
  key: string;
  principal: string;
}

let made: Promise<RunGivens> | null = null;

/** The givens named, made on first use (one database per program). */
export async function docGivens<K extends keyof RunGivens>(...names: K[]): Promise<Pick<RunGivens, K>> {
  made ??= make();
  const all = await made;
  const out = {} as Pick<RunGivens, K>;
  for (const n of names) out[n] = all[n];
  return out;
}

async function make(): Promise<RunGivens> {
  const db = await pglite();
  const tally = await createTally({ db });
  await tally.migrate();
  await db.exec(`CREATE TABLE resources (id int PRIMARY KEY, owner text NOT NULL, region text NOT NULL,
    state text NOT NULL, version int NOT NULL DEFAULT 0);
  INSERT INTO resources (id, owner, region, state)
    SELECT i, CASE WHEN i <= 4 THEN 'team-a' ELSE 'team-b' END, CASE WHEN i % 2 = 1 THEN 'eu' ELSE 'us' END,
      'active' FROM generate_series(1, 8) AS i;
  CREATE TABLE accounts (id int PRIMARY KEY, points int NOT NULL, last_debit int, state text NOT NULL,
    version int NOT NULL DEFAULT 0);
  INSERT INTO accounts (id, points, state) VALUES (7, 1000, 'open');`);
  const resources = tally.entity('resource', {
    table: 'resources',
    states: { active: ['frozen'], frozen: ['active'] },
  });
  const accounts = tally.entity('account', { table: 'accounts', states: { open: ['closed'], closed: [] } });
  return { tally, db, resources, accounts, key: `doc-${Date.now()}`, principal: 'user:42' };
}
