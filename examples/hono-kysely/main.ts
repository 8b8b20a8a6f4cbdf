// Hono 4 on Node (@hono/node-server) + Kysely (PostgresDialect): POST /closures closes an account once per
// Idempotency-Key. The command's step opens a Kysely transaction and writes the user's own row and the
// Tally state change (with its log row) in it, through fromKysely(trx): both commit together or neither.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx examples/hono-kysely/main.ts
//   curl -X POST localhost:3000/closures -H 'idempotency-key: k1' -H 'x-user: alice' \
//        -H 'content-type: application/json' -d '{"account":1,"reason":"moved away"}'
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { createTally, postgres } from 'tally';
import { idempotent, tallyOnError } from 'tally/hono';
import { fromKysely } from 'tally/kysely';

/** The user's tables as Kysely sees them. `closures` has one row per command: its id is the command's. */
interface Database {
  closures: { id: string; account: number; reason: string };
}

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
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await sql`
    CREATE TABLE IF NOT EXISTS accounts (id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0);
    INSERT INTO accounts (id, state) SELECT g, 'open' FROM generate_series(1, 5) g ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS closures (id text PRIMARY KEY, account integer NOT NULL, reason text NOT NULL);`.execute(
    db,
  );

  const tally = await createTally({ db: postgres(pool) });
  await tally.migrate();
  const accounts = tally.entity('account', { table: 'accounts', states: { open: ['closed'], closed: [] } });

  const closeAccount = tally.command<Closure>('close_account', {
    fingerprint: (i) => ({ account: i.account, reason: i.reason }),
    steps: [
      {
        name: 'close',
        // Kysely's transaction is not the step's own (that one holds the command's lock on another
        // connection): if the process dies after it commits and before the step is recorded, the step runs
        // again, finds its closure row by the command id and does nothing twice.
        run: (ctx) =>
          db.transaction().execute(async (trx) => {
            const done = await trx.selectFrom('closures').select('id').where('id', '=', ctx.id).execute();
            if (done.length === 0) {
              await trx
                .insertInto('closures')
                .values({ id: ctx.id, ...ctx.input })
                .execute();
              await accounts.transition({
                key: ctx.input.account,
                to: 'closed',
                ...ctx.write,
                tx: fromKysely(trx),
              });
            }
            return { closure: ctx.id, account: ctx.input.account, state: 'closed' };
          }),
      },
    ],
  });

  const app = new Hono();
  app.post('/closures', idempotent(closeAccount, { principal: (c) => c.req.header('x-user') }));
  app.onError(tallyOnError()); // thrown errors → problem+json

  const server = await new Promise<ReturnType<typeof serve>>((ready) => {
    const s = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => ready(s));
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: async () => {
      await new Promise((done) => server.close(done));
      await db.destroy(); // ends the pool
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const running = await start(url, Number(process.env.PORT ?? 3000));
  console.log(`hono-kysely listening on ${running.url} (database ${url.replace(/:[^:@/]*@/, ':***@')})`);
}
