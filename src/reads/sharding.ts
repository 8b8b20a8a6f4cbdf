import { quoteIdent } from '../db/ident.js';
import { TallyError } from '../errors.js';
import { type ShardKey, stableHash } from './hash.js';

/**
 * Which database holds which virtual bucket. Keys hash to buckets once and for all; buckets map to
 * databases through this table, so moving data between databases changes the table, never a key's bucket.
 * Plain JSON: store it, ship it to every service, load it with `loadShardLayout`.
 */
export interface ShardLayout {
  readonly format: 1;
  /** Bumped by every planned move, so services can tell an old layout from a new one. */
  readonly generation: number;
  /** Number of databases the layout addresses (some may hold no bucket after a plan). */
  readonly databases: number;
  /** `assignment[bucket]` is the database index holding that bucket (and its table). */
  readonly assignment: readonly number[];
}

export interface ShardLayoutOptions {
  /** Default 8. */
  databases?: number;
  /** Physical tables (= virtual buckets) per database at the start. Default 16: 8 × 16 = 128 buckets. */
  tablesPerDatabase?: number;
}

export interface KeyRoute {
  readonly bucket: number;
  /** Index of the database that holds the bucket now. */
  readonly database: number;
  /** The bucket's table: `base_<bucket>`, the bucket zero-padded; it keeps its name when it moves. */
  readonly table: string;
}

const bad = (m: string): never => {
  throw new TallyError('INVALID_SHARD_LAYOUT', m);
};

/**
 * A fresh layout: bucket b lives in database floor(b / tablesPerDatabase), so with the defaults each of
 * the 8 databases holds 16 consecutive buckets (tables).
 *
 * @example
 * const layout = createShardLayout();                      // 8 databases × 16 tables
 * routeKey(layout, 'user-42', 'members') // { bucket: 35, database: 2, table: 'members_035' }
 */
export function createShardLayout(options: ShardLayoutOptions = {}): ShardLayout {
  const databases = options.databases ?? 8;
  const tables = options.tablesPerDatabase ?? 16;
  for (const [name, v] of [
    ['databases', databases],
    ['tablesPerDatabase', tables],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 4096) bad(`${name} must be an integer from 1 to 4096`);
  }
  if (databases * tables > 65_536) bad('databases × tablesPerDatabase must be at most 65536');
  const assignment = Array.from({ length: databases * tables }, (_, b) => Math.floor(b / tables));
  return freeze({ format: 1, generation: 1, databases, assignment });
}

/**
 * Validates a stored layout (JSON.parse of one you saved) and returns it frozen.
 *
 * @example
 * const layout = loadShardLayout(JSON.parse(await readFile('shards.json', 'utf8')));
 */
export function loadShardLayout(value: unknown): ShardLayout {
  const v = value as Partial<ShardLayout> | null;
  if (!v || typeof v !== 'object' || v.format !== 1) bad('a shard layout needs format: 1');
  const { generation, databases, assignment } = v as ShardLayout;
  if (!Number.isInteger(generation) || generation < 1) bad('generation must be a positive integer');
  if (!Number.isInteger(databases) || databases < 1 || databases > 4096) bad('databases must be 1 to 4096');
  if (!Array.isArray(assignment) || assignment.length < 1 || assignment.length > 65_536) {
    bad('assignment must list 1 to 65536 buckets');
  }
  for (const d of assignment) {
    if (!Number.isInteger(d) || d < 0 || d >= databases)
      bad('every bucket must name a database below `databases`');
  }
  return freeze({ format: 1, generation, databases, assignment: [...assignment] });
}

/**
 * The bucket of a key: stable across machines, versions and layouts.
 *
 * @example
 * bucketOf(layout, 42n) === bucketOf(layout, '42') // true
 */
export function bucketOf(layout: ShardLayout, key: ShardKey): number {
  return stableHash(key) % layout.assignment.length;
}

/**
 * Where a key lives: its bucket, the database that holds the bucket, and the bucket's table.
 *
 * @example
 * const { database, table } = routeKey(layout, userId, 'members');
 * await shards[database].execute({ text: `SELECT level FROM ${table} WHERE id = $1`, values: [userId] });
 */
export function routeKey(layout: ShardLayout, key: ShardKey, baseTable: string): KeyRoute {
  const bucket = bucketOf(layout, key);
  return Object.freeze({
    bucket,
    database: layout.assignment[bucket]!,
    table: bucketTable(layout, baseTable, bucket),
  });
}

/**
 * The table name of a bucket (validated as an SQL identifier, unquoted).
 *
 * @example
 * bucketTable(createShardLayout(), 'members', 7) // 'members_007'
 */
export function bucketTable(layout: ShardLayout, baseTable: string, bucket: number): string {
  const width = String(layout.assignment.length - 1).length;
  const name = `${baseTable}_${String(bucket).padStart(width, '0')}`;
  quoteIdent(name, 'bucket table name');
  return name;
}

export function freeze(l: ShardLayout): ShardLayout {
  return Object.freeze({ ...l, assignment: Object.freeze([...l.assignment]) });
}
