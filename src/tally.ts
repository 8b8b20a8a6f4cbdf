import { OperatorActions } from './actions/actions.js';
import type { AdoptOptions, AdoptResult } from './changes/adopt.js';
import { defineEntity, type EntityOptions } from './changes/definition.js';
import { Entity, type Entity as EntityT } from './changes/entity.js';
import { Jobs } from './changes/jobs/jobs.js';
import { AlertDelivery } from './commands/alert-delivery.js';
import { checkAlertDelivery } from './commands/alert-delivery-options.js';
import { Alerts } from './commands/alerts.js';
import { type DownstreamState, listDownstreams } from './commands/breaker.js';
import type { ChangeCommandDefinition } from './commands/change.js';
import { Command } from './commands/command.js';
import { type CommandDefinition, defineCommand } from './commands/definition.js';
import type { JsonSchema } from './commands/json-schema.js';
import { type RequeueOptions, type RequeueResult, requeue, requeueFilter } from './commands/requeue.js';
import { type PruneKeysOptions, type PruneKeysResult, pruneExpiredKeys } from './commands/retention.js';
import type { StandardSchemaV1 } from './commands/standard-schema.js';
import { resolveConfig, type TallyConfig, type TallyOptions } from './config.js';
import { TallyError } from './errors.js';
import { type FeedConsumer, openConsumer } from './feed/consumer.js';
import type { ConsumerOptions } from './feed/options.js';
import { LiveObserver, loadObserver } from './observe/load.js';
import type { Observer } from './observe/observer.js';
import { checkObserveOptions, type MetricsRegistry } from './observe/options.js';
import { latestVersionOf } from './schema/latest.js';
import { type MigrateResult, migrate, migrationScript, schemaVersion } from './schema/migrate.js';
import { Worker, type WorkerOptions } from './worker/worker.js';

/** A Tally instance: entities declared over your tables, sharing one database and one log. */
export class Tally {
  readonly config: TallyConfig;
  readonly #entities = new Map<string, EntityT>();
  readonly #commands = new Map<string, Command>();
  /** Chunked jobs: run, resume after a crash, status and per-item results. */
  readonly jobs: Jobs;
  /** Alerts of every command type: list them, resolve one with who and why, their deliveries. */
  readonly alerts: Alerts;
  /**
   * What an operator does, each with a required actor and reason, recorded, and refused when it no
   * longer applies: retry now, requeue, resolve an alert, resume a job, apply a repair (decision 0145).
   */
  readonly actions: OperatorActions;

  /** @param observer built by createTally when `options.observe` turns metrics or traces on. */
  constructor(options: TallyOptions, observer?: Observer) {
    this.config = resolveConfig(options, observer);
    this.jobs = new Jobs(this.config, (name) => this.getEntity(name).runtime);
    const delivery = checkAlertDelivery(options.alerts, this.config.db.dialect);
    this.alerts = new Alerts(this.config, delivery ? new AlertDelivery(delivery) : null);
    this.actions = new OperatorActions(this.config, (name) => this.getEntity(name));
  }

  /**
   * Applies Tally's pending migrations (safe when several processes start together).
   *
   * @example
   * await tally.migrate();
   */
  migrate(): Promise<MigrateResult> {
    return migrate(this.config.db, this.config.schemaName, this.config.s);
  }

  /** The SQL `migrate()` would run on an empty database. */
  migrationSql(): string {
    return migrationScript(this.config.schemaName, this.config.s);
  }

  /** Throws SCHEMA_NOT_MIGRATED unless the database holds this version of Tally's tables. */
  async assertMigrated(): Promise<void> {
    const v = await schemaVersion(this.config.db, this.config.s);
    const latest = latestVersionOf(this.config.db.dialect);
    if (v < latest) {
      throw new TallyError(
        'SCHEMA_NOT_MIGRATED',
        `schema ${this.config.schemaName} is at version ${Math.max(v, 0)}, expected ${latest}: run tally.migrate() or \`tally migrate\``,
      );
    }
  }

  /**
   * Declares an entity over your own table, with its state machine.
   *
   * @example
   * const resources = tally.entity('resource', {
   *   table: 'resources', states: { active: ['frozen'], frozen: ['active'] },
   * });
   */
  entity(name: string, options: EntityOptions): EntityT {
    const def = defineEntity(name, options);
    if (this.#entities.has(def.name)) {
      throw new TallyError('DUPLICATE_ENTITY', `entity ${def.name} is already declared`);
    }
    const e = new Entity(this.config, def);
    this.#entities.set(def.name, e);
    return e;
  }

  /**
   * Adopts an entity's table that had rows before Tally: one genesis log entry per row at version >= 1
   * without one (decision 0053, docs/adopt.md). The first step on an existing database: dry run, adopt,
   * then reconcile.
   *
   * @example
   * await tally.adopt('resource', { dryRun: true });
   * await tally.adopt('resource');
   */
  async adopt(entity: EntityT | string, options: AdoptOptions = {}): Promise<AdoptResult> {
    if (typeof entity === 'string') return this.getEntity(entity).adopt(options);
    if (!(entity instanceof Entity)) {
      throw new TallyError('UNKNOWN_ENTITY', 'adopt needs an entity (tally.entity(...)) or its name');
    }
    return entity.adopt(options);
  }

  /** A declared entity by name; UNKNOWN_ENTITY if there is none. */
  getEntity(name: string): EntityT {
    const e = this.#entities.get(name);
    if (!e)
      throw new TallyError(
        'UNKNOWN_ENTITY',
        `no entity named ${JSON.stringify(String(name).slice(0, 64))} is declared`,
      );
    return e;
  }

  /**
   * Declares a once-only command: input schema, key parameters, steps (local and downstream calls),
   * compensation. With a Standard Schema `input` (zod, valibot, ...) the input type is inferred from it; with
   * a JSON Schema it is `unknown` unless given as a type argument.
   *
   * @example
   * const redeem = tally.command('redeem', {
   *   input: z.object({ user: z.string(), prize: z.enum(['mug', 'hoodie']), qty: z.number().int().min(1).max(10) }),
   *   fingerprint: (i) => ({ user: i.user, prize: i.prize, qty: i.qty }),
   *   steps: [{ name: 'deduct', run: (ctx) => deduct(ctx) }, { name: 'issue', call: { request, send, query } }],
   *   compensate: (ctx) => refund(ctx),
   * });
   * // One guarded change of one row, run as one statement (docs/commands.md):
   * const debit = tally.command('debit', {
   *   fingerprint: (i) => ({ account: i.account }),
   *   change: { entity: accounts, key: (i) => i.account, add: { points: -10 }, guard: { points: { gte: 10 } } },
   * });
   */
  command<S extends StandardSchemaV1, R = unknown>(
    name: string,
    definition:
      | WithInput<S, CommandDefinition<InferOutput<S>>>
      | WithInput<S, ChangeCommandDefinition<InferOutput<S>>>,
  ): Command<InferOutput<S>, R, StandardSchemaV1.InferInput<S>>;
  command<I = unknown, R = unknown>(
    name: string,
    definition: (CommandDefinition<I> | ChangeCommandDefinition<I>) & { input: JsonSchema },
  ): Command<I, R>;
  command<I = any, R = unknown>(
    name: string,
    definition: CommandDefinition<I> | ChangeCommandDefinition<I>,
  ): Command<I, R>;
  command(name: string, definition: CommandDefinition | ChangeCommandDefinition): Command {
    const spec = defineCommand(name, definition);
    if (this.#commands.has(spec.name)) {
      throw new TallyError('DUPLICATE_COMMAND', `command ${spec.name} is already declared`);
    }
    const c = new Command(this.config, spec);
    this.#commands.set(spec.name, c as Command);
    return c;
  }

  /**
   * A declared command by name; UNKNOWN_COMMAND if there is none.
   *
   * @example
   * await tally.getCommand('redeem').notify(downstreamKey, { outcome: 'success' });
   */
  getCommand(name: string): Command {
    const c = this.#commands.get(name);
    if (!c) {
      throw new TallyError(
        'UNKNOWN_COMMAND',
        `no command named ${JSON.stringify(String(name).slice(0, 64))} is declared`,
      );
    }
    return c;
  }

  /**
   * Creates or resumes a named, checkpointed consumer of the log (or of command events), reading in
   * commit order without gaps. See docs/feed.md.
   *
   * @example
   * const c = await tally.consumer('search-index', { batchSize: 500 });
   * await c.run(async ({ entries }) => index(entries), { signal });
   */
  consumer(name: string, options?: ConsumerOptions): Promise<FeedConsumer> {
    return openConsumer(this, name, options);
  }

  /**
   * A worker that drives unfinished commands of every type declared on this instance.
   *
   * @example
   * const worker = tally.worker({ pollMs: 500 });
   * worker.start(); // ... await worker.stop();
   */
  /**
   * The breakers of the downstreams commands call: closed or open, consecutive failures, when the next
   * probe goes out, how many commands wait for it.
   *
   * @example
   * for (const d of await tally.downstreams()) if (d.state === 'open') page(`${d.name}: ${d.paused} waiting`);
   */
  downstreams(): Promise<DownstreamState[]> {
    return listDownstreams(this.config);
  }

  /**
   * Frees stranded commands in bulk: every `needs_attention` command that matches (by type, downstream,
   * time received) goes back to the worker with a new budget, recorded with who and why. `dryRun` lists
   * them without changing anything.
   *
   * @example
   * await tally.requeue({ downstream: 'prizes', since: new Date(Date.now() - 3_600_000),
   *   actor: 'ops:alice', reason: 'prize platform outage 10:02-10:14 is over' });
   */
  async requeue(options: RequeueOptions): Promise<RequeueResult> {
    const specs = [...this.#commands.values()].map((c) => c.runtime.spec);
    return requeue(this.config, requeueFilter(options, specs), options);
  }

  /**
   * Deletes the expired records of every declared command type with `keyRetention` (decision 0061), in
   * bounded chunks; see `pruneExpiredKeys`.
   *
   * @example
   * const { total, done } = await tally.prune({ chunk: 1000, maxChunks: 100 });
   */
  prune(options?: PruneKeysOptions): Promise<PruneKeysResult> {
    return pruneExpiredKeys(this, [...this.#commands.values()], options);
  }

  worker(options?: WorkerOptions): Worker {
    return new Worker(this.config, () => this.#commands, options, this.alerts);
  }

  /**
   * The prom-client registry of Tally's metrics, to mount in your server (`createTally({ observe: { metrics:
   * true } })`); INVALID_CONFIG when metrics are not on.
   *
   * @example
   * app.get('/metrics', async (_req, res) => res.type('text/plain').send(await tally.metrics().metrics()));
   */
  metrics(): MetricsRegistry {
    const r = this.config.observer instanceof LiveObserver ? this.config.observer.registry : null;
    if (!r)
      throw new TallyError(
        'INVALID_CONFIG',
        'metrics are off: createTally({ ..., observe: { metrics: true } })',
      );
    return r;
  }

  /** Closes the database if Tally opened it (and the NATS connection alert delivery opened). */
  async close(): Promise<void> {
    await this.alerts.close();
    return this.config.db.close();
  }
}

type InferOutput<S extends StandardSchemaV1> = StandardSchemaV1.InferOutput<S>;
/** A declaration whose `input` is the Standard Schema `S` (its output type is the command's input type). */
type WithInput<S, D> = Omit<D, 'input'> & { input: S };

/**
 * Creates a Tally instance. Validates options now, with exact messages.
 *
 * @example
 * const tally = await createTally({ db: await pglite('./.tally-data') });
 * await tally.migrate();
 */
export async function createTally(options: TallyOptions): Promise<Tally> {
  const observe = checkObserveOptions(options?.observe);
  if (!observe) return new Tally(options);
  const { db, s } = resolveConfig({ ...options, observe: undefined });
  return new Tally(options, await loadObserver(observe, db, s));
}
