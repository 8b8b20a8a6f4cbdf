// The names a ```ts fragment block may assume besides the names earlier blocks of its file declared; its
// fence says which (```ts fragment given=pool,req). They are types only: a fragment is type-checked, never
// run. Keep them plain, so that what a reader has in their own code fits; add a name here when a doc needs one.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type pg from 'pg';
import type {
  Command,
  CommandDefinition,
  Entity,
  EntityKey,
  Executor,
  FeedEntry,
  QueryAnswer,
  Tally,
} from '../../../src/index.js';
import type { ReadRouter } from '../../../src/reads/index.js';

type RedeemInput = { user: string; prize: string; qty: number };

export interface DocGivens {
  /** The application's `pg` pool. */
  pool: pg.Pool;
  /** A Tally instance, its database, and the entities the docs use. */
  tally: Tally;
  db: Executor;
  resources: Entity;
  accounts: Entity;
  /** The command docs/commands.md declares, and its steps. */
  redeem: Command<RedeemInput>;
  steps: CommandDefinition<RedeemInput>['steps'];
  /** An idempotency key, a principal, a command id. */
  key: string;
  principal: string;
  id: string;
  /** An incoming HTTP request and its response, as a framework hands them over. */
  req: { ip: string; id: string; headers: Record<string, string>; body: any };
  res: { setHeader(name: string, value: string): void };
  /** The authenticated user and the parsed body of a request. */
  user: { id: string };
  body: RedeemInput;
  app: FastifyInstance;
  signal: AbortSignal;
  /** Writes a log entry's after image to a search index. */
  index(key: EntityKey, after: unknown): Promise<void>;
  /** The authenticated user of a Fastify request. */
  userOf(req: FastifyRequest): string;
  authenticatedUser(req: FastifyRequest): string;
  /** A risk-control service and a prize platform (the downstream of docs/commands.md). */
  riskService: { check(user: string): Promise<'ok' | 'denied'> };
  prizes: {
    issue(
      request: unknown,
      options: { idempotencyKey: string },
    ): Promise<{ ok: true; prizeId: string } | { ok: false; status: number; code: string }>;
    lookup(key: string): Promise<QueryAnswer>;
    findByKeys(
      keys: readonly string[],
    ): Promise<{ key: string; outcome: 'success' | 'failure' | 'not_found' }[]>;
  };
  /** Another database (with Tally's tables), a failover store, and what writes an entry into it. */
  otherDb: Executor;
  secondary: Executor;
  upsert(tx: Executor, entry: FeedEntry): Promise<void>;
  /** Read routers, one per shard database, and a replica's pool. */
  routers: ReadRouter[];
  replicaPool: pg.Pool;
  userId: string;
  ordersPool: pg.Pool;
  ARCHIVE_URL: string;
  yesterday: Date;
  today: Date;
  alert(message: unknown): void;
}
