import type { TallyConfig } from '../config.js';
import { TallyError } from '../errors.js';
import type { AlertDelivery, DeliveryPass } from './alert-delivery.js';
import { listDeliveriesSql } from './alert-delivery-sql.js';
import { alertByIdSql, listAlertsSql, resolveAlertSql } from './alerts-sql.js';
import { recordActionSql } from './operator-actions-sql.js';
import { type CommandAlert, toAlert } from './timeline.js';

/** An alert with who resolved it and why (both null while it is open, or when Tally itself closed it). */
export interface Alert extends CommandAlert {
  resolvedBy: string | null;
  resolvedReason: string | null;
}

export interface AlertFilter {
  /** Only alerts of this command type. */
  type?: string;
  /** Only alerts of this command. */
  commandId?: string;
  /** Only open (unresolved) alerts. */
  open?: boolean;
  /** At most this many, newest first. Default 100. */
  limit?: number;
}

export interface ResolveAlertResult {
  alert: Alert;
  /** False when the alert was resolved already (nothing changed). */
  resolved: boolean;
}

/** One alert's delivery (decision 0144): which channels acknowledged it, attempts, the last error. */
export interface AlertDeliveryRecord {
  alertId: string;
  /** What the receiver dedupes on: the same on every attempt and channel. */
  deliveryId: string;
  /** `pending` until every channel acknowledged (`delivered`); `skipped` when resolved before it went out. */
  status: 'pending' | 'delivered' | 'skipped';
  /** The channels that acknowledged it (never sent to again). */
  acked: string[];
  attempts: number;
  /** The last failed attempt's error per channel (`webhook: HTTP 500`), or null. */
  lastError: string | null;
  /** When the next attempt is due (while pending). */
  nextAt: Date;
  createdAt: Date;
  doneAt: Date | null;
}

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

function toDelivery(r: Record<string, unknown>): AlertDeliveryRecord {
  return {
    alertId: String(r.alert_id),
    deliveryId: String(r.delivery_id),
    status: r.status as AlertDeliveryRecord['status'],
    acked: [...((r.acked as string[] | null) ?? [])],
    attempts: Number(r.attempts),
    lastError: (r.last_error as string | null) ?? null,
    nextAt: date(r.next_at),
    createdAt: date(r.created_at),
    doneAt: r.done_at == null ? null : date(r.done_at),
  };
}

const ID = /^[1-9][0-9]{0,17}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function toFullAlert(r: Record<string, unknown>): Alert {
  return {
    ...toAlert(r),
    resolvedBy: (r.resolved_by as string | null) ?? null,
    resolvedReason: (r.resolved_reason as string | null) ?? null,
  };
}

function text(v: unknown, code: 'MISSING_ACTOR' | 'MISSING_REASON', what: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 200) {
    throw new TallyError(code, `resolving an alert needs ${what}: a string of 1-200 characters`);
  }
  return v;
}

/** Alerts of every command type: list them, resolve one with who and why. */
export class Alerts {
  readonly #config: TallyConfig;
  readonly #delivery: AlertDelivery | null;

  /** @param delivery where alerts are sent, when `createTally({ alerts })` configured it. */
  constructor(config: TallyConfig, delivery: AlertDelivery | null = null) {
    this.#config = config;
    this.#delivery = delivery;
  }

  /** True when `createTally({ alerts })` configured a webhook or NATS subject. */
  get delivering(): boolean {
    return this.#delivery !== null;
  }

  /**
   * One delivery pass (a worker runs one each round): sends the due alerts to the configured webhook
   * and/or NATS subject and records each outcome; alerts resolved before their turn are skipped.
   * INVALID_CONFIG when no channel is configured.
   *
   * @example
   * const tally = await createTally({ db, alerts: { webhook: { url: 'https://ops.example/tally' } } });
   * const { delivered, failed } = await tally.alerts.deliver();
   */
  deliver(options: { owner?: string } = {}): Promise<DeliveryPass> {
    if (!this.#delivery) {
      throw new TallyError(
        'INVALID_CONFIG',
        'alert delivery is off: createTally({ ..., alerts: { webhook: { url } } or { nats: { subject, servers } } })',
      );
    }
    const { db, s, clock, ids } = this.#config;
    return this.#delivery.deliver(db, s, clock(), options.owner ?? `alerts:${ids()}`);
  }

  /**
   * Alert deliveries, newest alert first: each one's status, acknowledged channels, attempts and last
   * error.
   *
   * @example
   * for (const d of await tally.alerts.deliveries({ pending: true })) console.log(d.alertId, d.attempts, d.lastError);
   */
  async deliveries(
    filter: { alertId?: string; pending?: boolean; limit?: number } = {},
  ): Promise<AlertDeliveryRecord[]> {
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
      throw new TallyError(
        'INVALID_SELECTION',
        'alert deliveries: limit must be an integer from 1 to 100000',
      );
    }
    if (filter.alertId !== undefined && !ID.test(filter.alertId)) {
      throw new TallyError('INVALID_SELECTION', 'alert deliveries: alertId must be an alert id');
    }
    const rows = await this.#config.db.query(
      listDeliveriesSql(this.#config.s, {
        alertId: filter.alertId ?? null,
        pending: filter.pending ?? false,
        limit,
      }),
    );
    return rows.map(toDelivery);
  }

  /** Closes what delivery opened (a NATS connection); called by `tally.close()`. */
  async close(): Promise<void> {
    await this.#delivery?.close();
  }

  /**
   * Alerts, newest first (no command definitions needed).
   *
   * @example
   * for (const a of await tally.alerts.list({ open: true })) console.log(a.id, a.commandType, a.message);
   */
  async list(filter: AlertFilter = {}): Promise<Alert[]> {
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) {
      throw new TallyError('INVALID_SELECTION', 'alerts: limit must be an integer from 1 to 100000');
    }
    if (filter.commandId !== undefined && !UUID.test(filter.commandId)) {
      throw new TallyError('INVALID_SELECTION', 'alerts: commandId must be a command id (a UUID)');
    }
    const rows = await this.#config.db.query(
      listAlertsSql(this.#config.s, {
        type: filter.type ?? null,
        commandId: filter.commandId ?? null,
        open: filter.open ?? false,
        limit,
      }),
    );
    return rows.map(toFullAlert);
  }

  /**
   * Resolves an open alert, recording who and why (an `alert_resolved` event on the command's timeline,
   * and an operator action, decision 0145). The commands reconciler does not raise the same mismatch for that command again until
   * the command's status changes (decision 0058). Resolving a resolved alert changes nothing.
   *
   * @example
   * await tally.alerts.resolve('42', { actor: 'ops:ana', reason: 'prize re-issued by hand, ticket 1234' });
   */
  async resolve(id: string, who: { actor: string; reason: string }): Promise<ResolveAlertResult> {
    const actor = text(who?.actor, 'MISSING_ACTOR', 'an actor');
    const reason = text(who?.reason, 'MISSING_REASON', 'a reason');
    if (typeof id !== 'string' || !ID.test(id)) {
      throw new TallyError('ALERT_NOT_FOUND', 'no alert has this id (alert ids are positive integers)');
    }
    const { db, s, clock } = this.#config;
    return db.transaction(async (tx) => {
      const at = clock();
      const [done] = await tx.query(resolveAlertSql(s, { id, actor, reason, at }));
      if (done) {
        const alert = toFullAlert(done);
        // An operator action too (decision 0145), in the same transaction.
        await tx.query(
          recordActionSql(s, {
            action: 'resolve_alert',
            target: id,
            actor,
            reason,
            at,
            data: { kind: alert.kind, commandId: alert.commandId },
          }),
        );
        return { alert, resolved: true };
      }
      const [found] = await tx.query(alertByIdSql(s, id));
      if (!found) throw new TallyError('ALERT_NOT_FOUND', 'no alert has this id');
      return { alert: toFullAlert(found), resolved: false };
    });
  }
}
