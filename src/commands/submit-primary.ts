import { setTimeout as sleep } from 'node:timers/promises';
import { TallyError } from '../errors.js';
import type { CommandRuntime } from './context.js';
import { commandStore } from './dialect/index.js';
import { drive } from './drive.js';
import { ACTIVE, CommandDuplicate, normalizeRow } from './machine.js';
import { type CommandResult, toResult } from './result.js';
import { type CommandRow, recordedRequest } from './sql.js';

// The submit on the primary store, shared by the plain, change and failover paths (submit.ts chooses).

/** A submit's arguments, checked and fingerprinted. */
export interface Prepared {
  key: string;
  principal: string;
  input: unknown;
  fingerprint: string;
  canonical: string;
}

/**
 * The submit on the primary store. `onRecorded` is called once the primary has answered for the key
 * (inserted it, or shown it exists): from then on the key certainly lives there. `recordWithStep`
 * (where the dialect has it and the first step is local): the record commits in the first step's
 * transaction instead of on its own before it (decision 0125); false records first.
 */
export async function submitPrimary(
  rt: CommandRuntime,
  p: Prepared,
  onRecorded: (id: string | undefined) => void = () => {},
  recordWithStep = true,
): Promise<CommandResult> {
  const { config, spec } = rt;
  const store = commandStore(config);
  const { key, principal, fingerprint } = p;
  const owner = `submit:${config.ids()}`;
  const now = config.clock();
  const insert = {
    ...recordedRequest(spec.name, p, config.ids(), now),
    owner,
    leaseUntil: new Date(now.getTime() + spec.leaseMs),
    traceContext: config.observer.traceparent(),
    asyncRecord: config.db.dialect === 'postgres',
  };
  if (recordWithStep && store.recordStatement && spec.steps[0]?.kind === 'local') {
    // The record opens the first step's transaction and commits with it (decision 0125).
    try {
      const done = await drive(rt, insert.id, owner, undefined, { ...insert, asyncRecord: false });
      onRecorded(insert.id);
      return toResult(done, false);
    } catch (err) {
      if (!(err instanceof CommandDuplicate)) throw err;
      // Another submit of this key was recorded first; nothing of this one was kept: answer as its retry.
    }
  } else {
    const inserted = await store.insertCommand(config.db, insert);
    onRecorded(inserted ? String(inserted.id) : undefined);
    if (inserted) return toResult(await drive(rt, String(inserted.id), owner, normalizeRow(inserted)), false);
  }

  const deadline = Date.now() + spec.waitMs;
  for (;;) {
    const found = await store.byKey(config.db, spec.name, principal, key);
    if (!found)
      throw new TallyError('COMMAND_NOT_FOUND', `command ${spec.name}: the key's record disappeared`);
    const row = normalizeRow(found);
    onRecorded(row.id);
    if (row.fingerprint !== fingerprint && config.mutant !== 'skip-fingerprint') {
      throw new TallyError(
        'IDEMPOTENCY_KEY_REUSED',
        `command ${spec.name}: this idempotency key was first used with different key parameters; use a new key for a new request`,
        { details: { commandId: row.id } },
      );
    }
    if (!ACTIVE.has(row.status)) return toResult(row, true);
    const t = config.clock();
    // A retry runs the next attempt only when the schedule says it is due; before that it answers the
    // recorded state. Attempts are spent by the schedule, never by how often clients knock.
    if (!inFlight(row, t) && row.next_at.getTime() > t.getTime()) return toResult(row, true); // not due: the recorded state
    const claimed = await store.claim(config.db, {
      id: row.id,
      owner,
      now: t,
      until: new Date(t.getTime() + spec.leaseMs),
      due: true,
    });
    if (claimed) return toResult(await drive(rt, row.id, owner), true);
    const left = deadline - Date.now();
    if (left <= 0) {
      // It may have finished (or been rescheduled) between the read and the claim: answer that if so.
      const latest = await store.byKey(config.db, spec.name, principal, key);
      const now = latest ? normalizeRow(latest) : null;
      if (now && !ACTIVE.has(now.status)) return toResult(now, true);
      if (now && !inFlight(now, config.clock())) return toResult(now, true);
      throw new TallyError(
        'COMMAND_IN_FLIGHT',
        `command ${spec.name}: another attempt with this idempotency key is in progress; retry later`,
        { details: { commandId: row.id } },
      );
    }
    await sleep(Math.min(25, left));
  }
}

function inFlight(row: CommandRow, now: Date): boolean {
  return row.lease_owner !== null && row.lease_until !== null && row.lease_until.getTime() > now.getTime();
}
