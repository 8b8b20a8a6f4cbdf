// A downstream party the user describes (one we do not own), and the simulated network in front of it.
// The party's own behaviour — what it does with a request, what it answers to "what became of key K?",
// which message it sends back — is the user's; the faults between (drops, lost replies, slow success,
// duplicates, outages, late / duplicate / contradicting messages) are the simulator's.

import type { QueryAnswer } from '../commands/definition.js';
import type { Definite } from '../commands/resolve.js';
import type { World } from './world.js';

/** What a sender sees when its request times out (the far side may or may not have acted). */
export class SimTimeout extends Error {
  constructor() {
    super('simulated timeout');
    this.name = 'TimeoutError';
  }
}

/** What a sender sees when the party cannot be reached at all (it certainly did not act). */
export class SimUnreachable extends Error {
  readonly code = 'ECONNREFUSED';
  constructor() {
    super('simulated connection refused');
    this.name = 'Error';
  }
}

/** How a simulated downstream party behaves when nothing goes wrong. */
export interface PartySpec<Req, Res> {
  /** The party's name (faults and traces name it). */
  name: string;
  /** Acts on a request under `key`, at most once per key (a real downstream dedupes by key): returns its reply. */
  act(key: string, request: Req): Res;
  /** The reply when the party answers without acting (a 503, an overload). */
  unavailable(): Res;
  /** Its answer to "what became of the request with `key`?" (not found until it has acted). */
  lookup(key: string): QueryAnswer;
  /** The message it sends back after acting (a callback), or null for none. */
  message?(key: string): Definite | null;
  /** Short text for the trace: what it did or answered. */
  show(reply: Res): string;
}

/** The party behind the simulated network: every send and query goes through the schedule's faults. */
export class SimParty<Req, Res> {
  constructor(
    readonly spec: PartySpec<Req, Res>,
    readonly world: World,
    /** Delivers a message to the caller (e.g. the command's notify) on the current incarnation. */
    readonly deliver: (key: string, message: Definite) => Promise<string>,
  ) {}

  /** One request from the caller, under `key`. Throws SimTimeout or SimUnreachable as the network decides. */
  async send(key: string, request: Req): Promise<Res> {
    const { world, spec } = this;
    const n = world.faults.tick(`send:${spec.name}`);
    if (this.#down()) {
      world.log(`${spec.name} send #${n} ${key}: unreachable`);
      throw new SimUnreachable();
    }
    const f = world.faults.find('send', (x) => x.party === spec.name && x.nth === n);
    const what = f?.what ?? 'ok';
    if (what === 'drop') {
      world.log(`${spec.name} send #${n} ${key}: dropped, timeout`);
      throw new SimTimeout();
    }
    if (what === 'fail-before') {
      world.log(`${spec.name} send #${n} ${key}: unavailable`);
      return spec.unavailable();
    }
    if (what === 'slow') {
      world.log(`${spec.name} send #${n} ${key}: slow, timeout; acts in ${f!.delayMs}ms`);
      world.at(world.clock.elapsed + f!.delayMs, `${spec.name} acts late ${key}`, async () => {
        this.#act(key, request);
      });
      throw new SimTimeout();
    }
    const reply = this.#act(key, request);
    if (what === 'duplicate') this.#act(key, request);
    if (what === 'reply-lost') {
      world.log(`${spec.name} send #${n} ${key}: ${spec.show(reply)}, reply lost, timeout`);
      throw new SimTimeout();
    }
    world.log(
      `${spec.name} send #${n} ${key}: ${spec.show(reply)}${what === 'duplicate' ? ' (arrived twice)' : ''}`,
    );
    return reply;
  }

  /** "What became of `key`?" through the network. */
  async query(key: string): Promise<QueryAnswer> {
    const { world, spec } = this;
    const n = world.faults.tick(`query:${spec.name}`);
    if (this.#down()) {
      world.log(`${spec.name} query #${n} ${key}: unreachable`);
      throw new SimUnreachable();
    }
    if (world.faults.find('query', (x) => x.party === spec.name && x.nth === n)) {
      world.log(`${spec.name} query #${n} ${key}: timeout`);
      throw new SimTimeout();
    }
    const a = spec.lookup(key);
    world.log(`${spec.name} query #${n} ${key}: ${a.outcome}`);
    return a;
  }

  #down(): boolean {
    const t = this.world.clock.elapsed;
    const f = this.world.faults.faults.find(
      (x) => x.kind === 'outage' && x.party === this.spec.name && t >= x.fromMs && t < x.toMs,
    );
    if (f) this.world.faults.fire(f);
    return f !== undefined;
  }

  #seen = new Set<string>();

  /** The party acts (once per key) and, the first time, sends its message back after a while. */
  #act(key: string, request: Req): Res {
    const reply = this.spec.act(key, request);
    if (this.#seen.has(key)) return reply;
    this.#seen.add(key);
    const message = this.spec.message?.(key) ?? null;
    if (message) this.#sendMessage(key, message);
    return reply;
  }

  #sendMessage(key: string, message: Definite): void {
    const { world, spec } = this;
    const n = world.faults.tick(`message:${spec.name}`);
    const f = world.faults.find('message', (x) => x.party === spec.name && x.nth === n);
    if (f?.what === 'drop') {
      world.log(`${spec.name} message #${n} ${key}: dropped`);
      return;
    }
    const delay = f?.what === 'late' ? f.delayMs : world.jitter.int(200, 3_000);
    const deliver = async (what: string, m: Definite) => {
      const r = await this.deliver(key, m);
      world.log(`${spec.name} message #${n} ${key} ${what}${m.outcome}: ${r}`);
    };
    world.at(world.clock.elapsed + delay, `${spec.name} message #${n}`, async () => {
      await deliver('', message);
      if (f?.what === 'duplicate') await deliver('again ', message);
      if (f?.what === 'contradict') {
        const lie: Definite =
          message.outcome === 'success'
            ? { outcome: 'failure', reason: 'contradiction' }
            : { outcome: 'success' };
        await deliver('contradicting ', lie);
      }
    });
  }
}
