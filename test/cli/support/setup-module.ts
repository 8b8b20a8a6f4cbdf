import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Executor } from '../../../src/db/types.js';
import { createTally, type Tally } from '../../../src/tally.js';

/**
 * The module `tally worker --module` loads: an account entity and a `cli_redeem` command (deduct 10
 * points in a local step, then "issue" through a downstream that answers success). No imports: it only
 * uses the Tally instance it receives.
 */
export const SETUP_MODULE = `
export default function setup(tally) {
  const accounts = tally.entity('cli_account', { table: 'cli_accounts', states: { open: ['closed'], closed: [] } });
  tally.command('cli_redeem', {
    fingerprint: (i) => ({ user: i.user, qty: i.qty }),
    retry: { maxAttempts: 5, baseMs: 1000 },
    steps: [
      { name: 'deduct', async run(ctx) {
          const [a] = await ctx.tx.query({ text: 'SELECT points FROM cli_accounts WHERE id = $1 FOR UPDATE', values: [ctx.input.user] });
          await accounts.update({ key: ctx.input.user, set: { points: a.points - 10 * ctx.input.qty }, action: 'deduct', ...ctx.write });
          return { deducted: 10 * ctx.input.qty };
      } },
      { name: 'issue', call: {
          request: (ctx) => ({ user: ctx.input.user, qty: ctx.input.qty }),
          send: async (req, meta) => ({ prizeId: 'P-' + meta.key.slice(0, 8) }),
      } },
    ],
  });
}
`;

export function writeSetupModule(dir: string, name = 'setup.mjs'): string {
  const file = join(dir, name);
  writeFileSync(file, SETUP_MODULE);
  return file;
}

/**
 * The same command declared in the test process, but its downstream is down: every submit stays
 * pending after the local step. `clock` runs an hour behind, so the worker finds them due at once.
 */
export async function pendingCommands(db: Executor, n: number): Promise<{ tally: Tally; ids: string[] }> {
  await db.exec(`CREATE TABLE cli_accounts (id text PRIMARY KEY, state text NOT NULL DEFAULT 'open',
                   version integer NOT NULL DEFAULT 0, points integer NOT NULL CHECK (points >= 0));
                 INSERT INTO cli_accounts (id, points) VALUES ('u1', 1000), ('u2', 1000);`);
  const tally = await createTally({ db, clock: () => new Date(Date.now() - 3_600_000) });
  await tally.migrate();
  const accounts = tally.entity('cli_account', {
    table: 'cli_accounts',
    states: { open: ['closed'], closed: [] },
  });
  const redeem = tally.command<{ user: string; qty: number }>('cli_redeem', {
    fingerprint: (i) => ({ user: i.user, qty: i.qty }),
    retry: { maxAttempts: 5, baseMs: 1000 },
    steps: [
      {
        name: 'deduct',
        async run(ctx) {
          const [a] = await ctx.tx.query<{ points: number }>({
            text: 'SELECT points FROM cli_accounts WHERE id = $1 FOR UPDATE',
            values: [ctx.input.user],
          });
          await accounts.update({
            key: ctx.input.user,
            set: { points: a!.points - 10 * ctx.input.qty },
            action: 'deduct',
            ...ctx.write,
          });
          return { deducted: 10 * ctx.input.qty };
        },
      },
      {
        name: 'issue',
        call: {
          request: (ctx) => ({ user: ctx.input.user, qty: ctx.input.qty }),
          send: async () => {
            throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
          },
        },
      },
    ],
  });
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) {
    const r = await redeem.submit({
      key: `cli-key-${i}`,
      principal: i % 2 ? 'u1' : 'u2',
      input: { user: 'u1', qty: 1 },
    });
    if (r.status !== 'pending') throw new Error(`expected pending, got ${r.status}`);
    ids.push(r.id);
  }
  return { tally, ids };
}
