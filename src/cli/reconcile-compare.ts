import type { Entity } from '../changes/entity.js';
import { plural } from '../plural.js';
import { compareTables } from '../reconcile/xdb/compare.js';
import { formatCompareReport } from '../reconcile/xdb/format.js';
import type { CompareReport } from '../reconcile/xdb/types.js';
import { CliError } from './errors.js';
import type { Io } from './io.js';

/**
 * `tally reconcile --compare-with URL`: each entity's table here against the table of the same name in
 * another PostgreSQL database (a replica, a copy, the other side of a migration), by chunk checksums with
 * bisection (src/reconcile/xdb). Every column but the ignored ones is compared; the key names the rows.
 *
 * @example
 * const reports = await compareEntities(entities, 'postgres://app@replica/app', ['updated_at'], io, false);
 */
export async function compareEntities(
  entities: readonly Entity[],
  url: string,
  ignore: readonly string[] | undefined,
  io: Io,
  quiet: boolean,
): Promise<{ entity: string; report: CompareReport }[]> {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new CliError('INVALID_DATABASE_URL', '--compare-with must be a postgres:// URL');
  }
  const out: { entity: string; report: CompareReport }[] = [];
  for (const e of entities) {
    const rt = e.runtime;
    if (rt.config.db.dialect !== 'postgres') {
      throw new CliError(
        'COMPARE_NEEDS_POSTGRES',
        '--compare-with compares two PostgreSQL databases; this one is PGlite',
      );
    }
    const shape = await rt.shape(rt.config.db);
    const skip = new Set([rt.def.key.name, ...(ignore ?? [])]);
    const columns = [...shape.columns.keys()].filter((c) => !skip.has(c));
    const table = rt.def.table.schema ? `${rt.def.table.schema}.${rt.def.table.name}` : rt.def.table.name;
    const report = await compareTables({
      left: { db: rt.config.db, table },
      right: { db: url, table },
      key: rt.def.key.name,
      columns,
      ...(quiet
        ? {}
        : {
            onProgress: (p) =>
              io.err(
                `${e.name} compare ${p.phase} level ${p.level}: ${plural(p.chunks, 'chunk')}, ${p.differing} differing`,
              ),
          }),
    });
    out.push({ entity: e.name, report });
  }
  return out;
}

/** The human summary of the compares, one block per entity. */
export function formatCompares(list: readonly { entity: string; report: CompareReport }[]): string {
  return list
    .map(({ entity, report }) => `${entity} vs --compare-with:\n${formatCompareReport(report)}`)
    .join('\n');
}
