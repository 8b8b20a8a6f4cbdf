import { describe, expect, it } from 'vitest';
import { classifyStatement } from '../../src/reads/classify.js';

const reason = (sql: string) => classifyStatement(sql).reason;

describe('statement classification', () => {
  it('lets plain reads go to replicas', () => {
    for (const sql of [
      'SELECT * FROM members WHERE id = $1',
      'select count(*), max(level) from members group by team having count(*) > 1',
      'WITH t AS (SELECT id FROM members) SELECT * FROM t WHERE id IN (SELECT id FROM t)',
      "SELECT coalesce(name, 'update') FROM members -- FOR UPDATE in a comment",
      'SELECT /* delete */ 1',
      'VALUES (1, 2)',
      'TABLE members',
      "SELECT $tag$ insert into x $tag$ AS s, E'it\\'s' AS e",
      'SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id) ORDER BY a LIMIT 10;',
      'SELECT row_number() OVER (PARTITION BY team ORDER BY id) FROM members',
    ]) {
      expect({ sql, c: classifyStatement(sql) }).toEqual({ sql, c: { replicaSafe: true, reason: 'READ' } });
    }
  });

  it('sends writes, locks, write CTEs, SELECT INTO, unknown calls and junk to the primary', () => {
    const cases: [string, string][] = [
      ['INSERT INTO members (id) VALUES ($1)', 'WRITE'],
      ['update members set level = 2', 'WRITE'],
      ['DELETE FROM members', 'WRITE'],
      ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'WRITE'],
      ['CREATE TABLE x (id int)', 'WRITE'],
      ['BEGIN', 'WRITE'],
      ['SELECT * FROM members WHERE id = 1 FOR UPDATE', 'LOCKING_READ'],
      ['SELECT * FROM members FOR NO KEY UPDATE SKIP LOCKED', 'LOCKING_READ'],
      ['select * from members for share', 'LOCKING_READ'],
      ['SELECT * FROM members FOR KEY SHARE', 'LOCKING_READ'],
      ['WITH d AS (DELETE FROM q RETURNING *) SELECT * FROM d', 'WRITE_CTE'],
      ['WITH u AS (UPDATE m SET x = 1 RETURNING id) SELECT count(*) FROM u', 'WRITE_CTE'],
      ['with i as (insert into m values (1) returning 1) select 1', 'WRITE_CTE'],
      ['SELECT * INTO backup FROM members', 'SELECT_INTO'],
      ["SELECT nextval('seq')", 'FUNCTION_CALL'],
      ['SELECT pg_advisory_lock(1)', 'FUNCTION_CALL'],
      ['SELECT my_schema.bump_counter($1)', 'FUNCTION_CALL'],
      ['SELECT "Weird"(1)', 'FUNCTION_CALL'],
      ['SELECT count(*) FROM public.audit_write()', 'FUNCTION_CALL'],
      ['SELECT 1; DELETE FROM members', 'MULTI_STATEMENT'],
      ['', 'UNCLASSIFIED'],
      ['   ', 'UNCLASSIFIED'],
      ["SELECT 'unterminated", 'UNCLASSIFIED'],
      ['SELECT 1 /* unterminated', 'UNCLASSIFIED'],
      ['(SELECT 1)', 'UNCLASSIFIED'],
      ['SHOW work_mem', 'UNCLASSIFIED'],
      ['EXPLAIN ANALYZE DELETE FROM members', 'UNCLASSIFIED'],
    ];
    for (const [sql, want] of cases) {
      expect({ sql, reason: reason(sql), replicaSafe: classifyStatement(sql).replicaSafe }).toEqual({
        sql,
        reason: want,
        replicaSafe: false,
      });
    }
  });

  it('accepts user-declared read-only functions', () => {
    expect(reason('SELECT member_level($1)')).toBe('FUNCTION_CALL');
    expect(classifyStatement('SELECT member_level($1)', new Set(['member_level'])).reason).toBe('READ');
  });
});
