import { ConsoleError } from './problem.js';

/** A list's page: its rows and the cursor of the next page (null on the last). */
export interface Page<T> {
  items: T[];
  next: string | null;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ISO = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)?)?$/;

const invalid = (param: string, what: string): never => {
  throw new ConsoleError('INVALID_QUERY', `${param} must be ${what}`, { param });
};

/**
 * The query parameters of one request, read with checks: each reader names the parameter (never its value)
 * when it refuses one. Parameters a route does not read are ignored.
 */
export class Query {
  constructor(readonly params: URLSearchParams) {}

  /** A text parameter (1-200 characters), or undefined. */
  text(name: string): string | undefined {
    const v = this.params.get(name);
    if (v === null) return undefined;
    if (v.length === 0 || v.length > 200) invalid(name, 'text of 1-200 characters');
    return v;
  }

  /** `limit`: 1..max, default `def`. */
  limit(def = 50, max = 500): number {
    const v = this.params.get('limit');
    if (v === null) return def;
    const n = Number(v);
    if (!/^\d{1,4}$/.test(v) || n < 1 || n > max) invalid('limit', `an integer from 1 to ${max}`);
    return n;
  }

  /** An ISO 8601 time, or undefined. */
  time(name: string): Date | undefined {
    const v = this.params.get(name);
    if (v === null) return undefined;
    const d = new Date(v);
    if (!ISO.test(v) || Number.isNaN(d.getTime())) invalid(name, 'an ISO 8601 time');
    return d;
  }

  /** Values from `allowed`, repeated or comma-separated; undefined when absent. */
  oneOf<T extends string>(name: string, allowed: readonly T[]): T[] | undefined {
    const all = this.params.getAll(name);
    if (all.length === 0) return undefined;
    const out = new Set<T>();
    for (const part of all.flatMap((x) => x.split(','))) {
      if (!allowed.includes(part as T)) invalid(name, `one or more of ${allowed.join(', ')}`);
      out.add(part as T);
    }
    return [...out];
  }

  /** `true` / `false`, or undefined. */
  bool(name: string): boolean | undefined {
    const v = this.params.get(name);
    if (v === null) return undefined;
    if (v !== 'true' && v !== 'false') invalid(name, 'true or false');
    return v === 'true';
  }

  /** A command id (UUID), or undefined. */
  uuid(name: string): string | undefined {
    const v = this.params.get(name);
    if (v === null) return undefined;
    if (!UUID.test(v)) invalid(name, 'a command id (a UUID)');
    return v.toLowerCase();
  }

  /** An integer from min to max, or undefined. */
  int(name: string, min: number, max: number): number | undefined {
    const v = this.params.get(name);
    if (v === null) return undefined;
    const n = Number(v);
    if (!/^\d{1,15}$/.test(v) || n < min || n > max) invalid(name, `an integer from ${min} to ${max}`);
    return n;
  }
}

/** Whether `v` is a UUID (a command id). */
export const isUuid = (v: string): boolean => UUID.test(v);

/**
 * Cuts a page of `limit` from rows read with LIMIT limit + 1: the extra row only says a next page exists;
 * the cursor is the last kept row's sort key.
 */
export function pageOf<R, T>(
  rows: R[],
  limit: number,
  map: (r: R) => T,
  cursorOf: (r: R) => string,
): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), next: more ? cursorOf(kept[kept.length - 1]!) : null };
}
