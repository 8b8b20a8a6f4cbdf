import type { TallyConfig } from '../config.js';
import type { ChangeContext } from '../context.js';
import type { MysqlConnectionLike } from '../db/mysql/join.js';
import type { Executor, QueryableLike } from '../db/types.js';
import { TallyError } from '../errors.js';
import { type AdoptOptions, type AdoptResult, adoptRows } from './adopt.js';
import type { ApplyOptions, EntityRuntime, Selection } from './apply.js';
import type { EntityDefinition } from './definition.js';
import { type ChangeDialect, changeDialect, requireCapability } from './dialect/index.js';
import { type FoldCheck, type LogEntry, verifyFold } from './history.js';
import { lacksAny, namedColumns, type TableShape } from './introspect.js';
import { entityJob, type Job } from './jobs/job.js';
import type { JobInput } from './jobs/types.js';
import type { EntityKey } from './keys.js';
import type { ChangeResult } from './result.js';
import { checkedSet } from './validate.js';

/** Options every write accepts: the change context, and the caller's transaction to join. */
export interface WriteOptions extends ChangeContext {
  /**
   * Join this transaction (a `pg` client after BEGIN, a PGlite transaction, a mysql2 connection after
   * beginTransaction(), or a Tally executor).
   */
  tx?: Executor | QueryableLike | MysqlConnectionLike;
}

/** One key, a list of keys, or an equality filter. */
export type SelectionInput = { key: EntityKey } | Selection;
export type TransitionInput = SelectionInput & WriteOptions & ApplyOptions & { to: string };
export type UpdateInput = SelectionInput & WriteOptions & ApplyOptions & { set: Record<string, unknown> };

/** An audited entity: every write goes through one set-based path and leaves log rows in one version sequence per entity (decision 0065). */
export class Entity {
  readonly name: string;
  readonly #rt: EntityRuntime;
  /** This entity's SQL, for the database's dialect: chosen once, here (decision 0130). */
  readonly #dialect: ChangeDialect;
  #shape: Promise<TableShape> | null = null;

  constructor(
    readonly config: TallyConfig,
    readonly definition: EntityDefinition,
  ) {
    this.name = definition.name;
    this.#dialect = changeDialect(config.db.dialect);
    this.#rt = {
      config,
      def: definition,
      shape: async (db, columns) => {
        const first = this.#learn(db);
        const shape = await first;
        if (columns === undefined || !lacksAny(shape, columns)) return shape;
        // A column added to the table after first use: read the table again, once (calls that find the
        // same gap at the same time share one read), and let the caller refuse what is still not there.
        if (this.#shape === first) this.#shape = null;
        return this.#learn(db);
      },
    };
  }

  // Learned once; a failed look-up (table missing) is retried next time, after the user fixes it.
  #learn(db: Executor): Promise<TableShape> {
    this.#shape ??= this.#dialect.introspect(db, this.definition).catch((err) => {
      this.#shape = null;
      throw err;
    });
    return this.#shape;
  }

  /** @internal the runtime that jobs and other modules drive changes through. */
  get runtime(): EntityRuntime {
    return this.#rt;
  }

  #db(tx: WriteOptions['tx']): Executor {
    return tx === undefined ? this.config.db : this.#dialect.join(tx);
  }

  /**
   * Moves 1..N rows to a state, checking each against the state machine. One path for any N.
   *
   * @example
   * const r = await resources.transition({ keys: [1, 2, 3], to: 'frozen', actor: 'ops:alice', reason: 'fraud' });
   * r.changed; r.unchanged; r.rejected;
   */
  async transition(input: TransitionInput): Promise<ChangeResult> {
    const def = this.definition;
    if (typeof input?.to !== 'string' || !def.states.has(input.to)) {
      throw new TallyError('UNKNOWN_STATE', `entity ${def.name}: target state is not declared`, {
        details: { states: [...def.states] },
      });
    }
    const op = { kind: 'transition' as const, to: input.to, from: def.sourcesOf.get(input.to)! };
    return this.#dialect.apply(this.#rt, this.#db(input.tx), selectionOf(input), op, input, input);
  }

  /**
   * Sets fields on 1..N rows (never key, state or version: states move only through `transition`).
   *
   * @example
   * await accounts.update({ keys: [7], set: { level: 'gold' }, actor: 'ops:bob' });
   */
  async update(input: UpdateInput): Promise<ChangeResult> {
    const def = this.definition;
    requireCapability(this.#dialect, 'update', 'entity.update');
    const shape = await this.#rt.shape(this.#db(input?.tx), namedColumns(input?.set));
    const set = checkedSet(def, shape, input?.set);
    return this.#dialect.apply(
      this.#rt,
      this.#db(input.tx),
      selectionOf(input),
      { kind: 'update', set },
      input,
      input,
    );
  }

  /**
   * Inserts new rows at version 1, each with a `create` log entry.
   *
   * @example
   * await resources.create({ rows: [{ id: 1, state: 'active', owner: 'a' }], actor: 'seed' });
   */
  async create(input: { rows: Record<string, unknown>[] } & WriteOptions): Promise<{ created: EntityKey[] }> {
    return this.#dialect.create(this.#rt, this.#db(input?.tx), input?.rows, input);
  }

  /**
   * Adopts a table that had rows before Tally (decision 0053): every row at version >= 1 with no log
   * entry gets one genesis entry (action `adopt`, actor `tally-adopt`, its image now as the after image),
   * so the reconciler checks it from here on instead of reporting it. Chunked, one short transaction per
   * chunk; idempotent. Run it with `dryRun: true` first: that only counts.
   *
   * @example
   * const plan = await resources.adopt({ dryRun: true }); // plan.adopted rows would get a genesis entry
   * const done = await resources.adopt({ onProgress: (p) => console.log(p.done, p.total) });
   */
  async adopt(options: AdoptOptions = {}): Promise<AdoptResult> {
    requireCapability(this.#dialect, 'adopt', 'entity.adopt');
    return adoptRows(this.#rt, this.config.db, options);
  }

  /**
   * Creates a chunked job for a very large batch (or, with a `key` used before for the same operation,
   * returns that job). Items are snapshotted now; `job.run()` or `tally.jobs.run(id)` applies them.
   *
   * @example
   * const job = await resources.job({ key: 'freeze-2026-11-22', where: { region: 'eu' }, to: 'frozen', actor: 'ops:alice' });
   * const status = await job.run();
   */
  async job(input: JobInput): Promise<Job> {
    requireCapability(this.#dialect, 'jobs', 'entity.job');
    return entityJob(this.#rt, this.#db(input?.tx), input);
  }

  /**
   * The entity's log, oldest first.
   *
   * @example
   * for (const e of await resources.history(42)) console.log(e.version, e.action, e.actor);
   */
  history(key: EntityKey, options: { limit?: number; tx?: WriteOptions['tx'] } = {}): Promise<LogEntry[]> {
    return this.#dialect.history(this.#rt, this.#db(options.tx), key, options.limit);
  }

  /**
   * The row as of a version or a time, rebuilt from the log.
   *
   * @example
   * const then = await resources.stateAt(42, { at: new Date('2026-11-01') });
   */
  stateAt(key: EntityKey, at: { version: number } | { at: Date }): Promise<Record<string, unknown> | null> {
    return this.#dialect.stateAt(this.#rt, this.config.db, key, at);
  }

  /**
   * Checks that folding the log gives the row and that its versions, images and (legacy, pre-migration-10) hash chain are intact.
   *
   * @example
   * const check = await resources.verify(42); if (!check.ok) console.error(check.problems);
   */
  async verify(key: EntityKey): Promise<FoldCheck> {
    requireCapability(this.#dialect, 'verify', 'entity.verify');
    return verifyFold(this.#rt, this.config.db, key);
  }
}

function selectionOf(input: SelectionInput): Selection {
  const i = input as { keys?: unknown; key?: unknown; where?: unknown };
  const given = [i.keys !== undefined, i.key !== undefined, i.where !== undefined].filter(Boolean).length;
  if (given !== 1) {
    throw new TallyError('INVALID_SELECTION', 'pass exactly one of key, keys or where');
  }
  if (i.key !== undefined) return { keys: [i.key as EntityKey] };
  if (i.keys !== undefined) return { keys: i.keys as EntityKey[] };
  return { where: i.where as Record<string, unknown> };
}
