import type { Executor } from '../db/types.js';
import {
  type AlertMessage,
  type AlertSender,
  describeSendError,
  natsSender,
  webhookSender,
} from './alert-channels.js';
import { type AlertChannel, alertBackoffMs, type ResolvedAlertDelivery } from './alert-delivery-options.js';
import { claimDeliveriesSql, recordDeliverySql, skipResolvedSql } from './alert-delivery-sql.js';

/** What one delivery pass did. */
export interface DeliveryPass {
  /** Deliveries attempted in this pass. */
  attempted: number;
  /** ... of which every configured channel has now acknowledged. */
  delivered: number;
  /** ... of which some channel failed (due again after the backoff, with the error recorded). */
  failed: number;
  /** Deliveries closed unsent because their alert was resolved before its turn came. */
  skipped: number;
}

interface Claimed extends Record<string, unknown> {
  alert_id: string;
  delivery_id: string;
  acked: string[];
  attempts: number;
  command_id: string | null;
  command_type: string;
  kind: string;
  message: string;
  data: unknown;
  at: Date | string;
}

/**
 * Sends raised alerts to the configured webhook and/or NATS subject (decision 0144), driven by the
 * worker: each pass takes the due deliveries from the outbox (written with the alert, migration 14),
 * sends each to the channels that have not acknowledged it yet, and records the outcome. At least once:
 * a crash between a receiver's acknowledgement and its record re-sends with the same delivery id.
 */
export class AlertDelivery {
  readonly options: ResolvedAlertDelivery;
  readonly #senders: ReadonlyMap<AlertChannel, AlertSender>;
  readonly #close: () => Promise<void>;

  constructor(options: ResolvedAlertDelivery) {
    this.options = options;
    const senders = new Map<AlertChannel, AlertSender>();
    let close = async () => {};
    if (options.webhook) senders.set('webhook', webhookSender(options.webhook));
    if (options.nats) {
      const n = natsSender(options.nats);
      senders.set('nats', n.send);
      close = n.close;
    }
    this.#senders = senders;
    this.#close = close;
  }

  /**
   * One pass: skip the due deliveries of resolved alerts, then send the others (in parallel) and record
   * each outcome.
   *
   * @example
   * const { delivered, failed } = await delivery.deliver(db, '"tally"', new Date(), 'worker:1');
   */
  async deliver(db: Executor, s: string, now: Date, owner: string): Promise<DeliveryPass> {
    const o = this.options;
    const { skipped, claimed } = await db.transaction(async (tx) => {
      const [sk] = await tx.query<{ n: number }>(skipResolvedSql(s, now));
      const rows = await tx.query<Claimed>(
        claimDeliveriesSql(s, {
          owner,
          now,
          until: new Date(now.getTime() + o.leaseMs),
          limit: o.batchSize,
        }),
      );
      return { skipped: Number(sk?.n ?? 0), claimed: rows };
    });
    const outcomes = await Promise.all(claimed.map((c) => this.#send(db, s, now, owner, c)));
    return {
      attempted: claimed.length,
      delivered: outcomes.filter((x) => x).length,
      failed: outcomes.filter((x) => !x).length,
      skipped,
    };
  }

  /** Sends one delivery to its channels not yet acknowledged; true when all have acknowledged now. */
  async #send(db: Executor, s: string, now: Date, owner: string, c: Claimed): Promise<boolean> {
    const o = this.options;
    const message: AlertMessage = {
      deliveryId: c.delivery_id,
      attempt: Number(c.attempts),
      alert: {
        id: c.alert_id,
        commandId: c.command_id,
        commandType: c.command_type,
        kind: c.kind,
        message: c.message,
        data: typeof c.data === 'string' ? JSON.parse(c.data) : c.data,
        at: (c.at instanceof Date ? c.at : new Date(c.at)).toISOString(),
      },
    };
    const before = new Set(c.acked ?? []);
    const todo = o.channels.filter((ch) => !before.has(ch));
    const results = await Promise.allSettled(todo.map((ch) => this.#senders.get(ch)!(message)));
    const acked: string[] = [];
    const errors: string[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') acked.push(todo[i]!);
      else errors.push(`${todo[i]}: ${describeSendError(r.reason)}`);
    });
    const retryAt = new Date(now.getTime() + alertBackoffMs(o, Number(c.attempts)));
    const [row] = await db.query<{ status: string }>(
      recordDeliverySql(s, {
        alertId: c.alert_id,
        owner,
        acked,
        channels: o.channels,
        error: errors.length > 0 ? errors.join('; ') : null,
        now,
        retryAt,
      }),
    );
    return row?.status === 'delivered';
  }

  /** Closes the NATS connection Tally opened (a connection passed in is left open). */
  close(): Promise<void> {
    return this.#close();
  }
}
