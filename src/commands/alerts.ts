import type { TallyConfig } from '../config.js';
import { TallyError } from '../errors.js';
import { alertByIdSql, listAlertsSql, resolveAlertSql } from './alerts-sql.js';
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

const ID = /^[1-9][0-9]{0,17}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function toFullAlert(r: Record<string, unknown>): Alert {
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

  constructor(config: TallyConfig) {
    this.#config = config;
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
   * Resolves an open alert, recording who and why (and an `alert_resolved` event on the command's
   * timeline). The commands reconciler does not raise the same mismatch for that command again until
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
      const [done] = await tx.query(resolveAlertSql(s, { id, actor, reason, at: clock() }));
      if (done) return { alert: toFullAlert(done), resolved: true };
      const [found] = await tx.query(alertByIdSql(s, id));
      if (!found) throw new TallyError('ALERT_NOT_FOUND', 'no alert has this id');
      return { alert: toFullAlert(found), resolved: false };
    });
  }
}
