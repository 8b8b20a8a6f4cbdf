import { type ChangeContext, resolveContext } from '../context.js';
import type { Executor, SqlQuery } from '../db/types.js';
import { TallyError } from '../errors.js';
import type { EntityRuntime } from './apply.js';
import { checkCreateRows } from './create-check.js';
import type { EntityDefinition } from './definition.js';
import { insertLogSql } from './hash-sql.js';
import type { EntityKey } from './keys.js';

/**
 * Inserts new rows at version 1 with a `create` log entry each (before image null), in one statement.
 * Rows created this way fold from their first log entry.
 */
export async function createRows(
  rt: EntityRuntime,
  db: Executor,
  rows: readonly Record<string, unknown>[],
  context: ChangeContext | undefined,
): Promise<{ created: EntityKey[] }> {
  const ctx = resolveContext(context);
  const { def, config } = rt;
  const { columns } = await checkCreateRows(rt, db, rows);
  const [res] = await db.query<{ n: number }>(createSql(config.s, def, columns, rows, ctx, config.clock()));
  if (Number(res?.n) !== rows.length) {
    throw new TallyError('DB_ERROR', `entity ${def.name}: inserted ${res?.n} of ${rows.length} rows`);
  }
  return { created: rows.map((r) => r[def.key.name] as EntityKey) };
}

function createSql(
  s: string,
  def: EntityDefinition,
  columns: string[],
  rows: readonly Record<string, unknown>[],
  ctx: ReturnType<typeof resolveContext>,
  at: Date,
): SqlQuery {
  const cols = columns.map((c) => `"${c}"`);
  const source = `
    SELECT $2::text AS entity_type, n.k::text AS entity_key, 1::int8 AS version, 'create'::text AS action,
           $3::text AS actor, $4::text AS source_ip, $5::text AS reason, $6::text AS request_id,
           $7::text AS command_id, NULL::jsonb AS before, n.after,
           ARRAY(SELECT jsonb_object_keys(n.after) ORDER BY 1) AS changed, $8::timestamptz AS at
      FROM ins n`;
  return {
    text: `
      WITH ins AS (
        INSERT INTO ${def.table.sql} (${cols.join(', ')}, ${def.version.sql})
        SELECT ${cols.map((c) => `r.${c}`).join(', ')}, 1
          FROM jsonb_populate_recordset(NULL::${def.table.sql}, $1::jsonb) r
        RETURNING ${def.key.sql} AS k, to_jsonb(${def.table.sql}.*) AS after
      ),
      logged AS (${insertLogSql(s, source)} RETURNING entity_key)
      SELECT count(*)::int AS n FROM logged`,
    values: [JSON.stringify(rows), def.name, ctx.actor, ctx.ip, ctx.reason, ctx.requestId, ctx.commandId, at],
  };
}
