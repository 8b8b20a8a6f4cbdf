import type { HasTallyConfig } from './consumer.js';

/**
 * Turns the feed's NOTIFY wake-up hint on or off for a database (decision 0042). It is off after
 * `migrate()`: PostgreSQL serializes the commits of every transaction that sent a NOTIFY on one
 * cluster-wide lock, and with many small concurrent transactions that cost is an order of magnitude
 * (pgbench here: 2,900 → 290 single-row inserts/s at 8 clients). Turn it on where consumers must wake
 * within milliseconds and writes come in batches; otherwise give consumers a short `pollMs`. The switch
 * is a trigger's enabled flag, so it holds for every process on the database and survives restarts.
 *
 * @example
 * await setFeedNotify(tally, true);   // consumers with `listen` now wake on each commit
 */
export async function setFeedNotify(tally: HasTallyConfig, on: boolean): Promise<void> {
  const { db, s } = tally.config;
  const verb = on ? 'ENABLE' : 'DISABLE';
  await db.transaction(async (tx) => {
    await tx.query({ text: `ALTER TABLE ${s}.log ${verb} TRIGGER feed_notify` });
    await tx.query({ text: `ALTER TABLE ${s}.command_events ${verb} TRIGGER feed_notify` });
  });
}

/**
 * Whether commits to the log send the NOTIFY hint (see `setFeedNotify`).
 *
 * @example
 * if (!(await feedNotifyEnabled(tally))) console.log('consumers poll every pollMs');
 */
export async function feedNotifyEnabled(tally: HasTallyConfig): Promise<boolean> {
  const { db, s } = tally.config;
  const [row] = await db.query<{ on: boolean }>({
    text: `SELECT tgenabled <> 'D' AS on FROM pg_trigger
            WHERE tgname = 'feed_notify' AND tgrelid = '${s}.log'::regclass`,
  });
  return row?.on === true;
}
