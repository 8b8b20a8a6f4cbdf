import { TallyError } from '../errors.js';
import { asStored } from './canonical.js';
import type { CommandRuntime } from './context.js';
import { commandStore } from './dialect/index.js';
import { drive } from './drive.js';
import { ACTIVE, Draft, lockRow, normalizeRow } from './machine.js';
import { type Definite, isDefinite, normalizeCall, type Resolution, resolveCall, saidOf } from './resolve.js';
import { type CommandResult, toResult } from './result.js';

export interface NotifyResult {
  /** recorded: it settled the call; duplicate: it agreed with what was recorded; contradiction: it did
   * not, an alert was raised and nothing changed; unknown_key: no call has this key (alert raised). */
  status: Resolution | 'unknown_key';
  command: CommandResult | null;
}

/**
 * Takes in the downstream's asynchronous message about the call with `downstreamKey`, under the
 * command's row lock. Then, unless `drive: false`, continues the command if nobody else holds it.
 */
export async function notify(
  rt: CommandRuntime,
  downstreamKey: string,
  message: Definite,
  options: { drive?: boolean } = {},
): Promise<NotifyResult> {
  const { config, spec } = rt;
  const store = commandStore(config);
  if (typeof downstreamKey !== 'string' || downstreamKey.length === 0 || downstreamKey.length > 400) {
    throw new TallyError('INVALID_COMMAND_INPUT', 'notify needs the downstream key the call was sent with');
  }
  if (!isDefinite(message)) {
    throw new TallyError(
      'INVALID_COMMAND_INPUT',
      "a message must be { outcome: 'success', value? } or { outcome: 'failure', reason }",
    );
  }
  const o: Definite =
    message.outcome === 'success'
      ? { outcome: 'success', value: asStored(message.value ?? null, 'message value') }
      : {
          outcome: 'failure',
          reason: message.reason,
          ...(message.details ? { details: asStored(message.details, 'details') } : {}),
        };

  // The usual message after a reply: it agrees with the recorded outcome. One statement, no lock.
  const dup = await store.notifyDuplicate(config.db, {
    downstreamKey,
    outcome: o.outcome,
    type: spec.name,
    data: JSON.stringify(saidOf(o, 'notify')),
    at: config.clock(),
  });
  if (dup) return { status: 'duplicate', command: toResult(normalizeRow(dup), true) };

  const res = await config.db.transaction(async (tx) => {
    const now = config.clock();
    const c = await store.callByDownstreamKey(tx, downstreamKey);
    const call = c ? normalizeCall(c) : null;
    const step = call ? spec.steps.find((x) => x.name === call.step && x.kind === 'call') : undefined;
    if (!call || !step) {
      await store.insertAlert(tx, {
        id: null,
        type: spec.name,
        kind: 'unknown_message',
        message: `a message for command ${spec.name} names a downstream key no call was sent with`,
        data: { downstreamKey: downstreamKey.slice(0, 400), outcome: o.outcome },
        at: now,
      });
      return { status: 'unknown_key' as const, row: null };
    }
    const row = await lockRow(tx, store, call.command_id);
    if (row.type !== spec.name) return { status: 'unknown_key' as const, row: null };
    const d = new Draft(store, row, spec, now);
    const status = await resolveCall(tx, d, step, o, 'notify');
    return { status, row: await d.save(tx) };
  });
  let row = res.row;
  if (row && res.status === 'recorded' && ACTIVE.has(row.status) && options.drive !== false) {
    const owner = `notify:${config.ids()}`;
    const t = config.clock();
    const claimed = await store.claim(config.db, {
      id: row.id,
      owner,
      now: t,
      until: new Date(t.getTime() + spec.leaseMs),
      due: false,
    });
    if (claimed) row = await drive(rt, row.id, owner);
  }
  return { status: res.status, command: row ? toResult(row, true) : null };
}
