// Express 5 + Drizzle (node-postgres): POST /closures closes an account once per Idempotency-Key. The
// command's step opens a Drizzle transaction and writes the user's own row and the Tally state change (with
// its log row) in it, through fromDrizzle(tx): both commit together or neither does.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx examples/express-drizzle/main.ts
//   curl -X POST localhost:3000/closures -H 'idempotency-key: k1' -H 'x-user: alice' \
//        -H 'content-type: application/json' -d '{"account":1,"reason":"moved away"}'
import type { AddressInfo } from 'node:net';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import express from 'express';
import pg from 'pg';
import { createTally, postgres } from 'tally';
import { fromDrizzle } from 'tally/drizzle';
import { idempotent, tallyErrors } from 'tally/express';

/** The user's own table, written through Drizzle. One row per command: its id is the command's. */
const closures = pgTable('closures', {
  id: text('id').primaryKey(),
  account: integer('account').notNull(),
  reason: text('reason').notNull(),
});

type Closure = { account: number; reason: string };

export interface Running {
  url: string;
  close(): Promise<void>;
}

/**
 * Creates the tables (if missing), starts the server and answers its address.
 *
 * @example
 * const { url, close } = await start(process.env.DATABASE_URL!, 0);
 */
export async function start(databaseUrl: string, port: number): Promise<Running> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const db = drizzle(pool);
  await db.execute(sql`
    CREATE TABLE IF NOT EXISTS accounts (id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0);
    INSERT INTO accounts (id, state) SELECT g, 'open' FROM generate_series(1, 5) g ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS closures (id text PRIMARY KEY, account integer NOT NULL, reason text NOT NULL);`);

  const tally = await createTally({ db: postgres(pool) });
  await tally.migrate();
  const accounts = tally.entity('account', { table: 'accounts', states: { open: ['closed'], closed: [] } });

  const closeAccount = tally.command<Closure>('close_account', {
    fingerprint: (i) => ({ account: i.account, reason: i.reason }),
    steps: [
      {
        name: 'close',
        // Drizzle's transaction is not the step's own (that one holds the command's lock on another
        // connection): if the process dies after it commits and before the step is recorded, the step runs
        // again, finds its closure row by the command id and does nothing twice.
        run: (ctx) =>
          db.transaction(async (tx) => {
            const done = await tx.select().from(closures).where(eq(closures.id, ctx.id));
            if (done.length === 0) {
              await tx.insert(closures).values({ id: ctx.id, ...ctx.input });
              await accounts.transition({
                key: ctx.input.account,
                to: 'closed',
                ...ctx.write,
                tx: fromDrizzle(tx),
              });
            }
            return { closure: ctx.id, account: ctx.input.account, state: 'closed' };
          }),
      },
    ],
  });

  const app = express();
  app.use(express.json());
  app.post('/closures', idempotent(closeAccount, { principal: (req) => req.get('x-user') }));
  app.use(tallyErrors()); // last: malformed bodies and thrown errors → problem+json

  const server = app.listen(port, '127.0.0.1');
  await new Promise((ready) => server.once('listening', ready));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: async () => {
      await new Promise((done) => server.close(done));
      await pool.end();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const running = await start(url, Number(process.env.PORT ?? 3000));
  console.log(`express-drizzle listening on ${running.url} (database ${url.replace(/:[^:@/]*@/, ':***@')})`);
}
