import type { ChangeBatchOptions } from '../../../src/commands/change-batch.js';
import type { TallyOptions } from '../../../src/config.js';
import type { Executor } from '../../../src/db/types.js';
import { createTally } from '../../../src/tally.js';
import { count } from '../../support/resources.js';

export interface DebitInput {
  account: number;
  amount?: number;
}

/**
 * Accounts (a table of this test's own, its rows created through Tally so each has a log) and a change
 * command that debits `amount` (default 10) points if the account has at least that many.
 */
export async function debitFixture(
  db: Executor,
  tag: string,
  accounts: readonly [id: number, points: number][],
  options: Partial<TallyOptions> = {},
  batch?: ChangeBatchOptions | false,
) {
  const table = `acct_${tag}`;
  await db.exec(`CREATE TABLE ${table} (id integer PRIMARY KEY, state text NOT NULL DEFAULT 'open',
    version integer NOT NULL DEFAULT 0, points bigint NOT NULL, note text)`);
  const tally = await createTally({ db, ...options });
  await tally.migrate();
  const entity = tally.entity(table, { table, states: { open: ['closed'], closed: [] } });
  if (accounts.length) {
    await entity.create({
      rows: accounts.map(([id, points]) => ({ id, state: 'open', points })),
      actor: 'seed',
    });
  }
  const amount = (i: DebitInput) => i.amount ?? 10;
  const debit = tally.command<DebitInput>(`debit_${tag}`, {
    fingerprint: (i) => ({ account: i.account, amount: amount(i) }),
    change: {
      entity,
      key: (i) => i.account,
      add: { points: (i) => -amount(i) },
      guard: { points: { gte: amount } },
      action: 'debit',
      reason: 'insufficient_points',
    },
    ...(batch === undefined ? {} : { batch }),
  });
  return {
    tally,
    entity,
    debit,
    table,
    async points(id: number): Promise<number> {
      const [r] = await db.query<{ points: string }>({
        text: `SELECT points FROM ${table} WHERE id = $1`,
        values: [id],
      });
      return Number(r!.points);
    },
    /** Log rows written by debits of this fixture's accounts. */
    debits: () => count(db, `SELECT 1 FROM tally.log WHERE entity_type = $1 AND action = 'debit'`, [table]),
    commands: () => count(db, `SELECT 1 FROM tally.commands WHERE type = $1`, [`debit_${tag}`]),
    events: () =>
      count(
        db,
        `SELECT 1 FROM tally.command_events e JOIN tally.commands c ON c.id = e.command_id WHERE c.type = $1`,
        [`debit_${tag}`],
      ),
  };
}
