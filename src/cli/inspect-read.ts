import { findIntake, normalizeIntake } from '../commands/intake.js';
import type { IntakeRow } from '../commands/intake-sql.js';
import { commandByKeySql } from '../commands/sql.js';
import { readTimeline, type Timeline } from '../commands/timeline.js';
import { intakeTimeline, withIntake } from '../commands/timeline-merge.js';
import { TallyError } from '../errors.js';
import type { OpenDatabase } from './connect.js';
import { CliError, describeFailure } from './errors.js';
import { commandsTablePresentSql, inspectIntakeMatchesSql, inspectMatchesSql } from './inspect-sql.js';

/** What `tally inspect` was asked for: an id (when the argument is a UUID) or a key, narrowed. */
export interface InspectRef {
  id: string | null;
  key: string;
  type: string | null;
  principal: string | null;
}

type Row = Record<string, unknown>;
/** One command as each store knows it (either side may be missing). */
type Candidate = { p?: Row; i?: IntakeRow };

/**
 * Reads the command `ref` names from the primary and, when one is named, the failover store (decision
 * 0037), and builds its timeline. The failover store is best effort: when it cannot be opened or read,
 * the primary's records are shown and a warning says what is missing. With a failover store, a primary
 * that cannot be read is best effort too (the command may only be on the failover store); without one,
 * its errors end the command as before.
 *
 * @example
 * const { timeline, warnings } = await readForInspect(open(primary), open(failover), '"tally"', 'tally', ref);
 */
export async function readForInspect(
  openPrimary: () => Promise<OpenDatabase>,
  openFailover: (() => Promise<OpenDatabase>) | null,
  s: string,
  schema: string,
  ref: InspectRef,
): Promise<{ timeline: Timeline; warnings: string[] }> {
  const opened: OpenDatabase[] = [];
  const open = async (f: () => Promise<OpenDatabase>) => {
    const c = await f();
    opened.push(c);
    return c;
  };
  try {
    let primary: OpenDatabase | null = null;
    let primaryError: unknown = null;
    let rows: Row[] = [];
    try {
      primary = await open(openPrimary);
      rows = await primaryMatches(primary, s, schema, ref);
    } catch (err) {
      if (!openFailover) throw err;
      primaryError = err;
    }
    let failover: OpenDatabase | null = null;
    let failoverError: unknown = null;
    let intake: IntakeRow[] = [];
    if (openFailover) {
      try {
        failover = await open(openFailover);
        intake = (await failover.db.query(inspectIntakeMatchesSql(s, ref))).map(normalizeIntake);
      } catch (err) {
        failoverError = err;
      }
    }

    const chosen = choose(rows, intake, ref, schema, primaryError, failoverError);
    // Complete the pair: the other store's record of the same (type, principal, key).
    if (chosen.p && !chosen.i && failover && !failoverError) {
      try {
        chosen.i =
          (await findIntake(failover.db, s, {
            type: String(chosen.p.type),
            principal: String(chosen.p.principal),
            key: String(chosen.p.key),
          })) ?? undefined;
      } catch (err) {
        failoverError = err;
      }
    }
    if (!chosen.p && chosen.i && primary && !primaryError) {
      const { type, principal, key } = chosen.i;
      [chosen.p] = await primary.db.query(commandByKeySql(s, type, principal, key));
    }

    const secondary = !openFailover ? 'none' : failoverError ? 'unavailable' : 'read';
    const timeline =
      chosen.p && primary
        ? withIntake(await readTimeline(s, primary.db, chosen.p), chosen.i ?? null, secondary)
        : intakeTimeline(chosen.i!, primaryError ? 'unavailable' : 'read');
    const warnings: string[] = [];
    if (primaryError) {
      warnings.push(
        `the primary could not be read (${reason(primaryError)}): only the failover store's record is shown`,
      );
    }
    if (failoverError) {
      warnings.push(
        `the failover store could not be read (${reason(failoverError)}): only the primary's records are shown`,
      );
    }
    return { timeline, warnings };
  } finally {
    for (const c of opened) await c.close().catch(() => {});
  }
}

async function primaryMatches(c: OpenDatabase, s: string, schema: string, ref: InspectRef): Promise<Row[]> {
  const [t] = await c.db.query<{ present: boolean }>(commandsTablePresentSql(s));
  if (!t?.present) {
    throw new TallyError(
      'SCHEMA_NOT_MIGRATED',
      `schema ${schema} in ${c.label} has no Tally commands table: run \`tally migrate\` (or pass the right --schema)`,
    );
  }
  return c.db.query(inspectMatchesSql(s, ref));
}

/** The one command both stores' matches mean, or the error saying why there is none or several. */
function choose(
  rows: Row[],
  intake: IntakeRow[],
  ref: InspectRef,
  schema: string,
  primaryError: unknown,
  failoverError: unknown,
): Candidate {
  const byKey = new Map<string, Candidate>();
  type Ref = { type: unknown; principal: unknown; key: unknown };
  // One command per (type, principal, key): a record on each store with that triple is the same one.
  const keyOf = (r: Ref) => JSON.stringify([r.type, r.principal, r.key]);
  for (const p of rows) byKey.set(keyOf(p as Ref), { p });
  for (const i of intake) {
    const c = byKey.get(keyOf(i));
    if (c) c.i = i;
    else byKey.set(keyOf(i), { i });
  }
  let found = [...byKey.values()];
  const exact = found.filter((c) => c.p?.id === ref.id || c.i?.id === ref.id || c.i?.primary_id === ref.id);
  if (ref.id !== null && exact.length === 1) found = exact;
  if (found.length === 0) {
    if (primaryError) throw primaryError;
    const unread = failoverError ? ' (and the failover store could not be read)' : '';
    throw new CliError('COMMAND_NOT_FOUND', `no command with this id or key in schema ${schema}${unread}`);
  }
  if (found.length > 1) {
    const list = found
      .map((c) => {
        const r = (c.p ?? c.i) as { type: unknown; principal: unknown; id: unknown };
        return `${r.type} ${r.principal} ${r.id}`;
      })
      .join('; ');
    throw new CliError(
      'AMBIGUOUS_COMMAND',
      `${found.length} commands have this key (type principal id: ${list}); pass --type and --principal, or the id`,
    );
  }
  return found[0]!;
}

/** The failure as the CLI would print it, without the leading "error ". */
function reason(err: unknown): string {
  return describeFailure(err).line.replace(/^error /, '');
}
