import type { CommandsReport } from './types.js';

/**
 * A human summary of a command reconciliation: counts, then each mismatch and pending difference.
 *
 * @example
 * console.log(formatCommandsReport(await reconcileCommands(options)));
 */
export function formatCommandsReport(r: CommandsReport, limit = 20): string {
  const lines = [
    `commands ${r.type}: ${r.checked} calls checked, ${r.agree} agree, ${r.pending.length} pending (worker resolving), ` +
      `${r.mismatches.length} mismatches (${r.alarmed} newly alarmed), ${r.nudged} nudged, ${r.settled} settled`,
  ];
  for (const [title, list] of [
    ['mismatch', r.mismatches],
    ['pending', r.pending],
  ] as const) {
    for (const d of list.slice(0, limit)) {
      lines.push(
        `  ${title}: ${d.kind} command ${d.commandId} (${d.status}, key ${d.key}) call ${d.step}${d.alert ? ` [alert ${d.alert}]` : ''}`,
      );
    }
    if (list.length > limit) lines.push(`  ... ${list.length - limit} more ${title}`);
  }
  return lines.join('\n');
}
