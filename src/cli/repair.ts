import { recordRepair } from '../actions/actions.js';
import { plural } from '../plural.js';
import { applyRepair, planRepair } from '../reconcile/repair.js';
import { formatPlan, formatRepair, formatReport } from '../reconcile/report.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import { parseCommand, stringOption } from './options.js';
import { CHECK_OPTIONS, EXIT_DRIFT, withEntities } from './reconcile.js';
import { progressPrinter } from './reconcile-progress.js';

export const OPTIONS = {
  ...CHECK_OPTIONS,
  apply: { type: 'boolean' },
  actor: { type: 'string' },
  reason: { type: 'string' },
  'accept-missing-log': { type: 'boolean' },
} as const;

const ACCEPT = '--accept-missing-log';

/**
 * `tally repair`: reconciles, then prints the repair plan (a dry run: nothing is written). With
 * `--apply --actor WHO --reason WHY` it prints the plan, backfills each repairable finding as a chained
 * `repair` log entry (progress per chunk), then checks again (with progress). Repairs over missing log
 * entries (they may have been deleted) are withheld unless `--accept-missing-log` is given. Exit 0 when
 * nothing is left to do, 3 when findings remain for a person (withheld repairs included).
 *
 * @example
 * await repairCommand(['--module', './tally.setup.mjs', '--apply', '--actor', 'ops:alice', '--reason', 'INC-7'], io);
 */
export async function repairCommand(args: string[], io: Io): Promise<number> {
  const values = parseCommand('repair', args, OPTIONS);
  const actor = stringOption(values, 'actor', 'repair');
  const reason = stringOption(values, 'reason', 'repair');
  if (values.apply && (actor === undefined || reason === undefined)) {
    throw new UsageError(
      'tally repair: --apply needs --actor WHO and --reason WHY (both are recorded on every repair entry)',
    );
  }
  if (!values.apply && (actor !== undefined || reason !== undefined || values['accept-missing-log'])) {
    throw new UsageError(
      `tally repair: --actor, --reason and ${ACCEPT} only apply with --apply (without it this is a dry run)`,
    );
  }
  const json = values.json === true;
  return withEntities('repair', values, io, async (tally, entities, check) => {
    const report = await check();
    const plan = planRepair(report);
    if (!values.apply) {
      if (json) io.out(JSON.stringify({ applied: false, plan, report }, null, 2));
      else {
        io.out(formatPlan(plan, { acceptWith: ACCEPT }));
        io.out(
          plan.repairs.length
            ? 'dry run: nothing was written; run again with --apply --actor WHO --reason WHY'
            : 'nothing to repair',
        );
      }
      return EXIT_OK;
    }
    const accept = values['accept-missing-log'] === true;
    const todo = plan.repairs.filter((r) => accept || !r.missingLog).length;
    if (!json) {
      io.out(formatPlan(plan, { acceptWith: ACCEPT, accepted: accept }));
      io.err(
        todo
          ? `repair: applying ${plural(todo, 'repair')} (a transaction per 1000 rows)`
          : 'repair: nothing to apply',
      );
    }
    const progress = progressPrinter(io);
    const result = await applyRepair(entities, plan, {
      actor: actor!,
      reason: reason!,
      acceptMissingLog: accept,
      ...(json ? {} : { onProgress: progress.update }),
    });
    progress.end();
    // An operator action like the console's repair (decision 0148): who and why in operator_actions too.
    await recordRepair(tally.config, plan, result, { actor: actor!, reason: reason! });
    if (!json) {
      io.out(formatRepair(result, ACCEPT));
      io.err('repair: checking again');
    }
    const after = await check();
    if (json) io.out(JSON.stringify({ applied: true, plan, result, after }, null, 2));
    else io.out(formatReport(after));
    return after.ok ? EXIT_OK : EXIT_DRIFT;
  });
}
