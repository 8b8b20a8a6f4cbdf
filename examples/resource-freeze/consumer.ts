// A log-driven consumer: it never reads the resources table. It learns every resource's state from
// Tally's operation log alone, incrementally, from a checkpoint, the way a search index, a cache or a
// billing system downstream would.
//
// It polls with `id > checkpoint`. That is exact here because this example writes one transaction at a
// time. Under concurrent writers it is not: ids are taken at insert but transactions commit in another
// order, so a row with a smaller id can become visible after the consumer has moved past it, and would
// be skipped for ever. Tally's gap-free, commit-ordered feed (a later issue) closes that hole; use it
// instead of this poll in production.
import type { Executor } from 'tally';

interface LogRow {
  id: string;
  entity_key: string;
  version: string | number;
  action: string;
  actor: string;
  state: string | null;
}

export class ResourceConsumer {
  /** What the consumer believes: resource key → state. */
  readonly states = new Map<string, string>();
  /** The id of the last log row applied. A real consumer stores it with its view, in one transaction. */
  checkpoint = 0n;
  /** Log rows applied in all; each exactly once, if the checkpoint works. */
  applied = 0;
  /** Log rows applied, per action. */
  readonly actions = new Map<string, number>();

  constructor(
    private readonly db: Executor,
    private readonly tallySchema: string,
    private readonly batchSize = 100,
  ) {}

  /**
   * Reads every log row after the checkpoint, in pages, and applies it. Returns how many it read.
   *
   * @example
   * const n = await consumer.poll();
   */
  async poll(): Promise<number> {
    let read = 0;
    for (;;) {
      const rows = await this.db.query<LogRow & Record<string, unknown>>({
        // Order by l.id, the bigint column: a bare "id" would sort by the text alias ('10' < '9').
        text: `SELECT l.id::text AS id, l.entity_key, l.version, l.action, l.actor, l.after->>'state' AS state
                 FROM "${this.tallySchema}".log l
                WHERE l.entity_type = 'resource' AND l.id > $1
                ORDER BY l.id LIMIT $2`,
        values: [this.checkpoint.toString(), this.batchSize],
      });
      for (const row of rows) this.apply(row);
      read += rows.length;
      if (rows.length < this.batchSize) return read;
    }
  }

  private apply(row: LogRow): void {
    if (row.state !== null) this.states.set(row.entity_key, row.state);
    this.actions.set(row.action, (this.actions.get(row.action) ?? 0) + 1);
    this.checkpoint = BigInt(row.id);
    this.applied++;
  }

  /** Resources per state, as the consumer sees them: `active 2, frozen 4`. */
  summary(): string {
    const counts = new Map<string, string[]>();
    for (const [key, state] of [...this.states].sort((a, b) => Number(a[0]) - Number(b[0]))) {
      counts.set(state, [...(counts.get(state) ?? []), key]);
    }
    return [...counts].map(([state, keys]) => `${state} [${keys.join(', ')}]`).join(', ');
  }

  /**
   * Compares the consumer's view with the state table it never read. Returns the differences.
   *
   * @example
   * const diff = await consumer.compareWith('resource_freeze.resources'); // [] when they agree
   */
  async compareWith(table: string): Promise<string[]> {
    const rows = await this.db.query<{ id: string; state: string }>({
      text: `SELECT id::text AS id, state FROM ${table} ORDER BY id`,
    });
    const diff: string[] = [];
    const seen = new Set<string>();
    for (const r of rows) {
      seen.add(r.id);
      const mine = this.states.get(r.id);
      if (mine !== r.state)
        diff.push(`resource ${r.id}: table says ${r.state}, consumer says ${mine ?? 'nothing'}`);
    }
    for (const key of this.states.keys()) {
      if (!seen.has(key)) diff.push(`resource ${key}: consumer knows it, the table does not`);
    }
    return diff;
  }
}
