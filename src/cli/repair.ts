import { applyRepair, planRepair } from '../reconcile/repair.js';
import { formatPlan, formatRepair, formatReport } from '../reconcile/report.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { Io } from './io.js';
import { parseCommand, stringOption } from './options.js';
import { CHECK_OPTIONS, EXIT_DRIFT, withEntities } from './reconcile.js';

export const OPTIONS = {
  ...CHECK_OPTIONS,
  apply: { type: 'boolean' },
  actor: { type: 'string' },
  reason: { type: 'string' },
} as const;

/**
 * `tally repair`: reconciles, then prints the repair plan (a dry run: nothing is written). With
 * `--apply --actor WHO --reason WHY` it backfills each repairable finding as a chained `repair` log
 * entry, then checks again. Exit 0 when nothing is left to do, 3 when findings remain for a person.
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
  if (!values.apply && (actor !== undefined || reason !== undefined)) {
    throw new UsageError(
      'tally repair: --actor and --reason only apply with --apply (without it this is a dry run)',
    );
  }
  return withEntities('repair', values, io, async (_tally, entities, check) => {
    const report = await check();
    const plan = planRepair(report);
    if (!values.apply) {
      if (values.json) io.out(JSON.stringify({ applied: false, plan, report }, null, 2));
      else {
        io.out(formatPlan(plan));
        io.out(
          plan.repairs.length
            ? 'dry run: nothing was written; run again with --apply --actor WHO --reason WHY'
            : 'nothing to repair',
        );
      }
      return EXIT_OK;
    }
    const result = await applyRepair(entities, plan, { actor: actor!, reason: reason! });
    const after = await check(true);
    if (values.json) io.out(JSON.stringify({ applied: true, plan, result, after }, null, 2));
    else {
      io.out(formatRepair(result));
      io.out(formatReport(after));
    }
    return after.ok ? EXIT_OK : EXIT_DRIFT;
  });
}
