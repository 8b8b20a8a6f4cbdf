import type { DeliveryPass } from '../commands/alert-delivery.js';
import type { Alerts } from '../commands/alerts.js';
import { dueProbes, wakePaused } from '../commands/breaker.js';
import type { Command } from '../commands/command.js';
import { drive } from '../commands/drive.js';
import type { ResolvedFailover } from '../commands/failover.js';
import { handOverDue } from '../commands/intake.js';
import { type CommandResult, toResult } from '../commands/result.js';
import { PruneSchedule, type PruneScheduleOptions } from '../commands/retention.js';
import { isUnreachable } from '../commands/unreachable.js';
import type { TallyConfig } from '../config.js';
import { TallyError } from '../errors.js';
import { SealSchedule, type SealScheduleOptions } from '../evidence/seal-loop.js';
import { observedRound, observedWorkerDrive } from '../observe/worker.js';
import { claimDue } from './claim.js';
import { RoundLedger } from './rounds.js';

export interface WorkerOptions {
  /** This worker's name in leases and timelines. Default `worker:<uuid>`. */
  id?: string;
  /** Commands claimed per round. Default 16. */
  batchSize?: number;
  /** Commands driven at once within a round. Default 4. */
  concurrency?: number;
  /** How long a claim lasts; a crashed worker's commands are taken over after it. Default 30 s. */
  leaseMs?: number;
  /** Pause (real time) between rounds that found nothing due. Default 1 s. */
  pollMs?: number;
  /** Called with errors a round could not record (e.g. the database is down). */
  onError?: (err: unknown, commandId: string | null) => void;
  /**
   * Seal the log while the worker runs (decision 0063): every `everyMs` (and after `afterRows`), sign a
   * checkpoint and copy it to the sinks. Runs beside the command rounds, on its own timer.
   */
  seal?: SealScheduleOptions;
  /**
   * Prune expired command records (types with `keyRetention`, decision 0061) beside the rounds: at most
   * every `everyMs` (default 60 s), `maxChunks` statements a pass (default 10).
   */
  prune?: PruneScheduleOptions;
  /**
   * Record the rounds that claimed something in worker_rounds, added up per minute (decision 0146): what
   * the console's Overview charts. At most one statement a second, none while idle. Default true
   * (PostgreSQL and PGlite; MySQL/MariaDB keep no such table).
   */
  recordRounds?: boolean;
}

export interface RoundResult {
  claimed: number;
  results: CommandResult[];
  errors: number;
  /** The alert delivery pass run beside the round (decision 0144), when alert delivery is configured. */
  alerts?: DeliveryPass;
}

function opt(v: unknown, what: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new TallyError('INVALID_WORKER_OPTIONS', `worker ${what} must be an integer from ${min} to ${max}`);
  }
  return v;
}

/**
 * The scanner: finds every due, unfinished command and drives it forward (retry, query, compensate).
 * Several workers, in one process or many, never drive the same command at the same time.
 */
export class Worker {
  readonly id: string;
  readonly #config: TallyConfig;
  readonly #commands: () => ReadonlyMap<string, Command>;
  readonly #batch: number;
  readonly #concurrency: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #onError: (err: unknown, commandId: string | null) => void;
  #loop: Promise<void> | null = null;
  #running = false;
  #wake: (() => void) | null = null;
  #tendedAt = 0;
  readonly #pruner: PruneSchedule | null;
  readonly #alerts: Alerts | null;
  readonly #ledger: RoundLedger | null;
  /** The sealing schedule, when the `seal` option is set (`start()`/`stop()` run it with the rounds). */
  readonly sealer: SealSchedule | null;

  constructor(
    config: TallyConfig,
    commands: () => ReadonlyMap<string, Command>,
    options: WorkerOptions = {},
    alerts: Alerts | null = null,
  ) {
    this.#config = config;
    this.#commands = commands;
    this.#alerts = alerts?.delivering ? alerts : null;
    if (
      options.id !== undefined &&
      (typeof options.id !== 'string' || !/^[A-Za-z0-9_.:-]{1,100}$/.test(options.id))
    ) {
      throw new TallyError('INVALID_WORKER_OPTIONS', 'worker id must be 1-100 letters, digits or _ . : -');
    }
    this.id = options.id ?? `worker:${config.ids()}`;
    this.#batch = opt(options.batchSize, 'batchSize', 16, 1, 10_000);
    this.#concurrency = opt(options.concurrency, 'concurrency', 4, 1, 256);
    this.#leaseMs = opt(options.leaseMs, 'leaseMs', 30_000, 100, 86_400_000);
    this.#pollMs = opt(options.pollMs, 'pollMs', 1000, 1, 3_600_000);
    this.#onError = options.onError ?? (() => {});
    this.#pruner = options.prune ? new PruneSchedule(options.prune) : null;
    if (options.recordRounds !== undefined && typeof options.recordRounds !== 'boolean') {
      throw new TallyError('INVALID_WORKER_OPTIONS', 'worker recordRounds must be true or false');
    }
    this.#ledger =
      options.recordRounds !== false && config.db.dialect !== 'mysql'
        ? new RoundLedger(config, this.id)
        : null;
    const seal = options.seal;
    this.sealer = seal
      ? new SealSchedule(
          { config },
          { ...seal, onError: seal.onError ?? ((err) => this.#onError(err, null)) },
        )
      : null;
  }

  /**
   * One round: claim what is due now and drive each claimed command as far as it goes.
   *
   * @example
   * const worker = tally.worker();
   * const { claimed, results } = await worker.runOnce();
   */
  async runOnce(): Promise<RoundResult> {
    const o = this.#config.observer;
    return o.on ? observedRound(o, this.id, () => this.#round()) : this.#round();
  }

  async #round(): Promise<RoundResult> {
    // Alert delivery runs beside the commands' part of the round (a slow receiver does not hold it up).
    const delivering = this.#alerts?.deliver({ owner: this.id }).catch((err: unknown) => {
      this.#onError(err, null);
      return undefined;
    });
    const t0 = performance.now();
    const r = await this.#commandsRound();
    await this.#record(r, performance.now() - t0);
    const alerts = await delivering;
    return alerts ? { ...r, alerts } : r;
  }

  async #commandsRound(): Promise<RoundResult> {
    const commands = this.#commands();
    if (commands.size === 0) return { claimed: 0, results: [], errors: 0 };
    const { clock } = this.#config;
    await this.#handOver(commands);
    await this.#tendBreakers(commands);
    await this.#pruner?.tick({ config: this.#config }, [...commands.values()]);
    const now = clock();
    const claimed = await claimDue(this.#config, {
      types: [...commands.keys()],
      owner: this.id,
      now,
      until: new Date(now.getTime() + this.#leaseMs),
      limit: this.#batch,
    });
    const results: CommandResult[] = [];
    let errors = 0;
    let i = 0;
    const lane = async () => {
      while (i < claimed.length) {
        const c = claimed[i++]!;
        try {
          const run = () => drive(commands.get(c.type)!.runtime, c.id, this.id);
          const o = this.#config.observer;
          const row = await (o.tracing ? observedWorkerDrive(o, c, run) : run());
          results.push(toResult(row, true));
        } catch (err) {
          errors++; // the lease runs out and the command is claimed again later
          this.#onError(err, c.id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, claimed.length) }, lane));
    return { claimed: claimed.length, results, errors };
  }

  // The round's counts join the worker's minute in worker_rounds; a failed write loses them (it is a
  // figure for the Overview), never the round.
  async #record(r: RoundResult, ms: number, force = false): Promise<void> {
    if (!this.#ledger) return;
    this.#ledger.add(r.claimed, r.results, r.errors, ms);
    try {
      await this.#ledger.write(r.claimed === 0, force);
    } catch (err) {
      this.#onError(err, null);
    }
  }

  // Commands recorded on a failover store while the primary was away are handed over to it first, so
  // this same round drives them (see docs/decisions/0035). A secondary that is away only delays that.
  async #handOver(commands: ReadonlyMap<string, Command>): Promise<void> {
    const stores = new Map<ResolvedFailover['db'], { f: ResolvedFailover; types: string[] }>();
    for (const c of commands.values()) {
      const f = c.runtime.spec.failover;
      if (!f) continue;
      const entry = stores.get(f.db) ?? { f, types: [] };
      entry.types.push(c.name);
      stores.set(f.db, entry);
    }
    for (const { f, types } of stores.values()) {
      try {
        await handOverDue(f, this.#config.db, this.#config.s, types, this.#batch, this.#config.clock());
      } catch (err) {
        if (!isUnreachable(err) || (await this.#primaryUp())) this.#onError(err, null);
        else throw err; // the primary is away: this round cannot do anything
      }
    }
  }

  // Open breakers: a paused command is made due when its breaker's probe is, so this round drives it as
  // the probe; commands paused on a breaker that closed meanwhile (its closer died before waking them, or
  // they paused in the instant it closed) wake. At most once a second: both are set-based statements.
  async #tendBreakers(commands: ReadonlyMap<string, Command>): Promise<void> {
    const now = this.#config.clock().getTime();
    if (now - this.#tendedAt < 1000 && now >= this.#tendedAt) return;
    const any = [...commands.values()].some((c) =>
      c.runtime.spec.steps.some((st) => st.kind === 'call' && st.breaker !== null),
    );
    if (!any) return;
    this.#tendedAt = now;
    await wakePaused(this.#config);
    await dueProbes(this.#config);
  }

  async #primaryUp(): Promise<boolean> {
    try {
      await this.#config.db.query({ text: 'SELECT 1' });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Runs rounds until `stop()`: back to back while there is work, `pollMs` apart when there is none.
   *
   * @example
   * const worker = tally.worker({ pollMs: 500 });
   * worker.start();
   * process.on('SIGTERM', () => worker.stop());
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.sealer?.start();
    this.#loop = (async () => {
      while (this.#running) {
        let found = 0;
        try {
          found = (await this.runOnce()).claimed;
        } catch (err) {
          this.#onError(err, null);
        }
        if (found === 0 && this.#running) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, this.#pollMs);
            this.#wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          this.#wake = null;
        }
      }
    })();
  }

  /**
   * Stops after the round in progress; resolves when it has finished.
   *
   * @example
   * await worker.stop();
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    this.#loop = null;
    await this.#record({ claimed: 0, results: [], errors: 0 }, 0, true);
    await this.sealer?.stop();
  }

  get running(): boolean {
    return this.#running;
  }
}
