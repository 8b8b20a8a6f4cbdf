import { randomUUID } from 'node:crypto';
import type { AlertDeliveryOptions } from './commands/alert-delivery-options.js';
import { quoteIdent } from './db/ident.js';
import type { Executor } from './db/types.js';
import { TallyError } from './errors.js';
import { isMutant, type MutantName } from './mutants.js';
import { NOOP_OBSERVER, type Observer } from './observe/observer.js';
import { checkObserveOptions, type ObserveOptions } from './observe/options.js';

export interface TallyOptions {
  /** Where Tally's tables and your entity tables live: `await pglite(dir)` or `postgres(pool)`. */
  db: Executor;
  /** Schema for Tally's own tables. Default `tally`. */
  schema?: string;
  /** Largest batch one statement may change; larger ones must run as a job. Default 100,000. */
  maxBatch?: number;
  /** Items per chunk for jobs, unless a job says otherwise. Default 1,000. */
  chunkSize?: number;
  /** How long a job runner's lease lasts without renewal. Default 30 s. */
  jobLeaseMs?: number;
  /** Injected time source (tests and the simulator replay schedules with it). */
  clock?: () => Date;
  /** Injected id source for job ids and lease owners. Must return UUIDs. */
  ids?: () => string;
  /** Metrics (prom-client) and traces (@opentelemetry/api), both optional peers; off by default (docs/observe.md). */
  observe?: ObserveOptions;
  /**
   * Where alerts are sent, once each (at least once, with a delivery id to dedupe on): a webhook and/or a
   * NATS subject, driven by the worker (docs/alerts.md, decision 0144). Off by default.
   */
  alerts?: AlertDeliveryOptions;
  /**
   * @internal A deliberate bug for the simulator's mutation check (decision 0152). Never set it in an
   * application: each one breaks a guarantee on purpose.
   */
  mutant?: MutantName;
}

export interface TallyConfig {
  readonly db: Executor;
  readonly schemaName: string;
  /** The quoted schema name, ready for SQL text. */
  readonly s: string;
  readonly maxBatch: number;
  readonly chunkSize: number;
  readonly jobLeaseMs: number;
  readonly clock: () => Date;
  readonly ids: () => string;
  /** The hooks metrics and traces go through: NOOP_OBSERVER unless `observe` turned them on. */
  readonly observer: Observer;
  /** @internal The deliberate bug this instance runs with (the simulator only); null otherwise. */
  readonly mutant: MutantName | null;
}

function positiveInt(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new TallyError('INVALID_CONFIG', `${name} must be an integer from 1 to ${max}`);
  }
  return value;
}

/** Validates options once, at construction, and freezes the result. */
export function resolveConfig(options: TallyOptions, observer: Observer = NOOP_OBSERVER): TallyConfig {
  if (!options || typeof options !== 'object')
    throw new TallyError('INVALID_CONFIG', 'createTally needs options');
  const db = options.db as Partial<Executor> | undefined;
  if (!db || typeof db.query !== 'function' || typeof db.transaction !== 'function') {
    throw new TallyError(
      'INVALID_CONFIG',
      'options.db must be an executor: use postgres(pool) or await pglite(dir)',
    );
  }
  const schemaName = options.schema ?? 'tally';
  const s = quoteIdent(schemaName, 'options.schema');
  if (options.clock !== undefined && typeof options.clock !== 'function') {
    throw new TallyError('INVALID_CONFIG', 'options.clock must be a function returning a Date');
  }
  if (options.ids !== undefined && typeof options.ids !== 'function') {
    throw new TallyError('INVALID_CONFIG', 'options.ids must be a function returning a UUID string');
  }
  if (options.mutant !== undefined && !isMutant(options.mutant)) {
    throw new TallyError('INVALID_CONFIG', 'options.mutant must name one of the simulator mutants');
  }
  if (checkObserveOptions(options.observe) && !observer.on) {
    throw new TallyError(
      'INVALID_CONFIG',
      'options.observe needs createTally(options): it loads prom-client / @opentelemetry/api',
    );
  }
  return Object.freeze({
    db: options.db,
    schemaName,
    s,
    maxBatch: positiveInt(options.maxBatch, 'options.maxBatch', 100_000, 10_000_000),
    chunkSize: positiveInt(options.chunkSize, 'options.chunkSize', 1_000, 1_000_000),
    jobLeaseMs: positiveInt(options.jobLeaseMs, 'options.jobLeaseMs', 30_000, 86_400_000),
    clock: options.clock ?? (() => new Date()),
    ids: options.ids ?? randomUUID,
    observer,
    mutant: options.mutant ?? null,
  });
}
