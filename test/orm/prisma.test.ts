import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTallyError } from '../../src/errors.js';
import { fromPrisma } from '../../src/orm/prisma/index.js';
import {
  type OrmDatabase,
  type OrmFixture,
  type OrmSession,
  ormCases,
  ormFixture,
  serverDialects,
} from './support.js';

const root = join(import.meta.dirname, '../..');
const cache = join(root, 'node_modules/.cache');
const prismaVersion = JSON.parse(
  readFileSync(join(root, 'node_modules/prisma/package.json'), 'utf8'),
).version;

/**
 * Generates the client for the `orders` model and the provider (under node_modules/.cache, beside its
 * @prisma/client) and answers its directory.
 */
function generate(provider: 'postgresql' | 'mysql'): string {
  const dir = join(cache, provider === 'mysql' ? 'tally-prisma-mysql' : 'tally-prisma');
  const schema = `generator client {
  provider     = "prisma-client"
  output       = "./client"
  moduleFormat = "esm"
}
datasource db {
  provider = "${provider}"
}
model Order {
  id   Int    @id
  note String @default("")
  @@map("orders")
}
`;
  const file = join(dir, 'schema.prisma');
  // Generated once per schema and Prisma version (the cache is kept across runs, like the PGlite template).
  const stamp = `${schema}// prisma ${prismaVersion}\n`;
  if (existsSync(join(dir, 'client/client.ts')) && existsSync(file) && readFileSync(file, 'utf8') === stamp)
    return dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, stamp);
  // generate needs no schema engine, but the CLI fetches one first unless told where one is: offline
  // machines (and this one) cannot reach binaries.prisma.sh.
  execFileSync(join(root, 'node_modules/.bin/prisma'), ['generate', '--schema', join(dir, 'schema.prisma')], {
    cwd: root,
    env: {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? '/bin/true',
    },
    stdio: 'pipe',
  });
  return dir;
}

/** Prisma's driver adapter for the server: @prisma/adapter-pg, or @prisma/adapter-mariadb (the mariadb driver). */
async function adapterFor(base: OrmDatabase): Promise<object> {
  if (base.dialect === 'mariadb') {
    const { PrismaMariaDb } = await import('@prisma/adapter-mariadb');
    const url = new URL(base.url!);
    return new PrismaMariaDb({
      host: url.hostname,
      port: Number(url.port || 3306),
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password) || undefined,
      database: url.pathname.slice(1),
      connectionLimit: 2,
    });
  }
  const { PrismaPg } = await import('@prisma/adapter-pg');
  return new PrismaPg({ connectionString: base.url!, max: 2 });
}

for (const d of serverDialects)
  describe.skipIf(!d.available)(`tally/prisma [${d.name}]`, () => {
    let base: OrmDatabase;
    let f: OrmFixture;
    // The generated client's type exists only after generate runs (in beforeAll): untyped here.
    let prisma: any;
    let s: OrmSession<any>;
    beforeAll(async () => {
      const dir = generate(d.name === 'mariadb' ? 'mysql' : 'postgresql');
      base = await d.open();
      f = await ormFixture(base.db);
      const { PrismaClient } = await import(join(dir, 'client/client.ts'));
      prisma = new PrismaClient({ adapter: await adapterFor(base) });
      s = {
        transaction: (fn) => prisma.$transaction(fn),
        savepoint: (tx, fn) => tx.$transaction(fn), // Prisma 7: a nested transaction is a savepoint
        insertOrder: async (tx, id) => {
          await tx.order.create({ data: { id } });
        },
        join: (tx) => fromPrisma(tx),
        close: () => prisma.$disconnect(),
      };
    });
    afterAll(async () => {
      await s?.close();
      await base?.close();
    });

    ormCases(() => ({ s, f }), it);

    it('the executor is the dialect of the client', async () => {
      await prisma.$transaction(async (tx: any) => {
        expect(fromPrisma(tx).dialect).toBe(d.name === 'mariadb' ? 'mysql' : 'postgres');
      });
    });

    it('refuses the PrismaClient itself (not a transaction)', () => {
      let err: unknown;
      try {
        fromPrisma(prisma);
      } catch (e) {
        err = e;
      }
      expect(isTallyError(err, 'INVALID_CONFIG')).toBe(true);
    });
  });
