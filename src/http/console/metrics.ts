import type { Executor } from '../../db/types.js';
import { isTallyError } from '../../errors.js';
import { needsAttentionSql, openAlertsSql } from '../../observe/sql.js';
import { createTally, type Tally } from '../../tally.js';

/**
 * The instance the server acts and counts through: with metrics on when prom-client is installed (its
 * registry answers /metrics), else without (the database gauges are then written by hand, below).
 */
export async function consoleTally(
  db: Executor,
  schema: string,
): Promise<{ tally: Tally; metrics: boolean }> {
  try {
    return { tally: await createTally({ db, schema, observe: { metrics: true } }), metrics: true };
  } catch (err) {
    if (!isTallyError(err, 'DRIVER_MISSING')) throw err;
    return { tally: await createTally({ db, schema }), metrics: false };
  }
}

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * Prometheus text for GET /metrics: the instance's registry when metrics are on, else the two gauges the
 * database answers at scrape time (needs_attention and open alerts, by type) in the same names.
 */
export async function metricsText(tally: Tally, metrics: boolean, db: Executor, s: string): Promise<string> {
  if (metrics) return tally.metrics().metrics();
  const out: string[] = [];
  const gauge = async (name: string, help: string, sql: typeof needsAttentionSql) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const r of await db.query<{ type: string; n: number }>(sql(s))) {
      out.push(`${name}{type="${label(r.type)}"} ${Number(r.n)}`);
    }
  };
  await gauge('tally_commands_needs_attention', 'Commands waiting for a person, by type', needsAttentionSql);
  await gauge('tally_alerts_open', 'Open (unresolved) command alerts, by type', openAlertsSql);
  return `${out.join('\n')}\n`;
}
