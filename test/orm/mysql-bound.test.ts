import { describe, expect, it } from 'vitest';
import { expandLists } from '../../src/orm/mysql-bound.js';

// The ORM adapters' MySQL executor sends Tally's list values as placeholders of their own (decision 0123):
// Prisma's MariaDB adapter runs prepared statements, where mysql2's client-side list expansion never runs.
describe('expandLists', () => {
  it('a list becomes one placeholder per value, in order with the values around it', () => {
    expect(
      expandLists('SELECT k FROM t WHERE s = ? AND k IN (?) AND v > ?', ['x', ['a', 'b', 'c'], 2]),
    ).toEqual({
      text: 'SELECT k FROM t WHERE s = ? AND k IN (?, ?, ?) AND v > ?',
      values: ['x', 'a', 'b', 'c', 2],
    });
  });

  it('a list of lists becomes row tuples (a multi-row VALUES ?), an empty list NULL', () => {
    expect(
      expandLists('INSERT INTO t (a, b) VALUES ?', [
        [
          [1, 'x'],
          [2, null],
        ],
      ]),
    ).toEqual({
      text: 'INSERT INTO t (a, b) VALUES (?, ?), (?, ?)',
      values: [1, 'x', 2, null],
    });
    expect(expandLists('SELECT 1 FROM t WHERE k IN (?)', [[]])).toEqual({
      text: 'SELECT 1 FROM t WHERE k IN (NULL)',
      values: [],
    });
  });

  it('leaves a statement without lists as it is, and refuses more placeholders than values', () => {
    expect(expandLists('SELECT ? AS a', [1])).toEqual({ text: 'SELECT ? AS a', values: [1] });
    expect(() => expandLists('SELECT ?, ?', [[1]])).toThrow(
      expect.objectContaining({ code: 'INVALID_STATEMENT' }),
    );
  });
});
