import { describe, expect, it } from 'vitest';
import { BinlogMap } from '../../src/reads/dialect/mysql/binlog-map.js';
import { classifyMysql } from '../../src/reads/dialect/mysql/classify.js';
import { mariadbSeq, mysqlSeq, parseMariadbGtid } from '../../src/reads/dialect/mysql/gtid.js';

const safe = new Set<string>();
const U = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const V = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

describe('GTID positions as one number per shard (decision 0136)', () => {
  it('MariaDB: the seq of the shard domain in a position list; empty is 0; junk is null', () => {
    expect(mariadbSeq('0-1-11', 0)).toBe(11n);
    expect(mariadbSeq('0-1-11,1-5-3', 1)).toBe(3n);
    expect(mariadbSeq('1-5-3', 0)).toBe(0n);
    expect(mariadbSeq('', 0)).toBe(0n);
    expect(mariadbSeq('0-1-18446744073709551615', 0)).toBe(18446744073709551615n);
    for (const bad of ['0-1', 'x', '0-1-11;', null, 11]) expect(mariadbSeq(bad, 0)).toBeNull();
    expect(parseMariadbGtid('0-1-99')).toEqual({ domain: 0, server: 1, seq: 99n });
    expect(parseMariadbGtid('')).toBeNull();
  });

  it('MySQL 8.0: the gap-free prefix of the source UUID (a replica at N has applied 1..N)', () => {
    expect(mysqlSeq(`${U}:1-77`, U)).toBe(77n);
    expect(mysqlSeq(`${U}:1-77:79-80`, U)).toBe(77n);
    expect(mysqlSeq(`${U}:1-77:78-80`, U)).toBe(80n);
    expect(mysqlSeq(`${V}:1-5,\n${U}:1-3`, U)).toBe(3n);
    expect(mysqlSeq(`${V}:1-5`, U)).toBe(0n);
    expect(mysqlSeq(`${U}:5-9`, U)).toBe(0n);
    expect(mysqlSeq('', U)).toBe(0n);
    expect(mysqlSeq('nonsense', U)).toBeNull();
  });
});

describe('classifying MySQL/MariaDB statements', () => {
  const reason = (sql: string) => classifyMysql(sql, safe).reason;

  it('plain reads go to a replica, with backticks, ? parameters, index hints and MySQL functions', () => {
    expect(reason('SELECT `level` FROM `members` WHERE id = ?')).toBe('READ');
    expect(reason('SELECT IFNULL(a, 0), GROUP_CONCAT(b) FROM t USE INDEX (ix) WHERE c = ?')).toBe('READ');
    expect(reason("SELECT * FROM t WHERE note = 'it\\'s FOR UPDATE' # FOR UPDATE")).toBe('READ');
    expect(reason('SELECT 1 -- FOR UPDATE')).toBe('READ');
  });

  it('locking reads, INTO, session functions, locks and executable comments go to the primary', () => {
    expect(reason('SELECT * FROM t WHERE id = ? LOCK IN SHARE MODE')).toBe('LOCKING_READ');
    expect(reason('SELECT * FROM t WHERE id = ? FOR UPDATE SKIP LOCKED')).toBe('LOCKING_READ');
    expect(reason('SELECT * FROM t FOR SHARE')).toBe('LOCKING_READ');
    // `--` without a space is two minus signs in MySQL: the FOR UPDATE after it is real.
    expect(reason('SELECT 1--1 FROM t FOR UPDATE')).toBe('LOCKING_READ');
    expect(reason('SELECT a INTO @x FROM t')).toBe('SELECT_INTO');
    expect(reason('SELECT LAST_INSERT_ID()')).toBe('FUNCTION_CALL');
    expect(reason("SELECT GET_LOCK('k', 1)")).toBe('FUNCTION_CALL');
    expect(reason('SELECT NEXTVAL(s)')).toBe('FUNCTION_CALL');
    expect(reason('SELECT * FROM t /*!50000 FOR UPDATE */')).toBe('UNCLASSIFIED');
    expect(reason("SELECT 'unclosed")).toBe('UNCLASSIFIED');
    expect(reason('REPLACE INTO t VALUES (1)')).not.toBe('READ');
    expect(reason('UPDATE t SET a = 1')).toBe('WRITE');
  });
});

describe('BinlogMap: binlog offsets to a GTID seq lower bound', () => {
  it('answers the newest sample at or before an offset, in the same file only', () => {
    const m = new BinlogMap();
    expect(m.at('binlog.000001', 500)).toBeNull();
    m.record('binlog.000001', 100, 5n);
    m.record('binlog.000001', 300, 9n);
    m.record('binlog.000001', 200, 7n); // older than the newest: ignored
    expect(m.at('binlog.000001', 99)).toBeNull();
    expect(m.at('binlog.000001', 250)).toBe(5n);
    expect(m.at('binlog.000001', 300)).toBe(9n);
    expect(m.reaches('binlog.000001', 300)).toBe(true);
    expect(m.reaches('binlog.000001', 301)).toBe(false);
    m.record('binlog.000002', 50, 12n); // after a rotation
    expect(m.at('binlog.000002', 60)).toBe(12n);
    expect(m.at('binlog.000001', 1000)).toBe(9n);
    expect(m.reaches('binlog.000001', 10)).toBe(false);
  });
});
