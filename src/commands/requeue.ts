import type { TallyConfig } from '../config.js';
import { TallyError } from '../errors.js';
import type { CommandSpec } from './definition.js';
import { commandStore } from './dialect/index.js';
import { recordActionsSql } from './operator-actions-sql.js';
import type { RequeueFilter } from './requeue-sql.js';

/** Which stranded commands to free, and who frees them why. */
export interface RequeueOptions {
  /** Who does it (recorded on each command's timeline). Required. */
  actor: string;
  /** Why (recorded too). Required. */
  reason: string;
  /** Only these command types. */
  type?: string | readonly string[];
  /** Only the command with this id. */
  id?: string;
  /** Only commands stopped at a call to this downstream (as its call step names it). */
  downstream?: string;
  /** Only commands received at or after this time. */
  since?: Date;
  /** Only commands received before this time. */
  until?: Date;
  /** At most this many (oldest first). Default 10,000. */
  limit?: number;
  /** Only say which commands would be requeued. */
  dryRun?: boolean;
}

export interface RequeuedCommand {
  id: string;
  type: string;
  key: string;
  principal: string;
  /** What it went back to: `pending`, or `compensating` when it was undoing a definite failure. */
  status: 'pending' | 'compensating' | 'needs_attention';
  createdAt: Date;
}

export interface RequeueResult {
  requeued: number;
  commands: RequeuedCommand[];
  dryRun: boolean;
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function text(v: unknown, code: 'MISSING_ACTOR' | 'MISSING_REASON', what: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 200) {
    throw new TallyError(code, `requeue needs ${what}: a string of 1-200 characters`);
  }
  return v;
}

function date(v: unknown, what: string): Date | null {
  if (v === undefined) return null;
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) {
    throw new TallyError('INVALID_REQUEUE_OPTIONS', `requeue: ${what} must be a valid Date`);
  }
  return v;
}

/** Checks a requeue's options and turns them into a filter over the declared commands. */
export function requeueFilter(
  o: RequeueOptions,
  specs: Iterable<CommandSpec>,
  id: string | null = null,
): RequeueFilter {
  if (!o || typeof o !== 'object') throw new TallyError('INVALID_REQUEUE_OPTIONS', 'requeue needs options');
  text(o.actor, 'MISSING_ACTOR', 'an actor (who frees the commands)');
  text(o.reason, 'MISSING_REASON', 'a reason');
  const types = o.type === undefined ? null : typeof o.type === 'string' ? [o.type] : [...o.type];
  if (types && (types.length === 0 || types.some((t) => typeof t !== 'string' || t === ''))) {
    throw new TallyError(
      'INVALID_REQUEUE_OPTIONS',
      'requeue: type must be a command type name or a list of them',
    );
  }
  let steps: { type: string; step: number }[] | null = null;
  if (o.downstream !== undefined) {
    if (typeof o.downstream !== 'string' || o.downstream === '') {
      throw new TallyError('INVALID_REQUEUE_OPTIONS', 'requeue: downstream must be a downstream name');
    }
    steps = [];
    for (const spec of specs) {
      for (const st of spec.steps) {
        if (st.kind === 'call' && st.downstream === o.downstream)
          steps.push({ type: spec.name, step: st.index });
      }
    }
    if (steps.length === 0) {
      throw new TallyError(
        'INVALID_REQUEUE_OPTIONS',
        `requeue: no declared command calls downstream ${o.downstream} (declare the commands first)`,
      );
    }
  }
  if (o.id !== undefined) {
    if (typeof o.id !== 'string' || !UUID_RE.test(o.id)) {
      throw new TallyError('INVALID_REQUEUE_OPTIONS', 'requeue: id must be a command id (a UUID)');
    }
    id = o.id.toLowerCase();
  }
  const limit = o.limit ?? 10_000;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000) {
    throw new TallyError('INVALID_REQUEUE_OPTIONS', 'requeue: limit must be an integer from 1 to 1,000,000');
  }
  const since = date(o.since, 'since');
  const until = date(o.until, 'until');
  if (since && until && since >= until) {
    throw new TallyError('INVALID_REQUEUE_OPTIONS', 'requeue: since must be before until');
  }
  return { types, id, since, until, steps, limit };
}

/**
 * Frees stranded commands: each `needs_attention` command that matches goes back to the worker with a new
 * budget (attempts from 0, its deadline counting from now), recorded with who and why.
 */
export async function requeue(
  config: TallyConfig,
  f: RequeueFilter,
  o: RequeueOptions,
): Promise<RequeueResult> {
  const store = commandStore(config);
  const toCommand = (r: Record<string, unknown>): RequeuedCommand => ({
    id: String(r.id),
    type: String(r.type),
    key: String(r.key),
    principal: String(r.principal),
    status: (r.status as RequeuedCommand['status']) ?? 'needs_attention',
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(String(r.created_at)),
  });
  if (o.dryRun) {
    const rows = await store.stranded(config.db, f);
    return { requeued: 0, commands: rows.map(toCommand), dryRun: true };
  }
  const by = { actor: o.actor, reason: o.reason, at: config.clock() };
  // Each requeued command is an operator action too (decision 0148): an operator_actions row per command,
  // in the transaction of the requeue (MySQL has no operator_actions table yet: its timeline event stays).
  const rows = await config.db.transaction(async (tx) => {
    const done = await store.requeue(tx, f, by);
    if (done.length > 0 && config.db.dialect !== 'mysql') {
      await tx.query(
        recordActionsSql(
          config.s,
          { action: 'requeue', ...by },
          done.map((r) => ({
            target: String(r.id),
            data: { type: r.type, to: r.status, bulk: true },
          })),
        ),
      );
    }
    return done;
  });
  return { requeued: rows.length, commands: rows.map(toCommand), dryRun: false };
}
