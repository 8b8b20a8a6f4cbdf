/**
 * What the server at the other end can do: read once per executor (`SELECT VERSION()`) and kept as flags,
 * so the SQL modules ask "does it have X" instead of parsing versions or naming servers in their logic.
 */
export interface MysqlServer {
  readonly kind: 'mariadb' | 'mysql';
  /** As the server reports it, e.g. `10.11.19-MariaDB-0+deb12u1` or `8.0.39`. */
  readonly version: string;
  readonly major: number;
  readonly minor: number;
  /** `INSERT … RETURNING` / `DELETE … RETURNING` (MariaDB 10.5+; never `UPDATE … RETURNING`, never MySQL). */
  readonly returningOnInsert: boolean;
  /** `FOR UPDATE SKIP LOCKED` (MySQL 8.0, MariaDB 10.6+). */
  readonly skipLocked: boolean;
  /** A binary JSON type (MySQL 8.0); MariaDB's JSON is LONGTEXT with a JSON_VALID check. */
  readonly nativeJson: boolean;
  /** GTIDs as `domain-server-seq` (MariaDB) rather than `uuid:interval` (MySQL). */
  readonly mariadbGtid: boolean;
}

/**
 * Reads the flags from a version string.
 *
 * @example
 * serverFromVersion('10.11.19-MariaDB-0+deb12u1').skipLocked; // true
 */
export function serverFromVersion(version: string): MysqlServer {
  const mariadb = /mariadb/i.test(version);
  const [major = 0, minor = 0] = version
    .split(/[.-]/)
    .slice(0, 2)
    .map((x) => Number.parseInt(x, 10) || 0);
  const atLeast = (ma: number, mi: number) => major > ma || (major === ma && minor >= mi);
  return Object.freeze({
    kind: mariadb ? 'mariadb' : 'mysql',
    version,
    major,
    minor,
    returningOnInsert: mariadb && atLeast(10, 5),
    skipLocked: mariadb ? atLeast(10, 6) : atLeast(8, 0),
    nativeJson: !mariadb && atLeast(5, 7),
    mariadbGtid: mariadb,
  });
}

/** Runs `read` once, on first need, and shares its answer (a failed read is tried again next time). */
export function memoServer(read: () => Promise<string>): () => Promise<MysqlServer> {
  let known: Promise<MysqlServer> | null = null;
  return () => {
    known ??= read()
      .then(serverFromVersion)
      .catch((err) => {
        known = null;
        throw err;
      });
    return known;
  };
}
