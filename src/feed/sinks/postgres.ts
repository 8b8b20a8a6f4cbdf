import { quoteIdent } from '../../db/ident.js';
import type { Executor } from '../../db/types.js';
import { isUnreachable } from '../../db/unreachable.js';
import { TallyError } from '../../errors.js';
import type { FeedBatch, FeedPosition } from '../types.js';
import { type BackoffOptions, backoffBounds, withRetry } from './retry.js';
import { rowsOf } from './rows.js';
import {
  insertCommandEventsSql,
  insertLogRowsSql,
  readPositionSql,
  savePositionSql,
  targetSchemaSql,
} from './sql.js';

export interface PostgresSinkOptions {
  /** The second database the rows are shipped to (`postgres(pool)`; PGlite works too). */
  readonly target: Executor;
  /** Schema of the sink's tables in the target. Default `tally_sink`. */
  readonly schema?: string;
  /** The sink's name: its row in `sink_positions`, and the feed consumer name prefix. Default `pg-sink`. */
  readonly name?: string;
  /** Backoff while the target is unreachable. Default 100 ms doubling up to 10 s. */
  readonly retry?: BackoffOptions;
  /** Told about every failed write that will be retried (log it; the sink keeps going). */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export interface SinkWrite {
  /** Rows the target did not have yet. */
  readonly added: number;
  /** Rows the target already held (a redelivery after a crash between the two commits). */
  readonly skipped: number;
  /** Failed attempts before this one succeeded. */
  readonly retries: number;
}

const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

/**
 * Ships feed batches into a second PostgreSQL database, never losing or doubling a row: each batch is
 * one target transaction that inserts its rows (`ON CONFLICT (id) DO NOTHING`, so a redelivered batch
 * adds nothing) and records the feed position beside them. The source checkpoint advances only after
 * that commit; an unreachable target is retried with backoff until it answers or the sink is closed.
 *
 * @example
 * const sink = postgresSink({ target: postgres(targetPool) });
 * await sink.setup();
 * const consumer = tally.feed.consumer('pg-sink', { handler: (batch) => sink.write(batch) });
 */
export class PostgresSink {
  readonly name: string;
  readonly schema: string;
  readonly #t: string;
  readonly #target: Executor;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #onRetry: PostgresSinkOptions['onRetry'];
  readonly #abort = new AbortController();

  constructor(o: PostgresSinkOptions) {
    if (!o || typeof o !== 'object')
      throw new TallyError('INVALID_SINK_OPTIONS', 'postgresSink needs options');
    const target = o.target as Partial<Executor> | undefined;
    if (!target || typeof target.query !== 'function' || typeof target.transaction !== 'function') {
      throw new TallyError(
        'INVALID_SINK_OPTIONS',
        'options.target must be an executor: postgres(pool) or pglite()',
      );
    }
    this.#target = o.target;
    this.schema = o.schema ?? 'tally_sink';
    this.#t = quoteIdent(this.schema, 'options.schema');
    this.name = o.name ?? 'pg-sink';
    if (typeof this.name !== 'string' || !NAME.test(this.name)) {
      throw new TallyError('INVALID_SINK_OPTIONS', `options.name must match ${NAME.source}`);
    }
    this.#backoff = backoffBounds(o.retry);
    if (o.onRetry !== undefined && typeof o.onRetry !== 'function') {
      throw new TallyError('INVALID_SINK_OPTIONS', 'options.onRetry must be a function');
    }
    this.#onRetry = o.onRetry;
  }

  /**
   * Creates the sink's schema and tables in the target if they are not there (idempotent).
   *
   * @example
   * await sink.setup();
   */
  async setup(): Promise<void> {
    await this.#retrying(() => this.#target.exec(targetSchemaSql(this.#t)));
  }

  /**
   * Writes one batch (a feed handler): rows and position in one target transaction, retried with
   * backoff while the target is unreachable. Resolves when the batch is durable in the target.
   *
   * @example
   * await sink.write(batch);
   */
  async write(batch: FeedBatch): Promise<SinkWrite> {
    const { log, commandEvents } = rowsOf(batch.entries);
    const source = batch.position.source;
    let retries = 0;
    const added = await this.#retrying(
      () =>
        this.#target.transaction(async (tx) => {
          let n = 0;
          if (log.length > 0)
            n += Number((await tx.query<{ n: number }>(insertLogRowsSql(this.#t, log)))[0]!.n);
          if (commandEvents.length > 0)
            n += Number(
              (await tx.query<{ n: number }>(insertCommandEventsSql(this.#t, commandEvents)))[0]!.n,
            );
          await tx.query(savePositionSql(this.#t, `${this.name}:${source}`, source, batch.position, n));
          return n;
        }),
      () => retries++,
    );
    return { added, skipped: batch.entries.length - added, retries };
  }

  /**
   * Where the sink stands according to the target (the position stored with its last rows), or null.
   *
   * @example
   * const at = await sink.position('log'); // { position, rows, updatedAt }
   */
  async position(
    source: FeedPosition['source'],
  ): Promise<{ position: FeedPosition; rows: number; updatedAt: Date } | null> {
    const [r] = await this.#target.query(readPositionSql(this.#t, `${this.name}:${source}`));
    if (!r) return null;
    const position = (typeof r.position === 'string' ? JSON.parse(r.position) : r.position) as FeedPosition;
    return { position, rows: Number(r.rows), updatedAt: new Date(String(r.updated_at)) };
  }

  /** Stops waiting for an unreachable target: a write in its backoff rejects with the last error. */
  close(): void {
    this.#abort.abort();
  }

  #retrying<T>(fn: () => Promise<T>, counted?: () => void): Promise<T> {
    return withRetry(fn, {
      ...this.#backoff,
      retryable: isUnreachable,
      signal: this.#abort.signal,
      onRetry: (err, attempt, ms) => {
        counted?.();
        this.#onRetry?.(err, attempt, ms);
      },
    }).catch((err) => {
      if (isUnreachable(err)) {
        throw new TallyError(
          'SINK_TARGET_UNAVAILABLE',
          `sink ${this.name}: the target database is unreachable and the sink was closed`,
          { cause: err },
        );
      }
      throw err;
    });
  }
}

/**
 * A sink into a second PostgreSQL database. See {@link PostgresSink}.
 *
 * @example
 * const sink = postgresSink({ target: postgres(new pg.Pool({ connectionString: TARGET_URL })) });
 */
export function postgresSink(options: PostgresSinkOptions): PostgresSink {
  return new PostgresSink(options);
}
