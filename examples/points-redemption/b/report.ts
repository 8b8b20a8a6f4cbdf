// What B can prove about itself: balances, points moved according to the log, fold checks of every
// account against its log, and where every redemption stands.
import type { Entity, Executor } from 'tally';

export interface Report {
  accounts: { user: string; points: number; verified: boolean; problems: string[] }[];
  /** Sums over the accounts' operation logs. */
  deducted: number;
  refunded: number;
  commands: {
    id: string;
    key: string;
    principal: string;
    status: string;
    qty: number;
    downstreamKey: string;
  }[];
}

/**
 * Reads B's report as one snapshot: balances, the log's totals and the commands come from one REPEATABLE
 * READ transaction, so they agree however many redemptions commit meanwhile (on PGlite every transaction
 * is one). Each account's fold check is one statement of its own, run after the snapshot: it checks the
 * account against its own log, which a single statement sees whole. Commands come from Tally's documented
 * `commands` table (schema `points_tally`).
 *
 * @example
 * const r = await report(db, accounts);
 */
export async function report(db: Executor, accounts: Entity): Promise<Report> {
  const out = await db.transaction((tx) => snapshot(tx, accounts), { isolation: 'repeatable read' });
  for (const a of out.accounts) {
    const check = await accounts.verify(a.user);
    a.verified = check.ok;
    a.problems = check.problems;
  }
  return out;
}

async function snapshot(tx: Executor, accounts: Entity): Promise<Report> {
  const rows = await tx.query<{ id: string; points: number }>({
    text: 'SELECT id, points FROM points_b.accounts ORDER BY id',
  });
  const out: Report = { accounts: [], deducted: 0, refunded: 0, commands: [] };
  for (const r of rows) {
    out.accounts.push({ user: r.id, points: Number(r.points), verified: false, problems: [] });
    for (const e of await accounts.history(r.id, { tx })) {
      const before = Number(e.before?.points ?? 0);
      const after = Number(e.after?.points ?? 0);
      if (e.action === 'deduct') out.deducted += before - after;
      if (e.action === 'refund') out.refunded += after - before;
    }
  }
  const cmds = await tx.query<{ id: string; key: string; principal: string; status: string; input: unknown }>(
    {
      text: `SELECT id, key, principal, status, input FROM points_tally.commands WHERE type = 'redeem' ORDER BY created_at`,
    },
  );
  for (const c of cmds) {
    const input = (typeof c.input === 'string' ? JSON.parse(c.input) : c.input) as { qty: number };
    out.commands.push({
      id: String(c.id),
      key: c.key,
      principal: c.principal,
      status: c.status,
      qty: input.qty,
      downstreamKey: `${c.id}.issue`,
    });
  }
  return out;
}
