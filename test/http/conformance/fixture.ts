// The application every adapter serves in the conformance suite: one command with a downstream the test
// controls (it counts effects per key, can be held open, can time out), and the route options every
// adapter gets, read from plain header values so that each adapter only says where its headers are.
import type { Command } from '../../../src/commands/command.js';
import type { CommandResult } from '../../../src/commands/result.js';
import { type CommandResponse, commandResponse } from '../../../src/http/respond.js';
import { createTally, type Tally } from '../../../src/tally.js';
import type { TestDatabase } from '../../support/databases.js';

export interface Order {
  item: string;
  qty: number;
  note?: string;
}
export type Ticket = { ticket: string };

/** The downstream: an effect per key it accepts; `hold()` keeps every send waiting until released. */
export class Downstream {
  readonly effects = new Map<string, number>();
  sends = 0;
  #gate: Promise<void> | null = null;
  #open: (() => void) | null = null;
  #arrived: (() => void) | null = null;

  /** Holds sends until `release()`; resolves `arrived` once the first held send is in. */
  hold(): { arrived: Promise<void>; release: () => void } {
    this.#gate = new Promise((r) => {
      this.#open = r;
    });
    const arrived = new Promise<void>((r) => {
      this.#arrived = r;
    });
    return {
      arrived,
      release: () => {
        this.#gate = null;
        this.#open?.();
      },
    };
  }

  async send(req: Order, key: string): Promise<Ticket> {
    this.sends++;
    if (this.#gate) {
      this.#arrived?.();
      await this.#gate;
    }
    if (req.item === 'slow') throw Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' });
    const n = (this.effects.get(key) ?? 0) + 1;
    this.effects.set(key, n);
    return { ticket: `T-${key}` };
  }

  /** Effects of all downstream keys of the commands with this idempotency key (one per command). */
  total(): number {
    let sum = 0;
    for (const n of this.effects.values()) sum += n;
    return sum;
  }
}

/** What the routes read from a request: its headers, as the adapter finds them. */
export type HeaderOf = (name: string) => string | undefined;

export interface Fixture {
  tally: Tally;
  db: TestDatabase;
  order: Command<Order, Ticket>;
  down: Downstream;
  /** Keys whose next `respond` throws, as if the process died after the command recorded its outcome. */
  crashOnce: Set<string>;
  /** The route options, given how to read a header of the adapter's request. */
  principal(header: HeaderOf): string | undefined;
  respond(result: CommandResult<Ticket>): CommandResponse;
  /** Command records with this idempotency key (any principal). */
  recorded(key: string): Promise<number>;
  close(): Promise<void>;
}

export async function makeFixture(db: TestDatabase): Promise<Fixture> {
  const tally = await createTally({ db: db.db });
  await tally.migrate();
  const down = new Downstream();
  const order = tally.command<Order, Ticket>('order', {
    fingerprint: (i) => ({ item: i.item, qty: i.qty }),
    retry: { maxAttempts: 3, baseMs: 60_000, maxMs: 60_000 },
    steps: [
      {
        name: 'ship',
        call: {
          request: (ctx) => ({ item: ctx.input.item, qty: ctx.input.qty }),
          send: (req: Order, { key }) => down.send(req, key),
        },
      },
    ],
  });
  const crashOnce = new Set<string>();
  return {
    tally,
    db,
    order,
    down,
    crashOnce,
    principal(header) {
      // "A handler that throws": the route's own code fails with internals in its message.
      if (header('x-boom') !== undefined) throw new Error('secret internals: password=hunter2');
      return header('x-user');
    },
    respond(result) {
      if (crashOnce.delete(result.key)) throw new Error('the process died after recording the outcome');
      return commandResponse(result);
    },
    async recorded(key) {
      const rows = await db.db.query<{ c: number }>({
        text: 'SELECT count(*)::int AS c FROM tally.commands WHERE key = $1',
        values: [key],
      });
      return rows[0]!.c;
    },
    async close() {
      await db.close();
    },
  };
}
