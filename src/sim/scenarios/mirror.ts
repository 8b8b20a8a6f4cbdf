// A log-driven consumer as the simulator runs it (decision 0156): Tally's feed consumer mirrors one
// entity's rows from the log into tables of its own — what a search index or a billing system
// downstream would hold. Delivery is at least once (`once()`: the handler, then the checkpoint), the
// apply is idempotent by version, and a crash point sits between the two halves of a batch. The
// invariant: the mirror saw every log entry of the entity, never one out of version order, and ends
// where the state table is.
import type { Executor } from '../../db/types.js';
import { isTallyError } from '../../errors.js';
import type { FeedConsumer } from '../../feed/consumer.js';
import type { FeedBatch } from '../../feed/types.js';
import type { Tally } from '../../tally.js';
import type { Violation } from '../scenario.js';
import type { World } from '../world.js';

/** The consumer's name; its lease is short so that a dead life's lease runs out soon. */
export const MIRROR_CONSUMER = 'sim-mirror';
const LEASE_MS = 1_000;

/** The mirror's tables, in the scenario's own schema. */
export function mirrorDdl(app: string): string {
  return `CREATE TABLE IF NOT EXISTS ${app}.mirror (key text PRIMARY KEY, version integer NOT NULL);
    CREATE TABLE IF NOT EXISTS ${app}.mirror_entries (id text PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS ${app}.mirror_gaps (id text NOT NULL, key text NOT NULL, version integer NOT NULL, had integer NOT NULL);`;
}

/** What a schedule empties (with the feed's consumer row). */
export function mirrorTables(app: string): string[] {
  return [`${app}.mirror`, `${app}.mirror_entries`, `${app}.mirror_gaps`];
}

interface Entry {
  id: string;
  key: string;
  version: number;
}

/** Applies entries in delivery order: newer versions only; a version that skips one is a gap. */
async function apply(db: Executor, app: string, entries: readonly Entry[]): Promise<void> {
  if (entries.length === 0) return;
  const keys = [...new Set(entries.map((e) => e.key))];
  const rows = await db.query<{ key: string; version: number }>({
    text: `SELECT key, version FROM ${app}.mirror WHERE key = ANY($1::text[])`,
    values: [keys],
  });
  const at = new Map(rows.map((r) => [r.key, Number(r.version)]));
  const gaps: (Entry & { had: number })[] = [];
  for (const e of entries) {
    const had = at.get(e.key) ?? 0;
    if (e.version <= had) continue; // delivered again: already applied
    if (e.version !== had + 1) gaps.push({ ...e, had });
    at.set(e.key, e.version);
  }
  await db.query({
    text: `WITH m AS (
        INSERT INTO ${app}.mirror (key, version) SELECT * FROM unnest($1::text[], $2::int[])
        ON CONFLICT (key) DO UPDATE SET version = excluded.version),
      s AS (INSERT INTO ${app}.mirror_entries (id) SELECT unnest($3::text[]) ON CONFLICT DO NOTHING)
      INSERT INTO ${app}.mirror_gaps (id, key, version, had)
        SELECT * FROM unnest($4::text[], $5::text[], $6::int[], $7::int[])`,
    values: [
      keys,
      keys.map((k) => at.get(k)!),
      entries.map((e) => e.id),
      gaps.map((g) => g.id),
      gaps.map((g) => g.key),
      gaps.map((g) => g.version),
      gaps.map((g) => g.had),
    ],
  });
}

/** The mirror's consumer on one life of the process. */
export class Mirror {
  #consumer: FeedConsumer | null = null;

  constructor(
    readonly world: World,
    readonly app: string,
    readonly entityType: string,
    /** The life's Tally for the consumer (its own id stream, so the chain's ids do not shift). */
    readonly tally: Tally,
    readonly db: Executor,
  ) {}

  async #open(): Promise<FeedConsumer> {
    this.#consumer ??= await this.tally.consumer(MIRROR_CONSUMER, {
      types: [this.entityType],
      batchSize: 8,
      leaseMs: LEASE_MS,
    });
    return this.#consumer;
  }

  /** One batch: entries delivered (0 when caught up, or while a dead life's lease has not run out). */
  async round(): Promise<number> {
    return Math.max(0, await this.#once());
  }

  /** One batch; -1 when another (dead) life still holds the consumer's lease. */
  async #once(): Promise<number> {
    const c = await this.#open();
    try {
      return await c.once((batch) => this.#handle(batch));
    } catch (err) {
      if (isTallyError(err, 'CONSUMER_BUSY')) return -1;
      throw err;
    }
  }

  /** Delivers what is left, waiting out a dead life's lease on the schedule's clock. */
  async drain(): Promise<void> {
    for (let i = 0; i < 1_000; i++) {
      const n = await this.#once();
      if (n === 0) return;
      if (n < 0) this.world.clock.advanceTo(this.world.clock.elapsed + LEASE_MS);
    }
  }

  async #handle(batch: FeedBatch): Promise<void> {
    const entries: Entry[] = [];
    for (const e of batch.entries)
      if (e.source === 'log')
        entries.push({
          id: String(e.entry.id),
          key: String(e.entry.entity_key),
          version: Number(e.entry.version),
        });
    const half = Math.ceil(entries.length / 2);
    await apply(this.db, this.app, entries.slice(0, half));
    this.world.point('consumer:mid-batch');
    await apply(this.db, this.app, entries.slice(half));
  }
}

/**
 * Delivers what is left (after the schedule, on a live life), waiting out a dead life's lease on the
 * schedule's clock, then checks `feed-no-miss-no-reorder`.
 */
export async function checkMirror(
  m: Mirror,
  db: Executor,
  tallySchema: string,
  table: string,
): Promise<Violation[]> {
  await m.drain();
  const [r] = await db.query<{ missed: number; gaps: number; behind: number }>({
    text: `SELECT
        (SELECT count(*)::int FROM ${tallySchema}.log l WHERE l.entity_type = $1
          AND NOT EXISTS (SELECT 1 FROM ${m.app}.mirror_entries e WHERE e.id = l.id::text)) AS missed,
        (SELECT count(*)::int FROM ${m.app}.mirror_gaps) AS gaps,
        (SELECT count(*)::int FROM ${table} t LEFT JOIN ${m.app}.mirror x ON x.key = t.id::text
          WHERE x.version IS DISTINCT FROM t.version) AS behind`,
    values: [m.entityType],
  });
  const out: Violation[] = [];
  const bad = (message: string) => out.push({ invariant: 'feed-no-miss-no-reorder', message });
  if (r && r.missed > 0)
    bad(`the consumer never applied ${r.missed} log entr${r.missed === 1 ? 'y' : 'ies'}`);
  if (r && r.gaps > 0)
    bad(`the consumer saw ${r.gaps} entr${r.gaps === 1 ? 'y' : 'ies'} out of version order`);
  if (r && r.behind > 0) bad(`the mirror disagrees with the state table on ${r.behind} row(s)`);
  return out;
}
