import type { Reporter, TestModule } from 'vitest/node';
import { META_KEY, type Unavailable } from './skips.js';

// When a file lacks several services, its skips are counted under the most specific one: the reads tests
// need the replica (and so PostgreSQL), the relay tests NATS (and PostgreSQL).
const SPECIFIC = ['streaming replica', 'NATS', 'Redis', 'Chromium', 'PostgreSQL'];
const rank = (service: string) => {
  const i = SPECIFIC.indexOf(service);
  return i < 0 ? SPECIFIC.length : i;
};

/**
 * Ends the run with one line that says what was skipped and why: per missing service, where it was tried
 * and how many tests it cost, and how to run the full suite. The support modules note on each test file
 * which service did not answer (test/support/skips.ts); under CI=true they throw instead, so there is
 * nothing to report there.
 *
 * @example
 * // vitest.config.ts
 * reporters: ['default', './test/support/skip-summary.ts'],
 */
export default class SkipSummary implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const line = skipSummary(testModules);
    if (line !== null) process.stdout.write(`\n${line}\n`);
  }
}

export function skipSummary(testModules: ReadonlyArray<TestModule>): string | null {
  const causes = new Map<string, { reason: string; tests: number }>();
  let other = 0;
  let total = 0;
  for (const m of testModules) {
    let skipped = 0;
    for (const t of m.children.allTests()) if (t.result().state === 'skipped') skipped++;
    if (skipped === 0) continue;
    total += skipped;
    const unavailable = ((m.meta() as Record<string, unknown>)[META_KEY] ?? []) as Unavailable[];
    if (unavailable.length === 0) {
      other += skipped;
      continue;
    }
    const cause = [...unavailable].sort((a, b) => rank(a.service) - rank(b.service))[0]!;
    const entry = causes.get(cause.service) ?? { reason: cause.reason, tests: 0 };
    entry.tests += skipped;
    causes.set(cause.service, entry);
  }
  if (total === 0) return null;
  const parts = [...causes.entries()]
    .sort((a, b) => rank(b[0]) - rank(a[0]))
    .map(([service, c]) => `${service} ${c.reason} — ${c.tests} ${c.tests === 1 ? 'test' : 'tests'} skipped`);
  if (other > 0) {
    parts.push(
      `${other} ${other === 1 ? 'test' : 'tests'} skipped by the tests themselves (it.skip, or a filter)`,
    );
  }
  const full = causes.size > 0 ? '; run .ci/run for the full suite' : '';
  return `Skipped ${total} of the tests: ${parts.join('; ')}${full}`;
}
