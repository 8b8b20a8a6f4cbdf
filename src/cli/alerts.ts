import type { Alert, AlertDeliveryRecord } from '../commands/alerts.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import {
  DATABASE_OPTIONS,
  databaseOptions,
  intOption,
  parseWithPositionals,
  stringOption,
} from './options.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  type: { type: 'string' },
  id: { type: 'string' },
  open: { type: 'boolean' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  actor: { type: 'string' },
  reason: { type: 'string' },
  alert: { type: 'string' },
  pending: { type: 'boolean' },
} as const;

function line(a: Alert): string {
  const state = a.resolvedAt
    ? `resolved ${a.resolvedAt.toISOString()}${a.resolvedBy ? ` by ${a.resolvedBy}: ${a.resolvedReason}` : ''}`
    : 'open';
  return `${a.id}  ${a.at.toISOString()}  ${a.commandType}  ${a.kind}  command ${a.commandId ?? '-'}  ${state}\n    ${a.message}`;
}

function deliveryLine(d: AlertDeliveryRecord): string {
  const when =
    d.status === 'pending'
      ? `next attempt ${d.nextAt.toISOString()}`
      : `${d.status} ${d.doneAt?.toISOString()}`;
  const acked = d.acked.length > 0 ? `  acked by ${d.acked.join(', ')}` : '';
  const error = d.lastError ? `\n    last error: ${d.lastError}` : '';
  return `alert ${d.alertId}  delivery ${d.deliveryId}  ${d.status}  ${d.attempts} attempts  ${when}${acked}${error}`;
}

/**
 * `tally alerts [filters]` lists alerts; `tally alerts deliveries` their deliveries (decision 0144); `tally alerts resolve ALERT --actor WHO --reason WHY` resolves one.
 *
 * @example
 * await alertsCommand(['resolve', '42', '--actor', 'ops:ana', '--reason', 'ticket 77'], io);
 */
export async function alertsCommand(args: string[], io: Io): Promise<number> {
  const resolving = args[0] === 'resolve';
  const deliveries = args[0] === 'deliveries';
  const command = resolving ? 'alerts resolve' : deliveries ? 'alerts deliveries' : 'alerts';
  const { values, positionals } = parseWithPositionals(
    command,
    resolving || deliveries ? args.slice(1) : args,
    OPTIONS,
    resolving ? 1 : 0,
  );
  const opts = databaseOptions(values, command);
  const only = (names: readonly string[], what: string) => {
    for (const n of names) {
      if (values[n as keyof typeof values] !== undefined)
        throw new UsageError(`tally ${command}: --${n} ${what}`);
    }
  };
  if (deliveries) {
    only(['type', 'id', 'open', 'actor', 'reason'], 'is not for `tally alerts deliveries`');
    const alertId = stringOption(values, 'alert', command);
    const limit = intOption(values, 'limit', command, 1, 100_000) ?? 100;
    const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
    try {
      const tally = await createTally({ db: conn.db, schema: opts.schema });
      await tally.assertMigrated();
      const list = await tally.alerts.deliveries({
        ...(alertId === undefined ? {} : { alertId }),
        pending: values.pending === true,
        limit,
      });
      if (values.json) io.out(JSON.stringify(list, null, 2));
      else if (list.length === 0) io.out(`no ${values.pending ? 'pending ' : ''}alert deliveries`);
      else for (const d of list) io.out(deliveryLine(d));
      return EXIT_OK;
    } finally {
      await conn.close();
    }
  }
  only(['alert', 'pending'], 'is for `tally alerts deliveries`');
  let resolve: { id: string; actor: string; reason: string } | null = null;
  let filter: { type?: string; commandId?: string; open: boolean; limit: number } | null = null;
  if (resolving) {
    only(['type', 'id', 'open', 'limit', 'json'], 'is for listing alerts, not for resolving one');
    const id = positionals[0];
    const actor = stringOption(values, 'actor', command);
    const reason = stringOption(values, 'reason', command);
    if (id === undefined || !actor || !reason) {
      throw new UsageError('tally alerts resolve: ALERT, --actor WHO and --reason WHY are required');
    }
    resolve = { id, actor, reason };
  } else {
    only(['actor', 'reason'], 'is for `tally alerts resolve`');
    const type = stringOption(values, 'type', command);
    const commandId = stringOption(values, 'id', command);
    filter = {
      ...(type === undefined ? {} : { type }),
      ...(commandId === undefined ? {} : { commandId }),
      open: values.open === true,
      limit: intOption(values, 'limit', command, 1, 100_000) ?? 100,
    };
  }
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    if (resolve) {
      const r = await tally.alerts.resolve(resolve.id, resolve);
      const a = r.alert;
      io.out(
        r.resolved
          ? `alert ${a.id} resolved by ${a.resolvedBy}; the reconciler stays quiet about it until command ${a.commandId ?? '-'} changes status`
          : `alert ${a.id} was resolved already (${a.resolvedAt?.toISOString()}${a.resolvedBy ? ` by ${a.resolvedBy}` : ''}): nothing changed`,
      );
      return EXIT_OK;
    }
    const list = await tally.alerts.list(filter!);
    if (values.json) io.out(JSON.stringify(list, null, 2));
    else if (list.length === 0) io.out(`no ${filter!.open ? 'open ' : ''}alerts`);
    else for (const a of list) io.out(line(a));
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
