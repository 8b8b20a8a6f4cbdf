import { checkDownstreams } from '../http/console/downstream.js';
import { formatCommandsReport } from '../reconcile/commands/format.js';
import { reconcileCommands } from '../reconcile/commands/reconcile.js';
import { planRedrive } from '../reconcile/commands/redrive.js';
import { createTally } from '../tally.js';
import { openDatabase } from './connect.js';
import { CliError, EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import { DATABASE_OPTIONS, databaseOptions, parseCommand, stringOption } from './options.js';
import { runSetupModule } from './worker-module.js';

export const OPTIONS = {
  ...DATABASE_OPTIONS,
  module: { type: 'string' },
  downstream: { type: 'string' },
  type: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  all: { type: 'boolean' },
  apply: { type: 'boolean' },
  actor: { type: 'string' },
  reason: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function time(values: Record<string, unknown>, name: 'since' | 'until'): Date | undefined {
  const v = stringOption(values, name, 'redrive');
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (!/^\d{4}-\d\d-\d\d/.test(v) || Number.isNaN(d.getTime())) {
    throw new UsageError(`tally redrive: --${name} must be an ISO 8601 time, e.g. 2026-12-07T10:00:00Z`);
  }
  return d;
}

/**
 * `tally redrive --module PATH --downstream NAME [...] [--apply --actor WHO --reason WHY]`: the commands <->
 * downstream check of one configured downstream and its re-drive (decision 0149), as the console offers it.
 * Without --apply a dry run that writes nothing; with it, tally.actions.redrive (recorded per command).
 *
 * @example
 * await redriveCommand(['--module', './tally.setup.mjs', '--downstream', 'prizes'], io);
 */
export async function redriveCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('redrive', args, OPTIONS);
  const opts = databaseOptions(values, 'redrive');
  const modulePath = stringOption(values, 'module', 'redrive');
  const name = stringOption(values, 'downstream', 'redrive');
  if (modulePath === undefined || name === undefined) {
    throw new UsageError(
      'tally redrive: --module PATH and --downstream NAME are required (the module exports the downstreams)',
    );
  }
  const actor = stringOption(values, 'actor', 'redrive');
  const reason = stringOption(values, 'reason', 'redrive');
  const apply = values.apply === true;
  if (apply && (actor === undefined || reason === undefined)) {
    throw new UsageError('tally redrive: --apply needs --actor WHO and --reason WHY (both are recorded)');
  }
  if (!apply && (actor !== undefined || reason !== undefined)) {
    throw new UsageError(
      'tally redrive: --actor and --reason only apply with --apply (without it this is a dry run)',
    );
  }
  const since = time(values, 'since');
  const until = time(values, 'until');
  const json = values.json === true;
  const conn = await openDatabase(opts, io.env, io.cwd, { mustExist: true });
  try {
    const tally = await createTally({ db: conn.db, schema: opts.schema });
    await tally.assertMigrated();
    const { exports } = await runSetupModule(modulePath, io.cwd, tally);
    const list = checkDownstreams(exports.downstreams ?? []);
    const d = list.find((x) => x.name === name);
    if (!d) {
      throw new CliError(
        'DOWNSTREAM_NOT_CONFIGURED',
        `${modulePath} exports no downstream named ${name} (its downstreams: ${list.map((x) => x.name).join(', ') || 'none'})`,
      );
    }
    const type = stringOption(values, 'type', 'redrive') ?? (d.types.length === 1 ? d.types[0] : undefined);
    if (type === undefined || !d.types.includes(type)) {
      throw new UsageError(
        `tally redrive: --type must be one of ${name}'s command types: ${d.types.join(', ')}`,
      );
    }
    const report = await reconcileCommands({
      db: conn.db,
      schema: opts.schema,
      type,
      downstream: d.source,
      scope: values.all === true ? 'all' : 'open',
      ...(d.step === undefined ? {} : { step: d.step }),
      ...(since ? { since } : {}),
      ...(until ? { until } : {}),
      alarm: false, // as in the console (decision 0149): alerting is the app's scheduled round's
      ...(apply ? {} : { settle: false }),
    });
    const plan = planRedrive(report);
    const planLine = `plan: ${plan.redrive.length} to re-drive, ${plan.manual.length} for a person (finished commands)`;
    if (!apply || plan.redrive.length === 0) {
      if (json) io.out(JSON.stringify({ applied: false, report, plan }, null, 2));
      else {
        io.out(formatCommandsReport(report));
        io.out(planLine);
        io.out(
          !apply && plan.redrive.length > 0
            ? 'dry run: nothing was written; run again with --apply --actor WHO --reason WHY'
            : 'nothing to re-drive',
        );
      }
      return EXIT_OK;
    }
    const done = await tally.actions.redrive(plan, { actor: actor!, reason: reason! });
    if (json) io.out(JSON.stringify({ applied: true, report, plan, redriven: done.redriven }, null, 2));
    else {
      io.out(formatCommandsReport(report));
      io.out(planLine);
      for (const c of done.redriven) io.out(`${c.id} ${c.from} -> due now`);
      const n = done.redriven.length;
      io.out(
        `${n} command${n === 1 ? '' : 's'} re-driven by ${actor}: a running worker drives ${n === 1 ? 'it' : 'them'} now`,
      );
    }
    return EXIT_OK;
  } finally {
    await conn.close();
  }
}
