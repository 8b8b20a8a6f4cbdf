// NestJS 11 (Express platform) + TypeORM (PostgreSQL): POST /closures closes an account once per
// Idempotency-Key, through tally/nestjs's interceptor. The command's step opens a TypeORM transaction and
// writes the user's own row (EntityManager) and the Tally state change (with its log row) in it, through
// fromTypeORM(manager): both commit together or neither. TypeORM has no PGlite driver: PostgreSQL only.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx examples/nestjs-typeorm/main.ts
//   curl -X POST localhost:3000/closures -H 'idempotency-key: k1' -H 'x-user: alice' \
//        -H 'content-type: application/json' -d '{"account":1,"reason":"moved away"}'
import 'reflect-metadata';
import { Controller, Module, Post, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { createTally, postgres } from 'tally';
import { idempotentInterceptor, tallyExceptionFilter } from 'tally/nestjs';
import { fromTypeORM } from 'tally/typeorm';
import { DataSource, EntitySchema } from 'typeorm';

/** The user's own entity. One row per command: its id is the command's. */
const Closure = new EntitySchema<{ id: string; account: number; reason: string }>({
  name: 'Closure',
  tableName: 'closures',
  columns: { id: { type: String, primary: true }, account: { type: Number }, reason: { type: String } },
});

type ClosureInput = { account: number; reason: string };

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
  const dataSource = await new DataSource({
    type: 'postgres',
    url: databaseUrl,
    entities: [Closure],
  }).initialize();
  await dataSource.query(`
    CREATE TABLE IF NOT EXISTS accounts (id integer PRIMARY KEY, state text NOT NULL, version integer NOT NULL DEFAULT 0);
    INSERT INTO accounts (id, state) SELECT g, 'open' FROM generate_series(1, 5) g ON CONFLICT DO NOTHING;
    CREATE TABLE IF NOT EXISTS closures (id text PRIMARY KEY, account integer NOT NULL, reason text NOT NULL);`);

  // Tally's own executor on its own small pool (TypeORM's driver is `pg`; its pool is not shared).
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const tally = await createTally({ db: postgres(pool) });
  await tally.migrate();
  const accounts = tally.entity('account', { table: 'accounts', states: { open: ['closed'], closed: [] } });

  const closeAccount = tally.command<ClosureInput>('close_account', {
    fingerprint: (i) => ({ account: i.account, reason: i.reason }),
    steps: [
      {
        name: 'close',
        // TypeORM's transaction is not the step's own (that one holds the command's lock on another
        // connection): if the process dies after it commits and before the step is recorded, the step runs
        // again, finds its closure row by the command id and does nothing twice.
        run: (ctx) =>
          dataSource.transaction(async (manager) => {
            if (!(await manager.findOneBy(Closure, { id: ctx.id }))) {
              await manager.insert(Closure, { id: ctx.id, ...ctx.input });
              await accounts.transition({
                key: ctx.input.account,
                to: 'closed',
                ...ctx.write,
                tx: fromTypeORM(manager),
              });
            }
            return { closure: ctx.id, account: ctx.input.account, state: 'closed' };
          }),
      },
    ],
  });

  // Decorators applied as plain calls (no experimentalDecorators needed); with decorator syntax this is
  // @Controller() on the class and @Post('closures') @UseInterceptors(...) on the method.
  class Closures {
    create() {} // not called: the interceptor answers with the command
  }
  const create = Object.getOwnPropertyDescriptor(Closures.prototype, 'create')!;
  const principal = (req: { headers: Record<string, string | string[] | undefined> }) =>
    req.headers['x-user'] as string | undefined;
  UseInterceptors(idempotentInterceptor(closeAccount, { principal }))(Closures.prototype, 'create', create);
  Post('closures')(Closures.prototype, 'create', create);
  Controller()(Closures);
  class AppModule {}
  Module({ controllers: [Closures] })(AppModule);

  const app = await NestFactory.create(AppModule, { logger: false });
  app.useGlobalFilters(tallyExceptionFilter()); // every error → problem+json
  await app.listen(port, '127.0.0.1');
  return {
    url: (await app.getUrl()).replace('[::1]', '127.0.0.1'),
    close: async () => {
      await app.close();
      await pool.end();
      await dataSource.destroy();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const running = await start(url, Number(process.env.PORT ?? 3000));
  console.log(`nestjs-typeorm listening on ${running.url} (database ${url.replace(/:[^:@/]*@/, ':***@')})`);
}
