import { sqlStateOf } from '../db/errors.js';
import type { Row } from '../db/types.js';
import { TallyError } from '../errors.js';
import { performCall, planCall, planFollowingCall } from './call.js';
import { asStored } from './canonical.js';
import { type CommandRuntime, describeError, inCommandScope, StepFailure, stepContext } from './context.js';
import { commandStore } from './dialect/index.js';
import type { InsertCommand } from './dialect/types.js';
import { ACTIVE, CommandDuplicate, CommandMoved, Draft, lockRow, normalizeRow } from './machine.js';
import { observedDrive, observedStep } from './observe-hooks.js';
import type { Plan } from './plan.js';
import type { CommandRow } from './sql.js';

/**
 * Drives a command the caller holds the lease of as far as it can go now: each step in its own
 * transaction under the row lock, downstream calls outside any transaction. Returns the row where it
 * stopped (finished, waiting for an unknown outcome, or taken over by someone else).
 */
export async function drive(
  rt: CommandRuntime,
  id: string,
  owner: string,
  recorded?: CommandRow,
  unrecorded: InsertCommand | null = null,
): Promise<CommandRow> {
  const o = rt.config.observer;
  return o.on
    ? observedDrive(o, rt.spec.name, () => driveOnce(rt, id, owner, recorded, unrecorded))
    : driveOnce(rt, id, owner, recorded, unrecorded);
}

/**
 * `unrecorded`: the command is not recorded yet; its record opens its first local step's transaction
 * (decision 0125). CommandDuplicate when the key was recorded by another submit (nothing of this one is kept).
 */
async function driveOnce(
  rt: CommandRuntime,
  id: string,
  owner: string,
  recorded: CommandRow | undefined,
  unrecorded: InsertCommand | null,
): Promise<CommandRow> {
  const queried = new Set<string>();
  let fresh = recorded ?? null;
  let first = unrecorded;
  for (;;) {
    const plan = await next(rt, id, owner, queried, fresh, first);
    fresh = null;
    first = null;
    if (plan.kind === 'stop') return plan.row;
    if (plan.kind === 'io') {
      if (plan.what === 'query') queried.add(plan.step);
      const after = await performCall(rt, id, owner, plan);
      if (after.kind === 'stop') return after.row;
    }
  }
}

/**
 * One locked transaction: run the local step, the compensation, or plan the call that is due.
 *
 * `fresh` is the row the submitter has just recorded (and leases): nobody else has seen it yet, so a
 * first local step runs without locking it first and its save applies only if the row still has this
 * owner, status and step (compare-and-set; the save's UPDATE holds the lock to the commit). That saves
 * one round trip of the ~8 a one-step command costs. If someone took the command over meanwhile
 * (only after the lease ran out), the step's transaction rolls back and the next round sees the new
 * owner under the lock and stops (docs/decisions/0024).
 */
async function next(
  rt: CommandRuntime,
  id: string,
  owner: string,
  queried: ReadonlySet<string>,
  fresh: CommandRow | null = null,
  unrecorded: InsertCommand | null = null,
): Promise<Plan> {
  const { config, spec } = rt;
  const store = commandStore(config);
  let failing: { d: Draft; step: string } | null = null;
  let compensating = false;
  const unlocked =
    fresh !== null &&
    fresh.status === 'pending' &&
    fresh.lease_owner === owner &&
    spec.steps[fresh.step_index]?.kind === 'local';
  // Not recorded yet: the record opens the step's transaction (one round trip with the BEGIN, decision
  // 0125). A submit of the same key holding its record uncommitted makes this one wait for its commit.
  const opening = unrecorded ? store.recordStatement!(unrecorded) : undefined;
  let opened: Row[] | null = null;
  try {
    return await config.db.transaction(
      async (tx): Promise<Plan> => {
        let row: CommandRow;
        if (opening) {
          const [inserted] = opened ?? (await tx.query(opening));
          if (!inserted) throw new CommandDuplicate(id);
          row = normalizeRow(inserted);
        } else {
          row = unlocked ? fresh! : await lockRow(tx, store, id);
        }
        if (row.lease_owner !== owner || !ACTIVE.has(row.status)) return { kind: 'stop', row };
        const d = new Draft(store, row, spec, config.clock(), unlocked);
        if (opening) d.commitOnSave(tx); // this transaction inserted the row: its save cannot miss
        d.keepLease(owner);
        if (row.status === 'compensating') {
          compensating = true;
          const ctx = stepContext(tx, d, 'compensate');
          await inCommandScope(ctx, () => spec.def.compensate!(ctx));
          d.compensated();
          return { kind: 'stop', row: await d.save(tx) };
        }
        const step = spec.steps[row.step_index]!;
        failing = { d, step: step.name };
        if (step.kind === 'call') return planCall(tx, { config, owner }, d, step, queried);
        const ctx = stepContext(tx, d, step.name);
        const o = config.observer; // off: the step runs as it did before observing existed (no wrapper)
        const out = o.on
          ? // No async wrapper: the span takes the step's value or promise as it is (a sync throw too), one
            // promise fewer per step under tracing.
            await observedStep(
              o,
              spec.name,
              step.name,
              () => inCommandScope(ctx, () => step.run(ctx)) as Promise<unknown>,
            )
          : await inCommandScope(ctx, () => step.run(ctx));
        const output = asStored(out, `step ${step.name} output`);
        d.stepDone(step.name, output);
        const following = spec.steps[d.row.step_index];
        if (d.row.status === 'pending' && following?.kind === 'call') {
          // The step and the call's recorded send commit together (a failure here undoes both).
          const planned = await planFollowingCall(tx, { config, owner }, d, following);
          if (planned) return planned;
        }
        const saved = await d.save(tx);
        return ACTIVE.has(saved.status) ? { kind: 'again' } : { kind: 'stop', row: saved };
      },
      opening
        ? {
            opening,
            opened: (rows) => {
              opened = rows;
            },
          }
        : undefined,
    );
  } catch (err) {
    if (err instanceof CommandMoved) return { kind: 'again' }; // the locked round will see who has it
    if (err instanceof CommandDuplicate) throw err; // the submitter answers as a retry of the recorded one
    // A first step that failed or broke before its command was recorded: record it now (the plain
    // record, its own statement; CommandDuplicate if another submit got there first), then as below.
    if (unrecorded) await recordAlone(rt, unrecorded);
    const f = failing as { d: Draft; step: string } | null;
    if (err instanceof StepFailure && f && f.d.row.status === 'pending') {
      return recordFailure(rt, id, owner, f.d, f.step, err);
    }
    if (err instanceof TallyError && err.code === 'COMMAND_NOT_FOUND') throw err;
    if (compensating && refusedByDatabase(err)) return recordRefusedCompensation(rt, id, owner, err);
    return recordTransient(rt, id, owner, f?.step ?? (err instanceof StepFailure ? 'compensate' : null), err);
  }
}

/** The plain record of a command whose first step did not commit (decision 0125). */
async function recordAlone(rt: CommandRuntime, record: InsertCommand): Promise<void> {
  const inserted = await commandStore(rt.config).insertCommand(rt.config.db, {
    ...record,
    asyncRecord: false,
  });
  if (!inserted) throw new CommandDuplicate(record.id);
}

/** A step said no: its effects were rolled back; record the failure with the decisions that led to it. */
async function recordFailure(
  rt: CommandRuntime,
  id: string,
  owner: string,
  failed: Draft,
  step: string,
  f: StepFailure,
): Promise<Plan> {
  const { config, spec } = rt;
  const store = commandStore(config);
  return config.db.transaction(async (tx) => {
    const row = await lockRow(tx, store, id);
    if (row.lease_owner !== owner || row.status !== 'pending' || row.step_index !== failed.row.step_index) {
      return { kind: 'stop', row };
    }
    const d = new Draft(store, row, spec, config.clock());
    Object.assign(d.row.decisions, failed.row.decisions);
    d.events.push(...failed.events.filter((e) => e.kind === 'decision'));
    d.keepLease(owner);
    d.failDefinitely(step, f.reason, f.details);
    const saved = await d.save(tx);
    return ACTIVE.has(saved.status) ? { kind: 'again' } : { kind: 'stop', row: saved };
  });
}

/**
 * The database refused the compensation itself (a constraint, a trigger, a bad value): running it again
 * cannot help, so it is not retried until the deadline — it goes to a person with the database's reason.
 */
function refusedByDatabase(err: unknown): boolean {
  const state = sqlStateOf(err);
  return state !== undefined && (state.startsWith('23') || state.startsWith('22') || state === 'P0001');
}

async function recordRefusedCompensation(
  rt: CommandRuntime,
  id: string,
  owner: string,
  err: unknown,
): Promise<Plan> {
  const { config, spec } = rt;
  const store = commandStore(config);
  return config.db.transaction(async (tx) => {
    const row = await lockRow(tx, store, id);
    if (row.lease_owner !== owner || row.status !== 'compensating') return { kind: 'stop', row };
    const d = new Draft(store, row, spec, config.clock());
    const why = describeError(err);
    d.events.push({ kind: 'error', step: 'compensate', data: { error: why } });
    d.flag(
      'compensate',
      `command ${spec.name}: the database refused its compensation (${String(why.message)}); it will not be retried until a person acts`,
      { why: 'compensation_refused', sqlState: sqlStateOf(err), error: why.message },
    );
    return { kind: 'stop', row: await d.save(tx) };
  });
}

/** A transient error (a bug, a lost connection): nothing of the step was kept; back off and retry. */
async function recordTransient(
  rt: CommandRuntime,
  id: string,
  owner: string,
  step: string | null,
  err: unknown,
): Promise<Plan> {
  const { config, spec } = rt;
  const store = commandStore(config);
  return config.db.transaction(async (tx) => {
    const row = await lockRow(tx, store, id);
    if (row.lease_owner !== owner || !ACTIVE.has(row.status)) return { kind: 'stop', row };
    const d = new Draft(store, row, spec, config.clock());
    d.attemptFailed('error', step, { error: describeError(err) });
    return { kind: 'stop', row: await d.save(tx) };
  });
}
