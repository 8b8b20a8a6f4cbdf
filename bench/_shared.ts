// Helpers shared by benchmarks (the leading `_` keeps bench/run.ts from listing this file).
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import pg from 'pg';

/** The server: DATABASE_URL, or the local PostgreSQL. */
export const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The URL with its password masked, for printing. */
export const masked = (url: string): string => url.replace(/:[^:@/]*@/, ':***@');

/**
 * A dedicated database for one benchmark: dropped if a previous run left it, created empty, and
 * dropped again by `drop()`. Only this database is ever created or dropped.
 */
export async function dedicatedDatabase(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (!/^tally_bench_[a-z0-9_]+$/.test(name)) throw new Error(`refusing to manage database ${name}`);
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Seconds since `t0` (from `performance.now()`). */
export const since = (t0: number): number => (performance.now() - t0) / 1000;

export async function timed<T>(fn: () => Promise<T>): Promise<{ s: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { s: since(t0), value };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const round = (x: number, digits: number): number => Number(x.toFixed(digits));

/** A seeded uniform [0, 1) generator (mulberry32): the same sequence every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 1..n in a seeded random order (mulberry32 + Fisher–Yates): the same permutation every run. */
export function shuffledIds(n: number, seed: number): Int32Array {
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i + 1;
  const rand = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
  }
  return ids;
}

/** Hands out disjoint slices of a key permutation, so no two phases touch the same row. */
export class KeyDealer {
  #next = 0;
  constructor(readonly ids: Int32Array) {}
  take(n: number): number[] {
    if (this.#next + n > this.ids.length) throw new Error(`key pool exhausted (${this.#next} + ${n})`);
    const out = Array.from(this.ids.subarray(this.#next, this.#next + n));
    this.#next += n;
    return out;
  }
  /** One key at a time, for the single-key phases. */
  one(): number {
    if (this.#next >= this.ids.length) throw new Error('key pool exhausted');
    return this.ids[this.#next++]!;
  }
  get used(): number {
    return this.#next;
  }
}

/**
 * Runs `op(key)` from `concurrency` workers until `seconds` have passed, each call on a fresh key.
 * Returns operations per second (completed calls over the measured wall time).
 */
export async function throughput(
  concurrency: number,
  seconds: number,
  nextKey: () => number,
  op: (key: number) => Promise<unknown>,
): Promise<{ perS: number; ops: number; s: number }> {
  let ops = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      await op(nextKey());
      ops++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = since(t0);
  return { perS: ops / s, ops, s };
}

/** 1-minute load average and core count, to print beside figures (others share the machine). */
export const load = (): string =>
  `load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;

/**
 * CPU seconds (user + system) used so far by each server backend connected to `database`, read from
 * /proc — so only when the server runs on this machine; null otherwise. Less sensitive than wall time
 * to other work on a shared machine. `cpuSince` turns two readings into the seconds spent between them.
 */
export async function backendCpu(pool: pg.Pool, database: string): Promise<Map<number, number> | null> {
  const { rows } = await pool.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
  const byPid = new Map<number, number>();
  for (const { pid } of rows) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      byPid.set(pid, (Number(f[11]) + Number(f[12])) / 100); // utime + stime, in USER_HZ (100 on Linux)
    } catch {
      return null;
    }
  }
  return byPid;
}

export function cpuSince(
  before: Map<number, number> | null,
  after: Map<number, number> | null,
): number | null {
  if (!before || !after) return null;
  let sum = 0;
  for (const [pid, s] of after) sum += s - (before.get(pid) ?? 0); // a backend opened in between starts at 0
  return sum;
}
