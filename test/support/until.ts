/**
 * Polls `done` every 50 ms until it holds; throws `timed out waiting for <what>` after `timeoutMs`.
 * For tests that wait on another process, a broker or a database to catch up.
 */
export async function until(
  what: string,
  done: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
