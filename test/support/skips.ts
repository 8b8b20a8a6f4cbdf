import { TestRunner } from 'vitest';

/** What the skip summary needs to know of a service a test file found unavailable. */
export interface Unavailable {
  /** The service, as the summary names it: PostgreSQL, streaming replica, Redis, NATS, Chromium. */
  readonly service: string;
  /** Why, with where it was tried (passwords masked): `not reachable at postgres://…@127.0.0.1:5432/x`. */
  readonly reason: string;
}

/** Key of the file task's meta that carries the list (read by test/support/skip-summary.ts). */
export const META_KEY = 'tallyUnavailable';

/**
 * Notes on the current test file that a service it needs did not answer, so the run can end with one line
 * saying what was skipped and why. Called by the support modules while the file is being collected (their
 * top-level code runs then); outside CI only — under CI=true they throw instead.
 *
 * @example
 * if (!postgresAvailable) noteUnavailable('PostgreSQL', `not reachable at ${masked(PG_URL)}`);
 */
export function noteUnavailable(service: string, reason: string): void {
  let file: { meta: Record<string, unknown> } | undefined;
  try {
    // The collector of the file being collected holds the file task (whose meta reaches the reporters).
    file = (TestRunner.getCurrentSuite() as unknown as { file?: typeof file } | undefined)?.file;
  } catch {
    return; // not inside a test file's collection (a script importing the support module)
  }
  if (!file) return;
  file.meta[META_KEY] ??= [];
  const list = file.meta[META_KEY] as Unavailable[];
  if (!list.some((u) => u.service === service)) list.push({ service, reason });
}

/** A connection URL with its password masked, for messages. */
export function masked(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
}
