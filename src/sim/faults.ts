// A schedule's faults, drawn up front from its seed. Each fault names the occurrence it hits (the nth
// send, the nth time a crash point is reached), so the shrinker can drop faults one by one and replay
// the rest exactly.
import type { Prng } from './prng.js';

/** What the network or the far side does to the nth request sent to a party. */
export type SendFault =
  /** Never arrives: the sender times out, the party saw nothing. */
  | 'drop'
  /** The party answers 503 without acting. */
  | 'fail-before'
  /** The party acts; the reply is lost: the sender times out after the far side acted. */
  | 'reply-lost'
  /** The party acts only later (slow success): the sender times out first; a query until then says not found. */
  | 'slow'
  /** The request arrives twice. */
  | 'duplicate';

/** What happens to the nth asynchronous message a party sends back. */
export type MessageFault = 'drop' | 'late' | 'duplicate' | 'contradict';

export type Fault =
  | { kind: 'crash'; point: string; nth: number }
  | { kind: 'send'; party: string; nth: number; what: SendFault; delayMs: number }
  | { kind: 'query'; party: string; nth: number; what: 'timeout' }
  | { kind: 'message'; party: string; nth: number; what: MessageFault; delayMs: number }
  | { kind: 'outage'; party: string; fromMs: number; toMs: number }
  | { kind: 'key-reuse'; request: number; afterMs: number };

/** The label a fault is counted under in the summary (`faults` in the last line). */
export function faultLabel(f: Fault): string {
  switch (f.kind) {
    case 'crash':
      return `crash:${f.point}`;
    case 'send':
    case 'query':
    case 'message':
      return `${f.kind}:${f.what}`;
    default:
      return f.kind;
  }
}

/** One line of a trace for a fault. */
export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'crash':
      return `crash at ${f.point} #${f.nth}`;
    case 'send':
      return `${f.party} send #${f.nth}: ${f.what}${f.what === 'slow' ? ` ${f.delayMs}ms` : ''}`;
    case 'query':
      return `${f.party} query #${f.nth}: ${f.what}`;
    case 'message':
      return `${f.party} message #${f.nth}: ${f.what}${f.what === 'late' ? ` ${f.delayMs}ms` : ''}`;
    case 'outage':
      return `${f.party} unreachable from +${f.fromMs}ms to +${f.toMs}ms`;
    case 'key-reuse':
      return `request ${f.request}'s key reused with other parameters ${f.afterMs}ms later`;
  }
}

/** What a scenario offers to break: its crash points, its parties, its requests. */
export interface FaultSpace {
  crashPoints: readonly string[];
  parties: readonly string[];
  requests: number;
  /** Time over which outages may start (ms from the start). */
  spanMs: number;
}

/**
 * Draws a schedule's faults: usually a few, sometimes none, sometimes many. Occurrence numbers stay small
 * so that faults hit the first sends and crash points, where a short schedule spends its time.
 */
export function drawFaults(rng: Prng, space: FaultSpace): Fault[] {
  const faults: Fault[] = [];
  const n = rng.pick([0, 1, 1, 2, 2, 3, 3, 4, 5, 6]);
  for (let i = 0; i < n; i++) {
    const kind = rng.pick([
      'crash',
      'crash',
      'send',
      'send',
      'send',
      'query',
      'message',
      'outage',
      'key-reuse',
    ]);
    const party = rng.pick(space.parties);
    const nth = rng.int(1, Math.max(2, space.requests + 1));
    switch (kind) {
      case 'crash':
        faults.push({
          kind,
          point: rng.pick(space.crashPoints),
          nth: rng.int(1, Math.max(1, space.requests)),
        });
        break;
      case 'send': {
        const what = rng.pick([
          'drop',
          'fail-before',
          'reply-lost',
          'reply-lost',
          'slow',
          'duplicate',
        ] as const);
        faults.push({ kind, party, nth, what, delayMs: rng.int(500, 20_000) });
        break;
      }
      case 'query':
        faults.push({ kind, party, nth, what: 'timeout' });
        break;
      case 'message': {
        const what = rng.pick(['drop', 'late', 'duplicate', 'contradict'] as const);
        faults.push({ kind, party, nth, what, delayMs: rng.int(5_000, 120_000) });
        break;
      }
      case 'outage': {
        const fromMs = rng.int(0, space.spanMs);
        faults.push({ kind, party, fromMs, toMs: fromMs + rng.pick([2_000, 10_000, 30_000, 200_000]) });
        break;
      }
      default:
        faults.push({
          kind: 'key-reuse',
          request: rng.int(0, space.requests - 1),
          afterMs: rng.int(0, 5_000),
        });
    }
  }
  return faults;
}

/** The faults in play for one run, looked up by occurrence as the run reaches them. */
export class FaultBook {
  readonly #counts = new Map<string, number>();
  /** Faults that fired, by label. */
  readonly fired = new Map<string, number>();

  constructor(readonly faults: readonly Fault[]) {}

  /** Counts one more occurrence of `slot` (e.g. `send:prizes`) and returns its number. */
  tick(slot: string): number {
    const n = (this.#counts.get(slot) ?? 0) + 1;
    this.#counts.set(slot, n);
    return n;
  }

  /** The fault of `kind` on this occurrence, if any (counted as fired). */
  find<K extends Fault['kind']>(
    kind: K,
    match: (f: Extract<Fault, { kind: K }>) => boolean,
  ): Extract<Fault, { kind: K }> | undefined {
    const f = this.faults.find((x) => x.kind === kind && match(x as Extract<Fault, { kind: K }>)) as
      | Extract<Fault, { kind: K }>
      | undefined;
    if (f) this.fire(f);
    return f;
  }

  /** Notes that a fault took effect. */
  fire(f: Fault): void {
    const label = faultLabel(f);
    this.fired.set(label, (this.fired.get(label) ?? 0) + 1);
  }
}
