import { quoteIdent } from '../../db/ident.js';
import type { Executor, SqlQuery } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { mismatchOf, stateOf } from './classify.js';
import { resolveDownstream } from './downstream.js';
import { alarmSql, type CallAndCommand, callsPageSql, nudgeSql, settleSql } from './sql.js';
import type { CommandDifference, CommandsReport, ReconcileCommandsOptions } from './types.js';

/** Statuses a command never leaves: its agreeing calls are settled for good. */
const FINISHED = new Set(['succeeded', 'failed']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function bad(message: string): never {
  throw new TallyError('INVALID_RECONCILE_OPTIONS', message);
}

function resolve(o: ReconcileCommandsOptions) {
  if (!o || typeof o !== 'object') bad('reconcileCommands needs options');
  if (!o.db || typeof o.db.query !== 'function' || typeof o.db.transaction !== 'function') {
    bad('db must be an executor: postgres(pool) or await pglite(dir)');
  }
  const s = quoteIdent(o.schema ?? 'tally', 'schema');
  if (typeof o.type !== 'string' || o.type.length === 0 || o.type.length > 200)
    bad('type must be a command type name');
  if (o.step !== undefined && (typeof o.step !== 'string' || o.step.length === 0))
    bad('step must be a step name');
  for (const [name, d] of [
    ['since', o.since],
    ['until', o.until],
  ] as const) {
    if (d !== undefined && !(d instanceof Date && !Number.isNaN(d.getTime())))
      bad(`${name} must be a valid Date`);
  }
  if (
    o.ids !== undefined &&
    (!Array.isArray(o.ids) || o.ids.some((id) => typeof id !== 'string' || !UUID.test(id)))
  ) {
    bad('ids must be an array of command ids (UUIDs)');
  }
  const graceMs = o.graceMs ?? 15 * 60_000;
  if (!Number.isInteger(graceMs) || graceMs < 0) bad('graceMs must be an integer >= 0');
  const batchSize = o.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000)
    bad('batchSize must be an integer from 1 to 100000');
  if (o.clock !== undefined && typeof o.clock !== 'function')
    bad('clock must be a function returning a Date');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') bad('onProgress must be a function');
  if (o.scope !== undefined && o.scope !== 'open' && o.scope !== 'all') bad("scope must be 'open' or 'all'");
  return {
    s,
    graceMs,
    batchSize,
    clock: o.clock ?? (() => new Date()),
    downstream: resolveDownstream(o.downstream),
    filter: {
      type: o.type,
      step: o.step ?? null,
      since: o.since ?? null,
      until: o.until ?? null,
      ids: o.ids ?? null,
      open: (o.scope ?? 'open') === 'open',
    },
  };
}

/**
 * Reads one page. An open round's page must come from the partial index over unsettled calls: once a
 * first round has settled a long history, that index is mostly empty pages (a btree keeps its size), and
 * the planner, costing it by pages per live entry, may prefer a scan of the whole table, the very cost
 * this index exists to avoid (decision 0058). So sequential scans are off for that one statement.
 */
async function readPage(db: Executor, q: SqlQuery, open: boolean): Promise<CallAndCommand[]> {
  if (!open) return db.query<CallAndCommand>(q);
  return db.transaction(async (tx) => {
    await tx.exec('SET LOCAL enable_seqscan = off');
    return tx.query<CallAndCommand>(q);
  });
}

/**
 * Checks a command type's downstream calls against the downstream's own records (through a query
 * adapter or a table in another database): finds "upstream failed or unknown, downstream succeeded",
 * "upstream succeeded, downstream has nothing" and the other disagreements. The worker gets the first
 * chance: a difference it may still resolve is `pending` (with `nudge`, made due now) until the grace
 * period is over; what remains is a `mismatch`, alarmed once in `command_alerts` (not again after a
 * person resolved it, until the command's status changes). A round reads only calls that are still
 * open (`scope: 'all'` reads every one): a finished command's call that agrees is settled and not read
 * again (decision 0058). Apart from those settle marks, nothing is written until every batch has been
 * read and looked up, so a failing downstream leaves no alert and no nudge.
 *
 * @example
 * const report = await reconcileCommands({
 *   db, type: 'redeem', since: yesterday, until: today, nudge: true,
 *   downstream: { lookup: async (keys) => prizes.findByKeys(keys) }, // [{ key, outcome: 'success' | 'failure' }]
 * });
 * for (const m of report.mismatches) console.log(m.kind, m.commandId, m.alert);
 */
export async function reconcileCommands(options: ReconcileCommandsOptions): Promise<CommandsReport> {
  const o = resolve(options);
  const db = options.db;
  const startedAt = o.clock();
  const downstream = await o.downstream();
  const differences: CommandDifference[] = [];
  let checked = 0;
  let settled = 0;
  try {
    let after = '';
    for (;;) {
      const page = await readPage(db, callsPageSql(o.s, o.filter, after, o.batchSize), o.filter.open);
      if (page.length === 0) break;
      after = page[page.length - 1]!.downstream_key;
      const found = await downstream.lookup(page.map((r) => r.downstream_key));
      const now = o.clock();
      const settle: string[] = [];
      for (const row of page) {
        const up = row.outcome ?? 'unknown';
        const down = found.get(row.downstream_key) ?? 'missing';
        const kind = mismatchOf(up, down, Number(row.sends));
        if (kind === null) {
          if (FINISHED.has(row.status) && options.settle !== false) settle.push(row.downstream_key);
          continue;
        }
        differences.push({
          commandId: row.command_id,
          type: o.filter.type,
          key: row.key,
          principal: row.principal,
          step: row.step,
          downstreamKey: row.downstream_key,
          status: row.status,
          upstream: up,
          downstream: down,
          kind,
          state: stateOf(row, now, o.graceMs),
          createdAt: new Date(row.created_at).toISOString(),
        });
      }
      // The one write before the end: agreement already found stays true if a later batch fails.
      if (settle.length > 0) {
        const [r] = await db.query<{ n: number }>(settleSql(o.s, settle, now));
        settled += Number(r?.n ?? 0);
      }
      checked += page.length;
      options.onProgress?.({ checked, differences: differences.length });
      if (page.length < o.batchSize) break;
    }
  } finally {
    await downstream.close();
  }
  const pending = differences.filter((d) => d.state === 'pending');
  const mismatches = differences.filter((d) => d.state === 'mismatch');
  const now = o.clock();
  let nudged = 0;
  if (options.nudge && pending.length > 0) {
    const [r] = await db.query<{ n: number }>(
      nudgeSql(o.s, [...new Set(pending.map((d) => d.commandId))], now),
    );
    nudged = Number(r?.n ?? 0);
  }
  let alarmed = 0;
  if (options.alarm !== false && mismatches.length > 0) {
    const answered = await db.transaction(async (tx) =>
      tx.query<{ downstream_key: string; alert: 'new' | 'open' | 'resolved' }>(
        alarmSql(
          o.s,
          mismatches.map((m) => ({
            command_id: m.commandId,
            type: m.type,
            kind: m.kind,
            downstream_key: m.downstreamKey,
            step: m.step,
            upstream: m.upstream,
            downstream: m.downstream,
            status: m.status,
            message: `command ${m.type}: ${m.kind.replaceAll('_', ' ')} (call ${m.step})`,
          })),
          now,
        ),
      ),
    );
    const alert = new Map(answered.map((r) => [r.downstream_key, r.alert]));
    for (const m of mismatches) m.alert = alert.get(m.downstreamKey) ?? 'open';
    alarmed = mismatches.filter((m) => m.alert === 'new').length;
  }
  return {
    type: o.filter.type,
    checked,
    agree: checked - differences.length,
    settled,
    pending,
    mismatches,
    alarmed,
    nudged,
    startedAt: startedAt.toISOString(),
    finishedAt: o.clock().toISOString(),
  };
}
