import type { Executor } from '../../db/types.js';
import { TallyError } from '../../errors.js';
import { reconcileCommands } from '../../reconcile/commands/reconcile.js';
import { planRedrive } from '../../reconcile/commands/redrive.js';
import type { CommandDifference, CommandsReport, DownstreamSource } from '../../reconcile/commands/types.js';
import type { Tally } from '../../tally.js';
import { ConsoleError } from './problem.js';
import { isUuid } from './query.js';

/**
 * A downstream the console can check commands against (decision 0149): the operator picks it by name in
 * the Reconcile view; its records come from the source configured here, never from the page (no URL or
 * credential is ever typed into the console or shown by it).
 */
export interface ConsoleDownstream {
  /** What the operator picks (e.g. the name the command's call step gives its downstream). */
  name: string;
  /** The command types whose calls go to it. */
  types: readonly string[];
  /** Only this call step of those types (default: every call step). */
  step?: string;
  /** Its records: a lookup adapter or a table in another database (docs/reconcile-xdb.md). */
  source: DownstreamSource;
}

const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;

/** Checks the configured downstreams (INVALID_CONFIG naming the entry). */
export function checkDownstreams(list: unknown): readonly ConsoleDownstream[] {
  if (list === undefined) return [];
  const bad = (why: string): never => {
    throw new TallyError('INVALID_CONFIG', `downstreams: ${why}`);
  };
  if (!Array.isArray(list)) bad('must be a list of { name, types, source }');
  const seen = new Set<string>();
  for (const [i, d] of (list as unknown[]).entries()) {
    const e = d as Partial<ConsoleDownstream> | null;
    if (!e || typeof e !== 'object') bad(`entry ${i} must be { name, types, source }`);
    if (typeof e!.name !== 'string' || !NAME.test(e!.name))
      bad(`entry ${i}'s name must be 1-100 letters, digits, _ . : -`);
    if (seen.has(e!.name!)) bad(`two entries are named ${e!.name}`);
    seen.add(e!.name!);
    const types = e!.types;
    if (!Array.isArray(types) || types.length === 0 || types.some((t) => typeof t !== 'string' || t === '')) {
      bad(`${e!.name}'s types must be a non-empty list of command types`);
    }
    if (e!.step !== undefined && (typeof e!.step !== 'string' || e!.step === ''))
      bad(`${e!.name}'s step must be a step name`);
    if (!e!.source || typeof e!.source !== 'object')
      bad(`${e!.name}'s source must be { lookup } or { db, table, key }`);
  }
  return Object.freeze([...(list as ConsoleDownstream[])]);
}

/** GET /api/reconcile/downstreams: what the operator may pick; a table source's database is never shown. */
export function downstreamList(list: readonly ConsoleDownstream[]) {
  return {
    items: list.map((d) => ({
      name: d.name,
      types: [...d.types],
      step: d.step ?? null,
      source: 'lookup' in d.source ? 'lookup' : 'table',
    })),
  };
}

// Differences the answer carries (counts stay exact); a re-drive takes at most this many commands a call.
export const MAX_DIFFERENCES = 1000;

/** What a check or a re-drive takes from its body. */
export interface CommandsCheckRequest {
  readonly downstream: ConsoleDownstream;
  readonly type: string;
  readonly since: Date | null;
  readonly until: Date | null;
  readonly scope: 'open' | 'all';
}

function time(body: Readonly<Record<string, unknown>>, name: 'since' | 'until'): Date | null {
  const v = body[name];
  if (v === undefined || v === null || v === '') return null;
  const d = typeof v === 'string' && /^\d{4}-\d\d-\d\d/.test(v) ? new Date(v) : null;
  if (!d || Number.isNaN(d.getTime())) {
    throw new ConsoleError('MALFORMED_BODY', `the body's ${name} must be an ISO 8601 time`, { param: name });
  }
  return d;
}

/** Reads `{ downstream, type, since?, until?, scope? }` against the configured downstreams. */
export function checkRequest(
  list: readonly ConsoleDownstream[],
  body: Readonly<Record<string, unknown>>,
): CommandsCheckRequest {
  const name = body.downstream;
  const downstream = list.find((d) => d.name === name);
  if (!downstream) {
    if (typeof name !== 'string') {
      throw new ConsoleError('MALFORMED_BODY', "the body's downstream is missing", { param: 'downstream' });
    }
    throw new ConsoleError(
      'DOWNSTREAM_NOT_CONFIGURED',
      list.length === 0
        ? 'this server has no downstream configured: start it with one (tally serve --module, export downstreams; or startConsoleServer({ downstreams }))'
        : 'this server has no downstream of this name',
      { downstreams: list.map((d) => d.name) },
    );
  }
  const type = body.type ?? (downstream.types.length === 1 ? downstream.types[0] : undefined);
  if (typeof type !== 'string' || !downstream.types.includes(type)) {
    throw new ConsoleError(
      'MALFORMED_BODY',
      "the body's type must be one of the downstream's command types",
      {
        param: 'type',
        types: [...downstream.types],
      },
    );
  }
  const scope = body.scope ?? 'open';
  if (scope !== 'open' && scope !== 'all') {
    throw new ConsoleError('MALFORMED_BODY', "the body's scope must be open or all", { param: 'scope' });
  }
  const since = time(body, 'since');
  const until = time(body, 'until');
  if (since && until && since >= until) {
    throw new ConsoleError('MALFORMED_BODY', 'since must be before until', { param: 'since' });
  }
  return { downstream, type, since, until, scope };
}

function run(db: Executor, schema: string, r: CommandsCheckRequest, write: boolean): Promise<CommandsReport> {
  return reconcileCommands({
    db,
    schema,
    type: r.type,
    downstream: r.downstream.source,
    scope: r.scope,
    ...(r.downstream.step === undefined ? {} : { step: r.downstream.step }),
    ...(r.since ? { since: r.since } : {}),
    ...(r.until ? { until: r.until } : {}),
    // Never an alert from the page: the dry run writes nothing at all (no settle mark either: a read token
    // runs it), and the re-drive's check marks agreeing calls settled but leaves alerting to the app's
    // scheduled round (the operator is looking at these mismatches now).
    alarm: false,
    ...(write ? {} : { settle: false }),
  });
}

const shown = (d: CommandDifference, plan: 'redrive' | 'manual' | null) => ({
  commandId: d.commandId,
  key: d.key,
  principal: d.principal,
  step: d.step,
  downstreamKey: d.downstreamKey,
  status: d.status,
  upstream: d.upstream,
  downstream: d.downstream,
  kind: d.kind,
  state: d.state,
  alert: d.alert ?? null,
  plan,
  createdAt: d.createdAt,
});

/** POST /api/reconcile/commands: the commands <-> downstream check as a dry run, and its re-drive plan. */
export async function commandsCheck(db: Executor, schema: string, r: CommandsCheckRequest) {
  const report = await run(db, schema, r, false);
  const plan = planRedrive(report);
  const redrive = new Set(plan.redrive.map((m) => m.downstreamKey));
  const all = [...report.mismatches, ...report.pending];
  return {
    downstream: r.downstream.name,
    type: r.type,
    scope: r.scope,
    dryRun: true,
    ok: all.length === 0,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    checked: report.checked,
    agree: report.agree,
    counts: { mismatches: report.mismatches.length, pending: report.pending.length },
    redrive: plan.redrive.length,
    manual: plan.manual.length,
    truncated: all.length > MAX_DIFFERENCES,
    differences: all
      .slice(0, MAX_DIFFERENCES)
      .map((d) =>
        shown(d, d.state === 'pending' ? null : redrive.has(d.downstreamKey) ? 'redrive' : 'manual'),
      ),
  };
}

/**
 * The re-drive action: runs the check again (settle marks, no alert), plans
 * the re-drive (only the given commands, when given) and applies it through tally.actions.redrive, which
 * records the operator per command. Nothing to re-drive: ACTION_NOT_APPLICABLE (409).
 */
export async function redriveCommands(
  tally: Tally,
  db: Executor,
  schema: string,
  r: CommandsCheckRequest,
  ids: readonly string[] | null,
  by: { actor: string; reason: string },
) {
  const report = await run(db, schema, r, true);
  const plan = planRedrive(report);
  const only = ids === null ? null : new Set(ids.map((i) => i.toLowerCase()));
  const chosen = { ...plan, redrive: plan.redrive.filter((m) => !only || only.has(m.commandId)) };
  const done = await tally.actions.redrive(chosen, by);
  return {
    downstream: r.downstream.name,
    type: r.type,
    redriven: done.redriven,
    manual: plan.manual.map((m) => ({ commandId: m.commandId, kind: m.kind })),
  };
}

/** The body's commandIds: a list of UUIDs (at most MAX_DIFFERENCES), or null for every one planned. */
export function commandIds(body: Readonly<Record<string, unknown>>): string[] | null {
  const v = body.commandIds;
  if (v === undefined) return null;
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    v.length > MAX_DIFFERENCES ||
    v.some((x) => typeof x !== 'string' || !isUuid(x))
  ) {
    throw new ConsoleError('MALFORMED_BODY', "the body's commandIds must be a list of command ids", {
      param: 'commandIds',
    });
  }
  return v as string[];
}
