import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.js';
import { HTTP_STATUS_BY_CODE, httpStatusOf } from '../../src/http/status.js';

describe('http: every error code has its HTTP status', () => {
  it('maps each code to a 4xx or 5xx status, and only known codes', () => {
    const codes = Object.values(ErrorCodes);
    expect(Object.keys(HTTP_STATUS_BY_CODE).sort()).toEqual([...codes].sort());
    for (const code of codes) {
      const status = httpStatusOf(code);
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
    }
    // Transient conditions ask the client to come back with the same key; a caller's bad input is 4xx.
    expect(httpStatusOf('NATS_UNREACHABLE')).toBe(503);
    expect(httpStatusOf('CONSUMER_NOT_FOUND')).toBe(404);
    expect(httpStatusOf('MISSING_REASON')).toBe(400);
    expect(httpStatusOf('NOT_A_CODE')).toBe(500);
  });
});
