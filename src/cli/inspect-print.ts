import type { Timeline } from '../commands/timeline.js';
import type { Io } from './io.js';

const iso = (d: Date | null | undefined): string => (d ? d.toISOString() : '-');

function show(v: unknown, max = 100): string {
  const text = v === undefined ? 'null' : JSON.stringify(v);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

const STORE_WORD = { read: 'read', unavailable: 'NOT READ (see the warning)', none: 'none' } as const;

/** With a failover store: where the command record comes from, what each store gave, and its intake record. */
function printStores(io: Io, t: Timeline): void {
  const c = t.command;
  io.out(
    c.store === 'secondary'
      ? '  store secondary (the failover store): recorded only, nothing has run; it runs once handed over to the primary'
      : '  store primary',
  );
  io.out(`  stores  primary ${STORE_WORD[t.stores.primary]}  secondary ${STORE_WORD[t.stores.secondary]}`);
  const i = t.intake;
  if (i) {
    const handed = i.handedOverAt
      ? `handed over ${iso(i.handedOverAt)} (${i.handover} into ${i.primaryId})`
      : 'not handed over yet';
    io.out(`  failover record ${i.id}  received ${iso(i.receivedAt)}  ${handed}`);
  }
}

/**
 * The human form of `tally inspect`: the command, its calls (stored requests and outcomes), then every
 * event oldest first, then alerts. With a failover store (`tally inspect --failover`), which store the
 * command and each event come from.
 *
 * @example
 * printTimeline(io, await redeem.timeline({ id }));
 */
export function printTimeline(io: Io, t: Timeline): void {
  const c = t.command;
  io.out(`command ${c.id}`);
  io.out(`  type ${c.type}  principal ${c.principal}  key ${c.key}`);
  io.out(`  status ${c.status}  step ${c.stepIndex}  attempts ${c.attempts}`);
  // A record only the failover store holds is not scheduled: it is, once handed over.
  const next = c.store === 'secondary' ? null : c.nextAt;
  io.out(`  created ${iso(c.createdAt)}  finished ${iso(c.finishedAt)}  next ${iso(next)}`);
  const twoStores = t.stores.secondary !== 'none' || c.store === 'secondary';
  if (twoStores) printStores(io, t);
  if (c.leaseOwner) io.out(`  lease ${c.leaseOwner} until ${iso(c.leaseUntil)}`);
  if (c.pausedOn) {
    io.out(
      `  paused on downstream ${c.pausedOn}: its breaker is open (see \`tally downstreams\`); resumes when it closes`,
    );
  }
  io.out(`  fingerprint ${c.fingerprint}  params ${show(c.params)}`);
  for (const [name, value] of Object.entries(c.decisions)) io.out(`  decision ${name} = ${show(value)}`);
  if (c.status === 'succeeded') io.out(`  result ${show(c.result)}`);
  if (c.error) io.out(`  error ${show(c.error)}`);
  for (const call of t.calls) {
    io.out('');
    io.out(`call ${call.step}  downstream key ${call.downstream_key}`);
    io.out(`  request ${show(call.request, 200)}`);
    io.out(`  sends ${call.sends}  queries ${call.queries}  first sent ${iso(call.first_sent_at)}`);
    io.out(
      call.outcome
        ? `  outcome ${call.outcome} via ${call.resolved_by} at ${iso(call.resolved_at)}: ${show(call.value)}`
        : '  outcome unknown (not resolved yet)',
    );
  }
  io.out('');
  const n = `${t.events.length} ${t.events.length === 1 ? 'event' : 'events'}`;
  io.out(`timeline (${n}, oldest first${twoStores ? ', store of each' : ''})`);
  for (const e of t.events) {
    const store = twoStores ? `${e.store.padEnd(9)}  ` : '';
    io.out(`  ${iso(e.at)}  ${store}${e.kind.padEnd(16)} ${(e.step ?? '').padEnd(12)} ${show(e.data)}`);
  }
  if (t.alerts.length > 0) {
    io.out('');
    io.out(`alerts (${t.alerts.length})`);
    for (const a of t.alerts) {
      io.out(`  ${iso(a.at)}  ${a.kind}  ${a.resolvedAt ? 'resolved' : 'OPEN'}  ${a.message}`);
    }
  }
}
