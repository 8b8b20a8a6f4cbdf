import type { Executor, Row } from '../../../db/types.js';
import { positionOf } from '../../../feed/position.js';
import { lagSql } from '../../../feed/sql.js';
import { iso } from './json.js';
import { consumersSql } from './reads-sql.js';

/** One feed consumer (relays and sinks are consumers too) with its position and lag. */
export interface ConsumerView {
  name: string;
  source: string;
  entityTypes: string[] | null;
  delivered: number;
  position: { snapshot: string; upper: string | null; afterId: string | null };
  lagEntries: number;
  lagSeconds: number;
  leaseOwner: string | null;
  leaseUntil: string | null;
  createdAt: string | null;
  updatedAt: string | null;
  lastError: null;
}

/**
 * Every feed consumer, its checkpoint and how far behind it is: the committed entries it has not
 * delivered (the feed's own lag query, src/feed/sql.ts) and the age of the oldest of them. Tally records
 * no consumer error in the database, so `lastError` is null (a running consumer reports its own).
 *
 * @example
 * const consumers = await feedView(db, '"tally"', new Date());
 */
export async function feedView(db: Executor, s: string, now: Date): Promise<ConsumerView[]> {
  const rows = await db.query(consumersSql(s));
  const out: ConsumerView[] = [];
  for (const r of rows) out.push(await consumerView(db, s, r, now));
  return out;
}

async function consumerView(db: Executor, s: string, r: Row, now: Date): Promise<ConsumerView> {
  const pos = positionOf(r as Parameters<typeof positionOf>[0]);
  const types = (r.entity_types as string[] | null) ?? null;
  const [lag] = await db.query<{ entries: unknown; oldest: unknown }>(lagSql(s, pos, types));
  const oldestAt = iso(lag?.oldest);
  const oldest = oldestAt === null ? null : new Date(oldestAt);
  return {
    name: String(r.name),
    source: String(r.source),
    entityTypes: types,
    delivered: Number(r.delivered),
    position: { snapshot: pos.snapshot, upper: pos.upper, afterId: pos.afterId },
    lagEntries: Number(lag?.entries ?? 0),
    lagSeconds: oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseUntil: iso(r.lease_until),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    lastError: null,
  };
}
