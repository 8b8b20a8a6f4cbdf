// The invariants of the points-redemption chain (decision 0151), checked after every schedule against
// what B's database and C's records hold at the end.

import type { Entity } from '../../changes/entity.js';
import type { Executor } from '../../db/types.js';
import { reconcile } from '../../reconcile/reconcile.js';
import type { Violation } from '../scenario.js';
import type { World } from '../world.js';
import { DEADLINE_MS, type Input, type PrizeRecord, TALLY_SCHEMA } from './points-chain.js';

/** A final answer a client saw, with the parameters it sent. */
export interface Seen {
  key: string;
  input: Input;
  status: 'succeeded' | 'failed';
}

export interface PointsCheck {
  db: Executor;
  world: World;
  records: ReadonlyMap<string, PrizeRecord>;
  seen: readonly Seen[];
  /** B's accounts entity on a live incarnation (the reconciler reads through it). */
  accounts: Entity;
}

interface CommandLine {
  id: string;
  key: string;
  principal: string;
  status: string;
  created_at: Date | string;
  deducts: number;
  refunds: number;
  open_alerts: number;
}

/** Every built-in invariant of the scenario; an empty list when all hold. */
export async function checkPoints(c: PointsCheck): Promise<Violation[]> {
  const out: Violation[] = [];
  const bad = (invariant: string, message: string) => out.push({ invariant, message });
  const s = TALLY_SCHEMA;
  const commands = await c.db.query<CommandLine & Record<string, unknown>>({
    text: `SELECT c.id::text AS id, c.key, c.principal, c.status, c.created_at,
        (SELECT count(*)::int FROM ${s}.log l WHERE l.command_id = c.id::text AND l.action = 'deduct') AS deducts,
        (SELECT count(*)::int FROM ${s}.log l WHERE l.command_id = c.id::text AND l.action = 'refund') AS refunds,
        (SELECT count(*)::int FROM ${s}.command_alerts a WHERE a.command_id = c.id AND a.resolved_at IS NULL) AS open_alerts
      FROM ${s}.commands c WHERE c.type = 'redeem' ORDER BY c.key, c.principal`,
  });
  const issued = (id: string) => c.records.get(`${id}.issue`)?.outcome === 'success';

  // Each request takes effect at most once downstream: one issued prize per client request at most.
  const perRequest = new Map<string, number>();
  for (const r of c.records.values()) {
    if (r.outcome !== 'success') continue;
    const k = `${r.request.user}/${r.request.ref}`;
    perRequest.set(k, (perRequest.get(k) ?? 0) + 1);
  }
  for (const [k, n] of perRequest)
    if (n > 1) bad('at-most-once-downstream', `request ${k} took effect ${n} times at C`);

  for (const cmd of commands) {
    const where = `command ${cmd.key}/${cmd.principal}`;
    // ... and exactly once when it succeeds.
    if (cmd.status === 'succeeded' && !issued(cmd.id))
      bad('exactly-once-on-success', `${where} succeeded but C issued nothing for it`);
    // Compensation at most once, never after a success.
    if (cmd.refunds > 1)
      bad('compensation-once-never-after-success', `${where} was refunded ${cmd.refunds} times`);
    if (cmd.refunds > 0 && issued(cmd.id))
      bad('compensation-once-never-after-success', `${where} was refunded although C issued its prize`);
    if (cmd.status === 'failed' && cmd.deducts > cmd.refunds)
      bad('compensation-once-never-after-success', `${where} failed after its deduction without a refund`);
    if (issued(cmd.id) && cmd.status === 'failed')
      bad('exactly-once-on-success', `${where} is failed although C issued its prize`);
    // No command open past its deadline without needs_attention and an alert.
    const age = c.world.clock.now().getTime() - new Date(cmd.created_at).getTime();
    if ((cmd.status === 'pending' || cmd.status === 'compensating') && age > DEADLINE_MS + 20_000)
      bad(
        'deadline-flagged',
        `${where} is still ${cmd.status} ${Math.round(age / 1000)}s after it was recorded`,
      );
    if (cmd.status === 'needs_attention' && cmd.open_alerts === 0)
      bad('deadline-flagged', `${where} needs attention but has no open alert`);
  }

  // What a client was told is what happened: a success it saw is C's effect for exactly its parameters.
  for (const seen of c.seen) {
    const cmd = commands.find((x) => x.key === seen.key && x.principal === seen.input.user);
    const r = cmd ? c.records.get(`${cmd.id}.issue`) : undefined;
    if (seen.status !== 'succeeded') continue;
    if (r?.outcome !== 'success')
      bad('exactly-once-on-success', `client saw ${seen.key} succeed but C issued nothing for it`);
    else if (r.request.qty !== seen.input.qty || r.request.prize !== seen.input.prize)
      bad(
        'exactly-once-on-success',
        `client saw ${seen.key} (${seen.input.prize}x${seen.input.qty}) succeed; C issued ${r.request.prize}x${r.request.qty}`,
      );
  }

  // Every state change has its log row: the reconciler finds nothing.
  const report = await reconcile([c.accounts], { clock: c.world.clock.now });
  if (!report.ok) {
    const kinds = [...new Set(report.findings.map((f) => f.kind))].join(', ');
    bad('state-has-log', `the reconciler found ${report.findings.length} finding(s): ${kinds}`);
  }
  return out;
}
